"""`corral [-p PROMPT] [options]`: the agent's own command line (everything that is not a subcommand).

Parses the flags, resolves configuration, and hands the run to the headless front end (`-p`, or a
prompt piped on stdin). Heavy modules (providers, httpx, the policy engine) are imported only once a run
is certain, so `corral --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys

from agent.errors import UsageError

MODE_FLAGS = {
    "restrictive": "restrictive",
    "read_only": "read-only",
    "guarded": "guarded",
    "yolo": "yolo",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="corral",
        description="A terminal coding agent where every tool call passes a policy engine and every command "
        "runs in a sandbox. Subcommands: policy, sandbox, config (corral COMMAND --help).",
    )
    p.add_argument("-p", "--print", dest="prompt", metavar="PROMPT",
                   help="run this prompt to completion and print the answer (`-p -` reads the prompt from stdin; "
                   "piped stdin is appended to PROMPT)")
    p.add_argument("--output-format", choices=("text", "json", "stream-json"), default="text",
                   help="text: the final answer on stdout, progress on stderr; json: one object at the end; "
                   "stream-json: one event per line")
    p.add_argument("--max-turns", type=int, metavar="N", help="stop after N model requests (default 50)")
    p.add_argument("--provider", help="provider name: openrouter, openai, anthropic, gemini, ollama or a custom one")
    p.add_argument("--model", help="model name for the provider")
    p.add_argument("--thinking", choices=("off", "low", "medium", "high"), help="reasoning effort")
    p.add_argument("--config", metavar="FILE", help="config file (default $XDG_CONFIG_HOME/corral/config.toml)")
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("-R", "--restrictive", action="store_true", help="ask before every tool call")
    modes.add_argument("--read-only", action="store_true", help="read tools only; commands in a read-only sandbox")
    modes.add_argument("--guarded", action="store_true", help="reads allowed, everything else asks")
    modes.add_argument("--yolo", action="store_true", help="everything allowed except destructive commands")
    modes.add_argument("--mode", help="permission mode by name: restrictive, read-only, guarded, standard, yolo")
    modes.add_argument("--dangerously-skip-permissions", action="store_true",
                       help="bypass the policy engine entirely (commands still run in the sandbox)")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "zerobox", "none"), help="sandbox backend (default auto)")
    p.add_argument("--sandbox-network", action="store_true", default=None, help="allow network inside the sandbox")
    return p


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    """Flag values that override the configuration (only the flags given)."""
    out: dict[str, object] = {}
    for key in ("provider", "model", "thinking", "sandbox", "max_turns"):
        value = getattr(args, key)
        if value is not None:
            out[key] = value
    if args.sandbox_network:
        out["sandbox_network"] = True
    for flag, mode in MODE_FLAGS.items():
        if getattr(args, flag):
            out["mode"] = mode
    if args.mode:
        out["mode"] = args.mode
    return out


def read_prompt(args: argparse.Namespace) -> str | None:
    """The prompt from -p and/or stdin; None when there is none (interactive use)."""
    piped = not sys.stdin.isatty() if sys.stdin is not None else False
    if args.prompt == "-":
        return sys.stdin.read()
    stdin_text = sys.stdin.read() if piped and args.prompt is not None else ""
    if args.prompt is not None:
        return str(args.prompt) + (f"\n\n{stdin_text}" if stdin_text.strip() else "")
    if piped:
        return sys.stdin.read()
    return None


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.max_turns is not None and args.max_turns < 1:
        raise UsageError("--max-turns must be at least 1")
    prompt = read_prompt(args)
    if prompt is None:
        raise UsageError(
            "the interactive terminal UI is not built yet: run a prompt with `corral -p \"...\"` "
            "or pipe one on stdin"
        )
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    from agent import headless

    return headless.run(prompt, args, overrides_from(args))
