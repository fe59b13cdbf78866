"""A prompt's `writes:` globs (the `plan` prompt writes only `.plans/**`) are checked on the path as
written and on the path a write would really reach: a symlink planted in the repository must not carry
a listed path to somewhere the prompt may not write. The Gate runs with the real policy engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy
from agent.gate import Gate
from agent.providers.base import ToolCall
from tests.agent.conftest import Dirs


@pytest.fixture
def layout(dirs: Dirs) -> tuple[Path, Path]:
    return dirs.project, dirs.home


def plan_gate(project: Path, home: Path, root: Path | None = None) -> Gate:
    """The plan prompt's gate: read-only run, `.plans/**` judged in standard mode."""
    root = root or project
    engine = policy.load_engine(root, home=home)
    return Gate(engine, policy.Mode.READ_ONLY, root, writes=(str(root / ".plans/**"),),
                writes_mode=policy.Mode.STANDARD)


def decision(gate: Gate, tool: str, path: str, cwd: Path) -> policy.Decision:
    args = {"path": path, "content": "x"} if tool == "write" else {"path": path, "old": "a", "new": "b"}
    return gate.verdict(tool, args, cwd).decision


@pytest.mark.parametrize("tool", ["write", "edit"])
def test_a_planted_directory_link_does_not_widen_writes(layout: tuple[Path, Path], tool: str) -> None:
    project, home = layout
    os.symlink(".", project / ".plans")
    gate = plan_gate(project, home)
    verdict = gate.verdict(tool, {"path": ".plans/evil.txt", "content": "x", "old": "a", "new": "b"}, project)
    assert verdict.decision is policy.Decision.DENY
    assert verdict.rule == "prompt-writes"


def test_a_final_component_link_is_resolved(layout: tuple[Path, Path]) -> None:
    project, home = layout
    (project / ".plans").mkdir()
    (project / "setup.py").write_text("a\n")
    os.symlink("../setup.py", project / ".plans" / "plan.md")
    os.symlink("../missing.py", project / ".plans" / "dangling.md")
    gate = plan_gate(project, home)
    assert decision(gate, "write", ".plans/plan.md", project) is policy.Decision.DENY
    assert decision(gate, "edit", ".plans/plan.md", project) is policy.Decision.DENY
    assert decision(gate, "write", ".plans/dangling.md", project) is policy.Decision.DENY


def test_real_plan_paths_are_still_allowed(layout: tuple[Path, Path]) -> None:
    project, home = layout
    (project / ".plans" / "sub").mkdir(parents=True)
    os.symlink("sub", project / ".plans" / "inner")  # stays inside .plans: fine
    gate = plan_gate(project, home)
    for path in (".plans/new.md", ".plans/sub/deep.md", ".plans/inner/deep.md", str(project / ".plans/a.md")):
        assert decision(gate, "write", path, project) is policy.Decision.ALLOW, path
    assert decision(gate, "write", "notes.md", project) is policy.Decision.DENY


def test_a_project_reached_through_a_symlink_still_writes_its_plans(layout: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    project, home = layout
    (project / ".plans").mkdir()
    alias = tmp_path / "alias"
    os.symlink(project, alias)
    gate = plan_gate(project, home, root=alias)
    assert decision(gate, "write", ".plans/p.md", alias) is policy.Decision.ALLOW
    os.symlink("..", project / ".plans" / "up")
    assert decision(gate, "write", ".plans/up/evil.txt", alias) is policy.Decision.DENY


async def test_check_denies_and_the_file_is_not_listed(layout: tuple[Path, Path]) -> None:
    project, home = layout
    os.symlink(".", project / ".plans")
    gate = plan_gate(project, home)
    args = {"path": ".plans/evil.txt", "content": "x"}
    result = await gate.check(ToolCall("c", "write", args), "write", args, project)
    assert not result.allowed and result.rule == "prompt-writes"
    assert result.message is not None and ".plans/**" in result.message
