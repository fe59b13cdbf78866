"""The `write` tool: create a file, or replace one this session has read, atomically; or append to it.

Overwriting (or appending) is refused unless the file was read (or written) in this session and is
unchanged since (its FileStamp), so the model never clobbers content it has not seen. The write goes
through a temporary file in the same directory, fsync and rename; the file keeps its permission bits.

`append: true` adds the content at the end (creating the file when missing). It exists so a file too large
for one model reply can be written in parts: a reply cut at the output-token limit loses the call it was
writing (agent/loop.py tells the model to send smaller pieces).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import ToolFailure, atomic_write, check_fresh, display, human_size, record_stamp, resolve_path
from agent.tools.base import ToolContext, ToolResult

SPEC = ToolSpec(
    name="write",
    description=(
        "Write a whole file: create it (parent directories are created) or replace its content. An existing "
        "file may only be replaced after you read it in this session and while it is unchanged since; to change "
        "part of a file, prefer edit. With append: true the content is added at the end instead (the same "
        "read-first rule; a missing file is created): write a large file in parts, the first part, then the "
        "rest with append, each part a call of its own. Atomic; the file keeps its permissions."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file path, relative to the working directory or absolute"},
            "content": {
                "type": "string",
                "description": "the complete new content of the file (with append: the part to add at its end)",
            },
            "append": {
                "type": "boolean",
                "description": "add content at the end of the file instead of replacing it (default false)",
            },
        },
        "required": ["path", "content"],
    },
)


def _current(path: Path) -> bytes:
    """The file's bytes now (what an append extends)."""
    with open(path, "rb") as fh:
        return fh.read()


class WriteTool(BaseTool):
    spec = SPEC
    read_only = False

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = resolve_path(ctx, args["path"])
        name = display(ctx, path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            existed = False
        else:
            if stat.S_ISDIR(st.st_mode):
                raise ToolFailure(f"{name} is a directory; give a file path")
            if not stat.S_ISREG(st.st_mode):
                raise ToolFailure(f"{name} is not a regular file; refusing to replace it")
            existed = True
        append = bool(args.get("append"))
        check_fresh(ctx, path, "append to" if append else "overwrite")
        data = str(args["content"]).encode("utf-8", "replace")
        added = len(data)
        if append and existed:
            data = _current(path) + data
        if ctx.undo is not None:
            ctx.undo.before(path)
        atomic_write(path, data)
        if ctx.undo is not None:
            ctx.undo.wrote(path, data)
        record_stamp(ctx, path, data)
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        meta: dict[str, object] = {"path": str(path), "created": not existed, "bytes": len(data), "lines": lines}
        if append and existed:
            meta["appended"] = added
            return ToolResult(
                f"Appended {human_size(added)} to {name} (now {lines} lines, {human_size(len(data))}).", meta=meta
            )
        verb = "Overwrote" if existed else "Created"
        return ToolResult(f"{verb} {name} ({lines} lines, {human_size(len(data))}).", meta=meta)
