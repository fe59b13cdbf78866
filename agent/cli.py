"""corral's command line: parses arguments and hands each subcommand to its own module.

Subcommand modules are imported only when chosen, so ``corral policy check`` never pays for the
providers or the terminal UI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent.errors import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corral",
        description="A terminal coding agent where every tool call passes a policy engine.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from agent import cli_config, cli_policy, cli_prompts, cli_sandbox, cli_sessions, cli_trust

    cli_policy.add_parser(sub)
    cli_sandbox.add_parser(sub)
    cli_config.add_parser(sub)
    cli_sessions.add_parser(sub)
    cli_trust.add_parser(sub)
    cli_prompts.add_parser(sub)
    return parser


SUBCOMMANDS = ("policy", "sandbox", "config", "sessions", "trust", "prompts")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in SUBCOMMANDS:
        return _agent_main(args_list)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    try:
        code: int = handler(args)
    except UsageError as exc:
        print(f"corral: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


def _agent_main(args_list: list[str]) -> int:
    from agent import startup

    with startup.paused():  # no cyclic GC until the agent is built (startup.py)
        from agent import cli_agent

        try:
            return cli_agent.main(args_list)
        except SystemExit as exc:
            return int(exc.code or 0)
        except UsageError as exc:
            print(f"corral: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
