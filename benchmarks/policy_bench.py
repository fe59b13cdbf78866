"""Measure the policy engine: warm decision latency, first decision in a fresh process, import time,
and the cold start of a one-shot run.

    python benchmarks/policy_bench.py [--rounds N] [--fresh N] [--cold-start N]

Targets from the issue: median warm decision < 1 ms, ``import policy`` < 60 ms; ``load_engine`` plus
one read decision under ~30 ms CPU and ~3 MB over ``import policy`` once the startup cache
(docs/POLICY.md) is warm. Prints figures and asserts nothing. Builds the test fixture project (a real
git repository and a fake home) in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.policy.corpus import build_fixture  # noqa: E402

# About fifty everyday commands of 20 to 200 characters.
COMMANDS: list[str] = [
    "cat README.md | head -n 40",
    "head -n 20 src/main.py src/util.py",
    'grep -rn "def main" src tests',
    "rg -n 'TODO|FIXME' src tests --glob '*.py'",
    "find . -name '*.py' -not -path './.venv/*' -not -path './build/*'",
    "git status --short --branch",
    "git diff HEAD~1 -- src tests",
    "git log --oneline --decorate -n 20",
    "git log -p -- README.md | head -50",
    "git show --stat HEAD",
    "git branch -a --sort=-committerdate",
    "wc -l src/*.py tests/*.py",
    "sort data.txt | uniq -c | sort -rn | head",
    "python -m pytest -x -q tests/test_main.py",
    "python -m pytest -q 2>&1 | tail -20",
    "pytest -q -k 'not slow' --maxfail=1",
    "cargo test --all-features -- --nocapture",
    "go test ./... -run TestMain -count=1",
    "make test && ruff check . && mypy src",
    "ruff check src tests --fix --select I",
    "mkdir -p build/reports && touch build/reports/.keep",
    "cp README.md README.bak && mv README.bak build/",
    "sed -n '1,20p' src/main.py",
    "awk -F, '{ sum += $2 } END { print sum }' data.csv",
    "jq -r '.scripts | keys[]' package.json",
    "diff -u a.txt b.txt | head -40",
    "echo 'hello world' > build/out.txt && cat build/out.txt",
    "git add -A && git commit -m 'Refactor the main module for clarity'",
    "cut -d, -f1 data.csv | sort | uniq",
    "tr '[:lower:]' '[:upper:]' < data.txt | head -3",
    "cat <<'EOF' > notes.txt\nfirst line\nsecond line\nEOF",
    "[[ -f README.md ]] && echo present || echo missing",
    "time pytest -q tests/test_main.py",
    'for f in src/*.py; do echo "== $f"; wc -l "$f"; done',
    "for i in 1 2 3; do echo $((i * 2)); done",
    "cat README.md | grep -i demo | head -5",
    "test -d src && ls src | wc -l",
    'case "$1" in -h) echo help;; *) echo run;; esac',
    "git diff --name-only HEAD~1 | xargs wc -l",
    "find src -name '*.py' -exec wc -l {} +",
    "printf '%s\\n' alpha beta gamma | sort -r",
    "git log --format='%h %an %s' -n 5 -- src/main.py",
    "python --version && pip --version && which python3",
    "head -c 200 data.csv; echo; tail -n 2 data.csv",
    "ls src tests | grep -v __pycache__ | sort | head -n 30",
    "find . -name '*.py' -not -path './.venv/*' -not -path './build/*' -not -path './node_modules/*'"
    " | xargs grep -n 'import' | head -n 40",
    "git log --format='%h %ad %an %s' --date=short -n 30 -- src tests docs | grep -v Merge | sort -k2 | head",
    'for f in src/*.py tests/*.py; do echo "== $f"; head -n 5 "$f"; wc -l "$f"; grep -c "def " "$f"; done'
    " | tee build/summary.txt",
    "python -m pytest -x -q tests --maxfail=3 -k 'main and not slow' 2>&1 | tail -n 30"
    " && ruff check src tests && mypy src --ignore-missing-imports",
    "cat <<'EOF' > build/report.md\n# Report\n\nAll tests passed.\nSee build/summary.txt.\nEOF\n"
    "wc -l build/report.md",
]

PROBE = "git status --short && ls -la src | head"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_child(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "0"},
    )
    return proc.stdout


IMPORT_CHILD = """\
import sys, time
t = time.perf_counter()
import policy
t1 = time.perf_counter()
policy.load_engine  # the facade imports the engine modules on first use
t2 = time.perf_counter()
print((t1 - t) * 1000, (t2 - t1) * 1000, int("bashlex" in sys.modules), int("pydantic" in sys.modules))
"""

FRESH_CHILD = """\
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from policy import Request, load_engine
t1 = time.perf_counter()
root, home = Path(sys.argv[1]), Path(sys.argv[2])
engine = load_engine(root, home=home, user_file=home / "no-user-policy.toml")
t2 = time.perf_counter()
engine.evaluate(Request(tool="bash", args={"command": sys.argv[3]}, cwd=root, project_root=root))
t3 = time.perf_counter()
engine.evaluate(Request(tool="bash", args={"command": sys.argv[3]}, cwd=root, project_root=root))
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first": t3 - t2, "second": t4 - t3}))
"""


def bench_import(runs: int) -> None:
    facade, engine, lazy_bashlex, pydantic = [], [], True, False
    for _ in range(runs):
        ms_facade, ms_engine, bashlex_loaded, pydantic_loaded = run_child(IMPORT_CHILD).split()
        facade.append(float(ms_facade))
        engine.append(float(ms_engine))
        lazy_bashlex = lazy_bashlex and bashlex_loaded == "0"
        pydantic = pydantic or pydantic_loaded == "1"
    print(
        f"import policy        median {statistics.median(facade):7.1f} ms   "
        f"min {min(facade):6.1f}   max {max(facade):6.1f}   (target < 60 ms, {runs} fresh processes)"
    )
    total = [a + b for a, b in zip(facade, engine, strict=True)]
    print(
        f"  + engine modules   median {statistics.median(total):7.1f} ms   "
        f"min {min(total):6.1f}   max {max(total):6.1f}   (import policy; policy.load_engine)"
    )
    print(
        f"  bashlex deferred to first bash request: {'yes' if lazy_bashlex else 'NO'}; "
        f"pydantic imported: {'yes' if pydantic else 'no'}"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import policy; policy.load_engine"],
        cwd=REPO, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    print("  -X importtime, heaviest cumulative (us):")
    for cumulative, name in rows[:8]:
        print(f"    {cumulative:>8}  {name}")


def bench_fresh(root: Path, home: Path, runs: int) -> None:
    results = [json.loads(run_child(FRESH_CHILD, str(root), str(home), PROBE)) for _ in range(runs)]
    for key, label in [
        ("import", "import policy+engine"),
        ("load", "load_engine"),
        ("first", "first decision"),
        ("second", "second decision"),
    ]:
        values = [r[key] * 1000 for r in results]
        print(f"  {label:<20} median {statistics.median(values):7.2f} ms   max {max(values):7.2f} ms")


COLD_START_CHILD = """\
import json, sys, time
from pathlib import Path


