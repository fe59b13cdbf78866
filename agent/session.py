"""Sessions: the conversation and its state, kept as an append-only JSONL log so a run can be resumed.

A session lives in ``$XDG_DATA_HOME/corral/sessions/<id>/`` (0700) beside its audit log: ``session.jsonl``
(0600) holds one record per message, mode, model, prompt or thinking change, todo list, session approval,
usage, name, compaction or note (agent/session_records.py: the format), and ``blobs/`` the side files that
large contents live in.

Crash behaviour: like the audit log, each record is one ``os.write`` on an ``O_APPEND`` descriptor, so a crash
or SIGKILL tears at most the line being written. Loading never rewrites the file: a torn last line or a damaged
line is skipped with a warning naming the line; a record from a newer corral, or a file that is not a session,
is a clear SessionError. Appending to a file whose last line is torn first ends that line, so the fragment
stays one damaged line instead of spoiling the next record. Once open, a writer never raises into the caller:
a failed write returns False and is reported once through ``on_error``.

Memory: a loaded session keeps the records, not the side files; ``messages()`` reads the side files of the
messages it returns (after the latest compaction only the kept tail). Listing reads only the head and the
tail of each log, so it stays fast with hundreds of sessions and large logs.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path

from agent.errors import UsageError
from agent.linelog import LineLog, private_dirs
from agent.providers.base import Message, Usage
from agent.session_records import (
    BLOB_THRESHOLD,
    HEADER_BYTES,
    LOG_NAME,
    VERSION,
    SessionError,
    check_message,
    decode_message,
    dumps,
    encode_message,
    excerpt_of,
    iter_records,
    open_log,
    parse_header,
    read_header,
    utf8,
    write_private,
)
from agent.tools.base import TodoItem
from agent.values import frozen, record

__all__ = ["VERSION", "LoadedSession", "SessionError", "SessionSummary", "SessionWriter", "latest_session",
           "list_sessions", "load_session", "resolve_session", "session_dir", "sessions_dir"]

NAME_FILE = "name"  # a copy of the latest name, so listing need not read the whole log
_TAIL_BYTES = 64 * 1024
_COUNT_LIMIT = 16 * 1024 * 1024  # count messages only in logs up to this size
_TODO_STATES = ("pending", "in_progress", "done")


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/corral/sessions`` (an absolute XDG_DATA_HOME only), else ``~/.local/share/corral/sessions``."""
    from agent.xdg import data_dir

    return data_dir(env) / "sessions"


def _check_id(session_id: str) -> None:
    if not session_id or session_id.startswith(".") or "/" in session_id or "\0" in session_id:
        raise UsageError(f"not a session id: {session_id!r}")


def session_dir(session_id: str, env: Mapping[str, str] | None = None) -> Path:
    _check_id(session_id)
    return sessions_dir(env) / session_id


# ------------------------------------------------------------------------------------------------- writing


def _lock(fd: int, path: Path) -> None:
    """Hold the session for this writer: two corral processes appending to one session would interleave
    their turns (a tool call answered after the other's prompt), which no model API accepts on resume. The
    lock goes with the descriptor (closed, or the process gone, however it ends)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SessionError(f"the session {path.parent.name} is in use by another corral; wait for it to end, or "
                           "start a new session (without -c/--session)") from None


def in_use(path: Path) -> bool:
    """Whether a corral process is writing the session whose log is `path` (it holds the lock)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


