"""Gemini generateContent / streamGenerateContent: response chunks, the full response, errors.

Each streamed event is `data: {GenerateContentResponse}` followed by a blank line, with CRLF line ends as
Google sends them; without `?alt=sse` the stream is one JSON array of the same objects instead. Chunk:
    {"candidates": [{"content": {"role": "model", "parts": [PART]}, "index": 0}],
     "usageMetadata": {...}, "modelVersion": MODEL, "responseId": "..."}
    PART = {"text": "..."} | {"text": "...", "thought": true} | {"functionCall": {"name", "args": {...}}}
One part per chunk; a function call arrives whole, never in fragments. A scripted reasoning signature is
sent as "thoughtSignature" (verbatim: script base64 if an SDK must decode it) on the reasoning part's
last chunk. A scripted tool-call id is sent as functionCall.id (Gemini itself rarely sends one).
Intermediate chunks carry usageMetadata {promptTokenCount, totalTokenCount} only; the last chunk has
"finishReason" (STOP, also for function calls; MAX_TOKENS) and the full usageMetadata:
    promptTokenCount, candidatesTokenCount (output - reasoning), totalTokenCount,
    thoughtsTokenCount and cachedContentTokenCount (each only when not zero, as Gemini omits them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.llm_server.script import Part, Reply
from tests.llm_server.wire_common import Ctx, arguments_object, dumps, sse, usage_of, word_chunks

NAME = "gemini"
STREAM_CONTENT_TYPE = "text/event-stream"
FINISH = {"end": "STOP", "tool_calls": "STOP", "max_tokens": "MAX_TOKENS"}
_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


def usage_body(reply: Reply, final: bool = True) -> dict[str, Any]:
    u = usage_of(reply)
    if not final:
        return {"promptTokenCount": u.input_tokens, "totalTokenCount": u.input_tokens}
    body: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": max(0, u.output_tokens - u.reasoning_tokens),
        "totalTokenCount": u.input_tokens + u.output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input_tokens}],
    }
    if u.reasoning_tokens:
        body["thoughtsTokenCount"] = u.reasoning_tokens
    if u.cache_read_tokens:
        body["cachedContentTokenCount"] = u.cache_read_tokens
    return body


def _function_call(part: Part) -> dict[str, Any]:
    call: dict[str, Any] = {"name": part.name, "args": arguments_object(part)}
    if part.id:
        call["id"] = part.id
    return {"functionCall": call}


def _parts(reply: Reply, chunked: bool) -> list[dict[str, Any]]:
    """The response parts, one per stream chunk when chunked, else one per script part."""
    out: list[dict[str, Any]] = []
    for part in reply.parts:
        if part.type == "tool_call":
            out.append(_function_call(part))
            continue
        pieces = (word_chunks(part.text) or [""]) if chunked else [part.text]
        for n, piece in enumerate(pieces):
            item: dict[str, Any] = {"text": piece}
            if part.type == "reasoning":
                item["thought"] = True
                if part.signature and n == len(pieces) - 1:
                    item["thoughtSignature"] = part.signature
            out.append(item)
    return out


def _response(ctx: Ctx, parts: list[dict[str, Any]], usage: dict[str, Any], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": ctx.model,
            "responseId": f"scripted{ctx.serial}"}


def chunks(reply: Reply, ctx: Ctx, finish: bool = True) -> list[dict[str, Any]]:
    parts = _parts(reply, chunked=True) or [{"text": ""}]
    out = []
    for n, part in enumerate(parts):
        last = finish and n == len(parts) - 1
        out.append(_response(ctx, [part], usage_body(reply, final=last), FINISH[reply.stop_reason] if last else None))
    return out


def stream(reply: Reply, ctx: Ctx, finish: bool = True) -> Iterator[bytes]:
    for chunk in chunks(reply, ctx, finish):
        yield sse(chunk, newline="\r\n")


def stream_array(reply: Reply, ctx: Ctx, finish: bool = True) -> Iterator[bytes]:
    """streamGenerateContent without alt=sse: a JSON array streamed element by element (a mid_stream
    error is then left out: the array just stops)."""
    for n, chunk in enumerate(chunks(reply, ctx, finish)):
        yield (("[" if n == 0 else ",\r\n") + dumps(chunk)).encode()
    if finish:
        yield b"]"


def complete(reply: Reply, ctx: Ctx) -> dict[str, Any]:
    return _response(ctx, _parts(reply, chunked=False), usage_body(reply), FINISH[reply.stop_reason])


def _error(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": status, "message": message,
                      "status": error.get("type", _STATUS.get(status, "INTERNAL" if status >= 500 else "UNKNOWN"))}}


def error_body(status: int, message: str, error: dict[str, Any]) -> dict[str, Any]:
    return _error(status, message, error)


def stream_error(message: str, error: dict[str, Any]) -> bytes:
    return sse(_error(int(error.get("status", 500)), message, error), newline="\r\n")
