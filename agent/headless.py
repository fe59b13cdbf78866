"""One-shot runs (`corral -p`): build the agent from configuration, run one prompt, print the result.

Output formats: `text` prints the final answer on stdout and progress on stderr; `json` prints one object
(result, stop, error, turns, usage and cost of this invocation, session id, the session's totals);
`stream-json` prints a `session` event first, then every event as one JSON line, ending with
`run_finished` (which carries the session id too). Nobody can approve anything here, so an ask becomes a
denial explained to the model. SIGINT/SIGTERM cancel the run (every sandboxed process dies with it) and
exit 130; all three formats still report what the run did: the partial answer, the turns and usage so far,
stop "cancelled".

Text mode and terminals: every progress, notice and error line on stderr goes through `events.visible`,
so a tool name, a provider's error or a notice quoting a repository cannot carry escape sequences to the
terminal. The final answer on stdout is printed as the model wrote it: it is the program's output, which a
caller may pipe into a file or another program, and corral does not alter it (pipe it through `cat -v` to
look at an answer you do not trust on a terminal).

Exit codes: 0 done, 1 failed or incomplete (max turns, an answer cut at the output-token limit, a provider
error; the message says why), 2 usage or configuration error, 130 interrupted.

What a run is made of (configuration, the resumed session, prompt, mode, engine, the agent and its session
log) is resolved by agent/run_setup.py, shared with the terminal UI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import trio

from agent import startup
from agent.errors import ConfigError, CorralError, UsageError
from agent.events import (
    Compacted,
    Event,
    Notice,
    PolicyChecked,
    RunFinished,
    ToolFinished,
    event_dict,
    key_argument,
    visible,
)
from agent.providers.base import Retrying, Usage

if TYPE_CHECKING:
    from agent.loop import Agent
    from agent.run_setup import RunSetup

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Path):
        return str(value)
    return str(value)


PROGRESS_ERROR_CHARS = 400


def no_sandbox_notice(source: str) -> str:
    """The warning for a run without a sandbox, naming where `sandbox = none` came from (Config.sources:
    "flag --sandbox", "env CORRAL_SANDBOX", "file PATH", "project PATH"), so the user knows what to change."""
    from agent.config_data import describe_source

    return (f"corral: sandbox none (set by {describe_source(source)}): commands run WITHOUT a sandbox (no isolation "
            "at all) in this run")


def compacted_notice(event: Compacted) -> str:
    """The one line `--compact` prints in text mode."""
    done = "dropped (no summary could be made)" if event.dropped else "summarised"
    return (f"corral: compacted: {event.replaced} earlier messages {done} "
            f"(about {event.tokens_before} → {event.tokens_after} tokens)")


def nothing_to_compact(agent: Agent) -> str:
    """Why `--compact` found nothing to do (docs/COMPACTION.md)."""
    if not agent.messages:
        return ("corral: nothing to compact: this is a new session with no conversation yet (resume one with -c, "
                "-r or --session)")
    return ("corral: nothing to compact: the session is short (all of it fits in the recent part that "
            "compaction keeps verbatim)")


class Printer:
    """Turns events into output for one of the three formats. stream-json: a run_finished event also
    carries the session id. text: the notices shown are remembered, so the closing error line does not
    repeat one."""

    def __init__(self, fmt: str, out: TextIO, err: TextIO, session_id: str = "") -> None:
        self.fmt = fmt
        self.out = out
        self.err = err
        self.session_id = session_id
        self.shown: set[str] = set()

    def __call__(self, event: Event) -> None:
        if self.fmt != "text" and isinstance(event, Notice):  # warnings (no sandbox, engine off, refused
            self.err.write(visible(event.text) + "\n")       # project settings …) reach stderr in every format
            self.err.flush()
        if self.fmt == "stream-json":
            record = event_dict(event)
            if isinstance(event, RunFinished):
                record["session_id"] = self.session_id
            self.line(record)
            return
        if self.fmt != "text":
            return
        line = self._progress(event)
        if line:
            if isinstance(event, Notice):
                self.shown.add(line)
            self.err.write(visible(line) + "\n")
            self.err.flush()

    def line(self, record: dict[str, object]) -> None:
        """One stream-json line."""
        self.out.write(json.dumps(record, default=_json_default) + "\n")
        self.out.flush()

    @staticmethod
    def _progress(event: Event) -> str | None:
        """One progress line (a notice may span lines); the caller makes control characters visible. Text from
        the model or a tool that could add lines of its own (a tool name, an error) is kept on one line."""
        if isinstance(event, PolicyChecked):
            arg = key_argument(event.call, 100)
            verdict = event.final if event.final == event.decision else f"{event.decision} → {event.final}"
            return f"· {_one_line(event.call.name)} {arg}  [{verdict}]"
        if isinstance(event, ToolFinished) and not event.result.meta.get("denied"):
            return f"  {_one_line(event.call.name)} {_status(event)} ({event.duration:.1f} s)"
        if isinstance(event, Retrying):
            return (f"  provider error ({_one_line(event.reason)}); retry {event.attempt} in "
                    f"{event.delay:.1f} s")
        if isinstance(event, Notice):
            return event.text
        return None


def _one_line(text: str) -> str:
    return visible(text, newlines=False)


def _status(event: ToolFinished) -> str:
    """ok, exit N, or error; a bash call that failed before its command ran (no exit code: the sandbox could
    not start, or bad arguments) also shows why, as the user cannot fix that from the model's answer."""
    result = event.result
    code = result.meta.get("exit_code")
    if not result.is_error:
        return "ok" if code in (None, 0) else f"exit {code}"
    if event.call.name == "bash" and code is None and result.content.strip():
        why = result.content.strip().splitlines()[0]
        if len(why) > PROGRESS_ERROR_CHARS:
            why = why[: PROGRESS_ERROR_CHARS - 1] + "…"
        return f"error: {_one_line(why)}"
    return "error"


