"""The session audit log: one JSON line per policy decision, appended to
``$XDG_DATA_HOME/corral/sessions/<session-id>/audit.jsonl``.

Each line is written with a single ``os.write`` on a descriptor opened with ``O_APPEND``, so lines from
concurrent writers (threads, subagents in other processes) never interleave. The file is created 0600 in
a directory created 0700, and is never followed through a symlink. Arguments are summarised: every string
is cut to 2 KB (nested values are serialised first), so one line stays small whatever the model sent.

Writing never raises into the caller once the log is open: a failed write (disk full, I/O error) makes
``record`` return False and reports the problem once through ``on_error`` (and ``AuditLog.error``).
Opening the log can raise OSError: the caller decides whether a session may run without its audit log.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

MAX_VALUE_BYTES = 2048
MAX_ARGS = 32
DECISIONS = ("allow", "ask", "deny")
FINALS = ("allow", "deny")
APPROVERS = ("rule", "mode", "user", "session", "headless-deny", "bypass")
APPROVER_ALIASES = {"headless": "headless-deny"}


def default_audit_path(session_id: str, env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/corral/sessions/<session_id>/audit.jsonl`` (an absolute XDG_DATA_HOME only), else
    under ``~/.local/share``."""
    if not session_id or session_id in (".", "..") or "/" in session_id or "\0" in session_id:
        raise ValueError(f"not a usable session id: {session_id!r}")
    environ = os.environ if env is None else env
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg.startswith("/") else Path(environ.get("HOME") or str(Path.home())) / ".local" / "share"
    return base / "corral" / "sessions" / session_id / "audit.jsonl"


def truncate(text: str, limit: int = MAX_VALUE_BYTES) -> str:
    """text cut to at most `limit` UTF-8 bytes (on a character boundary), with a note of the cut."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    head = data[:limit].decode("utf-8", "ignore")
    return f"{head}…[truncated, {len(data)} bytes]"


def summarise_args(args: Mapping[str, object]) -> dict[str, object]:
    """The tool arguments as logged: scalars kept, strings cut to 2 KB, nested values serialised and cut."""
    out: dict[str, object] = {}
    for index, (key, value) in enumerate(args.items()):
        if index == MAX_ARGS:
            out["…"] = f"{len(args) - MAX_ARGS} more arguments"
            break
        name = truncate(str(key), 128)
        if value is None or isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, str):
            out[name] = truncate(value)
        else:
            out[name] = truncate(json.dumps(value, ensure_ascii=False, default=str))
    return out


def _label(value: object) -> str | None:
    """A decision/mode given as a string, a StrEnum, or an enum with a ``label`` (policy.Decision)."""
    if value is None or isinstance(value, str):
        return None if value is None else str(value)
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return label
    inner = getattr(value, "value", value)
    return str(inner).lower() if isinstance(inner, str) else str(value).lower()


def _makedirs(path: Path) -> None:
    """Create path and its missing parents with mode 0700 (os.makedirs gives parents the umask default)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


class AuditLog:
    """An append-only JSONL audit log. ``session`` defaults to the name of the file's directory."""

    def __init__(self, path: Path, *, session: str | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.session = session if session is not None else self.path.parent.name
        self.on_error = on_error
        self.error: str | None = None
        self._lock = threading.Lock()
        _makedirs(self.path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self._fd: int | None = os.open(self.path, flags, 0o600)
        try:
            st = os.fstat(self._fd)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:  # an older file left readable: ours, tighten it
                os.fchmod(self._fd, 0o600)
        except OSError:
            os.close(self._fd)
            raise

    def record(self, *, tool: str, args: Mapping[str, object], decision: object, final: object = None,
               reason: str = "", rule: str | None = None, mode: object = None,
               approved_by: str | None = None, session: str | None = None) -> bool:
        """Append one decision. ``decision`` is the engine's (allow/ask/deny); ``final`` what happened after
        approval (allow/deny; defaults to ``decision`` unless that is ``ask``); ``approved_by`` normally one
        of APPROVERS or None ("headless" is recorded as "headless-deny"). ``session`` overrides the log's
        session id for this line. Returns False when the line could not be written (reported once through
        on_error); raises ValueError only for a decision or final outside allow/ask/deny."""
        dec = _label(decision)
        fin = _label(final) if final is not None else (dec if dec != "ask" else None)
        if dec not in DECISIONS:
            raise ValueError(f"audit: decision must be one of {DECISIONS}, not {decision!r}")
        if fin not in FINALS:
            raise ValueError(f"audit: final must be allow or deny, not {final!r} (give it when decision is ask)")
        approved_by = APPROVER_ALIASES.get(approved_by, approved_by) if approved_by is not None else None
        now = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {
            "ts": now, "session": session or self.session, "tool": tool, "args": summarise_args(args), "decision": dec,
            "final": fin, "reason": truncate(reason), "rule": rule, "mode": _label(mode), "approved_by": approved_by,
        }
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8", "backslashreplace")
        return self._write(line)

    def _write(self, line: bytes) -> bool:
        with self._lock:
            if self._fd is None:
                self._report("audit log already closed")
                return False
            try:
                written = os.write(self._fd, line)
                while written < len(line):  # only on a nearly full disk: finish the line rather than leave it cut
                    more = os.write(self._fd, line[written:])
                    if more <= 0:
                        self._report(f"cannot write the audit log {self.path}: short write")
                        return False
                    written += more
            except OSError as exc:
                self._report(f"cannot write the audit log {self.path}: {exc.strerror or exc}")
                return False
        return True

    def _report(self, message: str) -> None:
        if self.error is not None:
            return
        self.error = message
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # a broken callback must not break the caller either
                pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
