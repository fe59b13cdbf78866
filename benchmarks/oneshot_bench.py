"""Measure a one-shot run end to end: `corral -p "Read README.md and summarize it"`.

    python benchmarks/oneshot_bench.py [--runs N] [--kind openai|anthropic|gemini|ollama] [--importtime]

The scripted LLM server (tests/llm_server) answers two model requests: a `read` tool call for
README.md, then the final text. corral runs as a real subprocess in a scratch project, with its own
config file pointing a custom provider at the server, sandbox auto. Printed (median of --runs):
- peak RSS of the whole process tree (corral + sandbox + commands), sampled every 2 ms from /proc;
- CPU seconds (user + system of corral and every descendant it waited for, from rusage);
- wall seconds.
With --importtime, also the 20 most expensive imports on this path (`python -X importtime`).

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


def importtime(base: Path, scratch: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(scratch / "home")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import agent.cli, agent.cli_agent, agent.headless, agent.config, agent.loop, "
                           "agent.providers, agent.providers.openai, agent.tools, agent.tools.read, policy; "
                           "policy.load_engine"],
                          cwd=base, env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:"):].split("|")]
            if parts[0].isdigit():
                rows.append((int(parts[1]), parts[2]))
    rows.sort(reverse=True)
    print("  most expensive imports (cumulative µs):")
    for cumulative, name in rows[:20]:
        print(f"    {cumulative:8d}  {name}")


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
            importtime(base, scratch)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
