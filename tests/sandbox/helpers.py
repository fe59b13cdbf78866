"""Shared helpers and fixtures for the sandbox tests: a scratch layout outside /tmp, backend selection, process hunting.

The layout lives under /var/tmp, not pytest's tmp_path: the sandbox gives every command a private /tmp,
so a fake home under /tmp would be invisible inside anyway and the secret-masking tests would prove
nothing. (One test puts the project under /tmp on purpose.)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

REPO = Path(__file__).resolve().parents[2]
SANDBOX_BACKENDS = ("bwrap", "zerobox")
PY = "/usr/bin/python3"  # the system interpreter: PATH's python3 may be a shim under the real home


@dataclass
class Box:
    base: Path
    project: Path
    home: Path
    outside: Path
    logs: Path

    def spec(self, **kw: Any) -> Any:
        import sandbox

        kw.setdefault("project", self.project)
        kw.setdefault("cwd", self.project)
        kw.setdefault("home", self.home)
        kw.setdefault("log_dir", self.logs)
        return sandbox.Spec(**kw)


@pytest.fixture
def box() -> Iterator[Box]:
    base = Path(tempfile.mkdtemp(prefix="corral-sbx-", dir="/var/tmp")).resolve()
    b = Box(base, base / "project", base / "home", base / "outside", base / "logs")
    for d in (b.project, b.home, b.outside, b.logs):
        d.mkdir()
    (b.project / "README.md").write_text("hello\n")
    try:
        yield b
    finally:
        shutil.rmtree(base, ignore_errors=True)


_DOCTOR: dict[str, tuple[bool, str]] | None = None


def doctor_status() -> dict[str, tuple[bool, str]]:
    global _DOCTOR
    if _DOCTOR is None:
        import sandbox

        _DOCTOR = {s.name: (s.works, s.detail) for s in sandbox.doctor()}
    return _DOCTOR


def usable(name: str) -> str:
    """``name`` if that backend works here (``none`` always does), else skip with doctor's reason."""
    if name == "none":
        return name
    works, detail = doctor_status().get(name, (False, "not reported by sandbox.doctor()"))
    if not works:
        pytest.skip(f"{name} does not work here: {detail}")
    return name


@pytest.fixture(params=SANDBOX_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return usable(request.param)


def nonce() -> str:
    """Digits only, so it can be the fractional part of a `sleep` argument and show in /proc/N/cmdline."""
    return str(secrets.randbelow(10**9) + 10**9)


def marked(mark: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``mark``, except this process."""
    needle = mark.encode()
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


def marked_sleeps(mark: str) -> list[int]:
    out = []
    for pid in marked(mark):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"):
                out.append(pid)
        except OSError:
            pass
    return out


def kill_marked(mark: str) -> None:
    for pid in marked(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


async def wait_until(pred: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        await trio.sleep(0.01)
    return pred()


def wait_until_sync(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def daemons_script(mark: str) -> tuple[str, int]:
    """A shell script leaving five sleeps tagged with ``mark``: setsid, nohup, double-fork, a process
    ignoring TERM/HUP/INT, and the foreground one. Returns (script, number of sleeps)."""
    script = (
        f'setsid sh -c "sleep 1000.{mark}; echo {mark}" & '
        f'nohup sh -c "sleep 1001.{mark}; echo {mark}" >/dev/null 2>&1 & '
        f"(sleep 1002.{mark} &) ; "
        f"sh -c 'trap \"\" TERM HUP INT; sleep 1004.{mark}; echo {mark}' & "
        f"sleep 1003.{mark}"
    )
    return script, 5
