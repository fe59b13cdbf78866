"""The skeleton every HTTP provider shares: settings, the injected or shared client, retries, `stream()`.

A wire module subclasses `HTTPProvider` and supplies the URL, the headers, the request body and the
parser of the streamed response; `stream()` sends it through `post_stream` (retry.py), so each provider
module holds only its wire format.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import httpx

from agent.errors import ProviderError
from agent.providers.base import Completion, CompletionRequest, Emit, Message
from agent.providers.http import get_client
from agent.providers.retry import RetryPolicy, post_stream
from agent.providers.settings import ProviderSettings

EPHEMERAL: dict[str, object] = {"type": "ephemeral"}

_call_ids = itertools.count(1)


def new_call_id() -> str:
    """An id for a tool call whose wire format gives none (unique within the process)."""
    return f"call_{next(_call_ids)}"


def join_url(base_url: str, version: str, path: str) -> str:
    """base_url + version + path, tolerating a base URL that already ends in the version segment."""
    base = base_url.rstrip("/")
    if version and not base.endswith(version):
        base += version
    return base + path


class HTTPProvider:
    """A provider speaking one wire format over HTTP (see the wire modules)."""

    def __init__(
        self,
        settings: ProviderSettings,
        client: httpx.AsyncClient | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.name = settings.name
        self.kind = settings.kind
        self.settings = settings
        self._client = client
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries)

    # ------------------------------------------------------------------ what each wire module supplies

    def url(self, model: str) -> str:
        raise NotImplementedError

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def body(self, request: CompletionRequest, model: str) -> dict[str, object]:
        raise NotImplementedError

    async def consume(self, response: httpx.Response, emit: Emit) -> Completion:
        raise NotImplementedError

    # ------------------------------------------------------------------ shared

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": "text/event-stream"}
        key = (self.settings.api_key or "").strip()
        if key:
            headers.update(self.auth_headers(key))
        headers.update(self.settings.headers)
        return headers

    def model(self, request: CompletionRequest) -> str:
        model = request.model or self.settings.model
        if not model:
            raise ProviderError(f"{self.name}: no model given; set one in the configuration or with --model")
        return model

    async def stream(self, request: CompletionRequest, emit: Emit) -> Completion:
        """Stream one response (see base.Provider)."""
        model = self.model(request)
        url = self.url(model)
        client = self._client or get_client(self.settings.verify_tls, tls=not url.startswith("http://"))
        return await post_stream(
            client,
            url,
            body=self.body(request, model),
            headers=self.headers(),
            settings=self.settings,
            policy=self.retry,
            emit=emit,
            consume=self.consume,
        )


def tool_name(messages: Sequence[Message], index: int) -> str:
    """The tool name of the tool-result message at index: its own `name`, else the name of the call with
    its id in an earlier assistant message (wire formats that match results by name need it)."""
    message = messages[index]
    if message.name:
        return message.name
    for earlier in reversed(messages[:index]):
        for call in earlier.tool_calls:
            if call.id == message.tool_call_id:
                return call.name
    return "unknown"
