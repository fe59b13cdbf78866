"""The core loop: send the conversation to the model, run the tool calls it makes through the gate,
send the results back, until the model answers without tools or the turn budget is spent.

UI-agnostic: everything it has to say goes out as typed events (agent/events.py) through `emit`; it
never prints. What changes its behaviour is what is passed in (provider, tools, gate, context), never a
subclass. Independent read-only calls of one model turn run concurrently; anything that writes or asks
runs alone, in the order the model gave. A tool's failure is a result the model reads, never a crash;
only cancellation (Ctrl-C, a timeout, a closed front end) ends a run early, and it propagates.

A reply is never silently lost or silently incomplete: text streamed before a cancellation or a provider
error stays in the history, marked as cut (so what the user saw and what the model sees next agree); a
reply the provider cut at the output-token limit (stop reason max_tokens) is announced with a Notice, ends
the run with stop "max_tokens" when it was the final answer, and a tool call whose arguments it cut is
answered by telling the model to send smaller pieces.

The context window (agent/compaction.py): before each model request, when the estimated request reaches
compact_at of the window, the older messages are summarised first. When the provider refuses a request
as too long for the window (known or not), the loop compacts and retries once, then cuts the biggest tool
results and retries once more, then gives up with a clear error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field

import trio

from agent import compaction
from agent.compaction import ContextMeter
from agent.errors import ProviderError
from agent.events import (
    CANCELLED_RESULT,
    AssistantMessage,
    Compacted,
    Event,
    Notice,
    PolicyChecked,
    RunFinished,
    ToolFinished,
    ToolOutput,
    TurnStarted,
)
from agent.gate import Gate
from agent.providers.base import (
    Completion,
    CompletionRequest,
    Message,
    Provider,
    StreamEvent,
    TextDelta,
    Thinking,
    ToolCall,
    Usage,
)
from agent.tools.base import Tool, ToolContext, ToolResult
from agent.values import record

INTERRUPTED_REPLY = "[the user interrupted this reply here]"
BROKEN_REPLY = "[the reply broke off here: {error}]"
CUT_ANSWER = (
    "the answer was cut off at the model's output-token limit (max_tokens): it is incomplete. Ask for a shorter "
    "answer or one part at a time, or let the model continue in the same session"
)
CUT_CALLS = (
    "corral: the model's reply hit its output-token limit (max_tokens) inside a tool call; the cut call was not "
    "run and the model was told to send smaller pieces"
)
CUT_ARGUMENTS = (
    "Your reply hit the output-token limit (max_tokens) while you were writing this call's arguments, so they "
    "were cut off and the call was NOT run. Send smaller pieces, each well under the limit: to create a large "
    "file, write the first part with `write`, then add the rest with `write` and append: true, one part per "
    "call; for big changes, several smaller `edit` calls."
)


@record
class Agent:
    """One conversation with one model. `run(prompt)` adds a user message and drives it to the end."""

    provider: Provider
    model: str
    tools: Sequence[Tool]
    gate: Gate
    ctx: ToolContext
    emit: Callable[[Event], None]
    system: str = ""
    thinking: Thinking = "off"
    max_turns: int = 50
    max_tokens: int | None = None
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    context_window: int | None = None
    compact_at: float = 0.85
    meter: ContextMeter = field(default_factory=ContextMeter)

    def __post_init__(self) -> None:
        self._by_name: dict[str, Tool] = {t.spec.name: t for t in self.tools}
        self._learned_window: int | None = None  # an upper bound learned from a refused request
        self._compacted_len = -1  # len(messages) right after the latest compaction
        self._run_usage: Usage | None = None
        self._streamed: list[str] = []  # the text of the reply being streamed, kept if the run is cancelled
        self.cancelled: RunFinished | None = None
        """After a run was cancelled (run() raised Cancelled): what it had done, as a RunFinished with stop
        "cancelled" (the partial answer, the turns and usage so far). Front ends report it; None otherwise."""
        if self.ctx.on_output is None:
            self.ctx.on_output = self._tool_output

    def _tool_output(self, call_id: str, chunk: bytes) -> None:
        self.emit(ToolOutput(call_id, chunk.decode("utf-8", errors="replace")))

    def _relay(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self._streamed.append(event.text)
        self.emit(event)

    async def run(self, prompt: str) -> RunFinished:
        """Run one user prompt to completion. Raises trio.Cancelled when cancelled (after the session's
        messages were updated with what happened so far, and `self.cancelled` says what the run had done)."""
        self.messages.append(Message("user", prompt))
        run_usage = self._run_usage = Usage()
        self.cancelled = None
        try:
            return await self._turns(run_usage)
        finally:
            self._run_usage = None

    async def _turns(self, run_usage: Usage) -> RunFinished:
        text = ""
        for turn in range(1, self.max_turns + 1):
            self.emit(TurnStarted(turn))
            try:
                completion = await self._complete()
            except ProviderError as exc:  # what was streamed stays, marked as broken off
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                partial = self._keep_streamed(BROKEN_REPLY.format(error=first_line))
                return self._finish(RunFinished(partial or text, "error", turn, run_usage, str(exc)))
            except BaseException as exc:  # cancelled: the text shown so far stays, marked as cut
                if _is_cancellation(exc):
                    partial = self._keep_streamed(INTERRUPTED_REPLY)
                    self.cancelled = RunFinished(partial or text, "cancelled", turn, run_usage, "interrupted")
                raise
            run_usage.add(completion.usage)
            self.usage.add(completion.usage)
            message = completion.message
            self.messages.append(message)
            self.emit(AssistantMessage(message, completion.usage))
            if message.content:
                text = message.content
            cut = completion.stop_reason == "max_tokens"
            if not message.tool_calls:
                if cut:
                    self.emit(Notice(f"corral: {CUT_ANSWER}"))
                    return self._finish(RunFinished(text, "max_tokens", turn, run_usage, CUT_ANSWER))
                return self._finish(RunFinished(text, "done", turn, run_usage))
            if cut and _cut_off(message.tool_calls[-1]):
                self.emit(Notice(CUT_CALLS))
            results: dict[str, Message] = {}
            try:
                await self._run_calls(message.tool_calls, results, cut=cut)
            except BaseException as exc:
                if _is_cancellation(exc):
                    self.cancelled = RunFinished(text, "cancelled", turn, run_usage, "interrupted")
                raise
            finally:  # also when cancelled: every call gets a result, so the history stays valid
                for call in message.tool_calls:
                    cancelled = ToolResult(CANCELLED_RESULT, is_error=True)
                    self.messages.append(results.get(call.id) or self._tool_message(call, cancelled))
        turns = f"{self.max_turns} model turn{'s' if self.max_turns != 1 else ''}"
        error = f"stopped after {turns} (--max-turns); the task may be unfinished"
        return self._finish(RunFinished(text, "max_turns", self.max_turns, run_usage, error))

    def _keep_streamed(self, marker: str) -> str:
        """Keep the text streamed of a reply that did not complete as an assistant message ending with
        `marker`, so the model knows its reply was cut where the user saw it end; returns that text ("" when
        nothing was streamed: then nothing is recorded, and the next user message follows the previous one,
        which every wire format accepts: Anthropic and Gemini merge same-role neighbours, Chat Completions and
        Ollama take them as they are)."""
        partial = "".join(self._streamed).rstrip()
        self._streamed.clear()
        if partial:
            self.messages.append(Message("assistant", f"{partial}\n\n{marker}"))
        return partial

    def _finish(self, result: RunFinished) -> RunFinished:
        self.emit(result)
        return result

    # ------------------------------------------------------------------------------------ the context window

    @property
    def window(self) -> int | None:
        """The context window in tokens: configured, or learned from a refused request, or None."""
        return self.context_window or self._learned_window

    def _request(self, messages: list[Message] | None = None) -> CompletionRequest:
        return CompletionRequest(
            model=self.model,
            system=self.system,
            messages=list(self.messages if messages is None else messages),
            tools=[t.spec for t in self.tools],
            thinking=self.thinking,
            max_tokens=self.max_tokens,
        )

    async def compact(self, reason: str = "user", *, keep_tokens: int | None = None) -> Compacted | None:
        """Summarise the older messages and keep the recent ones (see agent/compaction.py); emits and returns
        the Compacted event, or None when there is nothing to compact. Never raises but Cancelled. For
        `--compact` and `/compact` (reason "user"); the loop calls it with "auto" and "overflow"."""
        event = await compaction.compact(
            self.provider, self.model, self.messages, reason=reason, window=self.window, meter=self.meter,
            request_for=self._request, emit=self.emit, keep_tokens=keep_tokens,
        )
        self._compacted_len = len(self.messages)
        if event is not None and event.usage is not None:
            self.usage.add(event.usage)
            if self._run_usage is not None:
                self._run_usage.add(event.usage)
        return event

    async def _complete(self) -> Completion:
        """One model response to the conversation as it stands: compact first when the window is nearly
        full, and cut long tool results when even that does not fit a known window; when the provider
        refuses the request as too long, compact, then cut tool results, then give up (ProviderError)."""
        self._streamed.clear()  # nothing of an earlier reply may pass for this one's partial text
        window = self.window
        if window:
            estimate = self.meter.estimate(self._request())
            if len(self.messages) != self._compacted_len and estimate >= self.compact_at * window:
                await self.compact("auto")
                estimate = self.meter.estimate(self._request())
            if estimate > window:
                # still too big for a window we know (one huge tool result does that): cut long tool results
                # now rather than send a request the server would refuse or silently truncate
                await self._shrink_after_overflow(estimate)
        remedies = [self._compact_after_overflow, self._shrink_after_overflow]
        while True:
            request = self._request()
            estimate = self.meter.estimate(request)
            truncated: Completion | None = None
            try:
                self._streamed.clear()
                completion = await self.provider.stream(request, self._relay)
            except ProviderError as exc:
                if not exc.context_overflow:
                    raise
                problem = str(exc)
            else:
                if self.provider.kind != "ollama" or not compaction.silently_truncated(estimate, completion.usage):
                    self.meter.observe(request, completion.usage)
                    return completion
                truncated = completion
                problem = (
                    f"{self.provider.name}: the server evaluated only {completion.usage.input_tokens} prompt "
                    f"tokens of about {estimate}: it cut the conversation to fit its context window (num_ctx)"
                )
            if self.context_window is None:
                self._learned_window = min(self._learned_window or estimate, estimate)
            applied = False
            while remedies and not applied:
                applied = await remedies.pop(0)(estimate)
            if applied:
                if truncated is not None:
                    self.emit(Notice(f"corral: {problem}; the reply was discarded and the request sent again"))
                continue
            if truncated is not None:
                self.emit(Notice(f"corral: {problem}; the reply may have missed the start of the conversation"))
                return truncated
            raise ProviderError(
                f"{problem}\ncorral could not make the conversation fit the model's context window (it "
                "compacted the conversation and cut long tool results). Start a new session, use a model with "
                "a larger context window, or raise the server's context size (Ollama num_ctx, llama.cpp "
                "--ctx-size)",
                context_overflow=True,
            )

    async def _compact_after_overflow(self, estimate: int) -> bool:
        return await self.compact("overflow") is not None

    async def _shrink_after_overflow(self, estimate: int) -> bool:
        target = int(0.7 * min(self.window or estimate, estimate))
        excess = max(self.meter.estimate(self._request()) - target, estimate // 4)
        count = compaction.shrink_tool_results(self.messages, excess, self.meter)
        if count:
            self.emit(Notice(f"corral: cut the middle out of {count} long tool result(s) to fit the context window"))
        return count > 0

    # ------------------------------------------------------------------------------------ tool calls

    async def _run_calls(self, calls: list[ToolCall], results: dict[str, Message], *, cut: bool = False) -> None:
        """Fill results (call id -> tool message). Consecutive read-only calls the engine allows without
        asking run together; every other call is judged (and maybe asked) and run on its own, in order.
        cut: the reply stopped at the output-token limit, so its last call may be incomplete."""
        batch: list[tuple[ToolCall, Tool, Mapping[str, object]]] = []

        async def flush() -> None:
            if not batch:
                return
            async with trio.open_nursery() as nursery:
                for call, tool, policy_args in batch:
                    nursery.start_soon(self._checked_run, call, tool, policy_args, results)
            batch.clear()

        for call in calls:
            tool = self._by_name.get(call.name)
            problem = self._problem(call, tool, cut=cut and call is calls[-1])
            if problem is not None or tool is None:
                results[call.id] = self._tool_message(call, ToolResult(problem or "unknown tool", is_error=True))
                continue
            try:
                policy_args = tool.policy_args(call.arguments, self.ctx)
            except Exception as exc:  # a bad argument shape: tell the model
                results[call.id] = self._tool_message(call, ToolResult(f"invalid arguments: {exc}", is_error=True))
                continue
            if tool.read_only and self.gate.verdict(call.name, policy_args, self.ctx.cwd).decision.label == "allow":
                batch.append((call, tool, policy_args))
                continue
            await flush()
            await self._checked_run(call, tool, policy_args, results)
        await flush()

    def _problem(self, call: ToolCall, tool: Tool | None, *, cut: bool = False) -> str | None:
        """Why a call cannot run at all, for the model; None when it can be judged. cut: this is the last
        call of a reply stopped at the output-token limit (see _cut_off)."""
        if cut and _cut_off(call):
            return CUT_ARGUMENTS
        if tool is None:
            known = ", ".join(sorted(self._by_name))
            return f"unknown tool {call.name!r}; the tools are: {known}"
        if call.parse_error is not None:
            return f"the arguments are not a JSON object ({call.parse_error}); send them again as valid JSON"
        return None

    async def _checked_run(
        self, call: ToolCall, tool: Tool, policy_args: Mapping[str, object], results: dict[str, Message]
    ) -> None:
        gate = await self.gate.check(call, call.name, policy_args, self.ctx.cwd)
        self.emit(PolicyChecked(call, gate.decision, "allow" if gate.allowed else "deny", gate.reason, gate.rule,
                                gate.approved_by, gate.note))
        if not gate.allowed:
            result = ToolResult(gate.message or "denied by policy", is_error=True, meta={"denied": True})
            self.emit(ToolFinished(call, result, 0.0))
            results[call.id] = self._tool_message(call, result)
            return
        started = time.monotonic()
        try:
            result = await tool.run(call.id, call.arguments, self.ctx)
        except Exception as exc:  # a bug in a tool must not end the run: the model sees it
            result = ToolResult(f"the {call.name} tool failed: {type(exc).__name__}: {exc}", is_error=True)
        if gate.note:
            result.content = f"{result.content}\n\n[note from corral: {gate.note}]"
        self.emit(ToolFinished(call, result, time.monotonic() - started))
        results[call.id] = self._tool_message(call, result)

    @staticmethod
    def _tool_message(call: ToolCall, result: ToolResult) -> Message:
        return Message("tool", content=result.content, tool_call_id=call.id, name=call.name, is_error=result.is_error)


def _is_cancellation(exc: BaseException) -> bool:
    """trio.Cancelled, also as it leaves a nursery (an exception group of nothing but Cancelled)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancellation(inner) for inner in exc.exceptions)
    return isinstance(exc, trio.Cancelled)


def _cut_off(call: ToolCall) -> bool:
    """Whether the last call of a reply stopped at the output-token limit lost its arguments there: they
    are not valid JSON, or there are none at all (complete JSON means the call was complete)."""
    return call.parse_error is not None or not call.arguments
