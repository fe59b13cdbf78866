"""One-shot runs (`corral -p`): build the agent from configuration, run one prompt, print the result.

Output formats: `text` prints the final answer on stdout and progress on stderr; `json` prints one object
(result, stop, usage, cost, turns, session id); `stream-json` prints every event as one JSON line. Nobody
can approve anything here, so an ask becomes a denial explained to the model. SIGINT/SIGTERM cancel the
run (every sandboxed process dies with it) and exit 130.

Exit codes: 0 done, 1 failed (the message says why), 2 usage or configuration error, 130 interrupted.

What a run is made of (configuration, the resumed session, prompt, mode, engine, the agent and its session
log) is resolved by agent/run_setup.py, shared with the terminal UI.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import trio

from agent import startup
from agent.errors import ConfigError, CorralError, UsageError
from agent.events import (
    Event,
    Notice,
    PolicyChecked,
    RunFinished,
    ToolFinished,
    event_dict,
    key_argument,
)
from agent.providers.base import Retrying, Usage

if TYPE_CHECKING:
    from agent.run_setup import RunSetup

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Path):
        return str(value)
    return str(value)


class Printer:
    """Turns events into output for one of the three formats."""

    def __init__(self, fmt: str, out: TextIO, err: TextIO) -> None:
        self.fmt = fmt
        self.out = out
        self.err = err

    def __call__(self, event: Event) -> None:
        if self.fmt == "stream-json":
            self.out.write(json.dumps(event_dict(event), default=_json_default) + "\n")
            self.out.flush()
            return
        if self.fmt != "text":
            return
        line = self._progress(event)
        if line:
            self.err.write(line + "\n")
            self.err.flush()

    @staticmethod
    def _progress(event: Event) -> str | None:
        if isinstance(event, PolicyChecked):
            arg = key_argument(event.call, 100)
            verdict = event.final if event.final == event.decision else f"{event.decision} → {event.final}"
            return f"· {event.call.name} {arg}  [{verdict}]"
        if isinstance(event, ToolFinished) and not event.result.meta.get("denied"):
            code = event.result.meta.get("exit_code")
            status = "error" if event.result.is_error else ("ok" if code in (None, 0) else f"exit {code}")
            return f"  {event.call.name} {status} ({event.duration:.1f} s)"
        if isinstance(event, Retrying):
            return f"  provider error ({event.reason}); retry {event.attempt} in {event.delay:.1f} s"
        if isinstance(event, Notice):
            return event.text
        return None


def run(prompt: str | None, args: argparse.Namespace, overrides: dict[str, object]) -> int:
    """Build everything, run, print; returns the exit code. No prompt: only `--compact` the session."""
    out, err = sys.stdout, sys.stderr
    try:
        setup = _setup(args, overrides)
    except (ConfigError, UsageError) as exc:
        err.write(f"corral: {exc}\n")
        return EXIT_USAGE
    except CorralError as exc:
        err.write(f"corral: {exc}\n")
        return EXIT_FAILED
    printer = Printer(args.output_format, out, err)
    outcome: list[RunFinished] = []
    interrupted = False

    async def main() -> None:
        nonlocal interrupted
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    nonlocal interrupted
                    async for _ in signals:
                        interrupted = True
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(watch)
                agent = setup.build(printer)
                startup.finished()
                try:
                    if args.compact:
                        done = await agent.compact("user")
                        if done is None:
                            printer(Notice("corral: nothing to compact: the session is short already"))
                    if prompt is not None:
                        outcome.append(await agent.run(prompt))
                    else:
                        outcome.append(RunFinished("", "done", 0, Usage()))
                finally:
                    setup.sync()
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except CorralError as exc:
        err.write(f"corral: {exc}\n")
        return EXIT_FAILED
    finally:
        setup.close()
    if interrupted or not outcome:
        if args.output_format == "json":
            out.write(json.dumps({"result": "", "stop": "cancelled", "session_id": setup.session_id}) + "\n")
        err.write("corral: interrupted\n")
        return EXIT_INTERRUPTED
    result = outcome[0]
    if args.output_format == "json":
        out.write(json.dumps(_summary(result, setup.session_id, setup.usage()), default=_json_default) + "\n")
    elif args.output_format == "text":
        if result.text:
            out.write(result.text.rstrip("\n") + "\n")
        out.flush()
    if result.stop != "done":
        err.write(f"corral: {result.error or result.stop}\n")
        return EXIT_FAILED
    return EXIT_OK


def _summary(result: RunFinished, session_id: str, usage: Usage) -> dict[str, object]:
    return {
        "result": result.text,
        "stop": result.stop,
        "error": result.error,
        "turns": result.turns,
        "usage": usage.as_dict(),
        "cost": usage.cost,
        "session_id": session_id,
    }


def _setup(args: argparse.Namespace, overrides: dict[str, object]) -> RunSetup:
    from agent.run_setup import RunSetup

    return RunSetup(args, overrides)
