"""Sending one streamed model request, with retries: `post_stream`.

A request is retried — exponential backoff with jitter, or the server's `Retry-After` — when it fails
before the response produced anything: HTTP 429, 500, 502, 503, 504, 529, a connection failure, a timeout,
a dropped connection, or an error the server reports at the start of the stream (Anthropic's
`overloaded_error`). Each retry is announced with a `Retrying` event before the (cancellable) wait. Once an
event was emitted, a failure is final: retrying would repeat text the user already saw.

Other HTTP errors are final at once and become a `ProviderError` carrying the provider's own message and
the status; 401/403 name the variable the API key came from.

A request the server refuses because the prompt does not fit the model's context window is never retried
as is, whatever its status: it becomes a `ProviderError` with `context_overflow=True`, and the core loop
compacts the conversation (agent/compaction.py). `is_context_overflow` knows each wire format's shape:
OpenAI `context_length_exceeded` / "maximum context length" (also OpenRouter and vLLM), Anthropic
`invalid_request_error` "prompt is too long" (and 413 `request_too_large`), Gemini "The input token count
(N) exceeds the maximum number of tokens allowed (M)", Ollama "the input length exceeds the context
length", llama.cpp `exceed_context_size_error` "request (N tokens) exceeds the available context size",
LM Studio "... context length of only N tokens, which is not enough".
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import httpx
import trio

from agent.errors import ProviderError
from agent.providers.base import Emit, Retrying, StreamEvent
from agent.providers.http import request_timeout
from agent.providers.settings import ProviderSettings
from agent.values import frozen

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})

_OVERFLOW = (  # compiled on first use (re caches it), not at import
    r"context_length_exceeded"  # OpenAI's error code
    r"|exceed_context_size_error"  # llama.cpp server's error type
    r"|maximum context length"  # OpenAI, OpenRouter, vLLM, Mistral, LiteLLM
    r"|context (?:length|window) (?:exceeded|is full|full)"
    r"|reduce the length of the (?:messages|prompt|input)"
    r"|prompt is too long"  # Anthropic (also relayed by OpenRouter and Vertex)
    r"|input is too long"  # Anthropic on Bedrock
    r"|exceeds the maximum number of tokens"  # Gemini
    r"|input token count.{0,40}exceeds"  # Gemini
    r"|exceed(?:s|ed)? (?:the )?(?:available |maximum |model'?s? )?context"  # llama.cpp, Ollama, LM Studio
    r"|context size"  # llama.cpp, LM Studio ("context size has been exceeded")
    r"|context length of only"  # LM Studio
    r"|too many tokens"
    r"|prompt too long"
)
_NOT_OVERFLOW = r"rate.?limit|per minute|please wait|quota"


def is_context_overflow(status: int | None, text: str) -> bool:
    """Whether an error (HTTP status, the body or message) says the prompt does not fit the model's context
    window. 429 never does (rate limits speak of tokens too); 413 always does (the request is too big)."""
    if status == 429 or status in (401, 403):
        return False
    if status == 413:
        return True
    lowered = text.lower()
    return bool(re.search(_OVERFLOW, lowered)) and not re.search(_NOT_OVERFLOW, lowered)

T = TypeVar("T")
Consume = Callable[[httpx.Response, Emit], Awaitable[T]]


@frozen
class RetryPolicy:
    """How often and how long to wait. The n-th retry waits about base_delay * 2**(n-1) (half of it
    random), at most max_delay; a Retry-After from the server wins, capped at max_retry_after."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0

    def backoff(self, retry: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class StreamError(Exception):
    """An error found inside a streamed body: reported by the server, or the body ended too early.
    Provider parsers raise it; `post_stream` retries it when retryable and nothing was emitted yet."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class _Retry(Exception):
    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _Tracker:
    """An emit that remembers whether anything was emitted."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.started = False

    def __call__(self, event: StreamEvent) -> None:
        self.started = True
        self._emit(event)


async def post_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    settings: ProviderSettings,
    policy: RetryPolicy,
    emit: Emit,
    consume: Consume[T],
) -> T:
    """POST body as JSON and hand the streaming response to consume(response, emit), retrying as above."""
    attempt = 0
    while True:
        attempt += 1
        tracker = _Tracker(emit)
        try:
            return await _attempt(client, url, body, headers, settings, policy, tracker, consume)
        except _Retry as failure:
            if attempt > policy.max_retries:
                raise ProviderError(
                    f"{settings.name}: {failure.reason} (gave up after {attempt} attempt{'s' if attempt != 1 else ''})"
                    f"{_hint(failure, settings)}",
                    status=failure.status,
                    retryable=True,
                ) from failure
            delay = failure.retry_after if failure.retry_after is not None else policy.backoff(attempt)
            emit(Retrying(attempt, delay, failure.reason))
            await trio.sleep(delay)


