"""bash through the real bwrap sandbox: output, exit codes, timeouts, cancellation, profiles, refusals."""

# ruff: noqa: ASYNC240 -- tests inspect small local files directly

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call
from tests.sandbox.helpers import kill_marked, marked_sleeps, nonce, usable, wait_until


@pytest.fixture
def bctx() -> Iterator[ToolContext]:
    """Project and home under /var/tmp: the sandbox gives commands a private /tmp."""
    usable("bwrap")
    base = Path(tempfile.mkdtemp(prefix="corral-tools-", dir="/var/tmp")).resolve()
    for name in ("project", "home", "logs"):
        (base / name).mkdir()
    try:
        yield ToolContext(
            project_root=base / "project",
            cwd=base / "project",
            home=base / "home",
            log_dir=base / "logs",
            sandbox_backend="bwrap",
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def test_output_and_exit_code(bctx: ToolContext) -> None:
    chunks: list[tuple[str, bytes]] = []
    bctx.on_output = lambda call_id, data: chunks.append((call_id, data))
    result = await call("bash", {"command": "echo out; echo err >&2; pwd; exit 3"}, bctx)
    assert not result.is_error  # a failing command is information, not a tool error
    assert result.content == f"out\nerr\n{bctx.cwd}\n[exit code 3]"
    assert result.meta["exit_code"] == 3 and result.meta["backend"] == "bwrap"
    assert result.meta["timed_out"] is False
    assert Path(str(result.meta["log_path"])).read_text() == f"out\nerr\n{bctx.cwd}\n"
    assert b"".join(c for _, c in chunks) == f"out\nerr\n{bctx.cwd}\n".encode()
    assert {cid for cid, _ in chunks} == {"call-1"}


async def test_no_output(bctx: ToolContext) -> None:
    result = await call("bash", {"command": "true"}, bctx)
    assert result.content == "(no output)\n[exit code 0]"


async def test_writes_in_the_workspace_but_not_in_read_only_mode(bctx: ToolContext) -> None:
    result = await call("bash", {"command": "echo hi > made.txt"}, bctx)
    assert result.meta["exit_code"] == 0 and (bctx.project_root / "made.txt").read_text() == "hi\n"
    bctx.read_only = True
    result = await call("bash", {"command": "echo hi > other.txt"}, bctx)
    assert result.meta["exit_code"] != 0 and "Read-only" in result.content
    assert not (bctx.project_root / "other.txt").exists()


async def test_timeout_kills_and_reports(bctx: ToolContext) -> None:
    started = time.monotonic()
    result = await call("bash", {"command": "echo start; sleep 20", "timeout": 1}, bctx)
    assert time.monotonic() - started < 5
    assert not result.is_error
    assert result.meta["exit_code"] == 124 and result.meta["timed_out"] is True
    assert result.content.startswith("start\n") and "timed out after 1 s" in result.content


async def test_cancellation_kills_the_command_and_propagates(bctx: ToolContext) -> None:
    mark = nonce()
    started = time.monotonic()
    try:
        with trio.move_on_after(1) as scope:
            await call("bash", {"command": f"sleep 30.{mark}"}, bctx)
        assert scope.cancelled_caught, "Cancelled must reach the scope (never swallowed)"
        assert time.monotonic() - started < 4
        assert await wait_until(lambda: not marked_sleeps(mark), 1.0), "a sleep survived the cancellation"
    finally:
        kill_marked(mark)


async def test_output_is_capped_with_the_log_path(bctx: ToolContext) -> None:
    result = await call("bash", {"command": "seq 1 40000"}, bctx)
    assert result.meta["truncated"] is True
    assert "bytes omitted" in result.content and "output truncated" in result.content
    assert result.content.startswith("1\n2\n") and "40000\n[exit code 0]" in result.content
    log = Path(str(result.meta["log_path"]))
    assert str(log) in result.content
    assert log.read_text().splitlines()[-1] == "40000"
    assert len(result.content) < 40_000


async def test_timeout_is_capped_and_defaults(bctx: ToolContext) -> None:
    result = await call("bash", {"command": "echo ok", "timeout": 100000}, bctx)
    assert result.meta["exit_code"] == 0
    zero = await call("bash", {"command": "echo ok", "timeout": 0}, bctx)
    assert zero.is_error and "at least 1" in zero.content


async def test_sandbox_refusals_are_errors_that_say_what_to_do(bctx: ToolContext) -> None:
    bctx.sandbox_backend = "bogus"
    result = await call("bash", {"command": "true"}, bctx)
    assert result.is_error and "refused" in result.content and "use auto, bwrap" in result.content
    bctx.sandbox_backend = "bwrap"
    bctx.cwd = bctx.project_root / "missing"
    result = await call("bash", {"command": "true"}, bctx)
    assert result.is_error and "does not exist" in result.content


async def test_secrets_do_not_reach_the_command(bctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    result = await call("bash", {"command": "env"}, bctx)
    assert "sk-should-not-leak" not in result.content


async def test_empty_command(bctx: ToolContext) -> None:
    result = await call("bash", {"command": "  "}, bctx)
    assert result.is_error and "empty" in result.content
