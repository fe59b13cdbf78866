"""The interactive terminal UI: `corral` with no `-p`, on a terminal.

prompt_toolkit owns the terminal and its asyncio loop; trio runs as a guest of that loop
(`trio.lowlevel.start_guest_run`), so the agent, its tools and the sandbox run on trio exactly as in
one-shot mode while the UI stays responsive, and an idle session sleeps in epoll (0% CPU).

Threads of control, all on the main thread:
- prompt_toolkit callbacks (keys) hand work to trio with `TrioToken.run_sync_soon` (the only way into
  trio from outside it);
- trio tasks update the view and call `app.invalidate()`; finished output is printed into the
  terminal's scrollback above the live area (view.py).

A user turn runs in its own cancel scope: Ctrl-C cancels it at once (the stream closes, the sandbox
kills every process of the turn, queued inputs are dropped, the session keeps what happened). Ctrl-C
twice on an empty prompt, or Ctrl-D, exits. An approval request takes over the keyboard: one key each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from agent import startup
from agent.errors import CorralError
from agent.gate import ApprovalAnswer, ApprovalRequest
from agent.providers.base import Usage
from agent.tui.markdown import Fragments
from agent.tui.themes import Theme, color_depth, get_theme, no_color_requested, pt_style
from agent.tui.view import View

if TYPE_CHECKING:
    import trio
    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.input import Input
    from prompt_toolkit.key_binding import KeyPressEvent
    from prompt_toolkit.output import Output

    from agent.loop import Agent
    from agent.run_setup import RunSetup

EXIT_HINT_SECONDS = 2.0
PRINT_INTERVAL = 0.03
# imported in a thread once the prompt is drawn (the agent needs them; the prompt does not)
_PRELOAD = ("trio", "httpx", "httpcore", "agent.loop", "agent.tools", "agent.tools.bash", "agent.session",
            "agent.context_files", "agent.compaction", "agent.providers.retry", "agent.tools._undo")
ATTACH_BYTES = 100 * 1024
MAX_WHY_LINES = 6  # parts of a script that ask, listed in an approval request


class Tui:
    """One interactive session: the prompt_toolkit application, the trio guest, the agent."""

    def __init__(self, setup: RunSetup, theme: Theme, *, input: Input | None = None,
                 output: Output | None = None) -> None:
        """input/output: prompt_toolkit's own (tests pass a pipe input and a dummy output)."""
        self.setup = setup
        self.theme = theme
        self.queue: list[str] = []
        self.approval: ApprovalRequest | None = None
        self.telling = False  # typing the reason of a denial
        self.own_command = False  # the pending request is for the user's own !command: no model to tell
        self.running = False
        self.exit_code = 0
        self.failure = ""  # why the agent could not start
        self.sandbox_shown = ""  # the backend commands run in (`auto` resolved), once known
        self._answer: ApprovalAnswer | None = None
        self._answered: trio.Event | None = None
        self._scope: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._inbox: trio.MemorySendChannel[str] | None = None
        self._last_ctrl_c = 0.0
        self._hint = ""
        self._pending: Fragments = []
        self.app = self._build_app(input, output)
        self.view = View(theme, self.print_block, self.app.invalidate, self._width)
        self.agent: Agent | None = None
        self.nursery: trio.Nursery
        self.btw_usage = Usage()

    # -- output -----------------------------------------------------------------------------------

    def _width(self) -> int:
        try:
            return int(self.app.output.get_size().columns)
        except Exception:
            return 100

    def print_block(self, fragments: Fragments) -> None:
        """Print finished output into the terminal's scrollback, above the live area. Blocks are written
        together every PRINT_INTERVAL (a streamed reply finishes many small blocks)."""
        if not self.app.is_running:  # before the first paint, or after the UI has gone
            from prompt_toolkit.formatted_text import FormattedText
            from prompt_toolkit.renderer import print_formatted_text

            output = self.app.output
            print_formatted_text(output, FormattedText(fragments), self._style, color_depth=self.app.color_depth)
            output.flush()
            return
        if not self._pending:  # at most ~30 writes a second, however many blocks a reply finishes
            asyncio.get_running_loop().call_later(PRINT_INTERVAL, self._flush_pending)
        self._pending.extend(fragments)

    def _flush_pending(self) -> None:
        """Erase the live area, write what is pending, and let the next redraw draw the live area again
        below it. Done here rather than with prompt_toolkit's `run_in_terminal`, which puts the terminal in
        cooked mode for each print: a Ctrl-C typed meanwhile would become a SIGINT, a Ctrl-D an end of file."""
        from prompt_toolkit.formatted_text import FormattedText
        from prompt_toolkit.renderer import print_formatted_text

        fragments, self._pending = self._pending, []
        app = self.app
        if not fragments or not app.is_running:
            return
        if app.renderer.waiting_for_cpr:  # the answer to a cursor position request would land mid-print
            self._pending = fragments + self._pending
            asyncio.get_running_loop().call_later(PRINT_INTERVAL, self._flush_pending)
            return
        # Erase, print, and draw the live area again at once (not at the next throttled redraw, or the status
        # line and the input would be missing from the screen most of the time while a reply streams), in one
        # write to the terminal: no frame shows the live area half erased.
        output = app.output
        flush = output.flush
        output.flush = lambda: None  # type: ignore[method-assign]
        try:
            app.renderer.erase()
            print_formatted_text(output, FormattedText(fragments), self._style, color_depth=app.color_depth)
            redraw = getattr(app, "_redraw", None)  # what prompt_toolkit's own run_in_terminal does after printing
            if callable(redraw):
                redraw()
            else:
                app.invalidate()
        finally:
            del output.flush  # the method again
            flush()

    # -- the application --------------------------------------------------------------------------

    def _build_app(self, input: Input | None, output: Output | None) -> Application[int]:
        from prompt_toolkit.application import Application
        from prompt_toolkit.completion import ThreadedCompleter
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, Window
        from prompt_toolkit.layout.controls import FormattedTextControl
        from prompt_toolkit.layout.dimension import Dimension
        from prompt_toolkit.layout.menus import CompletionsMenu
        from prompt_toolkit.widgets import TextArea

        from agent.tui.commands import menu
        from agent.tui.completion import InputCompleter
        from agent.tui.history import FileHistory
        from agent.tui.keys import key_bindings

        def protected(path: object) -> bool:
            check = getattr(self.setup, "protected", None)
            return bool(check(path)) if check is not None else True  # nothing offered before the engine is up

        self.completer = InputCompleter(self.setup.project_root, protected, menu)
        completer = ThreadedCompleter(self.completer)
        self.input = TextArea(multiline=True, wrap_lines=True, height=Dimension(min=1, max=10),
                              prompt=_ft(self._prompt_text), style="class:input", focus_on_click=True,
                              history=FileHistory(), completer=completer, complete_while_typing=True)
        pending = Condition(lambda: self.approval is not None)
        body = HSplit([
            Window(FormattedTextControl(_ft(lambda: self.view.live())), dont_extend_height=True, wrap_lines=True),
            ConditionalContainer(Window(FormattedTextControl(_ft(self._approval_text)), dont_extend_height=True,
                                        wrap_lines=True, style="class:approval"), filter=pending),
            Window(FormattedTextControl(_ft(self._status_text)), height=1, style="class:status"),
            self.input,
            CompletionsMenu(max_height=8),
        ])
        self._style = pt_style(self.theme)
        # min_redraw_interval: a streamed reply redraws the live area at most 20 times a second, not per delta
        return Application(layout=Layout(body, focused_element=self.input), key_bindings=key_bindings(self),
                           style=self._style, full_screen=False, mouse_support=False,
                           erase_when_done=False, refresh_interval=None, min_redraw_interval=0.05,
                           terminal_size_polling_interval=None,  # SIGWINCH says when: no wake-up every 0.5 s
                           input=input, output=output, color_depth=color_depth(self.theme))

    def set_theme(self, theme: Theme) -> None:
        self.theme = self.view.theme = theme
        self._style = self.app.style = pt_style(theme)

    def _banner(self) -> Fragments:
        """The first line: where this session works and how to get help. (It also keeps the live area off
        the screen's first line, where tmux would copy each erase of it into the scrollback.)"""
        root = str(self.setup.project_root)
        home = os.path.expanduser("~")
        if home not in ("", "/") and (root == home or root.startswith(home + "/")):
            root = "~" + root[len(home):]
        out = [("class:notice", f"corral · {root} · /help lists the commands, Ctrl-D leaves\n")]
        if str(self.setup.config.sandbox) == "none":
            out.append(("class:status.warn", "sandbox: none: commands run WITHOUT a sandbox (no isolation at all)\n"))
        return out

    def _prompt_text(self) -> Fragments:
        if self.telling:
            return [("class:approval.key", "why (sent to the model)? ")]
        return [("class:prompt", "› ")]

    def _approval_text(self) -> Fragments:
        request = self.approval
        if request is None:
            return []
        from agent.events import key_argument, visible

        verdict = request.verdict
        rule = f" (rule {verdict.rule})" if verdict.rule else ""
        out: Fragments = [
            ("class:approval", " corral asks before running "), ("class:tool.name", request.call.name), ("", " "),
            ("class:tool.arg", key_argument(request.call, 200) or "(no arguments)"), ("", "\n"),
        ]
        asking = [c for c in verdict.commands if c.decision.label != "allow"]
        if len(verdict.commands) > 1 and asking:  # a script: every part that asks, not only the first
            for part in asking[:MAX_WHY_LINES]:
                command = visible(" ".join(part.command.split()), newlines=False)[:160]
                out.append(("class:approval", f" why: {command}: {visible(part.reason, newlines=False)[:240]}\n"))
            if len(asking) > MAX_WHY_LINES:
                out.append(("class:approval", f" … and {len(asking) - MAX_WHY_LINES} more parts that ask\n"))
        else:
            out.append(("class:approval", f" why: {visible(verdict.reason, newlines=False)}{rule}\n"))
        out += [("class:approval.key", " [y]"), ("class:approval", " allow once  ")]
        if request.session_rules:
            out += [("class:approval.key", "[a]"), ("class:approval", " allow for this session: "),
                    ("class:approval.rule", "; ".join(request.session_rules)), ("", "  ")]
        out += [("class:approval.key", "[n]"), ("class:approval", " deny")]
        if not self.own_command:
            out += [("class:approval", "  "), ("class:approval.key", "[t]"),
                    ("class:approval", " deny and tell the model why")]
        return _wrap_lines([*out, ("", "\n")], self._width() - 1)

    def _status_text(self) -> Fragments:
        if self._hint:
            return [("class:status.warn", f" {self._hint}")]
        agent, setup = self.agent, self.setup
        if agent is None:  # still starting: what the session will be
            parts = [f"{setup.settings.name}/{setup.model}", str(setup.mode), setup.prompt.name, "starting…"]
            return [("class:status", " " + " │ ".join(parts))]
        usage = agent.usage
        tokens = usage.input_tokens + usage.output_tokens
        window = agent.window
        if window:
            ctx = f"ctx {agent.meter.fraction(window) * 100:.0f}%"
        else:  # no context_window configured for this model: the size of the latest request, not a share
            ctx = f"ctx {_short(agent.meter.last)} tok" if agent.meter.last else "ctx ?"
        cost = f"${usage.cost:.3f}" if usage.cost is not None else "$?"
        mode = str(agent.gate.mode)
        # (text, rank): a narrow terminal drops the highest ranks first, so what is going on stays in sight
        ranked = [(f"{setup.settings.name}/{agent.model}", 3), (mode, 2), (setup.prompt.name, 5), (ctx, 4),
                  (f"{tokens:,} tok", 6), (cost, 7), (self.sandbox_shown or str(setup.config.sandbox), 8)]
        if self.queue:
            ranked.append((f"{len(self.queue)} queued", 1))
        if self.running:
            ranked.append(("running · Ctrl-C stops", 0))
        text = _fit([part for part, _rank in ranked], [rank for _part, rank in ranked], self._width() - 1)
        return [("class:status", " "), ("class:status.mode" if mode in ("yolo",) else "class:status", text)]

    # -- what keys do -----------------------------------------------------------------------------

    def to_trio(self, fn: Callable[[], object]) -> None:
        """Run fn in trio soon; nothing when trio has already finished (it ended on an error being shown)."""
        if self._token is not None:
            import trio

            try:
                self._token.run_sync_soon(fn)
            except trio.RunFinishedError:
                pass

    def submit(self, text: str) -> None:
        """Enter: a prompt, a /command, a !command, or the reason of a denial."""
        if self.telling:
            self.telling = False
            self.answer(ApprovalAnswer(False, message=text.strip() or None))
            return
        if not text.strip():
            return
        history = self.input.buffer.history  # the text, not the buffer: Enter has already emptied it
        earlier = history.get_strings()
        if not earlier or earlier[-1] != text:
            history.append_string(text)
        if self._inbox is None:  # the agent is still starting: taken in order as soon as it is ready
            self.queue.append(text)
            self.app.invalidate()
            return
        if text.lstrip().startswith("/"):  # commands act at once, also while a turn runs (/btw, /queue …)
            from agent.tui.commands import dispatch

            self.to_trio(lambda: self.nursery.start_soon(dispatch, self, text.strip()))
            return
        if self.running or self.approval is not None:
            self.queue.append(text)
            self.view.aside([("class:queued", f"queued: {text.strip().splitlines()[0][:200]}\n")])
            self.app.invalidate()
            return
        self.to_trio(lambda: self._inbox.send_nowait(text) if self._inbox is not None else None)

    def answer(self, answer: ApprovalAnswer) -> None:
        def deliver() -> None:
            self._answer = answer
            if self._answered is not None:
                self._answered.set()

        self.to_trio(deliver)

    def ctrl_c(self, event: KeyPressEvent) -> None:
        if self.running:
            self.queue.clear()
            self.telling = False
            scope = self._scope
            if scope is not None:
                self.to_trio(scope.cancel)
            return
        if self.input.text:
            self.input.text = ""
            return
        now = time.monotonic()
        if now - self._last_ctrl_c < EXIT_HINT_SECONDS:
            event.app.exit(result=0)
            return
        self._last_ctrl_c = now
        self._hint = "press Ctrl-C again to exit (Ctrl-D too)"

        def clear_hint() -> None:
            self._hint = ""
            self.app.invalidate()

        asyncio.get_running_loop().call_later(EXIT_HINT_SECONDS, clear_hint)

    # -- trio side --------------------------------------------------------------------------------

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        """The gate's approver: show the request, wait for one key."""
        import trio

        self._answered = trio.Event()
        self._answer = None
        self.approval = request
        self.app.invalidate()
        try:
            await self._answered.wait()
        except trio.Cancelled:  # Ctrl-C while asking: the call never ran; say so where it was asked
            from agent.events import key_argument

            self.print_block([("class:tool.deny", f"  ⏺ {request.call.name} "
                                                  f"{key_argument(request.call, 200)}  · cancelled while asking\n")])
            raise
        finally:
            self.approval = None
            self.telling = False
            self.app.invalidate()
        answer = self._answer or ApprovalAnswer(False)
        verb = "allowed for this session" if answer.allow and answer.remember else ("allowed" if answer.allow else
                                                                                     "denied")
        from agent.events import visible

        said = f": {visible(answer.message, newlines=False)}" if answer.message else ""
        self.print_block([("class:tool.allow" if answer.allow else "class:tool.deny", f"  {verb} by you{said}\n")])
        return answer

    async def trio_main(self) -> None:
        import trio

        self._token = trio.lowlevel.current_trio_token()
        send, receive = trio.open_memory_channel[str](1000)
        self._inbox = send
        from agent.tools._undo import UndoLog

        try:
            self.agent = self.setup.build(self.view, approver=self.approve)
        except CorralError as exc:  # a broken rule file, a data directory that cannot hold the logs …
            self.failure = f"corral: {exc}"  # printed on stderr once the screen is given back
            self.exit_code = 2
            self.app.exit(result=2)
            return
        self.agent.ctx.undo = UndoLog()
        loaded = self.setup.loaded
        if loaded is not None and self.agent.messages:
            name = f" «{loaded.name}»" if loaded.name else ""
            self.view.replay(self.agent.messages, f"resumed session {loaded.id}{name}: "
                             f"{len(self.agent.messages)} messages")
        self.completer.refresh()  # files were offered with nothing (all protected) until the engine was up
        await self._resolve_sandbox()
        startup.finished()
        self.app.invalidate()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            while self.queue:  # typed while the agent was starting
                await self._handle(self.queue.pop(0))
            async for text in receive:
                await self._handle(text)
                while self.queue and not self.running:  # what was typed during the turn, in order
                    await self._handle(self.queue.pop(0))

    async def _resolve_sandbox(self) -> None:
        """Which backend `auto` means here, for the status line; a machine where none works is said at once
        (every command would be refused) rather than at the first command."""
        import trio

        import sandbox

        requested = cast("sandbox.BackendName", str(self.setup.config.sandbox))
        try:
            self.sandbox_shown = await trio.to_thread.run_sync(lambda: sandbox.choose_backend(requested))
        except sandbox.SandboxError as exc:
            self.sandbox_shown = "no sandbox"
            self.view.error(f"corral: {exc}")

    async def _handle(self, text: str) -> None:
        stripped = text.strip()
        if stripped.startswith("/"):
            from agent.tui.commands import dispatch

            await dispatch(self, stripped)
            return
        if stripped.startswith("!"):
            await self.run_turn(self.shell(stripped[1:].strip()))
            return
        self.print_block([("class:user", "› " + text.rstrip("\n").replace("\n", "\n  ") + "\n")])
        assert self.agent is not None
        if self.agent.ctx.undo is not None:
            self.agent.ctx.undo.begin_turn()
        await self.run_turn(self.agent.run(self._with_attachments(text)))

    def _with_attachments(self, text: str) -> str:
        """Files named with @path join the message (size-capped; protected files never)."""
        from agent.tui.completion import attachments

        found = attachments(text, self.setup.project_root, self.setup.protected, ATTACH_BYTES)
        parts = [text]
        for item in found:
            if item.error:
                self.view.notice(f"@{item.path}: {item.error}")
                continue
            cut = f" (first {ATTACH_BYTES // 1024} KB)" if item.truncated else ""
            parts.append(f'<file path="{item.path}"{cut}>\n{item.text}\n</file>')
            self.view.notice(f"attached {item.path}{cut}")
        return "\n\n".join(parts)

    async def run_turn(self, work: object) -> None:
        """Run one turn in its own cancel scope (Ctrl-C cancels it)."""
        import trio

        self.running = True
        self.app.invalidate()
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                await work  # type: ignore[misc]
            if scope.cancelled_caught:
                self.queue.clear()
                self.view.interrupted()
        finally:
            self._scope = None
            self.running = False
            self.setup.sync()
            self.app.invalidate()

    async def shell(self, command: str) -> None:
        """`!cmd`: the user's own command, through the same policy engine (asking here if it must) and sandbox;
        its output joins the conversation as a user message."""
        from agent.providers.base import Message, ToolCall
        from agent.tools.bash import BashTool

        agent = self.agent
        assert agent is not None
        if not command:
            self.view.notice("usage: !COMMAND runs COMMAND in the sandbox")
            return
        self.print_block([("class:user", f"! {command}\n")])
        call = ToolCall(id=f"user-{time.monotonic_ns()}", name="bash", arguments={"command": command})
        self.own_command = True
        try:
            gate = await agent.gate.check(call, "bash", {"command": command}, agent.ctx.cwd)
        finally:
            self.own_command = False
        if not gate.allowed:
            self.view.error(gate.message or "denied")
            return
        from agent.events import PolicyChecked, ToolFinished

        self.view(PolicyChecked(call, gate.decision, "allow", gate.reason, gate.rule, gate.approved_by))
        started = time.monotonic()
        result = await BashTool().run(call.id, {"command": command}, agent.ctx)
        self.view(ToolFinished(call, result, time.monotonic() - started))
        self.view.expand()
        from agent.tui.view import SHELL_MARK

        agent.messages.append(Message("user", f"{SHELL_MARK}$ {command}\n{result.content}"))

    # -- running ----------------------------------------------------------------------------------

    def run(self) -> int:
        return asyncio.run(self._main())

    async def _main(self) -> int:
        """Draw the prompt first; then import what the agent needs (trio, httpx, the tools …) in a thread,
        so the prompt takes keys at once, and start trio as a guest of this loop when that is done."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()
        started = False

        def finished(outcome: object) -> None:
            if not done.done():
                done.set_result(outcome)
            if self.app.is_running:
                self.app.exit(result=self.exit_code)

        def start_trio() -> None:
            nonlocal started
            import trio

            if self.app.is_running and not started:
                started = True
                trio.lowlevel.start_guest_run(self.trio_main, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                                              done_callback=finished, host_uses_signal_set_wakeup_fd=True)

        def preload() -> None:
            try:
                for name in _PRELOAD:
                    __import__(name)
            finally:
                loop.call_soon_threadsafe(start_trio)

        def first_render(_app: object) -> None:
            self.app.after_render -= first_render
            import threading

            threading.Thread(target=preload, name="corral-preload", daemon=True).start()

        self.app.after_render += first_render
        self.print_block(self._banner())
        import signal

        def leave(signum: int) -> None:  # SIGTERM, SIGHUP: leave cleanly, terminal restored, session saved
            future = self.app.future
            if self.app.is_running and future is not None and not future.done():
                self.exit_code = 128 + signum
                self.app.exit(result=128 + signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, leave, int(signum))
        try:
            code = await self.app.run_async()
        finally:
            if hasattr(self, "nursery"):
                nursery = self.nursery
                self.to_trio(nursery.cancel_scope.cancel)
            if self._inbox is not None:
                inbox = self._inbox
                self.to_trio(inbox.close)
            outcome = await done if started else None
            self.setup.sync()
            self.setup.close()
            if self.agent is not None and self.agent.ctx.undo is not None:
                self.agent.ctx.undo.close()
        error = getattr(outcome, "error", None)
        if error is not None and type(error).__name__ != "Cancelled" and not isinstance(error, KeyboardInterrupt):
            raise error
        if self.failure:
            print(self.failure, file=sys.stderr)
        elif not self.setup.args.no_session and self.setup.kept():
            from agent.session import latest_session

            sid = self.setup.session_id
            latest = latest_session(self.setup.project_root)
            how = "corral -c" if latest is not None and latest.id == sid else f"corral --session {sid}"
            print(f"corral: session {sid} saved; resume it with `{how}`", file=sys.stderr)
        return int(code or 0)


def _short(tokens: int) -> str:
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


def _wrap_lines(fragments: Fragments, width: int) -> Fragments:
    """Lines wider than `width` wrapped at spaces (the terminal would cut words in two), indented by one."""
    from agent.tui.markdown_inline import Wrapper, width_of

    out: Fragments = []
    line: Fragments = []
    for style, text in fragments:
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if part:
                line.append((style, part))
            if index < len(parts) - 1:  # a line ends here
                if width_of(line) <= width:
                    out += [*line, ("", "\n")]
                else:
                    wrapper = Wrapper(max(width, 20), rest=[("", " ")])
                    wrapper.feed(line)
                    wrapper.close()
                    for wrapped in wrapper.take():
                        out += wrapped
                line = []
    return out + line


def _fit(parts: list[str], ranks: list[int], width: int, sep: str = " │ ") -> str:
    """The status line's parts joined, leaving out the highest-ranked (least important) ones until it fits."""
    from prompt_toolkit.utils import get_cwidth

    keep = list(range(len(parts)))
    while len(keep) > 1 and get_cwidth(sep.join(parts[i] for i in keep)) > width:
        keep.remove(max(keep, key=lambda i: ranks[i]))
    return sep.join(parts[i] for i in keep)


def _ft(fn: Callable[[], Fragments]) -> Callable[[], StyleAndTextTuples]:
    """Our fragment lists as prompt_toolkit's formatted-text type (the same shape)."""
    return cast("Callable[[], StyleAndTextTuples]", fn)


def run(args: argparse.Namespace, overrides: dict[str, object]) -> int:
    """`corral` on a terminal: build what the session needs, then run the UI until the user leaves."""
    from agent.errors import ConfigError, UsageError
    from agent.run_setup import RunSetup

    try:
        setup = RunSetup(args, overrides, engine_now=False)
    except (ConfigError, UsageError) as exc:  # no key, a bad config file, an unknown provider …
        print(f"corral: {exc}", file=sys.stderr)
        return 2
    except CorralError as exc:  # a session that cannot be loaded …
        print(f"corral: {exc}", file=sys.stderr)
        return 1
    no_color = bool(getattr(args, "no_color", False)) or no_color_requested(os.environ)
    theme = get_theme(getattr(args, "theme", None) or str(setup.config.theme or "") or None, no_color=no_color)
    return Tui(setup, theme).run()
