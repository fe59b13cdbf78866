"""corral's command line: parses arguments and hands each subcommand to its own module.

Subcommand modules are imported only when chosen, so ``corral policy check`` never pays for the
providers or the terminal UI.

Every command, subcommand or agent run, exits quietly with 141 (128 + SIGPIPE, what a shell reports)
when the reader of its output goes away (``corral prompts --json | head -2``), never with a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

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
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away (`| head`)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    return quiet_broken_pipe(lambda: _dispatch(args_list))


def _dispatch(args_list: list[str]) -> int:
    try:
        args_list = _global_config(args_list)
    except UsageError as exc:
        print(f"corral: {exc}", file=sys.stderr)
        return EXIT_USAGE
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


def _global_config(args_list: list[str]) -> list[str]:
    """`corral --config FILE config show` means `corral config show --config FILE`: the agent's --config
    given before a subcommand goes to the subcommand that reads the config file. Before any other
    subcommand it is a usage error rather than silently unused."""
    if args_list[:1] == ["--config"] and len(args_list) >= 3:
        value, rest = args_list[1], args_list[2:]
    elif args_list[:1] and args_list[0].startswith("--config="):
        value, rest = args_list[0].split("=", 1)[1], args_list[1:]
    else:
        return args_list
    if not rest or rest[0] not in SUBCOMMANDS:
        return args_list  # the agent's own flag
    if rest[0] == "config" and rest[1:2] in (["show"], ["path"]):
        return [*rest, "--config", value]
    raise UsageError(f"`corral {rest[0]}` does not read the config file: drop --config (it goes with the agent, "
                     "or with `corral config show|path`)")


def quiet_broken_pipe(run: Callable[[], int]) -> int:
    """Run a command; when whoever reads its output goes away (`corral ... | head`), exit quietly with 141,
    as a shell reports a command ended by SIGPIPE, instead of a traceback. Output still buffered is
    flushed here, so a pipe closed after the last write is caught too. A broken pipe that is not stdout's
    (another process, a socket) is a real error and propagates."""
    try:
        code = run()
        sys.stdout.flush()
        return code
    except BaseException as exc:
        if not (_only_broken_pipes(exc) and _stdout_gone()):
            raise
    # Point stdout at /dev/null so the interpreter's final flush of what is left buffered stays quiet.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


def _only_broken_pipes(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):  # a trio nursery wraps what its tasks raised
        return all(_only_broken_pipes(inner) for inner in exc.exceptions)
    return isinstance(exc, BrokenPipeError)


def _stdout_gone() -> bool:
    """Whether stdout's reader has gone: polling a pipe's write end reports an error then."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError, AttributeError):
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events)


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
