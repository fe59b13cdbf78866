"""What the terminal shows of a run: the agent's events turned into scrollback lines and the live area.

Finished output goes into the terminal's own scrollback, printed once (`print_block`), so the terminal's
native scrolling, selection and copy work on it; only what is still changing is drawn live below it:
the markdown block being streamed, the last lines of reasoning, the running tool with the tail of its
output. Each tool call ends as one line (tool, key argument, decision, duration) with its output folded:
`expand()` prints the latest folded output in full.

Costs: a text delta re-renders only the open markdown block (agent/tui/markdown.py); tool output keeps a
bounded tail in memory (the full log is on disk, named in the tool result).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field

from agent.events import (
    CANCELLED_RESULT,
    POLICY_DENIAL,
    USER_DENIAL,
    AssistantMessage,
    Compacted,
    Event,
    Notice,
    PolicyChecked,
    RunFinished,
    ToolFinished,
    ToolOutput,
    TurnStarted,
    key_argument,
)
from agent.providers.base import Message, ReasoningDelta, Retrying, TextDelta, ToolCall, ToolCallBegin
from agent.tui.markdown import Fragments, MarkdownStream
from agent.tui.themes import Theme
from agent.values import record

REPLAY_MESSAGES = 40  # a resumed session shows this many of its latest messages
SHELL_MARK = "I ran this command myself:\n"  # how a `!cmd` joins the conversation (app.py)
ATTACHMENT_SEPARATOR = "\n\n<file path="  # where @path attachments begin in a user message (app.py)
TAIL_BYTES = 64 * 1024  # kept per tool call for expanding; the sandbox keeps the full log on disk
LIVE_OUTPUT_LINES = 4
LIVE_REASONING_LINES = 3


@record
class Folded:
    """A finished tool call's output, kept for `expand`."""

    title: str
    text: str
    truncated: bool


@record
class RunningTool:
    call: ToolCall
    decision: str
    started: float
    tail: str = ""


