"""The typed events the core loop emits. Every front end (one-shot, stream-json, the TUI, ACP, a parent
agent) consumes these and nothing else; the loop itself never prints.

Provider stream events (TextDelta, ReasoningDelta, ToolCallBegin, ToolCallArgsDelta, Retrying) are
passed through unchanged; the loop adds the ones below.
"""

from __future__ import annotations

from typing import Literal

from agent.providers.base import (
    Message,
    ReasoningDelta,
    Retrying,
    TextDelta,
    ToolCall,
    ToolCallArgsDelta,
    ToolCallBegin,
    Usage,
)
from agent.tools.base import ToolResult
from agent.values import frozen


@frozen
class TurnStarted:
    """A model request is about to be sent (turn counts model requests within one run)."""

    turn: int


@frozen
class AssistantMessage:
    """The model's complete reply for this turn, with its usage."""

    message: Message
    usage: Usage


@frozen
class PolicyChecked:
    """The engine's verdict on one tool call, and what finally happened to it.

    decision: the engine's answer (allow | ask | deny); final: allow | deny after approval;
    approved_by: rule | mode | user | session | headless | bypass (None when denied by the engine).
    """

    call: ToolCall
    decision: str
    final: str
    reason: str
    rule: str | None
    approved_by: str | None
    note: str | None = None


@frozen
class ToolOutput:
    """A chunk of a running tool's output (bash), as it comes."""

    call_id: str
    text: str


@frozen
class ToolFinished:
    call: ToolCall
    result: ToolResult
    duration: float


@frozen
class Notice:
    """Something the user should know that is not part of the conversation."""

    text: str


@frozen
class Compacted:
    """The conversation was compacted to fit the model's context window (agent/compaction.py).

    The `replaced` earliest messages were replaced by ONE user message whose content is `summary` (the
    model's summary, or a note that they were dropped when no summary could be made: `dropped`); the
    `kept` messages after them are unchanged. A session is rebuilt from this event alone:
    `[Message("user", summary), *messages[replaced:]]`. tokens_before/after are estimates of the whole
    request; reason: auto (the window was nearly full), overflow (the provider refused the request), or
    what the caller passed (user, ...); usage: the summarising request's (None when it failed).
    """

    summary: str
    replaced: int
    kept: int
    tokens_before: int
    tokens_after: int
    reason: str
    dropped: bool = False
    usage: Usage | None = None


StopKind = Literal["done", "max_turns", "max_tokens", "error", "cancelled"]


@frozen
class RunFinished:
    """The run is over: the final answer (the last assistant text), why it stopped, this run's totals.

    stop: done; max_turns (the turn budget ran out); max_tokens (the final answer was cut at the model's
    output-token limit: `text` is incomplete); error (`text` is what was streamed before the provider
    failed, or the last complete answer); cancelled (not emitted by the loop, which raises Cancelled: see
    Agent.cancelled; `text` is the partial answer). usage and turns count this run only, not the session.
    """

    text: str
    stop: StopKind
    turns: int
    usage: Usage
    error: str | None = None


Event = (
    TextDelta
    | ReasoningDelta
    | ToolCallBegin
    | ToolCallArgsDelta
    | Retrying
    | TurnStarted
    | AssistantMessage
    | PolicyChecked
    | ToolOutput
    | ToolFinished
    | Notice
    | Compacted
    | RunFinished
)


# How a tool result says it did not run, written by the gate and the loop and recognised by front ends
# (a resumed session shows them as denied or cancelled): one wording each, kept here.
POLICY_DENIAL = "Denied by policy"
USER_DENIAL = "Denied by the user."
CANCELLED_RESULT = "cancelled before it finished (the user interrupted the run)"

_KEY_ARGS = ("command", "path", "pattern", "url", "query")


def key_argument(call: ToolCall, limit: int = 80) -> str:
    """The argument that says what a call does (the command, the path …), on one line of at most `limit`
    characters, control characters made visible: what front ends show of a tool call."""
    for key in _KEY_ARGS:
        value = call.arguments.get(key)
        if isinstance(value, str) and value:
            flat = visible(" ".join(value.split()))
            return flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return ""


_INVISIBLE = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (0x09, 0x0A)}


def visible(text: str, *, newlines: bool = True) -> str:
    """`text` safe to print on a terminal: control characters (ESC, BEL, CR, C1 controls …) shown as \\xNN
    escapes, so text from a model or a repository can never clear the screen, set the window title or fake
    what corral prints around it. Tabs stay; new lines stay unless `newlines` is False."""
    out = text.translate(_INVISIBLE)
    return out if newlines else out.replace("\n", "\\n")


def event_dict(event: Event) -> dict[str, object]:
    """A JSON-ready form of an event (for stream-json and logs): {"type": snake_case name, ...fields}."""
    from dataclasses import asdict, fields, is_dataclass

    name = type(event).__name__
    kind = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    out: dict[str, object] = {"type": kind}
    for f in fields(event):
        value = getattr(event, f.name)
        out[f.name] = asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
    return out