def run(prompt: str | None, args: argparse.Namespace, overrides: dict[str, object]) -> int:
    """Build everything, run, print; returns the exit code. No prompt: only `--compact` the session."""
    out, err = sys.stdout, sys.stderr
    try:
        setup = _setup(args, overrides)
    except (ConfigError, UsageError) as exc:
        err.write(f"corral: {visible(str(exc))}\n")
        return EXIT_USAGE
    except CorralError as exc:
        err.write(f"corral: {visible(str(exc))}\n")
        return EXIT_FAILED
    printer = Printer(args.output_format, out, err, setup.session_id)
    outcome: list[RunFinished] = []
    built: list[Agent] = []
    spent = Usage()  # what this invocation spent: the --compact summary and the run
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
                if args.output_format == "stream-json":
                    printer.line({"type": "session", "session_id": setup.session_id,
                                  "resumed": setup.loaded is not None})
                agent = setup.build(printer)
                built.append(agent)
                if agent.ctx.sandbox_backend == "none":
                    printer(Notice(no_sandbox_notice(setup.config.sources.get("sandbox", "flag --sandbox"))))
                startup.finished()
                try:
                    if args.compact:
                        done = await agent.compact("user")
                        if done is None:
                            printer(Notice(nothing_to_compact(agent)))
                        else:
                            if args.output_format == "text":  # json and stream-json report it themselves
                                printer(Notice(compacted_notice(done)))
                            if done.usage is not None:
                                spent.add(done.usage)
                    if prompt is not None:
                        outcome.append(await agent.run(prompt))
                    else:
                        outcome.append(RunFinished("", "done", 0, Usage()))
                finally:
                    setup.sync()
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except (CorralError, BaseExceptionGroup) as exc:
        problem = _corral_error(exc)
        if problem is None:
            raise
        err.write(f"corral: {visible(str(problem))}\n")
        return EXIT_FAILED
    finally:
        setup.close()
    session_usage = setup.usage()
    if not outcome:  # interrupted: report what the run did so far
        cut = built[0].cancelled if built and built[0].cancelled is not None else None
        result = cut or RunFinished("", "cancelled", 0, Usage(), "interrupted")
        spent.add(result.usage)
        result = dataclasses.replace(result, usage=spent)
        _report(result, args.output_format, printer, setup.session_id, session_usage)
        err.write("corral: interrupted\n")
        return EXIT_INTERRUPTED
    spent.add(outcome[0].usage)
    result = dataclasses.replace(outcome[0], usage=spent)
    _report(result, args.output_format, printer, setup.session_id, session_usage, streamed=True)
    if result.stop != "done":
        line = f"corral: {result.error or result.stop}"
        if line not in printer.shown:
            err.write(visible(line) + "\n")
        return EXIT_FAILED
    return EXIT_OK


def _corral_error(exc: BaseException) -> CorralError | None:
    """The CorralError that ended the run, also when the nursery wrapped it in an exception group (an error
    while building the agent: a session in use, say); None when something else failed too (a bug: its
    traceback is shown)."""
    if isinstance(exc, CorralError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        found = [_corral_error(inner) for inner in exc.exceptions]
        if found and all(found):
            return found[0]
    return None


def _report(result: RunFinished, fmt: str, printer: Printer, session_id: str, session_usage: Usage,
            *, streamed: bool = False) -> None:
    """The result on stdout: the answer (text), one object (json), or the closing run_finished event
    (stream-json) unless the loop emitted it already (streamed)."""
    out = printer.out
    if fmt == "json":
        out.write(json.dumps(_summary(result, session_id, session_usage), default=_json_default) + "\n")
    elif fmt == "text":
        if result.text:  # the program's output, as the model wrote it (see the module docstring)
            out.write(result.text.rstrip("\n") + "\n")
    elif not streamed:
        printer(result)
    out.flush()


def _summary(result: RunFinished, session_id: str, session_usage: Usage) -> dict[str, object]:
    """The json output. usage, cost and turns are this invocation's; session_usage sums every run of the
    session (a resumed one included), cost among them."""
    return {
        "result": result.text,
        "stop": result.stop,
        "error": result.error,
        "turns": result.turns,
        "usage": result.usage.as_dict(),
        "cost": result.usage.cost,
        "session_id": session_id,
        "session_usage": session_usage.as_dict(),
    }


def _setup(args: argparse.Namespace, overrides: dict[str, object]) -> RunSetup:
    from agent.run_setup import RunSetup

    return RunSetup(args, overrides)
