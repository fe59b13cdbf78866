"""Anthropic Messages: the SSE event sequence, the full message, errors.

Streaming (`event: NAME` + `data: {"type": NAME, ...}` per event):
    message_start {message: {id, type: "message", role, model, content: [], stop_reason: null,
                             usage: {input_tokens, output_tokens, cache_read_input_tokens,
                                     cache_creation_input_tokens}}}
    ping
    per part, block index i counting every part:
      content_block_start {index, content_block: {type: "thinking", thinking: "", signature: ""}
                                               | {type: "text", text: ""}
                                               | {type: "tool_use", id, name, input: {}}}
      content_block_delta {index, delta: {type: "thinking_delta", thinking} | {type: "signature_delta", signature}
                                       | {type: "text_delta", text} | {type: "input_json_delta", partial_json}}
      content_block_stop {index}
    message_delta {delta: {stop_reason: end_turn | tool_use | max_tokens, stop_sequence: null},
                   usage: {output_tokens}}
    message_stop
The input counts are only in message_start; message_delta carries the final output_tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.llm_server.script import Reply
from tests.llm_server.wire_common import Ctx, arguments_object, fragments, sse, usage_of, word_chunks

NAME = "anthropic"
STREAM_CONTENT_TYPE = "text/event-stream"
STOP = {"end": "end_turn", "tool_calls": "tool_use", "max_tokens": "max_tokens"}
_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}


def usage_body(reply: Reply, output_tokens: int | None = None) -> dict[str, Any]:
    u = usage_of(reply)
    return {
        "input_tokens": max(0, u.input_tokens - u.cache_read_tokens - u.cache_write_tokens),
        "output_tokens": u.output_tokens if output_tokens is None else output_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    }


def _event(name: str, **fields: Any) -> bytes:
    return sse({"type": name, **fields}, event=name)


def _message(ctx: Ctx, content: list[dict[str, Any]], stop: str | None,
             usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"msg_scripted{ctx.serial}", "type": "message", "role": "assistant", "model": ctx.model,
            "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}


def stream(reply: Reply, ctx: Ctx, finish: bool = True) -> Iterator[bytes]:
    u = usage_of(reply)
    start_usage = usage_body(reply, output_tokens=min(1, u.output_tokens))
    yield _event("message_start", message=_message(ctx, [], None, start_usage))
    yield _event("ping")
    tool_index = 0
    for i, part in enumerate(reply.parts):
        if part.type == "reasoning":
            yield _event("content_block_start", index=i,
                         content_block={"type": "thinking", "thinking": "", "signature": ""})
            for piece in word_chunks(part.text):
                yield _event("content_block_delta", index=i, delta={"type": "thinking_delta", "thinking": piece})
            if part.signature:
                yield _event("content_block_delta", index=i,
                             delta={"type": "signature_delta", "signature": part.signature})
        elif part.type == "text":
            yield _event("content_block_start", index=i, content_block={"type": "text", "text": ""})
            for piece in word_chunks(part.text):
                yield _event("content_block_delta", index=i, delta={"type": "text_delta", "text": piece})
        else:
            block = {"type": "tool_use", "id": ctx.tool_id("toolu_", tool_index, part), "name": part.name, "input": {}}
            yield _event("content_block_start", index=i, content_block=block)
            for frag in fragments(part.arguments_json):
                yield _event("content_block_delta", index=i, delta={"type": "input_json_delta", "partial_json": frag})
            tool_index += 1
        yield _event("content_block_stop", index=i)
    if not finish:
        return
    yield _event("message_delta", delta={"stop_reason": STOP[reply.stop_reason], "stop_sequence": None},
                 usage={"output_tokens": u.output_tokens})
    yield _event("message_stop")


def complete(reply: Reply, ctx: Ctx) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    tool_index = 0
    for part in reply.parts:
        if part.type == "reasoning":
            content.append({"type": "thinking", "thinking": part.text, "signature": part.signature or ""})
        elif part.type == "text":
            content.append({"type": "text", "text": part.text})
        else:
            content.append({"type": "tool_use", "id": ctx.tool_id("toolu_", tool_index, part), "name": part.name,
                            "input": arguments_object(part)})
            tool_index += 1
    return _message(ctx, content, STOP[reply.stop_reason], usage_body(reply))


def _error(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": error.get("type", kind), "message": message}}


def error_body(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    return _error(status, message, error)


def stream_error(message: str, error: dict[str, Any]) -> bytes:
    """Anthropic's in-stream error (e.g. overloaded mid-response): `event: error`."""
    status = int(error.get("status", 529))
    return sse(_error(status, message, error), event="error")