@record
class View:
    """The display state of one session. `print_block` writes finished fragments into scrollback;
    `invalidate` asks for the live area to be redrawn."""

    theme: Theme
    print_block: Callable[[Fragments], None]
    invalidate: Callable[[], None]
    width: Callable[[], int]
    show_reasoning: bool = False
    stream: MarkdownStream | None = None
    reasoning: str = ""
    last_reasoning: str = ""
    running: dict[str, RunningTool] = field(default_factory=dict)
    folded: list[Folded] = field(default_factory=list)
    status_note: str = ""  # e.g. a retry in progress
    held: list[Fragments] = field(default_factory=list)  # asides waiting for the streamed reply to end

    # -- events ------------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._text(event.text)
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, ToolCallBegin):
            self.status_note = f"the model is writing a {event.name} call…"
        elif isinstance(event, TurnStarted):
            self.status_note = "waiting for the model…"
        elif isinstance(event, AssistantMessage):
            self._message_done()
        elif isinstance(event, PolicyChecked):
            self._checked(event)
        elif isinstance(event, ToolOutput):
            self._output(event)
        elif isinstance(event, ToolFinished):
            self._tool_done(event)
        elif isinstance(event, Retrying):
            self.status_note = f"provider error ({event.reason}); retry {event.attempt} in {event.delay:.0f} s"
        elif isinstance(event, Compacted):
            what = "dropped" if event.dropped else "summarised"
            self.notice(f"compacted: {what} {event.replaced} earlier messages "
                        f"({event.tokens_before:,} → {event.tokens_after:,} tokens)")
        elif isinstance(event, Notice):
            self.notice(event.text.removeprefix("corral: "))
        elif isinstance(event, RunFinished):
            self._finished(event)
        self.invalidate()

    def _text(self, text: str) -> None:
        width = max(20, self.width() - 2)
        if self.stream is None:
            self._flush_reasoning()
            self.status_note = ""
            self.stream = MarkdownStream(self.theme, width)
        elif self.stream.width != width:  # the window was resized while the reply streams
            self.stream.resize(width)
        for block in self.stream.feed(text):
            self.print_block(block)

    def _message_done(self) -> None:
        self._flush_reasoning()
        if self.stream is not None:
            for block in self.stream.finish():
                self.print_block(block)
            self.stream = None
        self._release_held()
        self.status_note = ""

    def _flush_reasoning(self) -> None:
        text = self.reasoning.strip()
        if not text:
            return
        self.last_reasoning, self.reasoning = text, ""
        if self.show_reasoning:
            self.print_block([("class:reasoning", text + "\n")])
        else:
            words = len(text.split())
            self.print_block([("class:reasoning", f"∴ thought for {words} words (/reasoning shows it)\n")])

    def _checked(self, event: PolicyChecked) -> None:
        self._message_done()
        if event.final == "allow":
            self.running[event.call.id] = RunningTool(event.call, event.decision, time.monotonic())

    def _output(self, event: ToolOutput) -> None:
        tool = self.running.get(event.call_id)
        if tool is not None:
            tool.tail = (tool.tail + event.text)[-TAIL_BYTES:]

    def _tool_done(self, event: ToolFinished) -> None:
        tool = self.running.pop(event.call.id, None)
        result = event.result
        denied = bool(result.meta.get("denied"))
        code = result.meta.get("exit_code")
        if denied:
            status, style = "denied", "class:tool.deny"
        elif result.is_error or code not in (None, 0):
            status, style = ("error" if code in (None, 0) else f"exit {code}"), "class:tool.error"
        else:
            status, style = ("asked, allowed" if tool and tool.decision == "ask" else "ok"), "class:tool.allow"
        arg = key_argument(event.call, max(20, self.width() - 40))
        self.print_block(self._tool_line(event.call, status, style, result.content, event.duration, result.meta))
        first = result.content.strip().splitlines()[0] if result.content.strip() else ""
        if denied:
            if not first.startswith(USER_DENIAL):  # "denied by you" was said when the key was pressed
                self.print_block([("class:tool.deny", f"    {first}\n")])
        elif result.is_error and code is None and event.call.name == "bash" and first:
            self.print_block([("class:tool.error", f"    {first[:400]}\n")])  # it never ran: say why (the sandbox …)
        elif result.content:
            text = result.content[-TAIL_BYTES:]
            self.folded.append(Folded(f"{event.call.name} {arg}", text, len(result.content) > TAIL_BYTES))
            del self.folded[:-20]

    def _tool_line(self, call: ToolCall, status: str, style: str, content: str, duration: float | None,
                   meta: Mapping[str, object] | None = None) -> Fragments:
        """One finished tool call: tool, key argument, outcome, duration, what it did or how much output."""
        took = f" · {duration:.1f} s" if duration is not None else ""
        quiet = status in ("denied", "cancelled") or status.startswith("no result")
        detail = "" if quiet else f" · {_detail(call.name, content, meta or {})}"
        return [
            ("class:tool", "  ⏺ "), ("class:tool.name", call.name), ("", " "),
            ("class:tool.arg", key_argument(call, max(20, self.width() - 40))),
            ("class:tool", "  · "), (style, status), ("class:tool", f"{took}{detail}\n"),
        ]

    def _finished(self, event: RunFinished) -> None:
        self._message_done()
        self.running.clear()
        self.status_note = ""
        if event.stop == "error" and event.error:
            self.print_block([("class:error", f"error: {event.error}\n")])
        elif event.stop == "max_turns" and event.error:
            self.print_block([("class:notice", f"{event.error}\n")])

    # -- what the user asks for ------------------------------------------------------------------

    def aside(self, fragments: Fragments) -> None:
        """Output that is not part of the reply (a notice, a queued prompt, a /btw answer): printed now, or,
        while a reply is streaming, shown in the live area and printed after the reply, so a paragraph in the
        scrollback is never cut in two."""
        if self.stream is None:
            self.print_block(fragments)
        else:
            self.held.append(fragments)
            self.invalidate()

    def _release_held(self) -> None:
        held, self.held = self.held, []
        for fragments in held:
            self.print_block(fragments)

    def notice(self, text: str) -> None:
        self.aside([("class:notice", text.rstrip("\n") + "\n")])

    def error(self, text: str) -> None:
        self.aside([("class:error", text.rstrip("\n") + "\n")])

    def expand(self) -> None:
        """Print the latest folded tool output in full (Ctrl-O)."""
        if not self.folded:
            self.notice("a running command's output is shown live as it comes; Ctrl-O expands it once it ends"
                        if self.running else "no tool output to expand")
            return
        item = self.folded.pop()
        cut = " (only the last 64 KB; the full log is named in the result)" if item.truncated else ""
        self.print_block([("class:tool.name", f"── {item.title}{cut}\n"),
                          ("class:tool.output", item.text.rstrip("\n") + "\n")])

    def interrupted(self) -> None:
        self._message_done()
        for tool in self.running.values():
            self.print_block([("class:tool.deny", f"  ⏺ {tool.call.name} {key_argument(tool.call)}  · cancelled\n")])
        self.running.clear()
        self.status_note = ""
        self.notice("interrupted: every command of this turn was stopped, the queue dropped")

    def replay(self, messages: Sequence[Message], header: str, keep: int = REPLAY_MESSAGES) -> None:
        """A resumed session: its header, then the last `keep` messages (from a user message on) shown as
        they were when they happened (prompts, rendered answers, one line per tool call), so the user sees
        where they left off. Older messages are counted, not printed."""
        start = max(0, len(messages) - keep)
        first_user = next((i for i in range(start, len(messages)) if messages[i].role == "user"), None)
        if first_user is not None:
            start = first_user
        note = f"; {start} earlier message{'s' if start != 1 else ''} not shown" if start else ""
        self.notice(header + note)
        results = {m.tool_call_id: m for m in messages[start:] if m.role == "tool"}
        for message in messages[start:]:
            if message.role == "user":
                self._replay_user(message.content)
            elif message.role == "assistant":
                if message.content.strip():
                    stream = MarkdownStream(self.theme, max(20, self.width() - 2))
                    for block in [*stream.feed(message.content), *stream.finish()]:
                        self.print_block(block)
                for call in message.tool_calls:
                    result = results.get(call.id)
                    if result is None:
                        self.print_block(self._tool_line(call, "no result (interrupted)", "class:tool.deny", "",
                                                         None))
                    else:
                        status, style = _replayed_status(result)
                        self.print_block(self._tool_line(call, status, style, result.content, None,
                                                         _replayed_meta(call)))
        self.notice("── resumed: the conversation goes on below ──")

    def _replay_user(self, text: str) -> None:
        from agent.compaction import DROPPED_MARK, SUMMARY_MARK

        if text.startswith((SUMMARY_MARK, DROPPED_MARK[:20])):
            self.notice("(the conversation before this point was compacted)")
            return
        if text.startswith(SHELL_MARK):
            command, _, output = text.removeprefix(SHELL_MARK).partition("\n")
            code = _exit_code(output)
            status = "ok" if code in (None, "0") else f"exit {code}"
            self.print_block([("class:user", f"! {command.removeprefix('$ ')}"),
                              ("class:tool", f"  · {status} · {_detail('bash', output, {})}\n")])
            return
        typed, _, attached = text.partition(ATTACHMENT_SEPARATOR)
        shown = typed.rstrip("\n").replace("\n", "\n  ")
        files = attached.count("<file path=") + (1 if attached else 0)
        extra = f"  (+{files} attached file{'s' if files != 1 else ''})" if attached else ""
        self.print_block([("class:user", f"› {shown}\n")] + ([("class:notice", extra.strip() + "\n")] if extra else []))

    # -- the live area ---------------------------------------------------------------------------

    def live(self) -> Fragments:
        out: Fragments = []
        if self.reasoning:
            lines = self.reasoning.strip().splitlines()[-LIVE_REASONING_LINES:]
            out += [("class:reasoning", "∴ " + "\n  ".join(line[: self.width() - 4] for line in lines) + "\n")]
        if self.stream is not None:
            out += self.stream.live()
        for fragments in self.held:
            out += fragments
        now = time.monotonic()
        for tool in self.running.values():
            out += [("class:tool", "  ⏺ "), ("class:tool.name", tool.call.name), ("", " "),
                    ("class:tool.arg", key_argument(tool.call, max(20, self.width() - 30))),
                    ("class:tool", f"  · running {now - tool.started:.0f} s\n")]
            for line in tool.tail.rstrip("\n").splitlines()[-LIVE_OUTPUT_LINES:]:
                out.append(("class:tool.output", "    " + line[: self.width() - 6] + "\n"))
        if self.status_note:
            out.append(("class:notice", self.status_note + "\n"))
        return out


