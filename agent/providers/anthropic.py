"""The Anthropic Messages wire format (kind `anthropic`).

POST {base_url}/v1/messages with `x-api-key`, `anthropic-version: 2023-06-01` and `stream: true`; the
answer is SSE: message_start, content_block_start/delta/stop per block, message_delta, message_stop
(ping and error events may come between).

Mapping notes:
- System prompt: a list of text blocks. Messages: consecutive messages of one role are merged (the API
  wants alternation); tool results become `tool_result` blocks {tool_use_id, content, is_error} in a user
  message; an assistant message is [thinking {thinking, signature} when it has a signature, text,
  tool_use {id, name, input}…]; an assistant message with nothing to say is dropped.
- Thinking: off → no `thinking` parameter; low/medium/high → `thinking: {type: enabled, budget_tokens:
  2048/8192/24576}`, `max_tokens` 16000 + budget capped at 32000 (else 8192) unless the request sets it
  (raised above the budget when needed), and no `temperature` (the API refuses one with thinking).
- Prompt caching: `cache_control: {type: ephemeral}` on the last system block, the last tool, and the
  last block of the last user message (tool results included), so each turn reads the previous prefix.
- Reasoning: thinking blocks' text is concatenated and the signature (signature_delta) kept in
  `Message.reasoning_signature`; redacted thinking blocks are not kept.
- Errors inside the stream (`event: error`): overloaded_error, api_error and rate_limit_error are retried
  when nothing was emitted yet; the others are final.
- Usage: Anthropic's input_tokens leave out the cached tokens; corral's input is the whole prompt:
  input_tokens + cache_read_input_tokens + cache_creation_input_tokens.
"""

from __future__ import annotations

import json

import httpx

from agent.providers.assemble import Assembly, JSONObject, integer, loads_object, obj, string
from agent.providers.base import Completion, CompletionRequest, Emit, Message, StopReason
from agent.providers.retry import StreamError
from agent.providers.sse import SSEParser
from agent.providers.wire import EPHEMERAL, HTTPProvider, join_url, new_call_id

API_VERSION = "2023-06-01"
MAX_OUTPUT = 32000
DEFAULT_MAX_TOKENS = 8192
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576}
STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
}
USAGE_FIELDS = (
    ("input_tokens", "input_tokens"),  # uncached here; the cached counts are added in finish()
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_write_tokens"),
)
RETRYABLE_ERRORS = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429}


class AnthropicProvider(HTTPProvider):
    """The Messages API."""

    def url(self, model: str) -> str:
        return join_url(self.settings.base_url, "/v1", "/messages")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        headers.update(super().headers())
        return headers

    def body(self, request: CompletionRequest, model: str) -> dict[str, object]:
        budget = THINKING_BUDGETS.get(request.thinking)
        # 16k of answer on top of the thinking budget, but within 32k: the output limit of the models with
        # the smallest one (Opus 4); high thinking (24576) then leaves ~7k for the answer.
        max_tokens = request.max_tokens or (min(16000 + budget, MAX_OUTPUT) if budget else DEFAULT_MAX_TOKENS)
        if budget and max_tokens <= budget:
            max_tokens = budget + 4096
        body: dict[str, object] = {
            "model": model,
            "max_tokens": max_tokens,
            "stream": True,
            "messages": messages(request.messages),
        }
        if request.system:
            body["system"] = [{"type": "text", "text": request.system, "cache_control": dict(EPHEMERAL)}]
        if request.tools:
            tools: list[JSONObject] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
                for t in request.tools
            ]
            tools[-1]["cache_control"] = dict(EPHEMERAL)
            body["tools"] = tools
        if budget:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        elif request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    async def consume(self, response: httpx.Response, emit: Emit) -> Completion:
        stream = _Stream(Assembly(emit))
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                stream.event(event.event, event.data)
        for event in parser.close():
            stream.event(event.event, event.data)
        return stream.finish(self.settings.prices)