def rss_kb():  # resident now (VmRSS) and at the peak (VmHWM)
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


t0 = time.process_time()
import policy
t1 = time.process_time()
rss_import, _ = rss_kb()
root = Path(sys.argv[1])
engine = policy.load_engine(root)
verdict = engine.evaluate(policy.Request(tool="read", args={"path": "README.md"}, cwd=root, project_root=root))
t2 = time.process_time()
rss, peak = rss_kb()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "rss_import": rss_import, "rss": rss, "peak": peak,
                  "bashlex": "bashlex" in sys.modules, "decision": verdict.decision.label}))
"""


def bench_cold_start(root: Path, home: Path, runs: int) -> None:
    """What a one-shot run pays for the policy: a fresh process that imports policy, loads the engine
    and judges one read (README.md), with the startup cache cold (no rules-/catalog- entries; bashlex's
    table cache is left warm, as before this cache existed) and warm. Bytecode is compiled once into
    a private prefix first, as it would be for an installed package."""
    cache = home / ".cache" / "corral"
    with tempfile.TemporaryDirectory(prefix="corral-pyc-") as pyc:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": pyc}

        def child() -> tuple[float, dict[str, float]]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run([sys.executable, "-c", COLD_START_CHILD, str(root)], cwd=root, env=env,
                                 capture_output=True, text=True, check=True).stdout
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            result: dict[str, float] = json.loads(out)
            return cpu, result

        child()  # compile bytecode, build bashlex's tables
        print(f"cold start: import policy + load_engine + one read, fresh process, median of {runs}:")
        for label in ("cold cache", "warm cache"):
            samples = []
            for _ in range(runs):
                if label == "cold cache":
                    for entry in cache.glob("*.bin"):
                        if entry.name.startswith(("rules-", "catalog-")):
                            os.unlink(entry)
                samples.append(child())
            cpu = statistics.median(c for c, _ in samples)
            load = statistics.median(r["load"] for _, r in samples) * 1000
            peak = statistics.median(r["peak"] for _, r in samples) / 1024
            extra = statistics.median(r["rss"] - r["rss_import"] for _, r in samples) / 1024
            bashlex = "yes" if any(r["bashlex"] for _, r in samples) else "no"
            print(f"  {label}  process {cpu:5.3f} s CPU, peak RSS {peak:5.1f} MB   load_engine + read "
                  f"{load:6.1f} ms CPU, RSS +{extra:4.1f} MB over import policy  (bashlex imported: {bashlex})")


def bench_warm(root: Path, home: Path, rounds: int) -> None:
    from policy import Decision, Request, load_engine

    engine = load_engine(root, home=home, user_file=home / "no-user-policy.toml")
    requests = [
        Request(tool="bash", args={"command": c}, cwd=root, project_root=root, sandboxed=True)
        for c in COMMANDS
    ]
    not_allowed = []
    for request, command in zip(requests, COMMANDS, strict=True):
        verdict = engine.evaluate(request)  # warm-up, and a sanity check of the workload
        if verdict.decision != Decision.ALLOW:
            not_allowed.append((command, verdict.decision.label, verdict.reason))
    samples: list[float] = []
    per_command: dict[str, list[float]] = {c: [] for c in COMMANDS}
    for _ in range(rounds):
        for request, command in zip(requests, COMMANDS, strict=True):
            t = time.perf_counter_ns()
            engine.evaluate(request)
            elapsed = (time.perf_counter_ns() - t) / 1e6
            samples.append(elapsed)
            per_command[command].append(elapsed)
    lengths = [len(c) for c in COMMANDS]
    print(
        f"warm decision        median {statistics.median(samples):7.3f} ms   "
        f"p99 {pct(samples, 0.99):7.3f} ms   max {max(samples):7.3f} ms   (target median < 1 ms)"
    )
    print(
        f"  {len(COMMANDS)} commands of {min(lengths)}-{max(lengths)} chars x {rounds} rounds "
        f"= {len(samples)} decisions"
    )
    slowest = sorted(per_command.items(), key=lambda kv: statistics.median(kv[1]), reverse=True)[:5]
    print("  slowest commands (median ms):")
    for command, values in slowest:
        print(f"    {statistics.median(values):7.3f}  {command!r}")
    if not_allowed:
        print(f"  note: {len(not_allowed)} workload commands are not allowed in standard mode:")
        for command, decision, reason in not_allowed:
            print(f"    {decision:<5} {command!r}: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="warm rounds over the workload")
    parser.add_argument("--fresh", type=int, default=11, help="fresh processes for import/first decision")
    parser.add_argument("--cold-start", type=int, default=5, help="fresh processes per cold-start figure")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}  ({sys.executable})")
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        fx = build_fixture(Path(tmp))
        bench_import(args.fresh)
        print(f"fresh process, probe {PROBE!r}:")
        bench_fresh(fx.root, fx.home, args.fresh)
        bench_cold_start(fx.root, fx.home, args.cold_start)
        bench_warm(fx.root, fx.home, args.rounds)


if __name__ == "__main__":
    main()