class SessionWriter(LineLog):
    """Appends records to a session log: ``create`` (a new session), ``resume`` (after load_session) or
    ``reopen`` (a path). ``sync(messages)`` logs a conversation as it grows; one method per record type."""

    label = "session log"

    def __init__(self, path: Path, fd: int, *, on_error: Callable[[str], None] | None = None,
                 blob_threshold: int = BLOB_THRESHOLD) -> None:
        super().__init__(path, fd, on_error=on_error)
        self.directory = path.parent
        self.id = path.parent.name
        self.blob_threshold = blob_threshold
        self.synced = 0  # how many messages of the caller's conversation are in the log (see sync)

    @classmethod
    def create(cls, session_id: str, project_root: Path, cwd: Path, *, env: Mapping[str, str] | None = None,
               name: str | None = None, corral_version: str | None = None,
               on_error: Callable[[str], None] | None = None, blob_threshold: int = BLOB_THRESHOLD) -> SessionWriter:
        """Start ``<sessions dir>/<session_id>/session.jsonl`` with its header. Raises SessionError when the
        session already exists, OSError when the file cannot be created."""
        directory = session_dir(session_id, env)
        private_dirs(directory)
        path = directory / LOG_NAME
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise SessionError(f"the session {session_id} already exists ({path})") from None
        try:
            _lock(fd, path)
        except BaseException:
            os.close(fd)
            raise
        writer = cls(path, fd, on_error=on_error, blob_threshold=blob_threshold)
        header: dict[str, object] = {"id": session_id, "project": str(Path(project_root).resolve()), "cwd": str(cwd),
                                     "created": time.time()}
        if corral_version:
            header["corral_version"] = corral_version
        if not writer._append("session", header):
            writer.close()
            raise OSError(f"cannot write the session header to {path}: {writer.error}")
        if name:
            writer.name(name)
        return writer

    @classmethod
    def reopen(cls, path: Path, *, on_error: Callable[[str], None] | None = None,
               blob_threshold: int = BLOB_THRESHOLD) -> SessionWriter:
        """Append to an existing session (a session directory or its session.jsonl). Checks the header; ends
        a torn last line first. Raises SessionError for a file that is not a session of this version."""
        path = _log_path(Path(path))
        read_header(path)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            _lock(fd, path)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, on_error=on_error, blob_threshold=blob_threshold)

    @classmethod
    def resume(cls, loaded: LoadedSession, *, on_error: Callable[[str], None] | None = None) -> SessionWriter:
        """Append to a loaded session whose ``messages()`` became the conversation: ``sync`` continues after them."""
        writer = cls.reopen(loaded.path, on_error=on_error)
        writer.synced = len(loaded.records)
        return writer

    def sync(self, messages: Sequence[Message]) -> bool:
        """Append the messages of the conversation not yet in the log (those after ``synced``). Call it whenever
        the conversation grew (on every loop event), so a crash loses nothing but the record being written."""
        ok = True
        for message in messages[self.synced:]:
            ok = self.message(message) and ok
        self.synced = max(self.synced, len(messages))
        return ok

    # one method per record type; each writes its line at once and returns False if it could not

    def message(self, message: Message) -> bool:
        try:
            fields = encode_message(message, self.directory, self.blob_threshold)
        except OSError as exc:
            self._report(f"cannot write a side file of the session {self.id}: {exc.strerror or exc}")
            return False
        return self._append("message", fields)

    def mode(self, mode: object) -> bool:
        return self._append("mode", {"mode": str(getattr(mode, "value", mode))})

    def model(self, provider: str, model: str) -> bool:
        return self._append("model", {"provider": provider, "model": model})

    def prompt(self, name: str) -> bool:
        return self._append("prompt", {"prompt": name})

    def thinking(self, level: str) -> bool:
        return self._append("thinking", {"thinking": level})

    def todo(self, items: Sequence[TodoItem]) -> bool:
        return self._append("todo", {"items": [{"content": t.content, "status": t.status} for t in items]})

    def approval(self, rule: Mapping[str, object]) -> bool:
        """A session approval, as an opaque JSON object (e.g. ``SessionState.export_approvals()[i]``)."""
        return self._append("approval", {"rule": dict(rule)})

    def usage(self, usage: Usage) -> bool:
        return self._append("usage", usage.as_dict())

    def name(self, name: str) -> bool:
        """Name the session (also kept in ``<dir>/name`` so listing finds it without reading the log)."""
        ok = self._append("name", {"name": name})
        if ok:
            try:
                write_private(self.directory / NAME_FILE, utf8(name))
            except OSError:
                pass  # the log is the source of truth; listing falls back to the header's name
        return ok

    def compaction(self, summary: str, replaced: int, kept: int, messages: Sequence[Message] | None = None) -> bool:
        """The first ``replaced`` messages of the conversation (as the model saw it, an earlier summary counting
        as one) were replaced by ``summary`` (a user message); ``kept`` messages follow it (the Compacted event).

        With ``messages`` (the conversation after compaction: ``[summary message, *kept, ...]``) the writer
        first logs the kept messages that ``sync`` had not written yet, and keeps ``synced`` right."""
        if messages is not None:
            done = min(self.synced, replaced + kept)
            for message in messages[1 + max(0, done - replaced): 1 + kept]:
                self.message(message)
            replaced = min(replaced, done)  # messages never logged cannot be replaced in the log
        ok = self._append("compaction", {"summary": summary, "replaced": int(replaced), "kept": int(kept)})
        self.synced = 1 + kept
        if messages is not None:
            ok = self.sync(messages) and ok
        return ok

    def note(self, kind: str, data: Mapping[str, object] | None = None) -> bool:
        return self._append("note", {"kind": kind, "data": dict(data or {})})

    def _append(self, kind: str, fields: Mapping[str, object]) -> bool:
        return self.write_line(dumps({"v": VERSION, "type": kind, "ts": time.time(), **fields}))

    def __enter__(self) -> SessionWriter:
        return self


