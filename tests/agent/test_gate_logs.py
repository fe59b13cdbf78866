"""The gate lets read and grep reach this session's own command output logs, which the engine protects
(they live in corral's data directory), and nothing else there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy
from agent.gate import Gate
from tests.agent.conftest import Dirs
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle


@pytest.fixture
def layout(dirs: Dirs) -> tuple[Path, Path, Path]:
    project, home = dirs.project, dirs.home
    session = dirs.data / "corral" / "sessions" / "S1"
    logs = session / "output"
    logs.mkdir(parents=True)
    (logs / "cmd-1.log").write_text("line\n" * 10)
    (session / "audit.jsonl").write_text("{}\n")
    return project, home, logs


def gate_for(project: Path, home: Path, mode: policy.Mode, readable: tuple[Path, ...]) -> Gate:
    engine = policy.load_engine(project, home=home)
    return Gate(engine, mode, project, readable=readable)


@pytest.mark.parametrize("mode", [policy.Mode.STANDARD, policy.Mode.READ_ONLY, policy.Mode.RESTRICTIVE])
def test_the_sessions_own_logs_are_readable_in_every_mode(layout: tuple[Path, Path, Path], mode: policy.Mode) -> None:
    project, home, logs = layout
    log = str(logs / "cmd-1.log")
    assert gate_for(project, home, mode, ()).verdict("read", {"path": log}, project).decision is policy.Decision.DENY
    gate = gate_for(project, home, mode, (logs,))
    verdict = gate.verdict("read", {"path": log}, project)
    assert verdict.decision is policy.Decision.ALLOW and verdict.rule == "own-output-logs"
    assert gate.verdict("grep", {"path": str(logs), "pattern": "x"}, project).decision is policy.Decision.ALLOW


def test_nothing_else_in_the_data_directory_is(layout: tuple[Path, Path, Path]) -> None:
    project, home, logs = layout
    gate = gate_for(project, home, policy.Mode.STANDARD, (logs,))
    audit = logs.parent / "audit.jsonl"
    os.symlink(audit, logs / "sneaky.log")
    for path in (str(audit), str(logs / ".." / "audit.jsonl"), str(logs / "sneaky.log")):
        assert gate.verdict("read", {"path": path}, project).decision is policy.Decision.DENY, path
    for tool, args in (("write", {"path": str(logs / "cmd-1.log"), "content": "x"}),
                       ("edit", {"path": str(logs / "cmd-1.log"), "old": "a", "new": "b"})):
        assert gate.verdict(tool, args, project).decision is not policy.Decision.ALLOW


async def test_check_records_the_carve_out(layout: tuple[Path, Path, Path]) -> None:
    from agent.providers.base import ToolCall

    project, home, logs = layout
    gate = gate_for(project, home, policy.Mode.READ_ONLY, (logs,))
    args = {"path": str(logs / "cmd-1.log")}
    result = await gate.check(ToolCall("c", "read", args), "read", args, project)
    assert result.allowed and result.rule == "own-output-logs" and result.approved_by == "rule"


def test_the_model_can_read_back_the_full_log_of_a_long_output(llm_server: ServerHandle) -> None:  # noqa: F811
    import json

    from tests.agent.test_cli_robust import corral, new_session
    from tests.agent.test_oneshot_e2e import scratch, text

    with scratch(llm_server) as e:
        session = new_session(e, "hello")
        logs = e.base / "xdg-data" / "corral" / "sessions" / session / "output"
        llm_server.set_script([
            {"parts": [{"type": "tool_call", "name": "bash", "arguments": {"command": "seq 1 200000"}}]},
            {"parts": [{"type": "tool_call", "name": "grep", "arguments": {"pattern": "^123456$", "path": str(logs)}}]},
            {"parts": [text("found it")]},
        ])
        r = corral(e, "--session", session, "-p", "count", "--read-only", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["result"] == "found it"
        sent = [m for m in llm_server.model_requests[-1].body["messages"] if m["role"] == "tool"]
        assert "full log: " + str(logs) in sent[0]["content"]  # the truncated result names the log
        assert "123456" in sent[1]["content"] and "Denied" not in sent[1]["content"]
