"""Measure the bash analysis (policy._shell): first analyze() in a fresh process with a cold and a warm
bashlex table cache, and the time of one analysis of everyday commands (uncached).

    python benchmarks/shell_bench.py [--fresh N] [--rounds N]

Prints figures and asserts nothing. Each fresh process gets its own temporary XDG_CACHE_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS = [
    "git status && git diff --stat",
    "find . -name '*.py' -newer setup.cfg | xargs wc -l",
    "cd src && python -m pytest tests/test_x.py -k 'foo and not bar' -x -q 2>&1 | tail -50",
    'for f in *.py; do echo "$f"; wc -l "$f"; done > /tmp/out.txt',
    "[[ -f setup.py ]] && python setup.py test",
    "time cargo build --release",
    'echo "Done: $(date +%s)" >> log.txt',
    'x=5; y=$((x + 3)); echo "$y"',
    'case "$(uname)" in Linux) echo l ;; Darwin) echo d ;; esac',
    'grep -rn "TODO" --include="*.py" .',
    "cat > notes.md <<'EOF'\n# Notes\nrun $(make) later\nEOF",
    'docker run --rm -v "$PWD":/src img make',
    "while IFS= read -r f; do wc -l \"$f\"; done < <(git ls-files '*.py')",
    "sed -n '1,20p' src/main.py",
    "npm run build 2>&1 | tail -20",
    "ls -la ~/ | grep -v '^d' | sort -k5 -n | tail -3",
    "git log --format='%H %s' -n 3 -- src/ | awk '{print $1}' | xargs -I{} git show --stat {}",
    "if [ -f package.json ]; then npm install; fi",
    "tar -czf out.tgz --exclude='*.pyc' .",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
]

_FIRST = """
import sys, time
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
import policy._shell as shell
t1 = time.perf_counter()
shell.analyze("ls")
t2 = time.perf_counter()
from policy import _bashlex_fast
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "origin": _bashlex_fast.origin}}))
"""


def fresh(cache: str) -> dict[str, float | str]:
    code = "import json\n" + _FIRST.format(repo=str(REPO))
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    result: dict[str, float | str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    cold, warm, imports = [], [], []
    for _ in range(args.fresh):
        with tempfile.TemporaryDirectory() as cache:
            first = fresh(cache)
            second = fresh(cache)
            assert first["origin"] == "built" and second["origin"] == "cache", (first, second)
            cold.append(float(first["first"]))
            warm.append(float(second["first"]))
            imports.append(float(second["import"]))
    ms = 1000.0
    print(f"import policy._shell (median of {args.fresh}): {statistics.median(imports) * ms:.1f} ms")
    print(f"first analyze('ls'), cold table cache: {statistics.median(cold) * ms:.1f} ms")
    print(f"first analyze('ls'), warm table cache: {statistics.median(warm) * ms:.1f} ms")

    sys.path.insert(0, str(REPO))
    from policy import _shell

    _shell.analyze("ls")
    per: list[float] = []
    for src in COMMANDS:
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            _shell._analyze(src)  # uncached
            times.append(time.perf_counter() - start)
        per.append(min(times))
    print(
        f"analysis of {len(COMMANDS)} everyday commands ({min(map(len, COMMANDS))}-"
        f"{max(map(len, COMMANDS))} chars), uncached: median {statistics.median(per) * ms:.2f} ms, "
        f"max {max(per) * ms:.2f} ms; cached: {_cached_us(_shell):.1f} µs"
    )


def _cached_us(shell: object) -> float:
    analyze = getattr(shell, "analyze")  # noqa: B009
    start = time.perf_counter()
    for _ in range(1000):
        analyze(COMMANDS[0])
    return (time.perf_counter() - start) * 1000.0


if __name__ == "__main__":
    main()