_EXIT_MARK = re.compile(r"\n?\[(?:exit code|timed out)[^\n]*\]\n?\Z")
_CUT_MARK = re.compile(r"\n*\[output truncated: ([^;\]]+) in all;[^\]]*\]\n?\Z")


def _detail(tool: str, content: str, meta: Mapping[str, object]) -> str:
    """What a finished call did, in a few words: lines written, lines changed, lines of output."""
    if tool == "write" and isinstance(meta.get("lines"), int):
        return f"wrote {_lines(int(meta['lines']))}"  # type: ignore[call-overload]
    if tool == "edit" and isinstance(meta.get("added"), int) and isinstance(meta.get("removed"), int):
        return f"+{meta['added']} −{meta['removed']}"
    if tool == "read" and isinstance(meta.get("lines"), int):
        total, start, end = meta["lines"], meta.get("start"), meta.get("end")
        if isinstance(start, int) and isinstance(end, int) and (start > 1 or end < total):  # type: ignore[operator]
            return f"lines {start}-{end} of {total}"
        return _lines(total)  # type: ignore[arg-type]
    if tool == "bash":
        cut = _CUT_MARK.search(content)
        content = _CUT_MARK.sub("", content)
        content = _EXIT_MARK.sub("", content)  # the exit code is in the status already
        if content.strip() == "(no output)":
            return "no output"
        if cut:
            return f"{cut.group(1)} of output, cut (Ctrl-O shows the end; the full log is named in the result)"
    count = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    return _lines(count) if count else "no output"


