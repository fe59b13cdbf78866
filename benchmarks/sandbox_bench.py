"""Measure the sandbox: added latency, cancel-to-gone time, and corral's memory while a command floods output.

    python benchmarks/sandbox_bench.py [--rounds N] [--cancels N] [--flood BYTES] [--backend NAME ...]

For each backend that works here (and ``none``):
- added latency of ``true`` run through ``sandbox.run`` over a bare ``trio.run_process(["true"])``
  (median and p99 over --rounds runs);
- time from cancelling the caller's scope to no descendant left (median and max over --cancels runs),
  the command leaving a ``setsid`` grandchild and a double-forked one;
- this process's VmRSS / VmHWM before, during and after streaming --flood bytes of output with a no-op
  on_output.

Targets from the issue: bwrap overhead < 15 ms median, cancel-to-gone < 50 ms, RSS flat while streaming.
Prints figures and asserts nothing. The scratch project and fake home live under /var/tmp.
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sandbox  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _marked(mark: bytes) -> bool:
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != me:
            try:
                if mark in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    return True
            except OSError:
                pass
    return False


async def latency(spec: sandbox.Spec, backend: str, rounds: int) -> None:
    bare: list[float] = []
    boxed: list[float] = []
    for _ in range(3):  # warm up both paths (page cache, backend detection)
        await trio.run_process(["true"])
        await sandbox.run(["true"], spec, backend=backend)  # type: ignore[arg-type]
    for _ in range(rounds):
        t0 = time.perf_counter()
        await trio.run_process(["true"])
        t1 = time.perf_counter()
        await sandbox.run(["true"], spec, backend=backend)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        bare.append(t1 - t0)
        boxed.append(t2 - t1)
    added = [b - a for a, b in zip(bare, boxed, strict=True)]
    print(f"  true, bare trio.run_process:   median {_ms(statistics.median(bare))}   p99 {_ms(_p99(bare))}")
    print(f"  true, sandbox.run:             median {_ms(statistics.median(boxed))}   p99 {_ms(_p99(boxed))}")
    print(f"  added latency:                 median {_ms(statistics.median(added))}   p99 {_ms(_p99(added))}"
          f"   (target < 15 ms median for bwrap)")


async def cancel_to_gone(spec: sandbox.Spec, backend: str, runs: int) -> None:
    times: list[float] = []
    leftovers = 0
    for _ in range(runs):
        mark = str(secrets.randbelow(10**9) + 10**9)
        script = f'setsid sh -c "sleep 1000.{mark}; :" & (sleep 1001.{mark} &) ; sleep 1002.{mark}'
        needle = mark.encode()
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(functools.partial(sandbox.run, ["sh", "-c", script], spec, backend=backend))  # type: ignore[arg-type]
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # wait until all three sleeps exist
                    count = sum(1 for e in os.scandir("/proc") if e.name.isdigit() and _cmd(e.name).startswith(b"sleep")
                                and needle in _cmd(e.name))
                    if count >= 3:
                        break
                    await trio.sleep(0.005)
                t0 = time.perf_counter()
                scope.cancel()
        while _marked(needle):
            if time.perf_counter() - t0 > 2:
                leftovers += 1
                break
            time.sleep(0.0005)  # noqa: ASYNC251 -- timing a busy poll, nothing else to run
        times.append(time.perf_counter() - t0)
    print(f"  cancel-to-gone ({runs} runs):    median {_ms(statistics.median(times))}   max {_ms(max(times))}"
          f"   (target < 50 ms){'   SURVIVORS in ' + str(leftovers) + ' runs' if leftovers else ''}")


def _cmd(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


async def flood(spec: sandbox.Spec, backend: str, total: int) -> None:
    samples: list[int] = []
    seen = 0
    next_sample = 0

    def on_output(chunk: bytes) -> None:
        nonlocal seen, next_sample
        seen += len(chunk)
        if seen >= next_sample:
            samples.append(_status_kb("VmRSS"))
            next_sample += total // 20

    rss0, hwm0 = _status_kb("VmRSS"), _status_kb("VmHWM")
    t0 = time.perf_counter()
    result = await sandbox.run(["head", "-c", str(total), "/dev/zero"], spec, backend=backend,  # type: ignore[arg-type]
                               on_output=on_output)
    elapsed = time.perf_counter() - t0
    rss1, hwm1 = _status_kb("VmRSS"), _status_kb("VmHWM")
    gb = total / 1e9
    print(f"  streaming {gb:g} GB:              {elapsed:6.2f} s ({total / elapsed / 1e6:,.0f} MB/s),"
          f" total_bytes={result.total_bytes:,} truncated={result.truncated} output={len(result.output):,} chars")
    print(f"  VmRSS before/max during/after: {rss0 / 1024:.1f} / {max(samples or [0]) / 1024:.1f} /"
          f" {rss1 / 1024:.1f} MB   VmHWM before/after: {hwm0 / 1024:.1f} / {hwm1 / 1024:.1f} MB (target: flat)")
    try:
        result.log_path.unlink()
    except OSError:
        pass


async def main_async(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="corral-bench-", dir="/var/tmp"))
    try:
        project, home, logs = base / "project", base / "home", base / "logs"
        for d in (project, home, logs):
            d.mkdir()
        spec = sandbox.Spec(project=project, cwd=project, home=home, log_dir=logs)
        statuses = {s.name: s for s in sandbox.doctor()}
        for name in args.backend:
            status = statuses.get(name)
            if status is None or not status.works:
                print(f"{name}: skipped — {status.detail if status else 'unknown backend'}")
                continue
            print(f"{name}:")
            await latency(spec, name, args.rounds)
            await cancel_to_gone(spec, name, args.cancels)
            await flood(spec, name, args.flood)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--cancels", type=int, default=20)
    parser.add_argument("--flood", type=int, default=1_000_000_000, help="bytes of output (default 1 GB)")
    parser.add_argument("--backend", nargs="*", default=["bwrap", "zerobox", "none"])
    args = parser.parse_args()
    print(f"corral sandbox benchmark — python {sys.version.split()[0]}, trio {trio.__version__}, pid {os.getpid()}")
    trio.run(main_async, args)


if __name__ == "__main__":
    main()