async def _attempt(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    settings: ProviderSettings,
    policy: RetryPolicy,
    tracker: _Tracker,
    consume: Consume[T],
) -> T:
    try:
        async with client.stream(
            "POST", url, json=body, headers=dict(headers), timeout=request_timeout(settings.timeout)
        ) as response:
            if not 200 <= response.status_code < 300:
                await response.aread()
                raise _status_failure(response, url, settings, policy)
            return await consume(response, tracker)
    except StreamError as exc:
        if is_context_overflow(exc.status, exc.message):
            raise ProviderError(f"{settings.name}: {exc.message}", status=exc.status, context_overflow=True) from exc
        if exc.retryable and not tracker.started:
            raise _Retry(exc.message, status=exc.status) from exc
        raise ProviderError(f"{settings.name}: {exc.message}", status=exc.status, retryable=exc.retryable) from exc
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        reason = _describe(exc, url)
        if tracker.started:
            raise ProviderError(f"{settings.name}: the response broke off: {reason}", retryable=True) from exc
        raise _Retry(reason) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ProviderError(f"{settings.name}: cannot send the request to {url}: {exc}") from exc


def _hint(failure: _Retry, settings: ProviderSettings) -> str:
    """What to check when the server could not be reached at all."""
    if failure.status is not None or not failure.reason.startswith("connection to"):
        return ""
    if settings.kind == "ollama":
        return "; is Ollama running (`ollama serve`)? `corral config show` shows the base_url in use"
    return "; is the server up and the provider's base_url right? `corral config show` shows the one in use"


def _describe(exc: Exception, url: str) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {url} ({detail})"
    return f"connection to {url} failed ({detail})"


def _status_failure(response: httpx.Response, url: str, settings: ProviderSettings, policy: RetryPolicy) -> Exception:
    status = response.status_code
    message = error_message(response)
    if is_context_overflow(status, response.text):
        return ProviderError(f"{settings.name}: HTTP {status}: {message}", status=status, context_overflow=True)
    if status in RETRYABLE_STATUSES:
        retry_after = parse_retry_after(response.headers, policy.max_retry_after)
        return _Retry(f"HTTP {status}: {message}", status=status, retry_after=retry_after)
    if status in (401, 403):
        return ProviderError(_auth_message(settings, status, message), status=status)
    hint = f" (check the model name and the base URL: {url})" if status == 404 else ""
    return ProviderError(f"{settings.name}: HTTP {status}: {message}{hint}", status=status)


def _auth_message(settings: ProviderSettings, status: int, message: str) -> str:
    env = settings.api_key_env
    if settings.api_key:
        source = f"${env}" if env else "the configuration"
        return (
            f"{settings.name}: the API key from {source} was rejected (HTTP {status}: {message}); "
            f"check the key in {source}"
        )
    where = f"set ${env}" if env else "configure an API key for this provider"
    return f"{settings.name}: HTTP {status}: {message}; no API key was sent: {where}"


def error_message(response: httpx.Response) -> str:
    """The provider's own error message from an error response body (every wire format's shape)."""
    text = response.text.strip()
    try:
        data: object = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list) and data:
        data = data[0]  # Gemini sometimes wraps the error in an array
    found = error_text(data) if isinstance(data, dict) else None
    if found:
        return found
    if text:
        return text[:500]
    return response.reason_phrase or "no message"


def error_text(data: Mapping[str, object]) -> str | None:
    """The message of an error object: {"error": "…"}, {"error": {"message": "…"}}, {"message": "…"},
    {"detail": "…"}; OpenRouter's upstream message (error.metadata.raw) is appended."""
    error = data.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, dict):
        message = error.get("message")
        text = message if isinstance(message, str) and message else json.dumps(error)[:500]
        metadata = error.get("metadata")
        raw = metadata.get("raw") if isinstance(metadata, dict) else None
        if isinstance(raw, str) and raw and raw not in text:
            text = f"{text} ({raw[:300]})"
        return text
    for key in ("message", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def parse_retry_after(headers: Mapping[str, str], cap: float = 60.0) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date); at most cap."""
    millis = headers.get("retry-after-ms")
    value = headers.get("retry-after")
    delay: float | None = None
    if millis:
        try:
            delay = float(millis) / 1000
        except ValueError:
            delay = None
    if delay is None and value:
        try:
            delay = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            delay = when.timestamp() - time.time()
    if delay is None or delay != delay:  # NaN
        return None
    return min(max(delay, 0.0), cap)
