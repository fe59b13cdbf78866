"""list_models: each wire format's listing endpoint on the scripted server, paging, and the failures the UI
turns into "type a model name"."""

from __future__ import annotations

import socket

import httpx
import pytest

from agent.errors import ProviderError
from agent.providers.models import list_models
from agent.providers.settings import ProviderSettings
from tests.agent.providers.conftest import KINDS, settings_for
from tests.llm_server.server import ServerHandle

UNSORTED = ["zeta-model", "alpha-model", "mid:7b", "alpha-model"]


@pytest.mark.parametrize("kind", KINDS)
async def test_lists_sorted_unique_ids_with_the_providers_auth(
    kind: str, llm_server: ServerHandle, client: httpx.AsyncClient
) -> None:
    llm_server.set_models(UNSORTED)
    settings = settings_for(kind, llm_server, headers={"X-Extra": "yes"})
    assert await list_models(settings, client=client) == ["alpha-model", "mid:7b", "zeta-model"]
    [request] = llm_server.requests
    assert request.method == "GET" and not request.is_completion
    assert request.header("x-extra") == "yes" and request.header("accept") == "application/json"
    path, auth = {
        "openai": ("/v1/models", ("authorization", "Bearer sk-openai-secret")),
        "openrouter": ("/api/v1/models", ("authorization", "Bearer sk-openrouter-secret")),
        "anthropic": ("/v1/models", ("x-api-key", "sk-anthropic-secret")),
        "gemini": ("/v1beta/models", ("x-goog-api-key", "sk-gemini-secret")),
        "ollama": ("/api/tags", ("authorization", None)),
    }[kind]
    assert request.path == path
    assert request.header(auth[0]) == auth[1]
    if kind == "anthropic":
        assert request.header("anthropic-version") == "2023-06-01"


async def test_anthropic_pages_with_after_id(llm_server: ServerHandle, client: httpx.AsyncClient) -> None:
    models = [f"claude-{n:04d}" for n in range(2100)]
    llm_server.set_models(reversed(models))
    settings = settings_for("anthropic", llm_server, base_url=f"{llm_server.base_url}/v1")  # version tolerated
    assert await list_models(settings, client=client) == models
    queries = [r.query for r in llm_server.requests]
    assert queries == [
        {"limit": "1000"},
        {"limit": "1000", "after_id": models[1100]},
        {"limit": "1000", "after_id": models[100]},
    ]


async def test_gemini_pages_and_skips_models_that_cannot_chat(
    llm_server: ServerHandle, client: httpx.AsyncClient
) -> None:
    models = [f"gemini-{n:04d}" for n in range(1500)]
    llm_server.set_models([*models, "text-embedding-004"])
    assert await list_models(settings_for("gemini", llm_server), client=client) == models
    assert [r.query for r in llm_server.requests] == [
        {"pageSize": "1000"},
        {"pageSize": "1000", "pageToken": "1000"},
    ]


async def test_an_empty_list_is_empty(llm_server: ServerHandle, client: httpx.AsyncClient) -> None:
    llm_server.set_models([])
    for kind in KINDS:
        assert await list_models(settings_for(kind, llm_server), client=client) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_server_without_listing_says_type_a_model_name(
    kind: str, llm_server: ServerHandle, client: httpx.AsyncClient
) -> None:
    llm_server.set_models(None)
    with pytest.raises(ProviderError) as info:
        await list_models(settings_for(kind, llm_server), client=client)
    assert info.value.status == 404
    assert f"test-{kind}: this server does not list its models" in str(info.value)
    assert str(info.value).endswith("type a model name")


async def test_unreachable_server_names_the_url_and_base_url(client: httpx.AsyncClient) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ProviderSettings("local", "openai", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderError, match=rf"cannot list the models: http://127.0.0.1:{port}/v1/models.*base_url"):
        await list_models(settings, client=client)


def _transport_client(status: int, body: bytes, content_type: str = "application/json") -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_rejected_key_names_its_variable(llm_server: ServerHandle) -> None:
    settings = settings_for("openai", llm_server)
    body = b'{"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}'
    async with _transport_client(401, body) as client:
        with pytest.raises(ProviderError, match=r"\$OPENAI_API_KEY was rejected.*Incorrect API key") as info:
            await list_models(settings, client=client)
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, b"<html>login page</html>", "did not answer with a model list"),
        (200, b'{"object": "list"}', "has no 'data' array"),
        (503, b'{"error": {"message": "overloaded"}}', "HTTP 503: overloaded; type a model name"),
    ],
)
async def test_other_failures_are_clear(llm_server: ServerHandle, status: int, body: bytes, match: str) -> None:
    async with _transport_client(status, body) as client:
        with pytest.raises(ProviderError, match=match):
            await list_models(settings_for("openai", llm_server), client=client)
