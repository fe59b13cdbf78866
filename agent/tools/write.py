"""The `write` tool: create a file, or replace one this session has read, atomically.

Overwriting is refused unless the file was read (or written) in this session and is unchanged since (its
FileStamp), so the model never clobbers content it has not seen. The write goes through a temporary file
in the same directory, fsync and rename; the file keeps its permission bits.
"""

from __future__ import annotations

import os
import stat
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
        "part of a file, prefer edit. Atomic; the file keeps its permissions."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file path, relative to the working directory or absolute"},
            "content": {"type": "string", "description": "the complete new content of the file"},
        },
        "required": ["path", "content"],
    },
)


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
        check_fresh(ctx, path, "overwrite")
        data = str(args["content"]).encode("utf-8", "replace")
        if ctx.undo is not None:
            ctx.undo.before(path)
        atomic_write(path, data)
        if ctx.undo is not None:
            ctx.undo.wrote(path, data)
        record_stamp(ctx, path, data)
        lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        verb = "Overwrote" if existed else "Created"
        return ToolResult(
            f"{verb} {name} ({lines} lines, {human_size(len(data))}).",
            meta={"path": str(path), "created": not existed, "bytes": len(data), "lines": lines},
        )
