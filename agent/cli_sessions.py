"""``corral sessions list|show|rm|export``: the stored sessions, for people and for scripts.

``list`` shows this project's sessions (``--all``: every project), newest first; ``show`` prints a session's
header and conversation (tool calls one line each); ``rm`` deletes session directories (only real
directories directly under the sessions directory, never through a symlink); ``export`` writes a session as
self-contained JSONL (side files inlined) or as Markdown. Sessions hold everything the model saw, so exports
are written 0600. Exit codes: 0, 2 for a usage error (unknown or ambiguous session), 1 when a session cannot
be read, 141 when the reader of stdout went away (agent/cli.py).

``choose_session`` is the picker behind ``corral -r``: it lists the sessions and reads a number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.errors import UsageError
from agent.events import visible

if TYPE_CHECKING:
    from agent.providers.base import Message
    from agent.session import LoadedSession, SessionSummary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_RESULT_LINES = 3


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = sub.add_parser("sessions", help="list, show, remove or export stored sessions")
    ssub = sessions.add_subparsers(dest="sessions_command", metavar="SUBCOMMAND")
    sessions.set_defaults(handler=lambda _a: _print_help(sessions))

    lst = ssub.add_parser("list", help="list this project's sessions, newest first",
                          description="List the sessions of the current project (the enclosing .git or .corral "
                                      "directory), newest first: id, age, messages, name, last message.")
    lst.add_argument("--all", action="store_true", help="list the sessions of every project")
    lst.add_argument("--json", action="store_true", help="print one JSON array")
    lst.set_defaults(handler=_guard(run_list))

    show = ssub.add_parser("show", help="print a session's conversation",
                           description="Print the session's header and its conversation; tool calls and "
                                       "their results take one line each unless --full.")
    show.add_argument("session", metavar="ID|NAME", help="a session id, a unique id prefix, or a name")
    show.add_argument("--full", action="store_true", help="print tool results and reasoning in full")
    show.set_defaults(handler=_guard(run_show))

    rm = ssub.add_parser("rm", help="delete sessions (their log, side files, audit log and command output)")
    rm.add_argument("sessions", nargs="+", metavar="ID|NAME")
    rm.set_defaults(handler=_guard(run_rm))

    export = ssub.add_parser("export", help="write a session as self-contained JSONL or as Markdown",
                             description="Write the session to stdout or -o FILE (created 0600): jsonl (every "
                                         "record, side files inlined) or markdown (a readable transcript).")
    export.add_argument("session", metavar="ID|NAME")
    export.add_argument("--format", choices=("jsonl", "markdown"), default="jsonl")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write to FILE (an existing file is kept unless --force)")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.set_defaults(handler=_guard(run_export))


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_OK


def _guard(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """SessionError (unreadable, damaged, newer) -> message and exit 1; UsageError goes to the caller (exit 2)."""
    def run(args: argparse.Namespace) -> int:
        from agent.session import SessionError

        try:
            return handler(args)
        except SessionError as exc:
            print(f"corral: {exc}", file=sys.stderr)
            return EXIT_FAILED
    return run


def _warn(loaded: LoadedSession) -> None:
    for warning in loaded.warnings:
        print(f"corral: warning: {warning}", file=sys.stderr)


def _warn_lost(lost: list[str]) -> None:
    for problem in lost:
        print(f"corral: warning: {problem} (a placeholder was shown instead)", file=sys.stderr)


def age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


# ---------------------------------------------------------------------------------------------------- list


def _project() -> Path:
    from agent.project import find_project_root

    return find_project_root(Path.cwd())


def run_list(args: argparse.Namespace) -> int:
    from agent.session import list_sessions, sessions_dir

    root = sessions_dir()
    if os.path.lexists(root) and not root.is_dir():
        raise UsageError(f"{root} should be the directory of corral's sessions but is not a directory; move it "
                         "away (or set XDG_DATA_HOME to another directory)")
    project = None if args.all else _project()
    found = list_sessions(project, damaged=True)
    for broken in (s for s in found if s.damaged):
        print(f"corral: warning: session {broken.id} cannot be read ({broken.damaged}): remove it with "
              f"`corral sessions rm {broken.id}` (or delete {broken.path})", file=sys.stderr)
    found = [s for s in found if not s.damaged]
    if args.json:
        print(json.dumps([_summary_dict(s) for s in found], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not found:
        where = "" if args.all else f" for {project} (`corral sessions list --all` shows every project)"
        print(f"corral: no sessions{where}", file=sys.stderr)
        return EXIT_OK
    print(render_table(found, with_project=args.all))
    return EXIT_OK


def _summary_dict(s: SessionSummary) -> dict[str, object]:
    return {"id": s.id, "name": s.name, "project": s.project, "cwd": s.cwd, "created": s.created,
            "updated": s.updated, "messages": s.message_count, "last_role": s.last_role,
            "last_message": s.last_message, "path": str(s.path)}


def render_table(found: Sequence[SessionSummary], *, with_project: bool, numbered: bool = False) -> str:
    now = time.time()
    rows = [("#" if numbered else "", "ID", "AGE", "MSGS", "NAME", *(("PROJECT",) if with_project else ()),
             "LAST MESSAGE")]
    for index, s in enumerate(found, 1):
        count = "?" if s.message_count is None else str(s.message_count)
        last = f"{s.last_role}: {s.last_message}" if s.last_role else ""
        rows.append((str(index) if numbered else "", s.id, age(now - s.updated), count, visible(s.name or "-"),
                     *((visible(s.project),) if with_project else ()), visible(last, newlines=False)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False) if w] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def choose_session(project: Path | None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                   limit: int = 30) -> SessionSummary | None:
    """The ``-r`` picker: list the sessions (of ``project``, or all) and read a number or an id/name.
    Returns None when there is none or the user enters nothing."""
    from agent.session import list_sessions, resolve_session

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    found = list_sessions(project)[:limit]
    if not found:
        print("corral: no sessions to resume" + (f" for {project}" if project else ""), file=stdout)
        return None
    print(render_table(found, with_project=project is None, numbered=True), file=stdout)
    while True:
        print("resume which session? (number, id or name; empty to cancel) ", end="", file=stdout, flush=True)
        answer = stdin.readline().strip()
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            return found[int(answer) - 1]
        try:
            return resolve_session(answer, project=project)
        except UsageError as exc:
            print(f"corral: {exc}", file=stdout)


# ---------------------------------------------------------------------------------------------------- show


def _fmt_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def header_lines(loaded: LoadedSession) -> list[str]:
    u = loaded.usage
    cost = f", ${u.cost:.4f}" if u.cost is not None else ""
    model = f"{loaded.provider}/{loaded.model}" if loaded.model else "-"
    updated = loaded.path.stat().st_mtime
    return [
        f"session  {loaded.id}" + (f"  ({loaded.name})" if loaded.name else ""),
        f"project  {loaded.project}",
        f"cwd      {loaded.cwd}",
        f"created  {_fmt_time(loaded.created)}   updated {_fmt_time(updated)} ({age(time.time() - updated)} ago)",
        f"model    {model}   mode {loaded.mode or '-'}   prompt {loaded.prompt or '-'}   "
        f"thinking {loaded.thinking or '-'}",
        f"usage    {u.input_tokens} tokens in, {u.output_tokens} out{cost}   messages {loaded.message_count}"
        + (f"   compactions {len(loaded.compactions)}" if loaded.compactions else ""),
    ]


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_message(message: Message, *, full: bool = False) -> list[str]:
    out: list[str] = []
    if message.role == "tool":
        tag = f"[tool {message.name or '?'}{' error' if message.is_error else ''}]"
        if full:
            return [tag, message.content, ""]
        lines = message.content.splitlines()
        more = f"  (+{len(lines) - _RESULT_LINES} lines)" if len(lines) > _RESULT_LINES else ""
        return [f"{tag} " + " | ".join(_one_line(line, 80) for line in lines[:_RESULT_LINES]) + more]
    if message.reasoning:
        out.append(f"[{message.role} thinking] " + (message.reasoning if full else _one_line(message.reasoning)))
    if message.content or not message.tool_calls:
        out.extend([f"[{message.role}]", message.content])
    for call in message.tool_calls:
        args = call.raw_arguments if call.parse_error else json.dumps(call.arguments, ensure_ascii=False)
        out.append(f"  → {call.name} {_one_line(args, 200)}")
    out.append("")
    return out


def run_show(args: argparse.Namespace) -> int:
    from agent.session import load_session

    loaded = load_session(args.session, project=_project())
    _warn(loaded)
    lines = [*header_lines(loaded), ""]
    if loaded.todos:
        lines.append("todo     " + "; ".join(f"[{t.status}] {t.content}" for t in loaded.todos))
        lines.append("")
    out = sys.stdout  # for people: what the model wrote is shown with its control characters made visible
    out.write(visible("\n".join(lines)) + "\n")
    lost: list[str] = []
    for item in history(loaded, lost):
        if isinstance(item, str):
            out.write(f"── {visible(item)} ──\n\n")
        else:
            out.write(visible("\n".join(render_message(item, full=args.full))) + "\n")
    _warn_lost(lost)
    return EXIT_OK


def history(loaded: LoadedSession, lost: list[str] | None = None) -> Iterator[Message | str]:
    """The whole recorded history, oldest first, one message at a time (side files read as it goes): the
    messages, including those a compaction later replaced, and a line for each change of mode, model,
    prompt or thinking, each compaction and each session approval. A missing side file: a placeholder, the
    problem appended to ``lost`` (None: SessionError)."""
    from agent.session_records import check_message, decode_message, iter_records

    records = iter_records(loaded.path, [])  # problems were already reported by load_session
    next(records)  # the header
    for _, rec in records:
        kind = rec.get("type")
        if kind == "message":
            if check_message(rec) is None:
                yield decode_message(rec, loaded.directory, lost)
        elif kind == "compaction":
            summary = str(rec.get("summary", ""))
            yield (f"compacted: the {rec.get('replaced')} earliest messages were replaced by this summary "
                   f"(the model saw it as a user message):\n{summary}")
        elif kind == "model":
            yield f"model {rec.get('provider')}/{rec.get('model')}"
        elif kind in ("mode", "prompt", "thinking"):
            yield f"{kind} {rec.get(kind)}"
        elif kind == "approval":
            rule = rec.get("rule")
            text = rule.get("rule", rule) if isinstance(rule, dict) else rule
            yield f"approved for this session: {_one_line(str(text), 200)}"


# ------------------------------------------------------------------------------------------------------ rm


def run_rm(args: argparse.Namespace) -> int:
    import shutil
    import stat

    from agent.session import in_use, resolve_session, sessions_dir

    root = sessions_dir()
    targets = [resolve_session(ref, project=_project()) for ref in args.sessions]  # all resolved before any rm
    for summary in targets:
        directory = root / summary.id
        if in_use(directory / "session.jsonl"):
            raise UsageError(f"the session {summary.id} is in use by a running corral; end it first (nothing "
                             "removed)")
        try:
            st = os.lstat(directory)
            os.lstat(directory / "session.jsonl")  # any kind: a damaged session's log may be a directory or FIFO
        except OSError as exc:
            raise UsageError(f"{directory} is not a session directory ({exc.strerror}); nothing removed") from None
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{directory} is not a session directory; nothing removed")
    for summary in targets:
        shutil.rmtree(root / summary.id)  # never follows symlinks inside
        print(f"removed {summary.id}" + (f" ({summary.name})" if summary.name else ""))
    return EXIT_OK


# -------------------------------------------------------------------------------------------------- export


def _open_output(path: Path | None, *, force: bool = False) -> TextIO:
    if path is None:
        return sys.stdout
    replace = os.O_TRUNC if force else os.O_EXCL  # an existing file is somebody's work: kept unless --force
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | replace | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists; nothing written (add --force to replace it)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return os.fdopen(fd, "w", encoding="utf-8")


def run_export(args: argparse.Namespace) -> int:
    from agent.session import load_session

    loaded = load_session(args.session, project=_project())
    _warn(loaded)
    out = _open_output(args.output, force=args.force)
    lost: list[str] = []
    try:
        if args.format == "jsonl":
            export_jsonl(loaded, out, lost)
        else:
            export_markdown(loaded, out, lost)
    finally:
        if out is not sys.stdout:
            out.close()
    _warn_lost(lost)
    return EXIT_OK


def export_jsonl(loaded: LoadedSession, out: TextIO, lost: list[str] | None = None) -> None:
    """Every readable record of the log, in order, message contents inlined (one record in memory at a time)."""
    from agent.session_records import check_message, decode_message, encode_message, iter_records

    for _, rec in iter_records(loaded.path, []):
        if rec.get("type") == "message":
            if check_message(rec) is not None:
                continue
            message = decode_message(rec, loaded.directory, lost)
            fields = encode_message(message, loaded.directory, threshold=1 << 62)
            rec = {"v": rec["v"], "type": "message", "ts": rec.get("ts"), **fields}
        out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")


def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def export_markdown(loaded: LoadedSession, out: TextIO, lost: list[str] | None = None) -> None:
    title = f"# Session {loaded.id}" + (f": {loaded.name}" if loaded.name else "")
    out.write(title + "\n\n" + "\n".join(f"    {line}" for line in header_lines(loaded)) + "\n\n")
    for message in history(loaded, lost):
        if isinstance(message, str):
            out.write("---\n\n*" + message.replace("\n", "*\n\n", 1) + ("" if "\n" in message else "*") + "\n\n")
            continue
        if message.role == "tool":
            fence = _fence(message.content)
            label = " (error)" if message.is_error else ""
            out.write(f"### Tool result: {message.name}{label}\n\n{fence}\n{message.content}\n{fence}\n\n")
            continue
        out.write(f"## {message.role.capitalize()}\n\n")
        if message.reasoning:
            out.write("> " + message.reasoning.replace("\n", "\n> ") + "\n\n")
        if message.content:
            out.write(message.content + "\n\n")
        for call in message.tool_calls:
            args = call.raw_arguments if call.parse_error else json.dumps(call.arguments, indent=2,
                                                                           ensure_ascii=False)
            fence = _fence(args)
            out.write(f"**Tool call** `{call.name}`\n\n{fence}json\n{args}\n{fence}\n\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m agent.cli_sessions …`` (the same as ``corral sessions …``)."""
    parser = argparse.ArgumentParser(prog="corral")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
    try:
        args = parser.parse_args(["sessions", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as exc:
        return int(exc.code or 0)
    from agent.cli import quiet_broken_pipe

    def handle() -> int:
        try:
            code: int = args.handler(args)
        except UsageError as exc:
            print(f"corral: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return code

    return quiet_broken_pipe(handle)  # `corral sessions show x | head`: exit 141, no traceback


if __name__ == "__main__":
    sys.exit(main())
