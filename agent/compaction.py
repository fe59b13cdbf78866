"""Context compaction: keeping a conversation inside the model's context window.

A long session (big tool results, many steps) outgrows the window; the provider then refuses the request,
or, like Ollama, silently drops the start of the prompt (the task itself). Before that happens the older
messages are summarised by the model and replaced by the summary; the recent ones stay verbatim.

- `ContextMeter` estimates a request's size in tokens: characters / 4 as the prior, calibrated after each
  response by the provider's reported prompt tokens (a smoothed ratio), so the estimate learns the
  model's tokenizer and the wire format's overhead.
- `plan_cut` chooses where the verbatim tail starts: at a step boundary (a user or an assistant message,
  never between an assistant's tool calls and their results), keeping about 30% of the window.
- `compact` asks the same model (no tools, thinking off, prompts/compaction.md) to summarise the older
  part and swaps the summary in; when that fails, the older part is dropped and a note says so. It never
  fails the run (only cancellation propagates).
- `shrink_tool_results` is the second line of defence after a refused request: it cuts the middle out of
  the biggest tool results, with a marker telling the model how to get them back.

The loop (agent/loop.py) decides when; docs/COMPACTION.md tells the user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from agent.errors import ProviderError
from agent.events import Compacted, Event, Notice
from agent.providers.base import CompletionRequest, Message, Provider, Retrying, StreamEvent, Usage
from agent.values import record

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4  # tokens of role and framing per message
KEEP_FRACTION = 0.30  # of the window, kept verbatim at the end of the conversation
TRANSCRIPT_RESULT_CHARS = 3000  # a tool result in the transcript to summarise: head + tail
MIN_RESULT_CHARS = 1200  # shrink_tool_results never cuts a result shorter than this
LATEST_REQUEST_CHARS = 8000  # the user's latest request, carried verbatim into the summary message
TRUNCATION_RATIO = 0.5  # Ollama: reported prompt tokens below half the estimate = the prompt was cut
TRUNCATION_MIN_TOKENS = 1024

SUMMARY_MARK = (
    "[Summary of the earlier conversation, written by corral's context compaction: the earlier messages "
    "were replaced by this summary to fit the model's context window. The most recent messages follow "
    "verbatim.]"
)
DROPPED_MARK = (
    "[Note from corral: the {count} earliest messages of this conversation were dropped to fit the model's "
    "context window; no summary could be made ({problem}). Re-read files and re-run commands if you need "
    "what they contained.]"
)
LATEST_MARK = "The user's latest request, verbatim (it was among the replaced messages):"
CLIP_MARK = "[... {cut:,} characters left out ...]"
SHRINK_MARK = (
    "[... corral cut {cut:,} characters from the middle of this tool result to fit the model's context "
    "window; re-run the command or re-read the file (a narrower range) if you need them ...]"
)

RequestFor = Callable[[list[Message]], CompletionRequest]


@record
class ContextMeter:
    """Estimates the size of a request in tokens and learns from what the provider reports.

    ratio = reported prompt tokens / (characters / 4): the first observation is taken as it is, later ones
    are averaged in (weight 1/n, at least 0.3, so it keeps following a changing mix of text and code)."""

    ratio: float = 1.0
    samples: int = 0
    last: int = 0  # the latest estimate, or the reported prompt tokens of the latest response

    def raw(self, request: CompletionRequest) -> float:
        chars = len(request.system) + sum(message_chars(m) for m in request.messages)
        chars += sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in request.tools)
        return chars / CHARS_PER_TOKEN + MESSAGE_OVERHEAD * (len(request.messages) + 1)

    def estimate(self, request: CompletionRequest) -> int:
        self.last = round(self.raw(request) * self.ratio)
        return self.last

    def tokens(self, messages: Sequence[Message]) -> int:
        """The calibrated estimate of some messages alone."""
        return round(sum(message_chars(m) / CHARS_PER_TOKEN + MESSAGE_OVERHEAD for m in messages) * self.ratio)

    def observe(self, request: CompletionRequest, usage: Usage) -> None:
        """Calibrate with the prompt tokens the provider reported for request (ignored when it reported none)."""
        if usage.input_tokens <= 0:
            return
        raw = self.raw(request)
        if raw < 1:
            return
        sample = min(max(usage.input_tokens / raw, 0.25), 4.0)
        weight = max(0.3, 1.0 / (self.samples + 1))
        self.ratio += weight * (sample - self.ratio)
        self.samples += 1
        self.last = usage.input_tokens

    def fraction(self, window: int | None) -> float:
        """How full the window was at the latest request (0.0 when the window is unknown)."""
        return self.last / window if window else 0.0


def message_chars(message: Message) -> int:
    size = len(message.content) + len(message.reasoning)
    for call in message.tool_calls:
        size += len(call.name) + len(call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False))
    return size


def silently_truncated(estimate: int, usage: Usage) -> bool:
    """Whether the provider evaluated far fewer prompt tokens than were sent: Ollama cuts a prompt that does
    not fit num_ctx down to about half of it and reports the cut count, without an error."""
    return estimate >= TRUNCATION_MIN_TOKENS and 0 < usage.input_tokens < TRUNCATION_RATIO * estimate


def clip(text: str, limit: int, mark: str = CLIP_MARK) -> str:
    """text cut to about limit characters: two thirds from the head, one third from the tail, a mark between."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n{mark.format(cut=len(text) - head - tail)}\n{text[len(text) - tail:]}"


# ------------------------------------------------------------------------------------------ the cut


