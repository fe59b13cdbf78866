"""Retries, errors and cancellation, against the scripted LLM server."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest
import trio

from agent.errors import ProviderError
from agent.providers import make_provider
from agent.providers.base import CompletionRequest, Message, Retrying, TextDelta
from tests.agent.providers.conftest import KINDS, MakeProvider, Recorder, settings_for
from tests.llm_server.server import ServerHandle

OK = {"parts": [{"type": "text", "text": "all good"}]}


def request() -> CompletionRequest:
    return CompletionRequest(model="", system="sys", messages=[Message("user", "hi")])


@pytest.mark.parametrize("kind", KINDS)
async def test_429_honours_retry_after(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 429, "message": "slow down", "retry_after": 0.2}}, OK)
    emit = Recorder()
    started = time.monotonic()
    completion = await make(kind).stream(request(), emit)
    elapsed = time.monotonic() - started
    assert completion.message.content == "all good"
    [retrying] = emit.of(Retrying)
    assert retrying.attempt == 1
    assert retrying.delay == pytest.approx(0.2)
    assert "429" in retrying.reason and "slow down" in retrying.reason
    assert emit.events[0] == retrying  # announced before the wait, before any text
    assert elapsed >= 0.2
    assert len(llm_server.model_requests) == 2


async def test_500_twice_then_success(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 500, "message": "boom"}}, {"error": {"status": 502}}, OK)
    emit = Recorder()
    completion = await make("openrouter").stream(request(), emit)
    assert completion.message.content == "all good"
    assert [(r.attempt, "HTTP 5" in r.reason) for r in emit.of(Retrying)] == [(1, True), (2, True)]
    assert all(0 < r.delay <= 0.04 for r in emit.of(Retrying))  # base delay 0.01, doubled, jittered
    assert len(llm_server.model_requests) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_400_is_final_with_the_provider_message(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 400, "message": "model 'nope' does not exist"}}, OK)
    emit = Recorder()
    with pytest.raises(ProviderError) as caught:
        await make(kind).stream(request(), emit)
    assert caught.value.status == 400
    assert caught.value.retryable is False
    assert "model 'nope' does not exist" in str(caught.value)
    assert f"test-{kind}" in str(caught.value)
    assert emit.events == []
    assert len(llm_server.model_requests) == 1


@pytest.mark.parametrize("kind", ["openai", "openrouter", "anthropic", "gemini"])
@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_key_names_its_variable(
    kind: str, status: int, make: MakeProvider, llm_server: ServerHandle
) -> None:
    llm_server.push({"error": {"status": status, "message": "invalid x-api-key"}})
    with pytest.raises(ProviderError) as caught:
        await make(kind).stream(request(), Recorder())
    message = str(caught.value)
    env = {"openai": "OPENAI_API_KEY", "openrouter": "OPENROUTER_API_KEY"}.get(kind, f"{kind.upper()}_API_KEY")
    assert f"${env}" in message and "rejected" in message and "invalid x-api-key" in message
    assert f"sk-{kind}-secret" not in message
    assert caught.value.status == status
    assert len(llm_server.model_requests) == 1


async def test_401_without_a_key_says_none_was_sent(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 401, "message": "unauthorized"}})
    with pytest.raises(ProviderError, match=r"no API key was sent: set \$OPENAI_API_KEY"):
        await make("openai", api_key=None).stream(request(), Recorder())


@pytest.mark.parametrize("kind", KINDS)
async def test_dropped_connection_is_retried(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"drop": True}}, OK)
    emit = Recorder()
    completion = await make(kind).stream(request(), emit)
    assert completion.message.content == "all good"
    [retrying] = emit.of(Retrying)
    assert "connection" in retrying.reason
    assert len(llm_server.model_requests) == 2


async def test_gives_up_after_max_retries(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push(*[{"error": {"status": 503, "message": "busy"}}] * 3, OK)
    emit = Recorder()
    with pytest.raises(ProviderError) as caught:
        await make("anthropic", max_retries=2).stream(request(), emit)
    assert caught.value.status == 503 and caught.value.retryable is True
    assert "gave up after 3 attempts" in str(caught.value) and "busy" in str(caught.value)
    assert [r.attempt for r in emit.of(Retrying)] == [1, 2]
    assert len(llm_server.model_requests) == 3


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_a_server_that_is_not_there_says_what_to_check(kind: str, make: MakeProvider) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if kind == "openai" else "")
    with pytest.raises(ProviderError) as caught:
        await make(kind, base_url=base, max_retries=1).stream(request(), Recorder())
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "gave up after 2 attempts" in message
    assert "`corral config show`" in message
    assert ("`ollama serve`" in message) == (kind == "ollama")


async def test_read_timeout_before_any_output_is_retried(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"hang": True}, OK)
    emit = Recorder()
    completion = await make("openai", timeout=0.3).stream(request(), emit)
    assert completion.message.content == "all good"
    [retrying] = emit.of(Retrying)
    assert "timed out" in retrying.reason


@pytest.mark.parametrize("kind", ["openai", "openrouter", "anthropic", "gemini", "ollama"])
async def test_error_after_output_began_is_not_retried(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push(
        {"parts": [{"type": "text", "text": "half an answer"}], "error": {"status": 503, "mid_stream": True}}, OK
    )
    emit = Recorder()
    with pytest.raises(ProviderError):
        await make(kind).stream(request(), emit)
    assert emit.of(TextDelta) and not emit.of(Retrying)
    assert len(llm_server.model_requests) == 1


async def test_anthropic_overloaded_before_output_is_retried(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 529, "message": "Overloaded", "mid_stream": True}}, OK)
    emit = Recorder()
    completion = await make("anthropic").stream(request(), emit)
    assert completion.message.content == "all good"
    [retrying] = emit.of(Retrying)
    assert "overloaded_error" in retrying.reason


async def test_openrouter_in_stream_error_before_output_is_retried(
    make: MakeProvider, llm_server: ServerHandle
) -> None:
    llm_server.push({"error": {"status": 502, "message": "upstream failed", "mid_stream": True}}, OK)
    emit = Recorder()
    completion = await make("openrouter").stream(request(), emit)
    assert completion.message.content == "all good"
    assert "upstream failed" in emit.of(Retrying)[0].reason


def _open_connections(server: ServerHandle) -> int:
    # The server keeps its live connections here (not a public API; the best observation available).
    state: Any = server._state
    with state.lock:
        return len(state.connections)


@pytest.mark.parametrize("kind", KINDS)
async def test_cancel_mid_stream_closes_the_response(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    words = " ".join(f"word{i}" for i in range(60))
    llm_server.push({"parts": [{"type": "text", "text": words}], "chunk_delay": 0.3})
    provider = make(kind)
    first_delta = trio.Event()
    cancelled_at: list[float] = []

    def emit(event: object) -> None:
        if isinstance(event, TextDelta):
            first_delta.set()

    async with trio.open_nursery() as nursery:

        async def call() -> None:
            with trio.CancelScope() as scope:
                cancel_scope.append(scope)
                await provider.stream(request(), emit)
            cancelled_at.append(time.monotonic())

        cancel_scope: list[trio.CancelScope] = []
        nursery.start_soon(call)
        with trio.fail_after(5):
            await first_delta.wait()
        started = time.monotonic()
        cancel_scope[0].cancel()
    assert cancelled_at and cancelled_at[0] - started < 0.5
    assert cancel_scope[0].cancelled_caught

    # the server notices the closed connection at its next write
    deadline = time.monotonic() + 3
    while _open_connections(llm_server) and time.monotonic() < deadline:  # noqa: ASYNC110 (a server thread)
        await trio.sleep(0.05)
    assert _open_connections(llm_server) == 0


async def test_cancel_while_waiting_to_retry(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 429, "retry_after": 30}}, OK)
    provider = make("openai")
    emit = Recorder()
    started = time.monotonic()
    with trio.move_on_after(0.3) as scope:
        await provider.stream(request(), emit)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 1.0
    assert [r.delay for r in emit.of(Retrying)] == [30.0]


async def test_shared_client_is_used_without_injection(llm_server: ServerHandle) -> None:
    from agent.providers.http import aclose_clients, get_client

    llm_server.push(OK)
    provider = make_provider(settings_for("ollama", llm_server))
    try:
        completion = await provider.stream(request(), Recorder())
        assert completion.message.content == "all good"
        assert get_client(True) is get_client(True)
        assert get_client(False) is not get_client(True)
        assert isinstance(get_client(True), httpx.AsyncClient)
    finally:
        await aclose_clients()


async def test_404_names_the_url(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"error": {"status": 404, "message": "no such model"}})
    with pytest.raises(ProviderError) as caught:
        await make("ollama").stream(request(), Recorder())
    assert "no such model" in str(caught.value)
    assert f"{llm_server.base_url}/api/chat" in str(caught.value)
