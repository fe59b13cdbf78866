"""Assembling one streamed response, shared by every provider module.

`Assembly` receives the provider-neutral pieces as the wire parser finds them (text, reasoning, tool-call
starts and argument fragments), emits the matching `StreamEvent`s in arrival order, and builds the final
`Completion`: tool-call arguments parsed (a malformed JSON text becomes `arguments={}`, `raw_arguments`
and `parse_error`), the stop reason made consistent with the tool calls, the cost priced when needed.
Also a few small JSON helpers the wire parsers share.
"""

from __future__ import annotations

import json
from dataclasses import field

from agent.providers.base import (
    Completion,
    Emit,
    Message,
    ReasoningDelta,
    StopReason,
    TextDelta,
    ToolCall,
    ToolCallArgsDelta,
    ToolCallBegin,
    Usage,
)
from agent.providers.settings import apply_prices
from agent.values import record

JSONObject = dict[str, object]


@record
class _PendingCall:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)
    signature: str | None = None


class Assembly:
    """The response being streamed. Tool calls are numbered 0, 1, … in the order they begin."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[_PendingCall] = []
        self.reasoning_signature: str | None = None
        self.usage = Usage()
        self.stop: StopReason | None = None

    def text(self, text: str) -> None:
        if text:
            self._text.append(text)
            self._emit(TextDelta(text))

    def reasoning(self, text: str) -> None:
        if text:
            self._reasoning.append(text)
            self._emit(ReasoningDelta(text))

    @property
    def has_text(self) -> bool:
        return bool(self._text)

    @property
    def tool_call_count(self) -> int:
        return len(self._calls)

    def begin_tool_call(self, call_id: str, name: str, signature: str | None = None) -> int:
        """Start a tool call; returns its index for `tool_args`."""
        index = len(self._calls)
        self._calls.append(_PendingCall(call_id, name, signature=signature))
        self._emit(ToolCallBegin(index, call_id, name))
        return index

    def tool_args(self, index: int, fragment: str) -> None:
        if fragment:
            self._calls[index].fragments.append(fragment)
            self._emit(ToolCallArgsDelta(index, fragment))

    def whole_tool_call(self, call_id: str, name: str, arguments: object, signature: str | None = None) -> None:
        """A tool call that arrived complete (Gemini, Ollama): one begin and one arguments event."""
        index = self.begin_tool_call(call_id, name, signature)
        if isinstance(arguments, str):  # some servers send the JSON text instead of the object
            self.tool_args(index, arguments)
        else:
            self.tool_args(index, json.dumps(arguments if arguments is not None else {}, ensure_ascii=False))

    def finish(self, prices: dict[str, float] | None = None) -> Completion:
        calls = [_tool_call(call) for call in self._calls]
        stop: StopReason = self.stop or "end"
        if calls and stop == "end":
            stop = "tool_calls"
        elif not calls and stop == "tool_calls":
            stop = "end"
        apply_prices(self.usage, prices)
        message = Message(
            role="assistant",
            content="".join(self._text),
            reasoning="".join(self._reasoning),
            reasoning_signature=self.reasoning_signature,
            tool_calls=calls,
        )
        return Completion(message=message, usage=self.usage, stop_reason=stop)


def _tool_call(call: _PendingCall) -> ToolCall:
    raw = "".join(call.fragments)
    arguments, error = parse_arguments(raw)
    return ToolCall(
        id=call.id,
        name=call.name,
        arguments=arguments,
        raw_arguments=raw if error else "",
        parse_error=error,
        signature=call.signature,
    )


def parse_arguments(raw: str) -> tuple[JSONObject, str | None]:
    """The arguments object of a tool call, or ({}, why not). Empty text means no arguments."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"the arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, not {type(value).__name__}"
    return value, None


def loads_object(text: str) -> JSONObject | None:
    """Parse a JSON object (a stream chunk); None when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def obj(value: object) -> JSONObject:
    """value if it is a JSON object, else {} (wire data is never trusted to have the documented shape)."""
    return value if isinstance(value, dict) else {}


def objects(value: object) -> list[JSONObject]:
    """The objects of a JSON array (anything else ignored)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def string(value: object) -> str:
    return value if isinstance(value, str) else ""


def integer(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return 0
