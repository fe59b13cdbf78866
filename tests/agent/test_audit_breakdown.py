"""The audit log cuts long arguments to 2 KB, but must not hide what ran: when a bash command's text is
cut, its line also lists every simple command the engine judged (each cut short on its own). Real
engine, real Gate, real AuditLog file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policy
from agent.audit import MAX_COMMAND_BYTES, AuditLog
from agent.gate import Gate
from agent.providers.base import ToolCall
from tests.agent.conftest import Dirs


@pytest.fixture
def gate(dirs: Dirs, tmp_path: Path) -> Gate:
    audit = AuditLog(tmp_path / "sessions" / "S1" / "audit.jsonl")
    return Gate(policy.load_engine(dirs.project, home=dirs.home), policy.Mode.STANDARD, dirs.project, audit=audit)


async def _run(gate: Gate, command: str) -> dict[str, object]:
    args = {"command": command}
    result = await gate.check(ToolCall("c", "bash", args), "bash", args, gate.project_root)
    assert result.allowed, result
    assert gate.audit is not None
    lines = gate.audit.path.read_text().splitlines()
    entry = json.loads(lines[-1])
    assert isinstance(entry, dict)
    return entry


async def test_a_command_after_padding_appears_in_the_audit_line(gate: Gate) -> None:
    entry = await _run(gate, "echo '" + " " * 2100 + "'; touch hidden.txt")
    args = entry["args"]
    assert isinstance(args, dict) and "truncated" in str(args["command"])
    assert "hidden.txt" not in str(args["command"])
    commands = entry["commands"]
    assert isinstance(commands, list) and len(commands) == 2
    assert commands[1] == "touch hidden.txt"
    assert all(len(c.encode()) <= MAX_COMMAND_BYTES + 40 for c in commands)


async def test_each_command_is_cut_on_its_own(gate: Gate) -> None:
    entry = await _run(gate, "echo " + "a" * 3000 + "; touch also.txt")
    commands = entry["commands"]
    assert isinstance(commands, list) and commands[1] == "touch also.txt"
    assert str(commands[0]).startswith("echo aaa") and "truncated" in str(commands[0])


async def test_short_commands_log_no_breakdown(gate: Gate) -> None:
    entry = await _run(gate, "echo hi; touch x.txt")
    assert "commands" not in entry
    assert entry["args"] == {"command": "echo hi; touch x.txt"}
