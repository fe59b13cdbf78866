"""Measure the terminal UI in a real terminal (tmux) against the scripted LLM server.

    python benchmarks/tui_bench.py [--runs N] [--idle SECONDS]

Prints:
- time from start to a usable prompt (the status line drawn under the input), median of --runs;
- RSS of corral at idle after one completed turn;
- CPU% of corral over --idle seconds (default 10) at the idle prompt;
- CPU seconds of corral to receive and render a streamed reply of 20,000 tokens (~80,000 characters of
  markdown: paragraphs, lists, code blocks, a table), from Enter to the last line on screen.

Targets from the issue: usable prompt under 400 ms, idle under 55 MB at 0.0% CPU. Reference figures on this
machine, idle at the prompt: Claude Code 217 MB at 0.7% CPU, pi 147 MB at 1.4%, Kimi CLI 122 MB at 0.7%,
opencode 754 MB at 1.8%.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.agent.tui.term import Term  # noqa: E402
from tests.llm_server.server import ServerHandle, start  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "corral"
TICKS = os.sysconf("SC_CLK_TCK")


def reply_of(tokens: int) -> str:
    """Markdown of about `tokens` tokens (4 characters each)."""
    parts, size, i = [], 0, 0
    while size < tokens * 4:
        i += 1
        block = (
            f"## Section {i}\n\nThe **parser** reads `tokens` one by one and builds a tree; *each* node keeps its "
            f"span so errors can point at the source. See [the docs](https://example.com/{i}).\n\n"
            f"- first point about item {i}\n- second point, with `code` in it\n- third point\n\n"
            f"```python\ndef step_{i}(x: int) -> int:\n    return x * {i} + 1  # a comment\n```\n\n"
            f"| name | value |\n|---|---|\n| alpha | {i} |\n| beta | {i * 2} |\n\n"
        )
        parts.append(block)
        size += len(block)
    return "".join(parts)


def corral_pid(term: Term) -> int:
    """The python process running corral under the pane's shell."""
    shell = term.pane_pid()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == shell and b"corral" in cmdline:
                return int(entry.name)
        time.sleep(0.01)
    raise SystemExit("corral did not start under tmux")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    def __init__(self, base: Path, server: ServerHandle) -> None:
        self.base, self.server = base, server
        self.project = base / "project"
        self.project.mkdir()
        (self.project / ".git").mkdir()
        self.config = base / "config.toml"
        self.config.write_text(f'provider = "bench"\nmodel = "bench-model"\n[providers.bench]\nkind = "openai"\n'
                               f'base_url = "{server.base_url}/v1"\n')

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base / "home"),
                "TERM": "xterm-256color", "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}

    def start(self) -> tuple[Term, float, float]:
        """Start corral; seconds until the prompt is drawn (typing works from then on: what is sent before
        the agent is ready waits for it), and until the agent is ready (the status line's "starting…" gone)."""
        argv = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-P", "-m", "agent.cli"]
        t0 = time.perf_counter()
        term = Term([*argv, "--config", str(self.config)], cwd=self.project, env=self.env())
        prompt = None
        while True:
            screen = term.screen(history=0)
            if prompt is None and "bench/bench-model" in screen:
                prompt = time.perf_counter() - t0
            if prompt is not None and "starting…" not in screen:
                return term, prompt, time.perf_counter() - t0
            time.sleep(0.005)
            if time.perf_counter() - t0 > 30:
                raise SystemExit(f"no prompt after 30 s:\n{term.screen()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=10.0)
    opts = ap.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed (bash .ci/setup --test installs it)")
    base = Path(tempfile.mkdtemp(prefix="corral-tui-bench-", dir="/var/tmp"))
    (base / "home").mkdir()
    server = start()
    try:
        bench = Bench(base, server)
        starts, ready = [], []
        for _ in range(opts.runs + 1):  # the first run warms caches (.pyc, config and policy caches)
            term, seconds, agent_ready = bench.start()
            starts.append(seconds)
            ready.append(agent_ready)
            term.close()
        server.set_script([{"parts": [{"type": "text", "text": "Done: the README is short and clear."}]}])
        term, _, _ = bench.start()
        pid = corral_pid(term)
        term.type("summarize the README")
        term.keys("Enter")
        term.wait_for("the README is short and clear")
        time.sleep(1.0)
        idle_rss = rss_mb(pid)
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(opts.idle)
        idle_cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0) * 100
        text = reply_of(20_000)
        chunks = [text[i:i + 16] for i in range(0, len(text), 16)]
        server.set_script([{"parts": [{"type": "text", "text": c} for c in chunks] + [
            {"type": "text", "text": "\n\nEND-OF-REPLY\n"}]}])
        cpu0 = cpu_seconds(pid)
        term.type("write the long answer")
        term.keys("Enter")
        term.wait_for("END-OF-REPLY", timeout=300)
        render_cpu = cpu_seconds(pid) - cpu0
        peak_rss = rss_mb(pid)
        term.close()
        print(f"corral terminal UI ({opts.runs} starts, median; tmux {os.uname().sysname})")
        print(f"  start to a usable prompt:     {statistics.median(starts[1:]) * 1000:6.0f} ms   (target < 400 ms)")
        print(f"  start to the agent ready:     {statistics.median(ready[1:]) * 1000:6.0f} ms   (trio, httpx, tools, "
              "engine loaded after the first paint)")
        print(f"  RSS at idle after one turn:   {idle_rss:6.1f} MB   (target < 55 MB)")
        print(f"  CPU at idle over {opts.idle:.0f} s:        {idle_cpu:6.2f} %    (target 0.0%)")
        print(f"  20,000-token streamed reply:  {render_cpu:6.2f} s CPU ({len(text):,} characters in "
              f"{len(chunks):,} deltas); RSS after it {peak_rss:.1f} MB")
    finally:
        server.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