def plan_cut(messages: Sequence[Message], keep_tokens: int, meter: ContextMeter) -> int:
    """The index where the verbatim tail starts: the earliest step boundary whose tail fits keep_tokens (at
    least the last step is kept). 0 when there is nothing worth summarising (only user messages before the
    cut, e.g. an earlier summary and the request)."""
    boundaries = [i for i in range(1, len(messages)) if messages[i].role != "tool"]
    if not boundaries:
        return 0
    cut = boundaries[-1]
    for i in boundaries:
        if meter.tokens(messages[i:]) <= keep_tokens:
            cut = i
            break
    if all(m.role == "user" for m in messages[:cut]):
        return 0
    return cut


def transcript(messages: Sequence[Message]) -> str:
    """The messages as plain text for the summarising request (no tool-call structure, which some APIs
    refuse without tool definitions; reasoning left out; long tool results clipped)."""
    parts: list[str] = []
    for m in messages:
        if m.role == "assistant":
            lines = [m.content] if m.content else []
            for call in m.tool_calls:
                arguments = call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False)
                lines.append(f"-> calls {call.name} {clip(arguments, TRANSCRIPT_RESULT_CHARS)}")
            parts.append("### assistant\n" + "\n".join(lines))
        elif m.role == "tool":
            status = " (failed)" if m.is_error else ""
            parts.append(f"### result of {m.name or 'a tool'}{status}\n{clip(m.content, TRANSCRIPT_RESULT_CHARS)}")
        else:
            parts.append(f"### {m.role}\n{m.content}")
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------ compacting


async def summarise(
    provider: Provider,
    model: str,
    older: Sequence[Message],
    *,
    window: int | None,
    meter: ContextMeter,
    emit: Callable[[Event], None],
) -> tuple[str, Usage]:
    """The model's summary of older (stripped; "" when it said nothing). Raises ProviderError."""
    from agent.prompts import load_builtin

    system = load_builtin("compaction").body
    out_tokens = min(4096, max(256, window // 8)) if window else 4096
    text = transcript(older)
    if window:  # the transcript, the prompt and the answer must fit the window (with a margin for errors)
        room = int(window * 0.9) - out_tokens - meter.tokens([Message("system", system)]) - 64
        text = clip(text, max(2000, int(room * CHARS_PER_TOKEN / meter.ratio)))
    request = CompletionRequest(
        model=model,
        system=system,
        messages=[Message("user", f"The conversation so far:\n\n{text}\n\nWrite the summary now.")],
        tools=[],
        thinking="off",
        max_tokens=out_tokens,
    )

    def relay(event: StreamEvent) -> None:  # the summary's text is not the assistant's answer: not shown
        if isinstance(event, Retrying):
            emit(event)

    completion = await provider.stream(request, relay)
    meter.observe(request, completion.usage)
    return completion.message.content.strip(), completion.usage


async def compact(
    provider: Provider,
    model: str,
    messages: list[Message],
    *,
    reason: str,
    window: int | None,
    meter: ContextMeter,
    request_for: RequestFor,
    emit: Callable[[Event], None],
    keep_tokens: int | None = None,
) -> Compacted | None:
    """Replace the older part of messages (in place) by one user message with its summary; emit and return
    the Compacted event, or None when there is nothing to compact. Never raises but Cancelled."""
    before = meter.estimate(request_for(messages))
    keep = keep_tokens if keep_tokens is not None else int(KEEP_FRACTION * (window or before))
    cut = plan_cut(messages, keep, meter)
    if cut == 0:
        return None
    older = messages[:cut]
    usage: Usage | None = None
    try:
        text, usage = await summarise(provider, model, older, window=window, meter=meter, emit=emit)
        problem = "" if text else "the model returned an empty summary"
    except ProviderError as exc:
        text, problem = "", str(exc)
    except Exception as exc:  # a bug here must not end the run: dropping is the safe fallback
        text, problem = "", f"{type(exc).__name__}: {exc}"
    if text:
        content = f"{SUMMARY_MARK}\n\n{text}"
    else:
        content = DROPPED_MARK.format(count=cut, problem=problem)
        emit(Notice(f"corral: could not summarise the earlier conversation ({problem}); dropped {cut} messages"))
    latest = _latest_request(messages, cut)
    if latest:
        content += f"\n\n{LATEST_MARK}\n\n{clip(latest, LATEST_REQUEST_CHARS)}"
    messages[:] = [Message("user", content), *messages[cut:]]
    after = meter.estimate(request_for(messages))
    event = Compacted(content, cut, len(messages) - 1, before, after, reason, dropped=not text, usage=usage)
    emit(event)
    return event


def _latest_request(messages: Sequence[Message], cut: int) -> str:
    """The user's latest request when it is among the first cut messages (else ""): it must survive verbatim."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.role == "user":
            if i >= cut or m.content.startswith((SUMMARY_MARK, DROPPED_MARK[:20])):
                return ""
            return m.content
    return ""


def shrink_tool_results(messages: list[Message], excess_tokens: int, meter: ContextMeter) -> int:
    """Cut the middle out of the biggest tool results (in place) until about excess_tokens are saved; each
    keeps at least MIN_RESULT_CHARS. Returns how many results were cut."""
    excess = excess_tokens * CHARS_PER_TOKEN / meter.ratio
    big = [i for i, m in enumerate(messages) if m.role == "tool" and len(m.content) > MIN_RESULT_CHARS]
    count = 0
    for i in sorted(big, key=lambda i: -len(messages[i].content)):
        if excess <= 0:
            break
        m = messages[i]
        limit = max(MIN_RESULT_CHARS, len(m.content) - int(excess) - len(SHRINK_MARK) - 8)  # 8: digits, newlines
        content = clip(m.content, limit, SHRINK_MARK)
        if len(content) >= len(m.content):
            continue
        excess -= len(m.content) - len(content)
        messages[i] = Message("tool", content=content, tool_call_id=m.tool_call_id, name=m.name, is_error=m.is_error)
        count += 1
    return count
