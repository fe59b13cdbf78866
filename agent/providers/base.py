"""The provider-neutral conversation model and the contract every provider implements.

A provider turns a `CompletionRequest` (system prompt, messages, tool specs, thinking level) into one
streamed model response over its own wire format. While it streams it calls `emit` with `StreamEvent`s
(text, reasoning, tool-call progress, retries); when the response is complete it returns a `Completion`
holding the assembled assistant `Message` and the `Usage`. Providers never print and never touch tools.

Cancellation: `stream` is an ordinary trio coroutine; cancelling the caller's scope closes the HTTP
stream at once (httpx under trio). Errors are `ProviderError` (agent/errors.py), with `retryable` set for
the ones the provider already retried and gave up on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Literal, Protocol

from agent.values import frozen, record

Role = Literal["system", "user", "assistant", "tool"]
Thinking = Literal["off", "low", "medium", "high"]
THINKING_LEVELS: tuple[Thinking, ...] = ("off", "low", "medium", "high")


@record
class ToolCall:
    """One tool call the model made. `arguments` is the parsed JSON object; when the model sent text
    that is not a JSON object, `arguments` is {} and `raw_arguments` keeps the text (the loop reports the
    parse error back to the model). `signature` is an opaque provider token attached to this call that
    must be sent back with it (Gemini thought signatures on function-call parts)."""

    id: str
    name: str
    arguments: dict[str, object] = field(default_factory=dict)
    raw_arguments: str = ""
    parse_error: str | None = None
    signature: str | None = None


@record
class Message:
    """One message of the conversation.

    - user: `content`.
    - assistant: `content` (may be empty), `reasoning` (thinking text, may be empty), `tool_calls`;
      `reasoning_signature` carries an opaque provider token that must be sent back with the reasoning
      (Anthropic thinking signatures, Gemini thought signatures).
    - tool: the result of one call: `tool_call_id`, `name` (the tool), `content`, `is_error`.
    """

    role: Role
    content: str = ""
    reasoning: str = ""
    reasoning_signature: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


@frozen
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of the arguments object."""

    name: str
    description: str
    parameters: Mapping[str, object]


@record
class Usage:
    """Token counts of one response (or a sum). cost is in USD when known (reported by the provider,
    e.g. OpenRouter, or computed from configured prices), else None.

    input_tokens is the whole prompt, cache reads and writes included (the cached counts are a part of
    it); output_tokens is the whole output, reasoning_tokens included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None

    def add(self, other: Usage) -> None:
        """Accumulate other into self (cost stays None only while every part is None)."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost

    def as_dict(self) -> dict[str, object]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost": self.cost,
        }


@frozen
class CompletionRequest:
    """Everything one model call needs."""

    model: str
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    thinking: Thinking = "off"
    max_tokens: int | None = None
    temperature: float | None = None


StopReason = Literal["end", "tool_calls", "max_tokens", "other"]


@record
class Completion:
    """The assembled response: the assistant message, its usage, and why it stopped."""

    message: Message
    usage: Usage
    stop_reason: StopReason = "end"


# ------------------------------------------------------------------------------------------ stream events


@frozen
class TextDelta:
    text: str


@frozen
class ReasoningDelta:
    text: str


@frozen
class ToolCallBegin:
    """The model started a tool call (arguments follow as ToolCallArgsDelta with the same index)."""

    index: int
    id: str
    name: str


@frozen
class ToolCallArgsDelta:
    index: int
    fragment: str


@frozen
class Retrying:
    """A request failed with a retryable error; the provider waits `delay` seconds and tries again."""

    attempt: int
    delay: float
    reason: str


StreamEvent = TextDelta | ReasoningDelta | ToolCallBegin | ToolCallArgsDelta | Retrying
Emit = Callable[[StreamEvent], None]


class Provider(Protocol):
    """What the core loop needs from a provider."""

    name: str
    """The configured provider name (e.g. "openrouter", "local")."""

    kind: str
    """The wire format: openai | openrouter | anthropic | gemini | ollama."""

    async def stream(self, request: CompletionRequest, emit: Emit) -> Completion:
        """Stream one response, calling emit as deltas arrive; return the assembled completion."""
        ...
