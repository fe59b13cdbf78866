"""Measure the streaming markdown renderer: CPU to render a reply streamed in ~4-character deltas.

    python benchmarks/markdown_bench.py [--tokens N] [--width W]

Builds a mixed markdown reply of N tokens (default 20,000; a token is ~4 characters): long paragraphs
with emphasis, code spans and links, nested lists, a table, quotes, and code blocks in several
languages including one of N/20 lines (1,000 for 20,000 tokens). It is fed to `MarkdownStream` in
deltas of 1-7 characters (~4 on average), and after each delta the live part is rendered, as the UI
redraws it. Printed for N, 2N and 4N tokens: CPU seconds, CPU per 1,000 tokens, and `work`
(characters processed) per input character. Linear rendering shows as a flat "per 1k tokens"
column; a quadratic one would double it from row to row.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.tui.markdown import MarkdownStream
from agent.tui.themes import get_theme

WORDS = ("the", "stream", "renderer", "prints", "each", "line", "once", "**bold words**", "*italic*", "`code`",
         "[a link](https://example.com/docs)", "https://example.org/x", "~~old~~", "日本語", "value", "policy",
         "sandbox", "returns", "because", "with", "tokens", "terminal", "width", "wraps", "snake_case_name")


def paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + ".\n\n"


def code_block(rng: random.Random, lines: int) -> str:
    body = []
    for k in range(lines):
        body.append(rng.choice((
            f"def function_{k}(value: int) -> int:",
            f'    """Docstring of {k}."""',
            f"    return value * {k} + len('text')  # comment",
            f"    items = [x for x in range({k}) if x % 3 == 0]",
            "    if value > 10 and not items:",
            "        raise ValueError(f'bad value {value!r}')",
        )))
    return "```python\n" + "\n".join(body) + "\n```\n\n"


def reply(tokens: int, seed: int = 7) -> str:
    """A mixed markdown reply of about `tokens` tokens (4 characters each)."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    target = tokens * 4
    big_code_done = False
    while size < target:
        choice = rng.random()
        if not big_code_done and size > target // 3:
            part = code_block(rng, tokens // 20)
            big_code_done = True
        elif choice < 0.45:
            part = paragraph(rng, rng.randint(40, 400))
        elif choice < 0.6:
            part = "## Section heading with `code`\n\n"
        elif choice < 0.75:
            part = "".join(f"{'  ' * (k % 2)}- item {k}: " + paragraph(rng, rng.randint(5, 40))[:-2] + "\n"
                           for k in range(rng.randint(2, 8))) + "\n"
        elif choice < 0.85:
            rows = "".join(f"| row {k} | {rng.choice(WORDS)} | {k * 7} |\n" for k in range(rng.randint(3, 20)))
            part = "| name | word | number |\n|:--|:--:|--:|\n" + rows + "\n"
        elif choice < 0.93:
            part = code_block(rng, rng.randint(3, 40))
        else:
            part = "> " + paragraph(rng, rng.randint(10, 60))
        parts.append(part)
        size += len(part)
    return "".join(parts)


def run(text: str, width: int, seed: int = 3) -> tuple[float, int]:
    rng = random.Random(seed)
    stream = MarkdownStream(get_theme("corral-dark"), width)
    start = time.process_time()
    pos = 0
    while pos < len(text):
        step = rng.randint(1, 7)
        stream.feed(text[pos:pos + step])
        stream.live()
        pos += step
    stream.finish()
    return time.process_time() - start, stream.work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--width", type=int, default=100)
    args = parser.parse_args()
    run(reply(500), args.width)  # warm up: pygments lexers, caches
    print(f"{'tokens':>8} {'chars':>8} {'CPU s':>8} {'s/1k tok':>9} {'work/char':>10}")
    for factor in (1, 2, 4):
        text = reply(args.tokens * factor)
        cpu, work = run(text, args.width)
        print(f"{args.tokens * factor:>8} {len(text):>8} {cpu:>8.3f} {cpu / (args.tokens * factor) * 1000:>9.4f} "
              f"{work / len(text):>10.2f}")


if __name__ == "__main__":
    main()
