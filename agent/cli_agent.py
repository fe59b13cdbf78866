"""`corral [-p PROMPT] [options]`: the agent's own command line (everything that is not a subcommand).

Parses the flags, resolves configuration, and hands the run to the headless front end (`-p`, or a
prompt piped on stdin). Heavy modules (providers, httpx, the policy engine) are imported only once a run
is certain, so `corral --help` stays instant.
"""

from __future__ import annotations

import argparse
import os
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
        "runs in a sandbox. Subcommands: policy, sandbox, config, sessions, trust, prompts (corral COMMAND --help).",
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
    modes.add_argument("--yolo", action="store_true",
                       help="allow everything but destructive, privilege (sudo …) and opaque (eval, $CMD …) "
                       "commands, which ask; ask and deny rules still apply (git push asks)")
    modes.add_argument("--mode", help="permission mode by name: restrictive, read-only, guarded, standard, yolo")
    modes.add_argument("--dangerously-skip-permissions", action="store_true",
                       help="bypass the policy engine entirely (commands still run in the sandbox)")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "zerobox", "none"), help="sandbox backend (default auto)")
    p.add_argument("--sandbox-network", action="store_true", default=None, help="allow network inside the sandbox")
    p.add_argument("--prompt", dest="prompt_name", metavar="NAME",
                   help="system prompt from the library: code (default), plan, review, debug, ask, … "
                   "(`corral prompts` lists them)")
    p.add_argument("-n", "--no-context-files", action="store_true",
                   help="do not add AGENTS.md, CLAUDE.md and ARCHITECTURE.md to the system prompt")
    sessions = p.add_mutually_exclusive_group()
    sessions.add_argument("-c", "--continue", dest="continue_session", action="store_true",
                          help="resume the latest session of this project")
    sessions.add_argument("-r", "--resume", action="store_true", help="list this project's sessions and pick one")
    sessions.add_argument("--session", metavar="ID|NAME", help="resume this session")
    sessions.add_argument("--no-session", action="store_true",
                          help="keep no conversation (nothing to resume; command logs are deleted at exit; the audit "
                               "log of policy decisions is still written)")
    p.add_argument("--name", metavar="NAME", help="name this session (resume it later with --session NAME)")
    p.add_argument("--theme", metavar="NAME", help="colour theme of the terminal UI (/theme lists them)")
    p.add_argument("--no-color", action="store_true", help="a monochrome terminal UI (so does NO_COLOR=1)")
    p.add_argument("--compact", action="store_true",
                   help="summarise the older turns of the resumed session before the prompt (alone: compact and exit)")
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
    """The prompt from -p and/or stdin; None when there is none (interactive use). Always valid text: bytes
    that are not UTF-8 (a Latin-1 file piped in, a mistyped argument) become U+FFFD, said once on stderr,
    instead of reaching the provider's JSON encoder or the session log as lone surrogates."""
    piped = not sys.stdin.isatty() if sys.stdin is not None else False
    replaced: list[str] = []
    given = None if args.prompt is None else _text(_arg_bytes(args.prompt), "the -p argument", replaced)
    if args.prompt == "-":
        prompt: str | None = _read_stdin(replaced)
    elif given is not None:
        stdin_text = _read_stdin(replaced) if piped else ""
        prompt = given + (f"\n\n{stdin_text}" if stdin_text.strip() else "")
    else:
        prompt = _read_stdin(replaced) if piped else None
    for where in replaced:
        print(f"corral: {where} is not valid UTF-8: the invalid bytes were replaced by \N{REPLACEMENT CHARACTER}",
              file=sys.stderr)
    return prompt


def _read_stdin(replaced: list[str]) -> str:
    if sys.stdin is None:
        return ""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes underneath (an embedding program's)
        return str(sys.stdin.read())
    return _text(stream.read(), "the prompt on stdin", replaced)


def _arg_bytes(value: str) -> bytes:
    """An argument's original bytes (Python keeps undecodable ones as surrogate escapes)."""
    try:
        return os.fsencode(value)
    except UnicodeEncodeError:  # a surrogate that is no escape: keep it as bytes, decoding replaces it
        return value.encode("utf-8", "surrogatepass")


def _text(data: bytes, where: str, replaced: list[str]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        replaced.append(where)
        return data.decode("utf-8", "replace")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.max_turns is not None and args.max_turns < 1:
        raise UsageError("--max-turns must be at least 1")
    prompt = read_prompt(args)
    if args.compact and args.prompt is None and prompt is not None and not prompt.strip():
        prompt = None  # `corral -c --compact` with an empty stdin (a script, CI): compact only
    resuming = bool(args.continue_session or args.resume or args.session)
    if args.compact and not resuming:
        raise UsageError("--compact works on a resumed session: add -c, -r or --session ID")
    if args.name is not None and (args.no_session or not args.name.strip() or args.name != args.name.strip()):
        raise UsageError("--name needs a non-empty name without surrounding spaces, and a session (not --no-session)")
    if args.compact and args.no_session:
        raise UsageError("--compact and --no-session do not go together: there is no session to compact")
    if prompt is None and not args.compact:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("the interactive UI needs a terminal; run a prompt with `corral -p \"...\"` "
                             "or pipe one on stdin")
        from agent.tui import app

        return app.run(args, overrides_from(args))
    if prompt is not None and not prompt.strip():
        raise UsageError(_empty_prompt(args))
    from agent import headless

    return headless.run(prompt, args, overrides_from(args))


def _empty_prompt(args: argparse.Namespace) -> str:
    """Why there is nothing to run, and what to type instead."""
    if args.prompt == "-":
        return ("-p - reads the prompt from stdin, which was empty: pipe the prompt in (echo \"...\" | corral -p -) "
                "or give it as corral -p \"...\"")
    if args.prompt is not None:
        return "-p was given an empty prompt: write the task after it, e.g. corral -p \"fix the failing test\""
    return ("the interactive UI needs a terminal, and stdin is not one (it was empty): run a prompt with "
            "corral -p \"...\", or pipe a non-empty prompt on stdin")
