"""Model providers: one module per wire format, behind the contract in base.py.

`make_provider(settings)` builds the provider for a configured `ProviderSettings` (settings.py):

| kind | module | wire format |
| --- | --- | --- |
| openai, openrouter | openai.py | Chat Completions (also every OpenAI-compatible server) |
| anthropic | anthropic.py | Messages |
| gemini | gemini.py | Gemini streamGenerateContent |
| ollama | ollama.py | Ollama /api/chat |

Shared pieces: http.py (the one client and SSL context), retry.py (sending with retries), sse.py (SSE
and NDJSON parsing), assemble.py (building the Completion from deltas), wire.py (the provider skeleton).
Each wire module, and httpx itself, is imported only when a provider is made, so commands that never
talk to a model do not pay for them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from agent.errors import ProviderError

# httpx imports its command-line tool (click, rich, pygments: ~20 ms and several MB here) whenever those
# happen to be installed; corral never uses it. A None entry makes that optional import fail fast, and
# httpx falls back to its stub. Every provider module imports httpx after this package's __init__.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    import httpx

    from agent.providers.base import Provider
    from agent.providers.settings import ProviderSettings

KINDS = ("openai", "openrouter", "anthropic", "gemini", "ollama")


def make_provider(
    settings: ProviderSettings,
    client: httpx.AsyncClient | None = None,
    *,
    retry_base_delay: float | None = None,
) -> Provider:
    """The provider for settings.kind. client: an injected HTTP client (default: the shared one).
    retry_base_delay: the first backoff delay in seconds (default 1; tests make it small)."""
    if settings.kind not in KINDS:
        raise ProviderError(
            f"provider {settings.name!r}: unknown kind {settings.kind!r}; known kinds: {', '.join(KINDS)}"
        )
    from agent.providers.retry import RetryPolicy

    retry = RetryPolicy(max_retries=settings.max_retries)
    if retry_base_delay is not None:
        retry = RetryPolicy(max_retries=settings.max_retries, base_delay=retry_base_delay)
    if settings.kind in ("openai", "openrouter"):
        from agent.providers.openai import OpenAIProvider

        return OpenAIProvider(settings, client, retry=retry)
    if settings.kind == "anthropic":
        from agent.providers.anthropic import AnthropicProvider

        return AnthropicProvider(settings, client, retry=retry)
    if settings.kind == "gemini":
        from agent.providers.gemini import GeminiProvider

        return GeminiProvider(settings, client, retry=retry)
    from agent.providers.ollama import OllamaProvider

    return OllamaProvider(settings, client, retry=retry)
