"""The `read` tool: a text file with line numbers, paged by offset/limit, guarded against binaries and huge files.

Every read records a FileStamp (mtime, size, sha256 of the whole file) so that write and edit can later
prove the session saw the current content. With `hashes: true` each line carries a short CRC tag
(`12:ab3f| text`) that edit accepts as a line address.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import (
    MAX_TEXT_BYTES,
    SNIFF_BYTES,
    ToolFailure,
    display,
    human_size,
    is_binary,
    line_hash,
    resolve_path,
)
from agent.tools.base import FileStamp, ToolContext, ToolResult

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
THREAD_BYTES = 1024 * 1024

SPEC = ToolSpec(
    name="read",
    description=(
        "Read a text file. Lines come numbered from 1 as `   12\\tcontent`. Reads up to `limit` lines "
        f"(default {DEFAULT_LIMIT}) from `offset` (1-based line); the footer says how to continue. Lines longer "
        f"than {MAX_LINE_CHARS} characters are cut. With `hashes: true` lines are shown as `12:ab3f| content` "
        "and edit can then change a line by citing {line, hash}. A file must be read before write or edit may "
        "change it. Directories: use list_dir; searching: use grep."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file path, relative to the working directory or absolute"},
            "offset": {"type": "integer", "minimum": 1, "description": "first line to show (1-based)"},
            "limit": {"type": "integer", "minimum": 1, "description": f"lines to show (default {DEFAULT_LIMIT})"},
            "hashes": {"type": "boolean", "description": "prefix each line with `N:hash|` for line-addressed edits"},
        },
        "required": ["path"],
    },
)


class ReadTool(BaseTool):
    spec = SPEC
    read_only = True

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = resolve_path(ctx, args["path"])
        name = display(ctx, path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ToolFailure(f"{name} does not exist{_suggest(path, ctx)}") from None
        if stat.S_ISDIR(st.st_mode):
            raise ToolFailure(f"{name} is a directory: use list_dir to see its contents")
        if not stat.S_ISREG(st.st_mode):
            raise ToolFailure(f"{name} is not a regular file")
        offset: int | None = args.get("offset")
        limit: int | None = args.get("limit")
        if st.st_size > MAX_TEXT_BYTES and offset is None and limit is None:
            raise ToolFailure(
                f"{name} is {human_size(st.st_size)}, too large to read whole (limit {human_size(MAX_TEXT_BYTES)}): "
                "pass offset and limit to read a part, or use grep to find what you need"
            )
        start = offset or 1
        count = limit or DEFAULT_LIMIT
        if st.st_size > THREAD_BYTES:  # hashing a big file would stall the event loop
            import trio

            total, picked, stamp = await trio.to_thread.run_sync(_scan, path, name, start, start + count)
        else:
            total, picked, stamp = _scan(path, name, start, start + count)
        ctx.stamps[path] = stamp
        meta: dict[str, object] = {"path": str(path), "lines": total}
        if total == 0:
            return ToolResult(f"({name} is empty)", meta=meta)
        if start > total:
            raise ToolFailure(f"offset {start} is past the end of {name} ({total} lines)")
        body = _render(picked, start, bool(args.get("hashes")))
        last = start + len(picked) - 1
        meta.update(start=start, end=last)
        if last < total:
            body += f"\n\n(lines {start}-{last} of {total}; continue with offset={last + 1})"
        elif start > 1:
            body += f"\n\n(lines {start}-{last} of {total}: end of file)"
        return ToolResult(body, meta=meta)


def _scan(path: os.PathLike[str], name: str, start: int, end: int) -> tuple[int, list[str], FileStamp]:
    """Stream the file once: hash every byte, count lines, decode the lines in [start, end)."""
    import hashlib

    digest = hashlib.sha256()
    raw: list[bytes] = []
    total = 0
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        if is_binary(head):
            size = os.fstat(fh.fileno()).st_size
            raise ToolFailure(f"{name} is a binary file ({human_size(size)}); read shows text files only")
        fh.seek(0)
        for total, line in enumerate(fh, 1):
            digest.update(line)
            if start <= total < end:
                raw.append(line)
        st = os.fstat(fh.fileno())
    try:
        picked = [line.decode("utf-8") for line in raw]
    except UnicodeDecodeError:
        raise ToolFailure(
            f"{name} is not UTF-8 text (binary?, {human_size(st.st_size)}); read shows text files only"
        ) from None
    return total, picked, FileStamp(st.st_mtime_ns, st.st_size, digest.hexdigest())


def _render(lines: list[str], start: int, hashes: bool) -> str:
    out: list[str] = []
    for number, line in enumerate(lines, start):
        text = line.rstrip("\n")
        if text.endswith("\r"):
            text = text[:-1]
        tag = line_hash(text) if hashes else ""
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + f" … [line truncated: {len(text)} characters]"
        out.append(f"{number}:{tag}| {text}" if hashes else f"{number:>5}\t{text}")
    return "\n".join(out)


def _suggest(path: Path, ctx: ToolContext) -> str:
    """Close names in the same directory (protected ones never shown)."""
    try:
        names = [n for n in os.listdir(path.parent) if not ctx.protected(path.parent / n)]
    except OSError:
        return ""
    base = path.name
    import difflib

    close = difflib.get_close_matches(base, names, n=3, cutoff=0.6)
    return f" (similar names there: {', '.join(close)})" if close else ""
