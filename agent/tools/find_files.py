"""The `find_files` tool: file paths matching a glob, sorted, gitignore honoured, protected files never listed."""

from __future__ import annotations

import threading
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import ToolFailure, display, in_thread, resolve_path
from agent.tools._walk import compile_glob, walk
from agent.tools.base import ToolContext, ToolResult

MAX_RESULTS = 500

SPEC = ToolSpec(
    name="find_files",
    description=(
        "Find files by name with a glob: `*` within a path component, `**` across directories, `{a,b}`, `[abc]`. "
        "A pattern without `/` matches file names at any depth (`*.py`); with `/` it matches the path below "
        "`path` (`src/**/*.ts`). Sorted; honours .gitignore and skips .git, node_modules, __pycache__, .venv."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "glob, e.g. `**/*.py` or `test_*.py`"},
            "path": {"type": "string", "description": "directory to search (default: working directory)"},
        },
        "required": ["pattern"],
    },
)


class FindFilesTool(BaseTool):
    spec = SPEC
    read_only = True

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        pattern: str = args["pattern"]
        if not pattern.strip():
            raise ToolFailure("argument 'pattern' must not be empty (use `*` to list every file)")
        root = resolve_path(ctx, args.get("path") or ".")
        name = display(ctx, root)
        if ctx.protected(root):
            raise ToolFailure(f"{name} is protected; it cannot be listed")
        if not root.is_dir():
            raise ToolFailure(f"{name} is not a directory" if root.exists() else f"{name} does not exist")
        matches = compile_glob(pattern)
        prefix = "" if name == "." else name.rstrip("/") + "/"

        def work(stop: threading.Event) -> list[str]:
            return [e.rel for e in walk(str(root), ctx, stop) if not e.is_dir and matches(e.rel)]

        found = sorted(await in_thread(work))
        meta: dict[str, object] = {"count": len(found)}
        if not found:
            return ToolResult(f"No files matching {pattern!r} under {name}.", meta=meta)
        lines = [prefix + rel for rel in found[:MAX_RESULTS]]
        if len(found) > MAX_RESULTS:
            lines.append(
                f"[{len(found) - MAX_RESULTS} more files not shown ({len(found)} in all); narrow the pattern or path]"
            )
        return ToolResult("\n".join(lines), meta=meta)