# ------------------------------------------------------------------------------------------------- loading


@frozen
class Compaction:
    summary: str
    replaced: int
    kept: int
    ts: float


@record
class LoadedSession:
    """A session read back. The records stay as stored (side files unread); ``messages()`` rebuilds the
    conversation. mode/provider/model/prompt/thinking/todos are the last recorded (None if never)."""

    path: Path
    header: dict[str, object]
    records: list[dict[str, object]] = field(default_factory=list)  # message records, compactions replayed
    message_count: int = 0
    mode: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt: str | None = None
    thinking: str | None = None
    todos: list[TodoItem] | None = None
    approvals: list[dict[str, object]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    compactions: list[Compaction] = field(default_factory=list)
    name: str | None = None
    notes: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.header.get("id") or self.path.parent.name)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def project(self) -> str:
        return str(self.header.get("project", ""))

    @property
    def cwd(self) -> str:
        return str(self.header.get("cwd", ""))

    @property
    def created(self) -> float:
        value = self.header.get("created", self.header.get("ts", 0.0))
        return float(value) if isinstance(value, int | float) else 0.0

    @property
    def corral_version(self) -> str | None:
        value = self.header.get("corral_version")
        return None if value is None else str(value)

    def messages(self, *, strict: bool = False) -> list[Message]:
        """The conversation as the model last saw it (the latest compaction applied), side files read now.
        A missing or unreadable side file becomes a placeholder text and a warning added to ``warnings``
        (strict: SessionError instead)."""
        lost: list[str] | None = None if strict else []
        messages = [decode_message(r, self.directory, lost) for r in self.records]
        if lost:
            self.warnings.extend(f"{self.path}: {problem}" for problem in lost)
        return messages


def _log_path(path: Path) -> Path:
    """A session directory's log; a path to the log itself stays as it is, even when it is (wrongly) a
    directory, so opening it says so."""
    return path / LOG_NAME if path.name != LOG_NAME and path.is_dir() else path


