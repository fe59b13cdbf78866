"""OpenAI Chat Completions (as served by OpenAI and OpenRouter): chunks, full responses, errors.

Streaming is SSE, `data: {chat.completion.chunk}` per event, then `data: [DONE]`:
- first chunk: delta {"role": "assistant", "content": ""};
- reasoning: delta {"reasoning": "...", "reasoning_details": [{"type": "reasoning.text", "text": "...",
  "format": "unknown", "index": 0}]} (OpenRouter's fields; the last one of a part carries "signature");
- text: delta {"content": "..."};
- tool call k: delta {"tool_calls": [{"index": k, "id", "type": "function",
  "function": {"name", "arguments": ""}}]}, then {"tool_calls": [{"index": k, "function": {"arguments": FRAG}}]};
- a chunk with delta {} and finish_reason "stop" | "tool_calls" | "length";
- always a usage chunk with "choices": [] (as OpenRouter does, whether or not stream_options asks for it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from tests.llm_server.script import Reply
from tests.llm_server.wire_common import Ctx, fragments, sse, usage_of, word_chunks

NAME = "openai"
STREAM_CONTENT_TYPE = "text/event-stream"
FINISH = {"end": "stop", "tool_calls": "tool_calls", "max_tokens": "length"}
_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"), 401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"), 404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"), 500: ("server_error", "internal_error"),
    503: ("server_error", "service_unavailable"),
}


def usage_body(reply: Reply) -> dict[str, Any]:
    u = usage_of(reply)
    prompt_details: dict[str, int] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        prompt_details["cache_write_tokens"] = u.cache_write_tokens
    body: dict[str, Any] = {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }
    if u.cost is not None:
        body["cost"] = u.cost
    return body


def _chunk(ctx: Ctx, created: int, choices: list[dict[str, Any]], **extra: Any) -> bytes:
    return sse({"id": f"chatcmpl-scripted{ctx.serial}", "object": "chat.completion.chunk", "created": created,
                "model": ctx.model, "choices": choices, **extra})


def _delta(ctx: Ctx, created: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
    return _chunk(ctx, created, [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}])


def _detail(text: str, signature: str | None, index: int) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": "reasoning.text", "text": text, "format": "unknown", "index": index}
    if signature:
        detail["signature"] = signature
    return detail


def stream(reply: Reply, ctx: Ctx, finish: bool = True) -> Iterator[bytes]:
    created = int(time.time())
    yield _delta(ctx, created, {"role": "assistant", "content": ""})
    tool_index = 0
    reasoning_index = 0
    for part in reply.parts:
        if part.type == "text":
            for piece in word_chunks(part.text):
                yield _delta(ctx, created, {"content": piece})
        elif part.type == "reasoning":
            pieces = word_chunks(part.text) or [""]
            for n, piece in enumerate(pieces):
                signature = part.signature if n == len(pieces) - 1 else None
                yield _delta(ctx, created, {"reasoning": piece,
                                            "reasoning_details": [_detail(piece, signature, reasoning_index)]})
            reasoning_index += 1
        else:
            call_id = ctx.tool_id("call_", tool_index, part)
            yield _delta(ctx, created, {"tool_calls": [{"index": tool_index, "id": call_id, "type": "function",
                                                        "function": {"name": part.name, "arguments": ""}}]})
            for frag in fragments(part.arguments_json):
                yield _delta(ctx, created, {"tool_calls": [{"index": tool_index, "function": {"arguments": frag}}]})
            tool_index += 1
    if not finish:
        return
    yield _delta(ctx, created, {}, FINISH[reply.stop_reason])
    yield _chunk(ctx, created, [], usage=usage_body(reply))
    yield sse("[DONE]")


def complete(reply: Reply, ctx: Ctx) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    reasoning = [p for p in reply.parts if p.type == "reasoning"]
    if reasoning:
        message["reasoning"] = reply.reasoning
        message["reasoning_details"] = [_detail(p.text, p.signature, i) for i, p in enumerate(reasoning)]
    calls = reply.tool_calls
    if calls:
        message["tool_calls"] = [
            {"id": ctx.tool_id("call_", k, p), "type": "function",
             "function": {"name": p.name, "arguments": p.arguments_json}}
            for k, p in enumerate(calls)
        ]
    return {
        "id": f"chatcmpl-scripted{ctx.serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "finish_reason": FINISH[reply.stop_reason], "logprobs": None}],
        "usage": usage_body(reply),
    }


def _error(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"message": message, "type": error.get("type", kind), "param": None, "code": error.get("code", code)}


def error_body(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    return {"error": _error(status, message, error)}


def stream_error(message: str, error: dict[str, Any]) -> bytes:
    """OpenRouter's mid-stream error: a data event with a top-level "error" (then the stream ends)."""
    status = int(error.get("status", 500))
    return sse({"error": {**_error(status, message, error), "code": error.get("code", status)}})
