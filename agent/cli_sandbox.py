"""``corral sandbox run`` and ``corral sandbox doctor``: run one command the way the agent would, and say
which sandbox backends work here.

``run`` streams the command's output to stdout as it comes, states the backend on stderr and exits with
the command's exit code (124 on timeout, 128+N when killed by signal N). When no backend works it
prints why and how to fix it, and exits 1. SIGTERM and SIGHUP cancel the run (every descendant killed) and
exit 128+N; Ctrl-C exits 130. When stdout's reader goes away (``| head``) the command is stopped and corral
exits 141, like a shell. ``doctor`` exits 0 when at least one real sandbox works.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from agent.errors import UsageError
from agent.project import find_project_root

BACKENDS = ("auto", "bwrap", "zerobox", "none")
PROFILES = ("workspace", "read-only")
EXIT_TIMEOUT = 124


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    box = sub.add_parser("sandbox", help="run a command in the sandbox, or check which backends work")
    bsub = box.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    box.set_defaults(handler=lambda _a: _print_help(box))

    run = bsub.add_parser(
        "run",
        help="run one command in the sandbox, as the agent would",
        description=(
            "Run CMD in the sandbox with the project (the enclosing git repository, else --cwd) as the only "
            "writable place. Output is streamed; the exit code is the command's (124 on timeout)."
        ),
    )
    run.add_argument("--sandbox", choices=BACKENDS, default="auto",
                     help="backend: auto (default: the first that works), bwrap, zerobox, or none (no isolation)")
    run.add_argument("--profile", choices=PROFILES, default="workspace",
                     help="workspace (default: the project is writable) or read-only (nothing is)")
    run.add_argument("--network", action="store_true", help="allow network access (off by default)")
    run.add_argument("--cwd", type=Path, default=None, help="working directory (default: current)")
    run.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="kill the command and all it started after S seconds (default 120)")
    run.add_argument("words", nargs=argparse.REMAINDER, help="-- CMD ARG...")
    run.set_defaults(handler=run_command)

    doctor = bsub.add_parser("doctor", help="say which sandbox backends work here, and why not")
    doctor.set_defaults(handler=run_doctor)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _exit_code(code: int) -> int:
    """The shell's convention: a command killed by signal N exits 128+N."""
    if code < 0:
        return 128 - code
    return code if code <= 255 else 255


def _not_runnable(program: str, cwd: Path) -> tuple[int, str] | None:
    """(exit status, why) when `program` cannot be started, as a shell would say it; None when it can. The
    sandbox sees the host's programs (read-only), so what is not found here is not found there either."""
    import os
    import shutil

    if "/" not in program:
        return None if shutil.which(program) else (127, "command not found")
    path = cwd / program
    if not path.exists():
        return 127, "no such file or directory"
    if path.is_dir() or not os.access(path, os.X_OK):
        return 126, "permission denied (not an executable file)"
    return None


def run_command(args: argparse.Namespace) -> int:
    from agent.cli import EXIT_FAILED

    words = list(args.words)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise UsageError("give the command after --, e.g. corral sandbox run -- ls -la")
    cwd = (args.cwd or Path.cwd()).resolve()
    if not cwd.is_dir():
        raise UsageError(f"--cwd {cwd} is not a directory")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    missing = _not_runnable(words[0], cwd)
    if missing is not None:  # like a shell: 127 not found, 126 not executable (bwrap itself would exit 1)
        print(f"corral: {words[0]}: {missing[1]}", file=sys.stderr)
        return missing[0]

    import trio

    import sandbox

    root = find_project_root(cwd)
    spec = sandbox.Spec(project=root, cwd=cwd, profile=sandbox.Profile(args.profile), network=args.network)
    if args.timeout is not None:
        spec = dataclasses.replace(spec, timeout=float(args.timeout))
    try:
        backend = sandbox.choose_backend(args.sandbox)
    except sandbox.SandboxError as exc:
        print(f"corral: {exc}", file=sys.stderr)
        return EXIT_FAILED
    note = "  (no isolation: you asked for it)" if backend == "none" else ""
    print(f"corral: sandbox: {backend}{note}", file=sys.stderr, flush=True)

    out = sys.stdout.buffer
    signalled: list[int] = []
    broken: list[BrokenPipeError] = []

    async def main() -> sandbox.Result | None:
        # SIGTERM/SIGHUP cancel the run like Ctrl-C does, so every backend gets to kill what it started.
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:

                def on_output(chunk: bytes) -> None:
                    """Stream to stdout; when its reader goes away (`| head`), stop the command as a shell's
                    SIGPIPE would, and let agent/cli.py exit quietly with 141."""
                    if broken:
                        return
                    try:
                        out.write(chunk)
                        out.flush()
                    except BrokenPipeError as exc:
                        broken.append(exc)
                        nursery.cancel_scope.cancel()

                async def watch() -> None:
                    async for signum in signals:
                        signalled.append(signum)
                        nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                result = await sandbox.run(words, spec, backend=backend, on_output=on_output)  # type: ignore[arg-type]
                nursery.cancel_scope.cancel()
                return result
        return None

    try:
        result = trio.run(main)
    except sandbox.SandboxError as exc:
        print(f"corral: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BaseExceptionGroup as group:  # Ctrl-C arriving inside a nursery comes back wrapped
        _, rest = group.split(KeyboardInterrupt)
        if rest is None:
            raise KeyboardInterrupt from group
        raise
    if broken:
        raise broken[0]  # agent/cli.py: stdout was closed early, exit 141 without a traceback
    if result is None:
        return 128 + signalled[0] if signalled else EXIT_FAILED
    for note in result.notes:  # what corral undid after the command (.git/commondir …)
        print(f"corral: {note}", file=sys.stderr)
    if result.timed_out:
        print(f"corral: timed out after {spec.timeout:g} s; the command and everything it started were killed",
              file=sys.stderr)
        return EXIT_TIMEOUT
    return _exit_code(result.exit_code)


def run_doctor(args: argparse.Namespace) -> int:
    import sandbox
    from agent.cli import EXIT_FAILED, EXIT_OK

    statuses = sandbox.doctor()
    width = max(len(s.name) for s in statuses)
    for status in statuses:
        print(f"{status.name:<{width}}  {_status_text(status.works, status.detail)}")
    real = [s for s in statuses if s.name != "none" and s.works]
    if real:
        print(f"auto uses: {real[0].name}")
        return EXIT_OK
    print("no sandbox works here: install one of the above as described, or run with --sandbox none "
          "(commands then run without isolation)")
    return EXIT_FAILED


def _status_text(works: bool, detail: str) -> str:
    """"works (/usr/bin/bwrap)", "does not work — why": the state said once, even when the backend's own
    detail starts with it."""
    state = "works" if works else "does not work"
    if detail.startswith(state):
        return state + detail[len(state):]
    return f"{state} — {detail}" if detail else state