def messages(history: list[Message]) -> list[JSONObject]:
    """The `messages` array: mapped, same-role neighbours merged, the last user block marked for caching."""
    merged: list[tuple[str, list[JSONObject]]] = []
    for message in history:
        role, blocks = _blocks(message)
        if not blocks:
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(blocks)
        else:
            merged.append((role, blocks))
    for role, blocks in reversed(merged):
        if role == "user":
            blocks[-1] = {**blocks[-1], "cache_control": dict(EPHEMERAL)}
            break
    return [{"role": role, "content": blocks} for role, blocks in merged]


def _blocks(message: Message) -> tuple[str, list[JSONObject]]:
    if message.role == "tool":
        block: JSONObject = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            block["is_error"] = True
        return "user", [block]
    if message.role != "assistant":  # user (and a stray system note, which the API only takes as user text)
        return "user", [{"type": "text", "text": message.content or "(empty)"}]
    blocks: list[JSONObject] = []
    if message.reasoning_signature and message.reasoning:
        blocks.append({"type": "thinking", "thinking": message.reasoning, "signature": message.reasoning_signature})
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return "assistant", blocks


class _Stream:
    """The state of one Messages stream."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.tools: dict[int, int] = {}  # block index → Assembly tool-call index
        self.signature: list[str] = []
        self.finished = False

    def event(self, name: str, data: str) -> None:
        chunk = loads_object(data)
        if chunk is None:
            return
        kind = string(chunk.get("type")) or name
        a = self.assembly
        if kind == "message_start":
            self.usage(obj(obj(chunk.get("message")).get("usage")))
        elif kind == "content_block_start":
            self.block_start(integer(chunk.get("index")), obj(chunk.get("content_block")))
        elif kind == "content_block_delta":
            delta = obj(chunk.get("delta"))
            delta_type = string(delta.get("type"))
            if delta_type == "text_delta":
                a.text(string(delta.get("text")))
            elif delta_type == "thinking_delta":
                a.reasoning(string(delta.get("thinking")))
            elif delta_type == "signature_delta":
                self.signature.append(string(delta.get("signature")))
            elif delta_type == "input_json_delta":
                index = self.tools.get(integer(chunk.get("index")))
                if index is not None:
                    a.tool_args(index, string(delta.get("partial_json")))
        elif kind == "message_delta":
            reason = string(obj(chunk.get("delta")).get("stop_reason"))
            if reason:
                a.stop = STOP_REASONS.get(reason, "other")
            self.usage(obj(chunk.get("usage")))
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = obj(chunk.get("error"))
            error_type = string(error.get("type"))
            message = string(error.get("message")) or error_type or "the server reported an error"
            status = RETRYABLE_ERRORS.get(error_type)
            raise StreamError(
                f"{error_type}: {message}" if error_type else message, retryable=bool(status), status=status
            )

    def block_start(self, index: int, block: JSONObject) -> None:
        a = self.assembly
        block_type = string(block.get("type"))
        if block_type == "text":
            a.text(string(block.get("text")))
        elif block_type == "thinking":
            a.reasoning(string(block.get("thinking")))
            if string(block.get("signature")):
                self.signature.append(string(block.get("signature")))
        elif block_type == "tool_use":
            call = a.begin_tool_call(string(block.get("id")) or new_call_id(), string(block.get("name")))
            self.tools[index] = call
            given = block.get("input")
            if isinstance(given, dict) and given:  # some proxies send the input whole
                a.tool_args(call, json.dumps(given, ensure_ascii=False))

    def usage(self, usage: JSONObject) -> None:
        """message_start carries the input counts, message_delta the (cumulative) output ones."""
        u = self.assembly.usage
        for wire, attribute in USAGE_FIELDS:
            value = usage.get(wire)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(u, attribute, value)

    def finish(self, prices: dict[str, float] | None) -> Completion:
        if not self.finished:
            raise StreamError("the response ended before it was complete", retryable=True)
        self.assembly.reasoning_signature = "".join(self.signature) or None
        usage = self.assembly.usage
        usage.input_tokens += usage.cache_read_tokens + usage.cache_write_tokens
        return self.assembly.finish(prices)
