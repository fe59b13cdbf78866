"""The session audit log: one JSON line per policy decision, appended to
``$XDG_DATA_HOME/corral/sessions/<session-id>/audit.jsonl``.

Each line is written with a single ``os.write`` on a descriptor opened with ``O_APPEND``, so lines from
concurrent writers (threads, subagents in other processes) never interleave. The file is created 0600 in
a directory created 0700, and is never followed through a symlink. Arguments are summarised: every string
is cut to 2 KB (nested values are serialised first), so one line stays small whatever the model sent.
Cutting must not hide what ran: when an argument was cut and the engine judged the call command by
command (bash), the line also carries ``commands``, each simple command cut short on its own, so a
command placed after 2 KB of padding still appears.

Writing never raises into the caller once the log is open: a failed write (disk full, I/O error) makes
``record`` return False and reports the problem once through ``on_error`` (and ``AuditLog.error``).
Opening the log can raise OSError: the caller decides whether a session may run without its audit log.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agent.linelog import LineLog, private_dirs

MAX_VALUE_BYTES = 2048
MAX_COMMAND_BYTES = 160  # each command of the breakdown logged when an argument was cut
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
    from agent.xdg import data_dir

    return data_dir(env) / "sessions" / session_id / "audit.jsonl"


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


def was_cut(args: Mapping[str, object]) -> bool:
    """Whether summarise_args shortens anything in args (a value over the limit, or too many arguments)."""
    if len(args) > MAX_ARGS:
        return True
    for value in args.values():
        if value is None or isinstance(value, bool | int | float):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            return True
    return False


def _label(value: object) -> str | None:
    """A decision/mode given as a string, a StrEnum, or an enum with a ``label`` (policy.Decision)."""
    if value is None or isinstance(value, str):
        return None if value is None else str(value)
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return label
    inner = getattr(value, "value", value)
    return str(inner).lower() if isinstance(inner, str) else str(value).lower()


class AuditLog(LineLog):
    """An append-only JSONL audit log. ``session`` defaults to the name of the file's directory."""

    label = "audit log"

    def __init__(self, path: Path, *, session: str | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        path = Path(path)
        private_dirs(path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:  # an older file left readable: ours, tighten it
                os.fchmod(fd, 0o600)
        except OSError:
            os.close(fd)
            raise
        super().__init__(path, fd, on_error=on_error)
        self.session = session if session is not None else path.parent.name

    def record(self, *, tool: str, args: Mapping[str, object], decision: object, final: object = None,
               reason: str = "", rule: str | None = None, mode: object = None,
               approved_by: str | None = None, session: str | None = None,
               commands: Sequence[str] = ()) -> bool:
        """Append one decision. ``decision`` is the engine's (allow/ask/deny); ``final`` what happened after
        approval (allow/deny; defaults to ``decision`` unless that is ``ask``); ``approved_by`` normally one
        of APPROVERS or None ("headless" is recorded as "headless-deny"). ``session`` overrides the log's
        session id for this line. ``commands`` is the engine's per-command breakdown of a bash call
        (the text of policy.Verdict.commands), logged only when an argument had to be cut. Returns False
        when the line could not be written (reported once through on_error); raises ValueError only for a
        decision or final outside allow/ask/deny."""
        dec = _label(decision)
        fin = _label(final) if final is not None else (dec if dec != "ask" else None)
        if dec not in DECISIONS:
            raise ValueError(f"audit: decision must be one of {DECISIONS}, not {decision!r}")
        if fin not in FINALS:
            raise ValueError(f"audit: final must be allow or deny, not {final!r} (give it when decision is ask)")
        approved_by = APPROVER_ALIASES.get(approved_by, approved_by) if approved_by is not None else None
        now = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry: dict[str, object] = {
            "ts": now, "session": session or self.session, "tool": tool, "args": summarise_args(args), "decision": dec,
            "final": fin, "reason": truncate(reason), "rule": rule, "mode": _label(mode), "approved_by": approved_by,
        }
        if commands and was_cut(args):
            entry["commands"] = [truncate(c, MAX_COMMAND_BYTES) for c in commands]
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8", "backslashreplace")
        return self.write_line(line)
