"""The `todo` tool: the model's task list for this session (replaced whole on each call, kept in ctx.todos)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools.base import TodoItem, ToolContext, ToolResult

MARKS = {"done": "[x]", "in_progress": "[>]", "pending": "[ ]"}

SPEC = ToolSpec(
    name="todo",
    description=(
        "Keep a task list for multi-step work. Send the whole list each time (it replaces the previous one); "
        "status is pending, in_progress or done. Keep one item in_progress at a time and mark items done as "
        "soon as they are finished."
    ),
    parameters={
        "type": "object",
        "properties": {
            "todos": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string", "description": "the task, in a few words"},
                        "status": {"type": "string", "enum": ["pending", "in_progress", "done"]},
                    },
                    "required": ["content", "status"],
                },
            },
        },
        "required": ["todos"],
    },
)


def render(todos: list[TodoItem]) -> str:
    """The list as the model and the front ends show it."""
    if not todos:
        return "(the task list is empty)"
    done = sum(1 for t in todos if t.status == "done")
    lines = [f"{MARKS[t.status]} {t.content}" for t in todos]
    return "\n".join([*lines, f"({done}/{len(todos)} done)"])


class TodoTool(BaseTool):
    spec = SPEC
    read_only = True

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        return {}

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        items = [TodoItem(content=t["content"].strip(), status=t["status"]) for t in args["todos"]]
        ctx.todos[:] = items
        rendered = render(items)
        return ToolResult(rendered, meta={"todos": [{"content": t.content, "status": t.status} for t in items]})
