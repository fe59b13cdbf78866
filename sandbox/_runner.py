"""Run one command in a sandbox under trio: stream, bound, time out, and kill every descendant.

The direct child is started in a new session with PR_SET_PDEATHSIG=SIGKILL. With bwrap and zerobox it is
the sandbox launcher, whose command runs in a new PID namespace that dies with it (--die-with-parent);
with `none` it is the command itself, and corral becomes a child subreaper so orphaned daemons come back
to it. On timeout, cancellation, or the command's own exit, a sweep SIGKILLs every process of the run
(the launcher's descendants, its session, processes seen earlier, processes carrying the run's marker
variable) and waits until none is alive before `run` returns or re-raises.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from . import _placeholders, _procs
from ._bwrap import bwrap_argv
from ._detect import choose_backend
from ._output import Capture, new_log_path
from ._spec import BackendName, Result, SandboxError, Spec, filter_env
from ._tripwire import Tripwire
from ._zerobox import zerobox_argv, zerobox_binary

KILL_DEADLINE = 2.0  # seconds the shielded cleanup may take
EOF_GRACE = 1.0  # seconds to wait for the pipe to close once the command and its leftovers are gone
MARKER_NAME = "CORRAL_SANDBOX_RUN"
FIFO_NAME = ".corral-output"


class _Tree:
    """The processes of one run, and how to kill all of them."""

    def __init__(self, pid: int, backend: str, marker: bytes) -> None:
        self.pid = pid
        self.backend = backend
        self.marker = marker
        self.me = os.getpid()
        info = _procs.read_stat(pid)
        self.start = info.start if info else 0
        self.seen: dict[int, int] = {}  # pid -> start time, every process ever seen in the run

    def _members(self, procs: dict[int, _procs.ProcInfo]) -> set[int]:
        found = _procs.descendants(self.pid, procs)
        for info in procs.values():
            if info.pid == self.me or info.pid == self.pid or info.start < self.start:
                continue
            if (
                info.sid == self.pid
                or self.seen.get(info.pid) == info.start
                or (
                    self.backend == "none"
                    and info.ppid in (self.me, 1)
                    and _procs.has_env_marker(info.pid, self.marker)
                )
            ):
                found.add(info.pid)
        for pid in list(found):
            if pid in procs:
                self.seen[pid] = procs[pid].start
        return found

    def observe(self) -> None:
        """Record the current members (so double-forked orphans stay attributed)."""
        self._members(_procs.snapshot())

    async def watch(self) -> None:
        """Poll membership while the command runs (only useful without a PID namespace)."""
        while True:
            await trio.sleep(0.02)
            self.observe()

    async def kill(self, proc: trio.Process) -> None:
        """SIGKILL every member (and the direct child) until none is alive, then reap the direct child."""
        # Done only when a fresh snapshot shows no living member: a member may have forked between the
        # snapshot and its SIGKILL, and that child (reparented to us) only shows up in the next snapshot.
        while True:
            procs = _procs.snapshot()
            members = self._members(procs)
            living = {pid for pid in members if procs[pid].state not in ("Z", "X")}
            launcher = procs.get(self.pid)
            if proc.returncode is None and launcher is not None and launcher.state not in ("Z", "X"):
                living.add(self.pid)
            if not living:
                break
            _procs.kill_all(living)
            self._reap_orphans(members)
            await trio.sleep(0.001)
        await proc.wait()

    def _reap_orphans(self, members: set[int]) -> None:
        ours = []
        for pid in members:
            info = _procs.read_stat(pid)
            if info is not None and info.ppid == self.me:
                ours.append(pid)
        _procs.reap(ours)


async def _pump(stream: trio.abc.ReceiveStream, capture: Capture, on_output: Callable[[bytes], None] | None) -> None:
    while True:
        chunk = bytes(await stream.receive_some(65536))
        if not chunk:
            return
        capture.add(chunk)
        if on_output is not None:
            on_output(chunk)


async def _drain(stream: trio.abc.ReceiveStream, capture: Capture, on_output: Callable[[bytes], None] | None) -> None:
    with trio.move_on_after(EOF_GRACE):
        await _pump(stream, capture, on_output)


def _check_spec(argv: Sequence[str], spec: Spec) -> None:
    if not argv:
        raise SandboxError("empty command")
    if not spec.project.is_absolute() or not spec.project.is_dir():
        raise SandboxError(f"project directory {spec.project} does not exist (or is not absolute)")
    if not spec.cwd.is_absolute() or not spec.cwd.is_dir():
        raise SandboxError(f"working directory {spec.cwd} does not exist (or is not absolute)")
    if spec.timeout <= 0:
        raise SandboxError("timeout must be positive")


@functools.lru_cache(maxsize=8)
def _which_on(name: str, path: str | None) -> str:
    return shutil.which(name, path=path) or name


def _which(name: str) -> str:
    return _which_on(name, os.environ.get("PATH"))


def _command(
    name: str, argv: Sequence[str], spec: Spec, tmpdir: Path | None, marker: str, holders: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    env = filter_env(spec)
    if name == "bwrap":
        exe = _which("bwrap")
        return bwrap_argv(spec, argv, helper=[exe], environ=env, readonly=holders), env
    assert tmpdir is not None
    if name == "zerobox":
        exe = zerobox_binary() or "zerobox"
        # zerobox buffers the command's stdout/stderr until exit: the command writes to a FIFO instead.
        # The zerobox binary (Rust) leaves SIGPIPE ignored, and a shell cannot reset an ignored signal:
        # coreutils' env restores the default before the command runs, so `yes | head` ends quietly.
        wrapped = ["/bin/sh", "-c", 'exec env --default-signal=PIPE "$@" >"$0" 2>&1', str(tmpdir / FIFO_NAME), *argv]
        # zerobox expands its built-in profile from its own HOME: point it at the home whose secrets we mask
        # (else a profile path under the real home collides with masking that home as "another user's").
        launcher_env = {**env, "HOME": str(spec.home)}
        return zerobox_argv(spec, wrapped, binary=exe, tmpdir=tmpdir, environ=env, readonly=holders), launcher_env
    _procs.become_subreaper()
    return list(argv), {**env, "TMPDIR": str(tmpdir), MARKER_NAME: marker}


class _Fifo:
    """A FIFO the command writes to; we hold a write end until the launcher exits, so EOF means done."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.stream = trio.lowlevel.FdStream(rfd)

    def release(self) -> None:
        if self.wfd >= 0:
            os.close(self.wfd)
            self.wfd = -1