def load_session(ref: str | Path, *, project: Path | str | None = None,
                 env: Mapping[str, str] | None = None) -> LoadedSession:
    """Read a session: a Path (a session directory or its session.jsonl), or an id, id prefix or name
    (resolve_session; ``project`` breaks ties between names). Raises SessionError (unreadable, not a session,
    newer format) or UsageError (no such session, ambiguous)."""
    if isinstance(ref, str) and "/" not in ref:
        path = resolve_session(ref, project=project, env=env).path / LOG_NAME
    else:
        path = _log_path(Path(ref))
    warnings: list[str] = []
    records = iter_records(path, warnings)
    _, header = next(records)
    loaded = LoadedSession(path=path, header=header, warnings=warnings, name=_opt(header.get("name")))
    unknown: dict[str, int] = {}
    for lineno, rec in records:
        problem = _apply(loaded, rec)
        if problem == "unknown":
            unknown[str(rec["type"])] = unknown.get(str(rec["type"]), 0) + 1
        elif problem:
            warnings.append(f"{path}: line {lineno}: {problem}; skipped")
    for kind, count in unknown.items():
        warnings.append(f"{path}: {count} record(s) of unknown type {kind!r} skipped (written by another corral)")
    return loaded


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _apply(s: LoadedSession, rec: dict[str, object]) -> str | None:
    """Fold one record into the session; returns why it was skipped, or "unknown", or None."""
    kind = rec["type"]
    if kind == "message":
        problem = check_message(rec)
        if problem:
            return f"bad message record ({problem})"
        s.records.append(rec)
        s.message_count += 1
    elif kind == "mode":
        s.mode = _opt(rec.get("mode"))
    elif kind == "model":
        s.provider, s.model = _opt(rec.get("provider")), _opt(rec.get("model"))
    elif kind == "prompt":
        s.prompt = _opt(rec.get("prompt"))
    elif kind == "thinking":
        s.thinking = _opt(rec.get("thinking"))
    elif kind == "todo":
        items = rec.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("status") in _TODO_STATES
                                                  for i in items):
            return "bad todo record"
        s.todos = [TodoItem(str(i.get("content", "")), i["status"]) for i in items]
    elif kind == "approval":
        if not isinstance(rec.get("rule"), dict):
            return "bad approval record"
        s.approvals.append(rec["rule"])  # type: ignore[arg-type]
    elif kind == "usage":
        s.usage.add(_usage(rec))
    elif kind == "name":
        s.name = _opt(rec.get("name"))
    elif kind == "compaction":
        return _compact(s, rec)
    elif kind == "note":
        s.notes.append(rec)
    elif kind == "session":
        return "a second session header"
    else:
        return "unknown"
    return None


def _usage(rec: Mapping[str, object]) -> Usage:
    def count(key: str) -> int:
        value = rec.get(key, 0)
        return value if isinstance(value, int) else 0

    cost = rec.get("cost")
    return Usage(count("input_tokens"), count("output_tokens"), count("cache_read_tokens"),
                 count("cache_write_tokens"), count("reasoning_tokens"),
                 float(cost) if isinstance(cost, int | float) else None)


def _compact(s: LoadedSession, rec: dict[str, object]) -> str | None:
    summary, replaced, kept = rec.get("summary"), rec.get("replaced"), rec.get("kept")
    if not isinstance(summary, str) or not isinstance(replaced, int) or replaced < 0:
        return "bad compaction record"
    if replaced > len(s.records):
        return f"compaction replaces {replaced} messages but only {len(s.records)} precede it"
    ts = rec.get("ts")
    s.compactions.append(Compaction(summary, replaced, kept if isinstance(kept, int) else -1,
                                    float(ts) if isinstance(ts, int | float) else 0.0))
    s.records = [{"role": "user", "content": summary}, *s.records[replaced:]]
    return None


# ------------------------------------------------------------------------------------------------- finding


@frozen
class SessionSummary:
    """What listing a session shows, read from the head and the tail of its log only."""

    id: str
    path: Path  # the session directory
    project: str
    cwd: str
    created: float
    updated: float  # mtime of the log
    name: str | None
    last_role: str | None
    last_message: str  # an excerpt of the last user or assistant text
    message_count: int | None  # None when the log is too large to count cheaply
    damaged: str | None = None  # why the log cannot be read (then project, cwd and the rest are unknown)


def _summary(directory: Path) -> SessionSummary | None:
    """The summary of one session directory; a damaged one (its log is not a file, empty, its header
    unreadable) gets ``damaged`` set rather than vanishing, so it can still be named and removed. None
    for a directory without a log (a `--no-session` run keeps only its audit log there)."""
    path = directory / LOG_NAME
    try:
        fh = open_log(path)
    except SessionError as exc:
        return _damaged(directory, exc) if os.path.lexists(path) else None
    with fh:
        st = os.fstat(fh.fileno())
        try:
            header = parse_header(path, fh.readline(HEADER_BYTES))
        except SessionError as exc:
            return _damaged(directory, exc)
        body = fh.tell()
        start = max(body, st.st_size - _TAIL_BYTES)
        tail = os.pread(fh.fileno(), st.st_size - start, start)
        count = _count_messages(fh.fileno(), st.st_size) if st.st_size <= _COUNT_LIMIT else None
    lines = tail.split(b"\n")
    if start > body:  # the tail starts inside a line
        lines = lines[1:]
    last_role, excerpt = None, ""
    for raw in reversed(lines):
        if b'"type":"message"' not in raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("role") in ("user", "assistant") and rec.get("content"):
            last_role, excerpt = str(rec["role"]), excerpt_of(rec)
            break
    created = header.get("created")
    return SessionSummary(
        id=directory.name, path=directory, project=str(header.get("project", "")), cwd=str(header.get("cwd", "")),
        created=float(created) if isinstance(created, int | float) else st.st_mtime, updated=st.st_mtime,
        name=_name_file(directory) or _opt(header.get("name")), last_role=last_role, last_message=excerpt,
        message_count=count)