def _lines(count: int) -> str:
    return f"{count} line{'s' if count != 1 else ''}"


def _exit_code(output: str) -> str | None:
    """The exit code a bash result ends with (its `[exit code N]` line), None when it has none."""
    mark = _EXIT_MARK.search(output)
    number = re.search(r"exit code (\d+)", mark.group()) if mark else None
    return number.group(1) if number else None


def _replayed_status(result: Message) -> tuple[str, str]:
    """The outcome of a recorded tool result, as the live view showed it."""
    content = result.content
    if content.startswith((POLICY_DENIAL, USER_DENIAL)):
        return "denied", "class:tool.deny"
    if content.startswith(CANCELLED_RESULT):
        return "cancelled", "class:tool.deny"
    code = _exit_code(content) if result.name == "bash" else None
    if code not in (None, "0"):
        return f"exit {code}", "class:tool.error"
    return ("error", "class:tool.error") if result.is_error else ("ok", "class:tool.allow")


def _replayed_meta(call: ToolCall) -> dict[str, object]:
    """What a recorded call's own arguments say of it (results keep no details): the lines a write wrote."""
    content = call.arguments.get("content")
    if call.name == "write" and isinstance(content, str):
        return {"lines": content.count("\n") + (1 if content and not content.endswith("\n") else 0)}
    return {}
