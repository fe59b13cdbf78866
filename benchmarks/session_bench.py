"""Measure the session store: resume time, append cost, memory after loading a large session.

    python benchmarks/session_bench.py [--runs N]

Builds, in a scratch XDG_DATA_HOME, (a) a session of 2,000 records (user/assistant/tool messages with tool
calls, tool outputs of 0.2-6 KB and a few above the 16 KB side-file threshold, mode/todo/usage records) and
(b) a 20 MB session (most of it tool outputs of 60-140 KB, so side files; compacted whenever the live
conversation passed ~1 MB, as a long session is). Printed:
- resume time (median of --runs fresh processes): load_session alone, load_session + messages(), and the
  whole process (interpreter start-up and imports included);
- append cost per record: median and 99th percentile over 2,000 appends of typical records;
- RSS of a fresh process after loading each session, and after messages() (memory follows the live
  conversation and the log, not the side files).
Targets from the issue: resume < 300 ms for 2,000 records, append < 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.providers.base import Message, ToolCall, Usage  # noqa: E402
from agent.session import SessionWriter  # noqa: E402
from agent.tools.base import TodoItem  # noqa: E402

PROBE = """
import json, sys, time
t0 = time.perf_counter()
from agent.session import load_session
def rss():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:")) / 1024
base = rss()
t1 = time.perf_counter()
s = load_session(sys.argv[1])
t2 = time.perf_counter()
after_load = rss()
msgs = s.messages()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "resume": t3 - t1, "rss_base": base, "rss_load": after_load,
                  "rss_messages": rss(), "messages": len(msgs), "records": s.message_count,
                  "warnings": len(s.warnings)}))
