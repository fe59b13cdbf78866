"""The small base every built-in tool shares: argument validation and turning failures into results.

A subclass sets `spec` and `read_only` and implements `call` with already-validated arguments (defaults
filled in). `ArgumentError`, `ToolFailure` and `OSError` become `ToolResult(is_error=True)`; `Cancelled`
and real bugs propagate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._args import ArgumentError, validate
from agent.tools._files import ToolFailure
from agent.tools.base import ToolContext, ToolResult


class BaseTool:
    spec: ToolSpec
    read_only: bool = True

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        """Path tools: the path as the model sent it ("." when absent)."""
        return {"path": args.get("path", ".")}

    async def run(self, call_id: str, args: Mapping[str, object], ctx: ToolContext) -> ToolResult:
        try:
            values = validate(self.spec.parameters, args)
            return await self.call(call_id, values, ctx)
        except (ArgumentError, ToolFailure) as exc:
            return ToolResult(str(exc), is_error=True)
        except OSError as exc:
            detail = exc.strerror or str(exc)
            where = f" ({exc.filename})" if exc.filename else ""
            return ToolResult(f"{self.spec.name} failed: {detail}{where}", is_error=True)

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<tool {self.spec.name}>"
