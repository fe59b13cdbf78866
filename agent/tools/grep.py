"""The `grep` tool: search file contents with a Python regular expression, in pure Python.

Walks like the other search tools (gitignore honoured; .git, node_modules, __pycache__, .venv skipped;
protected files never opened), skips binary files, files over 5 MB and files behind symbolic links that
lead out of the project (each with a note: those are read by name, where the policy judges them), and reports
`path:line:text` (context lines `path-line-text`). Every match is counted, so "N more not shown" is true.
Each file is read once in binary; a whole-file search rules out most files before any line is split.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from dataclasses import field
from pathlib import Path
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import ToolFailure, display, in_thread, is_binary, resolve_path
from agent.tools._walk import compile_glob, walk
from agent.tools.base import ToolContext, ToolResult
from agent.values import record

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_LINE_CHARS = 400
_NO_PREFILTER = re.compile(r"\\[AZz]|\(\?<?[!=]|\(\?<")

SPEC = ToolSpec(
    name="grep",
    description=(
        "Search file contents with a regular expression (Python `re` syntax, matched line by line). Output lines "
        "are `path:line:text`, context lines `path-line-text`. Honours .gitignore, skips binary files, files over "
        "5 MB and dependency/VCS folders. `glob` filters file names (`*.py`, `src/**/*.ts`, `*.{js,ts}`)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "regular expression (escape literal ( [ . * + ? { | \\)"},
            "path": {"type": "string", "description": "file or directory to search (default: working directory)"},
            "glob": {"type": "string", "description": "only files matching this glob"},
            "ignore_case": {"type": "boolean", "description": "case-insensitive match (default false)"},
            "context": {"type": "integer", "minimum": 0, "maximum": 20, "description": "lines around each match"},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 2000, "description": "default 100"},
        },
        "required": ["pattern"],
    },
)


@record
class _Report:
    out: list[str] = field(default_factory=list)
    shown: int = 0
    total: int = 0
    files: int = 0
    searched: int = 0
    big: list[str] = field(default_factory=list)
    binary: int = 0
    escaped: list[str] = field(default_factory=list)


class GrepTool(BaseTool):
    spec = SPEC
    read_only = True

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        pattern: str = args["pattern"]
        flags = re.MULTILINE | (re.IGNORECASE if args.get("ignore_case") else 0)
        try:
            regex = re.compile(pattern, flags)
        except re.error as exc:
            raise ToolFailure(
                f"invalid regular expression {pattern!r}: {exc} (Python re syntax; escape literal characters "
                "such as ( [ { . * + ? with a backslash)"
            ) from None
        root = resolve_path(ctx, args.get("path") or ".")
        name = display(ctx, root)
        if ctx.protected(root):
            raise ToolFailure(f"{name} is protected; it cannot be searched")
        if not root.exists():
            raise ToolFailure(f"{name} does not exist")
        glob = compile_glob(args["glob"]) if args.get("glob") else None
        context: int = args.get("context") or 0
        limit: int = args.get("max_results") or 100

        def work(stop: threading.Event) -> _Report:
            return _search(ctx, root, regex, glob, context, limit, stop)

        report = await in_thread(work)
        return _result(report, pattern, name, limit)


def _result(report: _Report, pattern: str, name: str, limit: int) -> ToolResult:
    lines = list(report.out)
    meta: dict[str, object] = {"matches": report.total, "shown": report.shown, "files": report.files}
    if not report.total:
        lines.append(f"No matches for /{pattern}/ in {name} ({report.searched} files searched).")
    elif report.total > report.shown:
        lines.append(
            f"[{report.total - report.shown} more matches not shown ({report.total} matching lines in "
            f"{report.files} files); narrow the pattern, path or glob, or raise max_results (now {limit})]"
        )
    if report.big:
        few = ", ".join(report.big[:5]) + (", …" if len(report.big) > 5 else "")
        lines.append(f"[skipped {len(report.big)} files over 5 MB: {few}]")
    if report.escaped:
        meta["escaped"] = len(report.escaped)
        few = ", ".join(report.escaped[:5]) + (", …" if len(report.escaped) > 5 else "")
        lines.append(
            f"[{len(report.escaped)} files behind symbolic links that lead out of the project were skipped; "
            f"read them by name: {few}]"
        )
    return ToolResult("\n".join(lines), meta=meta)


def _search(
    ctx: ToolContext, root: Path, regex: re.Pattern[str], glob: Any, context: int, limit: int, stop: threading.Event
) -> _Report:
    report = _Report()
    prefilter = _NO_PREFILTER.search(regex.pattern) is None
    root_s = str(root)
    if root.is_file():
        _search_file(ctx, root_s, display(ctx, root), regex, prefilter, context, limit, report)
        return report
    prefix = display(ctx, root)
    prefix = "" if prefix == "." else prefix.rstrip("/") + "/"
    escaped: list[str] = []
    for entry in walk(root_s, ctx, stop, escaped=escaped):
        if entry.is_dir or (glob is not None and not glob(entry.rel)):
            continue
        _search_file(ctx, entry.path, prefix + entry.rel, regex, prefilter, context, limit, report)
    rels = [(path, path[len(root_s) :].lstrip("/")) for path in escaped]
    report.escaped = [prefix + rel for _path, rel in rels if glob is None or glob(rel)]
    return report


def _search_file(
    ctx: ToolContext,
    path: str,
    shown_as: str,
    regex: re.Pattern[str],
    prefilter: bool,
    context: int,
    limit: int,
    report: _Report,
) -> None:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return
        if st.st_size > MAX_FILE_BYTES:
            report.big.append(shown_as)
            return
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return
    report.searched += 1
    if is_binary(data):
        report.binary += 1
        return
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if prefilter and regex.search(text) is None:
        return
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    hits = [i for i, line in enumerate(lines) if regex.search(line) is not None]
    if not hits:
        return
    report.total += len(hits)
    report.files += 1
    room = limit - report.shown
    if room <= 0:
        return
    show = hits[:room]
    report.shown += len(show)
    _render(report.out, shown_as, lines, show, context)


def _render(out: list[str], name: str, lines: list[str], hits: list[int], context: int) -> None:
    matched = set(hits)
    if context and out:
        out.append("--")
    last = -1
    for hit in hits:
        lo, hi = max(hit - context, last + 1), min(hit + context, len(lines) - 1)
        if context and last >= 0 and lo > last + 1:
            out.append("--")
        for i in range(lo, hi + 1):
            sep = ":" if i in matched else "-"
            text = lines[i]
            if len(text) > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + f" … [+{len(text) - MAX_LINE_CHARS} chars]"
            out.append(f"{name}{sep}{i + 1}{sep}{text}")
        last = max(last, hi)