"""

WORDS = ("the", "file", "test", "function", "returns", "error", "value", "config", "path", "module", "fix", "run",
         "check", "import", "class", "line", "output", "passes", "fails", "because", "change", "read", "write")


def text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    n = 0
    while n < size:
        word = rng.choice(WORDS)
        out.append(word)
        n += len(word) + 1
    lines = [" ".join(out[i:i + 12]) for i in range(0, len(out), 12)]
    return "\n".join(lines)


def turn(rng: random.Random, index: int, output_size: int) -> list[Message]:
    """One exchange: a user message, an assistant message with a tool call, its result, an answer."""
    call = ToolCall(f"call_{index}", rng.choice(("bash", "read", "grep")),
                    {"command": f"pytest -q tests/test_{index}.py", "timeout": 120})
    return [
        Message("user", text(rng, rng.randint(40, 400))),
        Message("assistant", text(rng, rng.randint(40, 300)), reasoning=text(rng, rng.randint(0, 600)),
                tool_calls=[call]),
        Message("tool", text(rng, output_size), tool_call_id=call.id, name=call.name),
        Message("assistant", text(rng, rng.randint(100, 1200))),
    ]


def build_small(env: dict[str, str], sid: str, records: int = 2000) -> Path:
    rng = random.Random(1)
    project = Path(env["HOME"]) / "proj"
    with SessionWriter.create(sid, project, project, env=env) as w:
        w.model("openrouter", "bench/model")
        w.mode("standard")
        written, index = 3, 0
        while written < records:
            size = rng.choice((200, 800, 2000, 6000)) if index % 25 else 40_000  # a few go to side files
            for message in turn(rng, index, size):
                if written < records:
                    w.message(message)
                    written += 1
            if index % 10 == 0 and written + 3 <= records:
                w.usage(Usage(1200 + index, 300))
                w.todo([TodoItem(f"step {i}", "done" if i < index % 5 else "pending") for i in range(5)])
                w.mode(rng.choice(("standard", "guarded")))
                written += 3
            index += 1
        return w.path


def build_large(env: dict[str, str], sid: str, target: int = 20 * 1024 * 1024) -> tuple[Path, int]:
    rng = random.Random(2)
    project = Path(env["HOME"]) / "proj"
    with SessionWriter.create(sid, project, project, env=env) as w:
        w.model("openrouter", "bench/model")
        total, live, view, index = 0, 0, 0, 0
        while total < target:
            size = rng.randint(60_000, 140_000)
            for message in turn(rng, index, size):
                w.message(message)
                view += 1
            total += size
            live += size
            if live > 1_000_000:  # the context is full: keep the last exchange, summarise the rest
                w.compaction(text(rng, 3000), replaced=view - 4, kept=4)
                view, live = 5, size
            index += 1
        return w.path, total


def probe(path: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    rows = []
    child_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    for _ in range(runs + 1):  # the first run warms the page cache and the bytecode
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=child_env, cwd=REPO,
                             capture_output=True, text=True, check=True)
        row = json.loads(res.stdout)
        row["process"] = time.perf_counter() - t0
        rows.append(row)
    return {k: statistics.median(r[k] for r in rows[1:]) for k in rows[0]}


def append_cost(env: dict[str, str], count: int = 2000) -> tuple[float, float]:
    rng = random.Random(3)
    project = Path(env["HOME"]) / "proj"
    messages = [m for i in range(count // 4 + 1) for m in turn(rng, i, rng.choice((300, 1500, 4000)))][:count]
    times = []
    with SessionWriter.create("20990101-000000-append", project, project, env=env) as w:
        for message in messages:
            t0 = time.perf_counter_ns()
            w.message(message)
            times.append(time.perf_counter_ns() - t0)
    times.sort()
    return statistics.median(times) / 1e6, times[int(len(times) * 0.99)] / 1e6


def corral_resume(session_id: str, env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """The real thing: `corral --session ID -p "continue"` (the installed entry point) in the session's
    project, answered by the scripted LLM server. Returns median wall seconds, CPU seconds and peak RSS (MB)
    of corral's process tree: start-up, loading the session, sending the whole resumed conversation."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import oneshot_bench as ob

    project = Path(env["HOME"]) / "proj"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    scratch = Path(env["HOME"]).parent
    (scratch / "empty.json").write_text('{"replies": []}')
    server, url = ob._start_server(scratch / "empty.json")
    config = scratch / "config.toml"
    config.write_text(f'provider = "bench"\nmodel = "bench/model"\n[providers.bench]\nkind = "openai"\n'
                      f'base_url = "{url}/v1"\n')
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    child_env.update(env, PYTHONPATH=str(REPO))
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    rows = []
    try:
        for _ in range(runs + 1):
            request = urllib.request.Request(f"{url}/__scripted/replies", method="POST",
                                             headers={"Content-Type": "application/json"},
                                             data=json.dumps({"replies": [{"parts": [
                                                 {"type": "text", "text": "Carrying on."}]}]}).encode())
            urllib.request.urlopen(request, timeout=10).read()
            # every run adds one exchange to the session: a negligible part of it
            t0 = time.perf_counter()
            proc = subprocess.Popen([*ob.CORRAL, "--config", str(config), "--provider", "bench",
                                     "--session", session_id, "-p", "continue"],
                                    cwd=project, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            peak = 0
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                peak = max(peak, ob._tree_rss_kb(proc.pid))
                time.sleep(0.002)
            wall = time.perf_counter() - t0
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"corral failed: {proc.stderr.read().decode() if proc.stderr else ''}")
            rows.append((wall, usage.ru_utime + usage.ru_stime, max(peak, usage.ru_maxrss) / 1024))
    finally:
        server.kill()
        server.wait()
    rows = rows[1:]
    return tuple(statistics.median(col) for col in zip(*rows, strict=True))  # type: ignore[return-value]


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per figure (median)")
    opts = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="corral-session-bench-"))
    try:
        env = {"HOME": str(scratch / "home"), "XDG_DATA_HOME": str(scratch / "data")}
        small = build_small(env, "20990101-000000-small0")
        large, outputs = build_large(env, "20990101-000000-large0")
        a, b = probe(small, env, opts.runs), probe(large, env, opts.runs)
        median, p99 = append_cost(env)
        real = [corral_resume(sid, env, opts.runs) for sid in ("20990101-000000-small0", "20990101-000000-large0")]
        print(f"corral sessions ({opts.runs} fresh processes per figure, median)")
        for label, path, row in (("2,000 records", small, a), ("20 MB", large, b)):
            size = tree_size(path.parent) / 1e6
            target = "   (target < 300 ms)" if row is a else ""
            print(f"  {label}: {int(row['records'])} messages, log {path.stat().st_size / 1e6:.1f} MB, "
                  f"with side files {size:.1f} MB; the live conversation: {int(row['messages'])} messages")
            print(f"    load_session:               {row['load'] * 1000:7.1f} ms")
            print(f"    load_session + messages():  {row['resume'] * 1000:7.1f} ms{target}")
            print(f"    whole process:              {row['process'] * 1000:7.1f} ms   "
                  f"(interpreter, imports {row['import'] * 1000:.0f} ms, load, messages)")
            print(f"    RSS after import {row['rss_base']:.1f} MB, after load {row['rss_load']:.1f} MB, "
                  f"after messages() {row['rss_messages']:.1f} MB")
        print(f"  memory: loading the 20 MB session ({outputs / 1e6:.1f} MB of tool outputs in side files) adds "
              f"{b['rss_load'] - b['rss_base']:.1f} MB to the process, the 2,000-record one "
              f"{a['rss_load'] - a['rss_base']:.1f} MB: it follows the log, not the side files")
        print(f"  append one record: median {median * 1000:.1f} µs, p99 {p99 * 1000:.1f} µs   (target < 1 ms)")
        print("  corral itself: `corral --session ID -p continue` against the scripted server (start-up, resume, "
              "one request with the whole conversation)")
        for label, (wall, cpu, rss) in zip(("2,000 records", "20 MB"), real, strict=True):
            print(f"    {label:13}  wall {wall * 1000:6.0f} ms   CPU {cpu:.2f} s   peak RSS {rss:5.1f} MB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
