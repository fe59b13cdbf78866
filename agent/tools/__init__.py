"""The tools the model can call, each judged by the policy engine before it runs (base.py: the contract)."""

from __future__ import annotations

from agent.tools.base import Tool


def builtin_tools() -> list[Tool]:
    """A fresh instance of every built-in tool: read, write, edit, grep, find_files, list_dir, bash, todo.

    Start-up budget: the tool modules import only light stdlib modules; hashlib, tempfile, difflib, shutil,
    pathspec, trio and the sandbox are imported on first use."""
    from agent.tools.bash import BashTool
    from agent.tools.edit import EditTool
    from agent.tools.find_files import FindFilesTool
    from agent.tools.grep import GrepTool
    from agent.tools.list_dir import ListDirTool
    from agent.tools.read import ReadTool
    from agent.tools.todo import TodoTool
    from agent.tools.write import WriteTool

    return [ReadTool(), WriteTool(), EditTool(), GrepTool(), FindFilesTool(), ListDirTool(), BashTool(), TodoTool()]
