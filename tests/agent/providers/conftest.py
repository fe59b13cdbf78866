"""Fixtures for the provider tests: the scripted LLM server, a fresh httpx client, provider factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agent.providers import make_provider
from agent.providers.base import Provider, StreamEvent
from agent.providers.settings import ProviderSettings
from tests.llm_server.fixtures import llm_server  # noqa: F401  (a fixture)
from tests.llm_server.server import ServerHandle

KINDS = ("openai", "openrouter", "anthropic", "gemini", "ollama")
MODELS = {
    "openai": "gpt-test",
    "openrouter": "anthropic/claude-test",
    "anthropic": "claude-test",
    "gemini": "gemini-2.5-flash",
    "ollama": "qwen3:test",
}
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "ollama": None,
}


def base_url(kind: str, server: ServerHandle) -> str:
    """Where each kind's real base URL would point, on the scripted server."""
    return {
        "openai": f"{server.base_url}/v1",
        "openrouter": f"{server.base_url}/api/v1",
    }.get(kind, server.base_url)


def settings_for(kind: str, server: ServerHandle, **overrides: Any) -> ProviderSettings:
    values: dict[str, Any] = {
        "name": f"test-{kind}",
        "kind": kind,
        "base_url": base_url(kind, server),
        "api_key": None if kind == "ollama" else f"sk-{kind}-secret",
        "api_key_env": KEY_ENV[kind],
        "timeout": 10.0,
        "model": MODELS[kind],
    }
    values.update(overrides)
    return ProviderSettings(**values)


@dataclass
class Recorder:
    """An emit that keeps every event."""

    events: list[StreamEvent] = field(default_factory=list)

    def __call__(self, event: StreamEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A fresh client per test (the shared one belongs to a single trio run)."""
    async with httpx.AsyncClient(http1=True, trust_env=False) as c:
        yield c


MakeProvider = Callable[..., Provider]


@pytest.fixture
def make(llm_server: ServerHandle, client: httpx.AsyncClient) -> MakeProvider:  # noqa: F811
    """make(kind, **settings overrides) -> a provider pointed at the scripted server, fast retries."""

    def factory(kind: str, **overrides: Any) -> Provider:
        return make_provider(settings_for(kind, llm_server, **overrides), client, retry_base_delay=0.01)

    return factory
