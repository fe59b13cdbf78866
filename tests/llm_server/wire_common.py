"""Helpers shared by the four wire formats: chunking, usage numbers, ids, the per-request context.

Every format module (wire_openai, wire_anthropic, wire_gemini, wire_ollama) exposes the same surface:

    NAME                 "openai" | "anthropic" | "gemini" | "ollama"
    STREAM_CONTENT_TYPE  the media type of its streaming response
    stream(reply, ctx, finish=True) -> iterator of encoded stream events (bytes, one per chunk), in order;
                         finish=False leaves out the closing events (finish reason, usage, [DONE], ...)
    complete(reply, ctx) -> the non-streaming response body (a JSON-able dict)
    error_body(status, message, error) -> the provider's error JSON for an HTTP error
    stream_error(message, error) -> one encoded in-stream error event (mid_stream errors)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from tests.llm_server.script import Part, Reply

WORDS_PER_CHUNK = 3
ARG_FRAGMENTS = 4


@dataclass(frozen=True)
class Ctx:
    """What a format needs to know about the request being answered."""

    model: str
    serial: int  # 1-based number of the reply being served (makes ids unique across replies)

    def tool_id(self, prefix: str, index: int, part: Part) -> str:
        return part.id or f"{prefix}{self.serial}_{index}"


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None


def usage_of(reply: Reply) -> Usage:
    u = reply.usage
    return Usage(
        input_tokens=int(u.get("input_tokens", 0)),
        output_tokens=int(u.get("output_tokens", 0)),
        cache_read_tokens=int(u.get("cache_read_tokens", 0)),
        cache_write_tokens=int(u.get("cache_write_tokens", 0)),
        reasoning_tokens=int(u.get("reasoning_tokens", 0)),
        cost=u.get("cost"),
    )


_TOKEN = re.compile(r"\S+\s*|\s+")


def word_chunks(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """text in pieces of a few words each; "".join(result) == text; [] for ""."""
    tokens = _TOKEN.findall(text)
    return ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]


def fragments(text: str, pieces: int = ARG_FRAGMENTS) -> list[str]:
    """text cut into up to `pieces` consecutive fragments (at least one, even for "")."""
    if not text:
        return [""]
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i:i + size] for i in range(0, len(text), size)]


def arguments_object(part: Part) -> Any:
    """The arguments as a JSON value for formats that send an object (Anthropic non-streaming, Gemini,
    Ollama). Malformed raw_arguments cannot be an object there: the raw text is sent as a JSON string."""
    if part.raw_arguments is None:
        return part.arguments
    try:
        return json.loads(part.raw_arguments)
    except ValueError:
        return part.raw_arguments


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse(data: Any, event: str | None = None, newline: str = "\n") -> bytes:
    """One server-sent event: optional `event:` line, one `data:` line, blank line."""
    payload = data if isinstance(data, str) else dumps(data)
    head = f"event: {event}{newline}" if event else ""
    return f"{head}data: {payload}{newline}{newline}".encode()


def ndjson(obj: Any) -> bytes:
    return (dumps(obj) + "\n").encode()


def default_message(status: int) -> str:
    return {
        400: "bad request", 401: "invalid api key", 403: "permission denied", 404: "not found",
        408: "request timeout", 413: "request too large", 429: "rate limited", 500: "internal error",
        502: "bad gateway", 503: "service unavailable", 504: "gateway timeout", 529: "overloaded",
    }.get(status, f"scripted error {status}")
