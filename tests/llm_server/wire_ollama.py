"""Ollama /api/chat: NDJSON stream lines, the full response, errors.

Streaming (the default unless the body says "stream": false) is NDJSON, one object per line:
    {"model", "created_at", "message": {"role": "assistant", "content": "..."}, "done": false}
    {"model", "created_at", "message": {"role": "assistant", "content": "", "thinking": "..."}, "done": false}
    {"model", "created_at", "message": {"role": "assistant", "content": "",
                                        "tool_calls": [{"function": {"name", "arguments": {...}}}]}, "done": false}
    {"model", "created_at", "message": {"role": "assistant", "content": ""}, "done": true,
     "done_reason": "stop" | "length", "total_duration", "load_duration", "prompt_eval_count",
     "prompt_eval_duration", "eval_count", "eval_duration"}
Each tool call comes whole, in its own line (no id, no fragments). Non-streaming: one object with the
whole message (content, thinking when any, tool_calls when any) and the final fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tests.llm_server.script import Reply
from tests.llm_server.wire_common import Ctx, arguments_object, ndjson, usage_of, word_chunks

NAME = "ollama"
STREAM_CONTENT_TYPE = "application/x-ndjson"
DONE = {"end": "stop", "tool_calls": "stop", "max_tokens": "length"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line(ctx: Ctx, message: dict[str, Any], done: bool = False) -> dict[str, Any]:
    return {"model": ctx.model, "created_at": _now(), "message": {"role": "assistant", "content": "", **message},
            "done": done}


def _final(reply: Reply) -> dict[str, Any]:
    u = usage_of(reply)
    return {"done_reason": DONE[reply.stop_reason], "total_duration": 1_000_000, "load_duration": 100_000,
            "prompt_eval_count": u.input_tokens, "prompt_eval_duration": 200_000,
            "eval_count": u.output_tokens, "eval_duration": 700_000}


def stream(reply: Reply, ctx: Ctx, finish: bool = True) -> Iterator[bytes]:
    for part in reply.parts:
        if part.type == "tool_call":
            call = {"function": {"name": part.name, "arguments": arguments_object(part)}}
            yield ndjson(_line(ctx, {"tool_calls": [call]}))
        else:
            key = "content" if part.type == "text" else "thinking"
            for piece in word_chunks(part.text):
                yield ndjson(_line(ctx, {key: piece}))
    if finish:
        yield ndjson({**_line(ctx, {}, done=True), **_final(reply)})


def complete(reply: Reply, ctx: Ctx) -> dict[str, Any]:
    message: dict[str, Any] = {"content": reply.text}
    if reply.reasoning:
        message["thinking"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [{"function": {"name": p.name, "arguments": arguments_object(p)}}
                                 for p in reply.tool_calls]
    return {**_line(ctx, message, done=True), **_final(reply)}


def error_body(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    return {"error": message}


def stream_error(message: str, error: dict[str, Any]) -> bytes:
    return ndjson({"error": message})
