"""todo replaces the session's list and renders it; builtin_tools gives fresh, complete tool sets cheaply."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.tools import builtin_tools
from agent.tools.base import TodoItem, ToolContext
from tests.agent.tools.conftest import call


async def test_todo_replaces_the_list(ctx: ToolContext) -> None:
    todos = [
        {"content": "read the code", "status": "done"},
        {"content": "write the fix", "status": "in_progress"},
        {"content": "run the tests", "status": "pending"},
    ]
    result = await call("todo", {"todos": todos}, ctx)
    assert not result.is_error
    assert result.content == "[x] read the code\n[>] write the fix\n[ ] run the tests\n(1/3 done)"
    assert ctx.todos == [
        TodoItem("read the code", "done"),
        TodoItem("write the fix", "in_progress"),
        TodoItem("run the tests", "pending"),
    ]
    result = await call("todo", {"todos": [{"content": "only one", "status": "pending"}]}, ctx)
    assert ctx.todos == [TodoItem("only one", "pending")]
    cleared = await call("todo", {"todos": []}, ctx)
    assert ctx.todos == [] and "empty" in cleared.content


async def test_todo_bad_items_leave_the_list_alone(ctx: ToolContext) -> None:
    ctx.todos.append(TodoItem("keep me"))
    result = await call("todo", {"todos": [{"content": "x"}]}, ctx)
    assert result.is_error and "argument 'todos[0].status' is required" in result.content
    assert ctx.todos == [TodoItem("keep me")]


def test_builtin_tools_are_fresh_instances() -> None:
    first, second = builtin_tools(), builtin_tools()
    assert [t.spec.name for t in first] == [
        "read",
        "write",
        "edit",
        "grep",
        "find_files",
        "list_dir",
        "bash",
        "todo",
    ]
    assert all(a is not b for a, b in zip(first, second, strict=True))


def test_loading_the_tools_imports_nothing_heavy() -> None:
    code = (
        "import sys; from agent.tools import builtin_tools; builtin_tools(); "
        "print(sorted(m for m in ('trio', 'pathspec', 'sandbox', 'policy', 'pydantic') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