async def run(
    argv: Sequence[str],
    spec: Spec,
    *,
    backend: BackendName = "auto",
    on_output: Callable[[bytes], None] | None = None,
) -> Result:
    """Run argv under spec; see the module docstring and docs/SANDBOX.md for the guarantees."""
    _check_spec(argv, spec)
    name = choose_backend(backend)
    marker = secrets.token_hex(8)
    started = trio.current_time()
    lease = await _placeholders.acquire(spec, zerobox=name == "zerobox", linger=spec.linger) if name != "none" else None
    # bwrap mounts a private tmpfs at /tmp; the others get a private directory as $TMPDIR.
    tmpdir = Path(tempfile.mkdtemp(prefix="corral-tmp-")) if name != "bwrap" else None
    capture = Capture(spec.output_cap, new_log_path(spec.log_dir))
    fifo: _Fifo | None = None
    tripwire = Tripwire(spec)
    try:
        holders = lease.holders if lease is not None else []
        cmd, env = _command(name, argv, spec, tmpdir, marker, holders)
        if name == "zerobox" and tmpdir is not None:
            fifo = _Fifo(tmpdir / FIFO_NAME)
        cmd, preexec = _procs.pdeathsig_launch(cmd)
        proc = await trio.lowlevel.open_process(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=str(spec.cwd),
            preexec_fn=preexec,
        )
        result = await _supervise(proc, name, marker, spec, capture, on_output, started, fifo)
        # _supervise returns (or raises) only once every process of the run is gone: nothing rewrites now.
        return dataclasses.replace(result, notes=tripwire.restore())
    finally:
        tripwire.restore()  # also on cancellation or error (a no-op when already restored)
        if fifo is not None:
            fifo.release()
            with trio.CancelScope(shield=True):
                await fifo.stream.aclose()
        capture.close()
        if lease is not None:
            lease.release()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


async def _supervise(
    proc: trio.Process,
    name: str,
    marker: str,
    spec: Spec,
    capture: Capture,
    on_output: Callable[[bytes], None] | None,
    started: float,
    fifo: _Fifo | None,
) -> Result:
    tree = _Tree(proc.pid, name, f"{MARKER_NAME}={marker}".encode())
    stdout = proc.stdout
    assert stdout is not None
    streams: list[trio.abc.ReceiveStream] = [stdout] if fifo is None else [fifo.stream, stdout]
    try:
        with trio.move_on_after(spec.timeout) as deadline:
            async with trio.open_nursery() as nursery:
                if name == "none":
                    nursery.start_soon(tree.watch)
                pumps_left = len(streams)
                pumps_done = trio.Event()

                async def pump(stream: trio.abc.ReceiveStream) -> None:
                    nonlocal pumps_left
                    await _pump(stream, capture, on_output)
                    pumps_left -= 1
                    if pumps_left == 0:
                        pumps_done.set()

                for stream in streams:
                    nursery.start_soon(pump, stream)
                await proc.wait()
                # The command exited: its leftovers (background jobs, daemons) die with it. Under bwrap the
                # kernel already did that: the namespace's init exits with the command, which kills every
                # process in the namespace and waits for them before bwrap (our child) can see it exit.
                if name != "bwrap":
                    await tree.kill(proc)
                if fifo is not None:
                    fifo.release()
                with trio.move_on_after(EOF_GRACE):
                    await pumps_done.wait()
                nursery.cancel_scope.cancel()
        timed_out = deadline.cancelled_caught
        if timed_out:
            with trio.CancelScope(shield=True, deadline=trio.current_time() + KILL_DEADLINE):
                await tree.kill(proc)
                if fifo is not None:
                    fifo.release()
                for stream in streams:
                    await _drain(stream, capture, on_output)
    except BaseException:
        with trio.CancelScope(shield=True, deadline=trio.current_time() + KILL_DEADLINE):
            await tree.kill(proc)
        raise
    finally:
        with trio.CancelScope(shield=True):
            await stdout.aclose()
    code = proc.returncode if proc.returncode is not None else -9
    exit_code = 124 if timed_out else (128 - code if code < 0 else code)
    return Result(
        exit_code=exit_code,
        timed_out=timed_out,
        output=capture.text(),
        truncated=capture.truncated,
        total_bytes=capture.total,
        log_path=capture.log_path,
        backend=name,
        duration=trio.current_time() - started,
    )