def _name_file(directory: Path) -> str | None:
    """The copy of the session's latest name (never through a symlink, never blocking on a FIFO)."""
    try:
        fd = os.open(directory / NAME_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 512).decode("utf-8", "replace").strip() or None
    except OSError:
        return None
    finally:
        os.close(fd)


def _damaged(directory: Path, exc: SessionError) -> SessionSummary:
    try:
        updated = os.lstat(directory / LOG_NAME).st_mtime
    except OSError:
        updated = 0.0
    return SessionSummary(id=directory.name, path=directory, project="", cwd="", created=updated, updated=updated,
                          name=None, last_role=None, last_message="", message_count=None, damaged=exc.reason)


def _count_messages(fd: int, size: int) -> int:
    needle = b'\n{"v":' + str(VERSION).encode() + b',"type":"message"'
    count, offset, carry = 0, 0, b""
    while offset < size:
        chunk = carry + os.pread(fd, 1 << 20, offset)
        if not chunk or len(chunk) == len(carry):
            break
        offset += len(chunk) - len(carry)
        count += chunk.count(needle)
        carry = chunk[-len(needle) + 1:]
    return count


def list_sessions(project: Path | str | None = None, *, env: Mapping[str, str] | None = None,
                  damaged: bool = False) -> list[SessionSummary]:
    """Every readable session (of ``project`` when given: its resolved root as recorded in the header), newest
    first. ``damaged=True`` adds the sessions whose log cannot be read (``damaged`` set; whatever ``project``
    is, since theirs is unknown) for callers that report them."""
    root = sessions_dir(env)
    wanted = None if project is None else str(Path(project).resolve())
    out: list[SessionSummary] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        summary = _summary(Path(entry.path))
        if summary is None:
            continue
        if (damaged and summary.damaged) or (not summary.damaged and wanted in (None, summary.project)):
            out.append(summary)
    out.sort(key=lambda s: (s.updated, s.id), reverse=True)
    return out


def latest_session(project_root: Path | str, *, env: Mapping[str, str] | None = None) -> SessionSummary | None:
    """The most recently updated session of this project, or None."""
    found = list_sessions(project_root, env=env)
    return found[0] if found else None


def resolve_session(ref: str, *, project: Path | str | None = None,
                    env: Mapping[str, str] | None = None) -> SessionSummary:
    """A session by exact id, else by name, else by unique id prefix. A name shared by several sessions
    resolves to the one in ``project`` if only one is. Raises UsageError (unknown, ambiguous)."""
    _check_id(ref)
    every = list_sessions(env=env, damaged=True)
    exact = [s for s in every if s.id == ref]
    if exact:  # a damaged session too: loading it then says what is wrong, and `sessions rm` can remove it
        return exact[0]
    sessions = [s for s in every if not s.damaged]
    candidates = [s for s in sessions if s.name == ref]
    if len(candidates) > 1 and project is not None:
        here = [s for s in candidates if s.project == str(Path(project).resolve())]
        candidates = here if len(here) == 1 else candidates
    if not candidates:
        candidates = [s for s in sessions if s.id.startswith(ref)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        broken = [s.id for s in every if s.damaged and s.id.startswith(ref)]
        also = f" (the damaged session {', '.join(broken[:5])} matches: give its whole id)" if broken else ""
        raise UsageError(f"no session matches {ref!r} in {sessions_dir(env)}: see `corral sessions list --all`"
                         + also)
    listed = "\n".join(f"  {s.id}  {s.name or ''}  {s.project}" for s in candidates[:20])
    raise UsageError(f"{ref!r} matches {len(candidates)} sessions; give more of the id:\n{listed}")

