"""Real runs on every available backend: exit codes, streaming, caps, timeouts, cancellation, env."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import sandbox
from tests.sandbox.helpers import nonce

BACKENDS = [s.name for s in sandbox.doctor() if s.works]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def project() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="corral-runner-", dir="/var/tmp")).resolve()
    (base / "proj").mkdir()
    try:
        yield base / "proj"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _spec(project: Path, **kw: object) -> sandbox.Spec:
    return sandbox.Spec(project=project, cwd=project, log_dir=project.parent / "logs", **kw)  # type: ignore[arg-type]


def _survivors(marker: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose argv mentions marker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{name}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def _daemons(marker: str) -> str:
    # a setsid grandchild, a nohup'd background job and a double-forked daemon, then block. The marker is
    # the fractional part of each sleep's argument, so it stays in /proc/N/cmdline when sh execs sleep.
    return (
        f"setsid sh -c 'sleep 1000.{marker}' & "
        f"nohup sh -c 'sleep 1001.{marker}' >/dev/null 2>&1 & "
        f"(setsid sh -c 'sleep 1002.{marker}' &) ; "
        f"echo ready; sleep 1003.{marker}"
    )


def _sleeps(marker: str) -> list[int]:
    """The live sleeps of a _daemons script (the shells around them may already have exec'd them)."""
    out = []
    for pid in _survivors(marker):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().startswith(b"sleep\0"):
                    out.append(pid)
        except OSError:
            pass
    return out


async def _wait_for(pred: object, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        await trio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_exit_codes(project: Path, backend: str) -> None:
    ok = await sandbox.run(["true"], _spec(project), backend=backend)
    assert (ok.exit_code, ok.timed_out, ok.backend) == (0, False, backend)
    bad = await sandbox.run(["sh", "-c", "exit 7"], _spec(project), backend=backend)
    assert bad.exit_code == 7
    killed = await sandbox.run(["sh", "-c", "kill -TERM $$"], _spec(project), backend=backend)
    assert killed.exit_code == 128 + 15


async def test_streaming_order_and_log(project: Path, backend: str) -> None:
    chunks: list[bytes] = []
    script = "for i in 1 2 3; do echo line$i; sleep 0.05; done; echo oops >&2"
    result = await sandbox.run(["sh", "-c", script], _spec(project), backend=backend, on_output=chunks.append)
    streamed = b"".join(chunks).decode()
    assert [ln for ln in streamed.splitlines() if ln.startswith("line")] == ["line1", "line2", "line3"]
    assert "oops" in result.output  # stderr merged
    assert result.log_path.read_text() == streamed == result.output
    assert not result.truncated


async def test_output_cap_keeps_head_and_tail(project: Path, backend: str) -> None:
    script = "echo HEAD; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo TAIL"
    result = await sandbox.run(["sh", "-c", script], _spec(project, output_cap=4096), backend=backend)
    assert result.truncated
    assert result.output.startswith("HEAD\n")
    assert result.output.rstrip().endswith("TAIL")
    assert "bytes omitted" in result.output
    assert len(result.output) < 5000
    assert result.total_bytes == result.log_path.stat().st_size > 3_000_000


async def test_timeout_is_124_and_kills_everything(project: Path, backend: str) -> None:
    marker = nonce()
    start = time.monotonic()
    result = await sandbox.run(["sh", "-c", _daemons(marker)], _spec(project, timeout=1.0), backend=backend)
    assert time.monotonic() - start < 4
    assert (result.exit_code, result.timed_out) == (124, True)
    assert "ready" in result.output
    assert _survivors(marker) == []


async def test_cancel_kills_setsid_and_double_fork(project: Path, backend: str) -> None:
    marker = nonce()
    ready = trio.Event()

    def seen(chunk: bytes) -> None:
        if b"ready" in chunk:
            ready.set()

    with trio.move_on_after(10) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: sandbox.run(["sh", "-c", _daemons(marker)], _spec(project), backend=backend, on_output=seen)
            )
            await ready.wait()
            await _wait_for(lambda: len(_sleeps(marker)) == 4)
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught
    assert _survivors(marker) == []  # checked right after run() returned: no grace period


async def test_cancelled_is_reraised(project: Path, backend: str) -> None:
    with trio.CancelScope() as scope:
        scope.cancel()
        await sandbox.run(["sleep", "5"], _spec(project), backend=backend)
        pytest.fail("run swallowed Cancelled")


async def test_leftovers_die_when_command_exits(project: Path, backend: str) -> None:
    marker = nonce()
    result = await sandbox.run(
        ["sh", "-c", f"(setsid sh -c 'sleep 1000.{marker}' &); sleep 0.3; echo done"], _spec(project), backend=backend
    )
    assert result.exit_code == 0
    assert _survivors(marker) == []


async def test_env_secrets_absent(project: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak-1")
    monkeypatch.setenv("CUSTOM_TOKEN", "sk-leak-2")
    monkeypatch.setenv("VISIBLE_VAR", "shown")
    spec = _spec(
        project,
        env_allow=(*sandbox.DEFAULT_ENV_ALLOW, "CUSTOM_TOKEN", "VISIBLE_VAR"),
        extra_env={"X_SECRET": "sk-leak-3"},
    )
    result = await sandbox.run(["sh", "-c", "env; cat /proc/1/environ 2>/dev/null"], spec, backend=backend)
    assert "sk-leak" not in result.output
    assert "VISIBLE_VAR=shown" in result.output


async def test_none_is_explicit(project: Path) -> None:
    assert sandbox.choose_backend("auto") != "none"
    result = await sandbox.run(["true"], _spec(project), backend="none")
    assert result.backend == "none"


async def test_missing_project_is_an_error(project: Path) -> None:
    with pytest.raises(sandbox.SandboxError):
        await sandbox.run(["true"], _spec(project / "nope"))
