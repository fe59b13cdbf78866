"""Fixtures for the tool tests: a real project directory, a context, and a way to call a tool by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from agent.tools import builtin_tools
from agent.tools.base import Tool, ToolContext, ToolResult

TOOLS: dict[str, Tool] = {t.spec.name: t for t in builtin_tools()}


async def call(name: str, args: Mapping[str, object], ctx: ToolContext) -> ToolResult:
    return await TOOLS[name].run("call-1", args, ctx)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = (tmp_path / "proj").resolve()
    root.mkdir()
    return root


@pytest.fixture
def ctx(project: Path, tmp_path: Path) -> ToolContext:
    home = tmp_path / "home"
    home.mkdir()
    return ToolContext(project_root=project, cwd=project, home=home)
