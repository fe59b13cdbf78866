"""Measure a one-shot run end to end: `corral -p "Read README.md and summarize it"`.

    python benchmarks/oneshot_bench.py [--runs N] [--kind openai|anthropic|gemini|ollama] [--importtime]

The scripted LLM server (tests/llm_server) answers two model requests: a `read` tool call for
README.md, then the final text. corral runs as a real subprocess in a scratch project, with its own
config file pointing a custom provider at the server, sandbox auto. Printed (median of --runs):
- peak RSS of the whole process tree (corral + sandbox + commands), sampled every 2 ms from /proc;
- CPU seconds (user + system of corral and every descendant it waited for, from rusage);
- wall seconds.
With --importtime, also where start-up time goes (one more run under `python -X importtime`: self time by
top-level package, the most expensive modules) and where memory goes (RSS after each import stage).

Targets from the issue: under 40 MB and under 0.40 s CPU. Reference figures on this machine for the
same scenario: Codex CLI 154 MB / 0.40 s CPU, Claude Code 300 MB / 0.67 s, Kimi CLI 128 MB / 3.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).parent / "corral"
# The installed entry point, as a user runs it (`bash .ci/setup` installs it into .venv); from a bare
# checkout, the module (-P: the project directory must not shadow corral's imports).
CORRAL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-P", "-m", "agent.cli"]

SCRIPT = {
    "replies": [
        {"parts": [{"type": "text", "text": "I'll read the README first."},
                   {"type": "tool_call", "name": "read", "arguments": {"path": "README.md"}}],
         "usage": {"input_tokens": 1200, "output_tokens": 40}},
        {"parts": [{"type": "text", "text": "The README describes a small demo project: it explains how to "
                    "install it, how to run its tests, and where the documentation lives."}],
         "usage": {"input_tokens": 1500, "output_tokens": 60}},
    ]
}


def _tree_rss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            ppid = int(fields[1])
            rss_pages = int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
        rss[pid] = rss_pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def _start_server(script_path: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--script", str(script_path)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise SystemExit(f"the scripted server did not start: {line!r}")
    return proc, line.split()[1]


def _push_script(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{url}/__scripted/replies", data=json.dumps(SCRIPT).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def one_run(kind: str, base: Path, scratch: Path, url: str) -> tuple[float, float, float, str]:
    """One corral run against the already running server (one config file for every run, as a user has)."""
    _push_script(url)
    base_url = f"{url}/v1" if kind == "openai" else url
    config = scratch / "config.toml"
    config.write_text(
        f'provider = "bench"\nmodel = "bench-model"\n[providers.bench]\nkind = "{kind}"\nbase_url = "{base_url}"\n'
    )
        # A scratch home with the default layout (~/.config, ~/.cache, ~/.local/share), as most users have: the
    # XDG_* variables unset (when set, the policy engine adds rules protecting the moved corral directories).
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(scratch / "home"))
    if not _SCRIPT.exists():
        env["PYTHONPATH"] = str(REPO)
    # As installed for a user: bytecode is cached (some sandboxes set PYTHONDONTWRITEBYTECODE, which would
    # recompile corral's own modules on every run). The warm-up run writes the .pyc files.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out_path, err_path = scratch / "out.txt", scratch / "err.txt"
    t0 = time.perf_counter()
    with open(out_path, "w") as out_fh, open(err_path, "w") as err_fh:
        proc = subprocess.Popen([*CORRAL, "--config", str(scratch / "config.toml"), "-p",
                                 "Read README.md and summarize it"], cwd=base, env=env,
                                stdout=out_fh, stderr=err_fh)
        peak = 0
        while True:  # wait4 gives this child's own rusage (and its reaped descendants'), not the server's
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.002)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise SystemExit(f"corral failed ({proc.returncode}):\n{err_path.read_text()}")
    peak = max(peak, usage.ru_maxrss)  # the largest single process, in case sampling missed it
    return peak / 1024, cpu, wall, out_path.read_text()


_STAGES = """
import sys
sys.modules["httpx._main"] = None
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20
print(f"STAGE {rss():.1f} interpreter")
import trio
print(f"STAGE {rss():.1f} + trio (attrs, ssl, socket, ...)")
import httpx, httpcore
print(f"STAGE {rss():.1f} + httpx, httpcore, h11")
import agent.headless, agent.loop, agent.gate, agent.audit, agent.config, agent.prompts, agent.tools
import agent.providers.openai, agent.providers.http, agent.tools.read
print(f"STAGE {rss():.1f} + corral's agent modules")
import pathlib, policy
policy.load_engine(pathlib.Path.cwd())
print(f"STAGE {rss():.1f} + the policy engine, loaded")
"""


def breakdown(kind: str, base: Path, scratch: Path, url: str) -> None:
    """Where start-up time goes: one more run of the scenario under `-X importtime` (self time by
    top-level package, and the most expensive modules). Where memory goes: RSS after each stage of the
    imports a run makes, in a fresh process."""
    _push_script(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(scratch / "home"), PYTHONPATH=str(REPO))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [*CORRAL, "--config", str(scratch / "config.toml"), "-p", "Read README.md and summarize it"]
    if command[0] == str(_SCRIPT):
        command = [sys.executable, *command]
    command[1:1] = ["-X", "importtime"]
    proc = subprocess.run(command, cwd=base, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the importtime run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    by_package: dict[str, int] = {}
    modules: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:"):].split("|")]
            if parts[0].isdigit():
                top = parts[2].split(".")[0]
                top = "corral:" + top if top in ("agent", "policy", "sandbox") else top
                by_package[top] = by_package.get(top, 0) + int(parts[0])
                modules.append((int(parts[0]), parts[2]))
    total = sum(by_package.values())
    print(f"  import time by top-level package (self ms; {len(modules)} modules, {total / 1000:.0f} ms in all):")
    for name, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]:
        print(f"    {us / 1000:7.1f}  {name}")
    print("  most expensive modules (self ms):")
    for us, name in sorted(modules, reverse=True)[:12]:
        print(f"    {us / 1000:7.1f}  {name}")
    stages = subprocess.run([sys.executable, "-c", _STAGES], cwd=base, env=env, capture_output=True, text=True)
    print("  resident memory after each start-up stage (MB):")
    for line in stages.stdout.splitlines():
        _, mb, what = line.split(" ", 2)
        print(f"    {float(mb):7.1f}  {what}")
    if stages.returncode != 0:
        print(f"    (stopped: {stages.stderr.strip().splitlines()[-1]})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kind", default="openai", choices=("openai", "anthropic", "gemini", "ollama"))
    ap.add_argument("--importtime", action="store_true")
    opts = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="corral-oneshot-", dir="/var/tmp"))
    base = scratch / "project"
    base.mkdir()
    (base / ".git").mkdir()
    (base / "README.md").write_text("# Demo\n\nInstall with `pip install .`, test with `pytest`.\nDocs in docs/.\n")
    (scratch / "empty.json").write_text('{"replies": []}')
    server, url = _start_server(scratch / "empty.json")
    try:
        one_run(opts.kind, base, scratch, url)  # warm caches (config and policy validation, .pyc, page cache)
        rows = [one_run(opts.kind, base, scratch, url) for _ in range(opts.runs)]
        rss, cpu, wall = (statistics.median(col) for col in list(zip(*rows, strict=True))[:3])
        print(f"corral one-shot ({opts.kind} wire format, {opts.runs} runs, median):")
        print(f"  peak RSS of the process tree: {rss:6.1f} MB   (target < 40 MB)")
        print(f"  CPU seconds:                  {cpu:6.3f} s    (target < 0.40 s)")
        print(f"  wall seconds:                 {wall:6.3f} s")
        print(f"  answer: {rows[0][3].strip()[:100]}")
        if opts.importtime:
            breakdown(opts.kind, base, scratch, url)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
