"""How to reach one configured provider: `ProviderSettings`, built by the config module.

Also the price arithmetic: when a provider does not report the cost of a response, and the settings
carry prices (USD per million tokens), `apply_prices` computes it from the token counts.
"""

from __future__ import annotations

from dataclasses import field

from agent.providers.base import Usage
from agent.values import frozen

PRICE_KEYS = ("input", "output", "cache_read", "cache_write")


@frozen
class ProviderSettings:
    """One provider as configured.

    - name: the configured name ("openrouter", "local" …), shown in messages.
    - kind: the wire format: openai | openrouter | anthropic | gemini | ollama.
    - base_url: e.g. https://openrouter.ai/api/v1, https://api.anthropic.com,
      https://generativelanguage.googleapis.com, http://localhost:11434 (a trailing version segment the
      provider adds itself — /v1 for Anthropic, /v1beta for Gemini, /api for Ollama — is tolerated).
    - api_key: the key itself (None: send none); api_key_env: the variable it came from, named in errors.
    - headers: extra HTTP headers sent with every request.
    - timeout: seconds to wait for each read of the response (connecting is limited to 10 s).
    - verify_tls: False accepts any certificate (self-hosted servers).
    - max_retries: retries after the first attempt for 429/5xx/connection failures.
    - context_window: tokens, when known (the core loop uses it to decide when to compact).
    - prices: USD per million tokens, keys input, output, cache_read, cache_write (cache prices default
      to the input price).
    - model: the default model of this provider.
    """

    name: str
    kind: str
    base_url: str
    api_key: str | None = None
    api_key_env: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0
    verify_tls: bool = True
    max_retries: int = 4
    context_window: int | None = None
    prices: dict[str, float] | None = None
    model: str = ""


def apply_prices(usage: Usage, prices: dict[str, float] | None) -> None:
    """Set usage.cost from prices when the provider reported no cost.

    Token convention (every provider module follows it, whatever its wire format reports):
    input_tokens is the whole prompt, cache_read_tokens and cache_write_tokens included (so the
    uncached part is input − cache_read − cache_write); output_tokens include reasoning_tokens.
    """
    if usage.cost is not None or not prices:
        return
    input_price = prices.get("input", 0.0)
    uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    usage.cost = (
        uncached * input_price
        + usage.output_tokens * prices.get("output", 0.0)
        + usage.cache_read_tokens * prices.get("cache_read", input_price)
        + usage.cache_write_tokens * prices.get("cache_write", input_price)
    ) / 1_000_000
