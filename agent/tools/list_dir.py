"""The `list_dir` tool: a directory as an indented tree, a few levels deep, ignored and protected entries hidden."""

from __future__ import annotations

import os
import threading
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import ToolFailure, display, in_thread, resolve_path
from agent.tools._walk import Entry, walk
from agent.tools.base import ToolContext, ToolResult

MAX_ENTRIES = 400
DEFAULT_DEPTH = 2
MAX_DEPTH = 5

SPEC = ToolSpec(
    name="list_dir",
    description=(
        "List a directory as a tree (directories end with `/`), `depth` levels deep (default 2, at most 5). "
        "Skips .git, node_modules, __pycache__, .venv and gitignored entries. To find files by name use "
        "find_files; to search contents use grep."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "directory (default: working directory)"},
            "depth": {"type": "integer", "minimum": 1, "maximum": MAX_DEPTH, "description": "levels to show"},
        },
    },
)


class ListDirTool(BaseTool):
    spec = SPEC
    read_only = True

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        root = resolve_path(ctx, args.get("path") or ".")
        name = display(ctx, root)
        if ctx.protected(root):
            raise ToolFailure(f"{name} is protected; it cannot be listed")
        if not root.is_dir():
            if root.exists():
                raise ToolFailure(f"{name} is a file, not a directory: use read to see it")
            raise ToolFailure(f"{name} does not exist")
        depth: int = args.get("depth") or DEFAULT_DEPTH

        def work(stop: threading.Event) -> list[Entry]:
            return list(walk(str(root), ctx, stop, max_depth=depth))

        entries = await in_thread(work)
        meta: dict[str, object] = {"entries": len(entries)}
        if not entries:
            return ToolResult(f"{name}/ (empty, or every entry is ignored)", meta=meta)
        lines = [name.rstrip("/") + "/"]
        for entry in entries[:MAX_ENTRIES]:
            lines.append("  " * entry.depth + _label(entry))
        if len(entries) > MAX_ENTRIES:
            lines.append(
                f"[{len(entries) - MAX_ENTRIES} more entries not shown ({len(entries)} in all); "
                "list a subdirectory or lower depth]"
            )
        return ToolResult("\n".join(lines), meta=meta)


def _label(entry: Entry) -> str:
    base = entry.rel.rsplit("/", 1)[-1]
    if entry.is_dir:
        return base + "/"
    if os.path.islink(entry.path):
        try:
            return f"{base} -> {os.readlink(entry.path)}"
        except OSError:
            return base
    return base
