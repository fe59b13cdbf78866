"""`corral sandbox run` and `corral sandbox doctor` through real subprocesses: exit code passthrough, 124 on
timeout, the backend stated on stderr, streaming, refusal without a backend, doctor's report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sandbox.helpers import REPO, Box, daemons_script, kill_marked, marked, marked_sleeps, nonce, wait_until_sync


def _env(box: Box, **extra: str) -> dict[str, str]:
    # the real HOME: corral's own home handling is tested in test_guarantees (home=, HOME != passwd home)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ["HOME"], "PYTHONPATH": str(REPO),
            "LANG": "C.UTF-8", **extra}


def corral(box: Box, *args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", "sandbox", *args], cwd=box.project,
                          env=_env(box, **extra_env), capture_output=True, text=True, timeout=timeout)


def test_exit_code_passes_through_and_backend_is_stated(box: Box, backend: str) -> None:
    out = corral(box, "run", "--sandbox", backend, "--", "sh", "-c", "echo out-line; exit 42")
    assert out.returncode == 42, out.stderr
    assert "out-line" in out.stdout
    assert f"corral: sandbox: {backend}" in out.stderr


def test_auto_states_the_backend_it_chose(box: Box, backend: str) -> None:
    out = corral(box, "run", "--", "true")
    assert out.returncode == 0, out.stderr
    assert "corral: sandbox: " in out.stderr
    assert "corral: sandbox: none" not in out.stderr


def test_timeout_exits_124(box: Box, backend: str) -> None:
    t0 = time.monotonic()
    out = corral(box, "run", "--sandbox", backend, "--timeout", "0.5", "--", "sleep", "30")
    assert out.returncode == 124, out.stderr
    assert time.monotonic() - t0 < 10
    assert "timed out" in out.stderr


def test_project_is_the_enclosing_repository(box: Box, backend: str) -> None:
    (box.project / ".git").mkdir()
    sub = box.project / "src"
    sub.mkdir()
    out = corral(box, "run", "--sandbox", backend, "--cwd", str(sub), "--", "sh", "-c", "pwd; echo x > ../top.txt")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sub)
    assert (box.project / "top.txt").read_text() == "x\n"
    assert not (box.base / "x").exists()


def test_read_only_profile_and_network_flags(box: Box, backend: str) -> None:
    out = corral(box, "run", "--sandbox", backend, "--profile", "read-only", "--", "sh", "-c", "echo x > f")
    assert out.returncode != 0
    assert not (box.project / "f").exists()
    code = "import socket; socket.getaddrinfo('localhost', 80); print('ok')"
    out = corral(box, "run", "--sandbox", backend, "--network", "--", "/usr/bin/python3", "-c", code)
    assert out.returncode == 0, out.stderr


def test_output_is_streamed(box: Box, backend: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "sandbox", "run", "--sandbox", backend, "--",
         "sh", "-c", "echo first; sleep 2; echo second"],
        cwd=box.project, env=_env(box), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    t_first = time.monotonic()
    rest = proc.stdout.read()
    t_end = time.monotonic()
    assert proc.wait(timeout=30) == 0
    assert first == b"first\n"
    assert rest == b"second\n"
    assert t_end - t_first > 1.0, "the first line was printed only when the command ended"


def test_none_is_announced(box: Box) -> None:
    out = corral(box, "run", "--sandbox", "none", "--", "sh", "-c", "exit 3")
    assert out.returncode == 3
    assert "corral: sandbox: none" in out.stderr


def test_missing_backend_is_refused_with_exit_1(box: Box, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "sandbox", "run", "--sandbox", "bwrap", "--", "/bin/true"],
        cwd=box.project, env={**_env(box), "PATH": str(empty)}, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "bubblewrap" in out.stderr
    assert "Traceback" not in out.stderr


def test_usage_errors_exit_2(box: Box) -> None:
    assert corral(box, "run").returncode == 2
    assert corral(box, "run", "--sandbox", "docker", "--", "true").returncode == 2
    assert corral(box, "run", "--cwd", str(box.base / "missing"), "--", "true").returncode == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupting_corral_kills_every_descendant(box: Box, backend: str, sig: signal.Signals) -> None:
    mark = nonce()
    script, n = daemons_script(mark)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "sandbox", "run", "--sandbox", backend, "--", "sh", "-c", script],
        cwd=box.project, env=_env(box), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        assert wait_until_sync(lambda: len(marked_sleeps(mark)) >= n, 15), marked(mark)
        proc.send_signal(sig)
        proc.wait(timeout=5)
        gone = wait_until_sync(lambda: not marked(mark), 1.0)
        assert gone, f"after {sig.name} of `corral sandbox run`, processes survived: {marked(mark)}"
        if sig is signal.SIGINT:
            assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        kill_marked(mark)


def test_doctor_reports_each_backend(box: Box) -> None:
    import sandbox

    # the same environment as this process (doctor's probes depend on HOME), so the answers must agree
    out = subprocess.run([sys.executable, "-m", "agent.cli", "sandbox", "doctor"], cwd=box.project,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    statuses = sandbox.doctor()
    real_works = any(s.works for s in statuses if s.name != "none")
    assert out.returncode == (0 if real_works else 1), out.stdout + out.stderr
    for status in statuses:
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith(status.name))
        assert ("does not work" not in line) == status.works, line
        if not status.works:
            assert status.detail and status.detail in line, f"{status.name}: no actionable reason: {line}"
    assert {"bwrap", "zerobox", "none"} <= {s.name for s in statuses}
