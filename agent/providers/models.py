"""Listing the models a provider serves, for `/model` in the interactive UI: `list_models(settings)`.

One GET per page, with the provider's own headers and key (the same ones its wire module sends), through the
shared client (http.py), with a short timeout: the user is waiting for a menu, and typing a model name always
works instead. No retries for the same reason.

| kind | request | ids |
| --- | --- | --- |
| openai, openrouter | GET {base_url}/models | `data[].id` |
| anthropic | GET {base_url}/v1/models?limit=1000, then `after_id=<last_id>` while `has_more` | `data[].id` |
| gemini | GET {base_url}/v1beta/models?pageSize=1000, then `pageToken=<nextPageToken>` | `models[].name` (1) |
| ollama | GET {base_url}/api/tags | `models[].name` (`model` as a fallback) |

(1) without the `models/` prefix, and only the models whose supportedGenerationMethods include
generateContent (embedding models cannot chat).

A server that has no listing (404, 405, 501: many OpenAI-compatible servers) gives a `ProviderError` saying
so; the UI then asks for a model name. 401/403 name the variable the key came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.errors import ProviderError

if TYPE_CHECKING:
    import httpx

    from agent.providers.settings import ProviderSettings

LIST_TIMEOUT = 15.0  # seconds per read, at most (the provider's own timeout when shorter)
CONNECT_TIMEOUT = 5.0
MAX_PAGES = 50
UNSUPPORTED_STATUSES = frozenset({404, 405, 501})

JSONObject = dict[str, object]


async def list_models(settings: ProviderSettings, *, client: httpx.AsyncClient | None = None) -> list[str]:
    """The ids of the models settings' provider serves, sorted and without duplicates.

    client: an injected HTTP client (default: the shared one). Raises ProviderError when the server cannot
    be reached, refuses the key, answers something that is not a model list, or has no listing at all
    (the message then ends with "type a model name")."""
    from agent.providers import make_provider
    from agent.providers.wire import HTTPProvider, join_url

    provider = make_provider(settings, client)
    assert isinstance(provider, HTTPProvider)
    headers = provider.headers()
    headers["Accept"] = "application/json"
    kind, base = settings.kind, settings.base_url
    ids: list[str] = []
    name = settings.name
    if kind in ("openai", "openrouter"):
        page = await _get(settings, client, join_url(base, "", "/models"), headers, {})
        ids = _ids(page, "data", _openai_id, name)
    elif kind == "ollama":
        page = await _get(settings, client, join_url(base, "/api", "/tags"), headers, {})
        ids = _ids(page, "models", _ollama_id, name)
    elif kind == "anthropic":
        url = join_url(base, "/v1", "/models")
        params = {"limit": "1000"}
        for _ in range(MAX_PAGES):
            page = await _get(settings, client, url, headers, params)
            ids += _ids(page, "data", _openai_id, name)
            last = page.get("last_id")
            if page.get("has_more") is not True or not isinstance(last, str) or not last:
                break
            params = {"limit": "1000", "after_id": last}
    elif kind == "gemini":
        url = join_url(base, "/v1beta", "/models")
        params = {"pageSize": "1000"}
        for _ in range(MAX_PAGES):
            page = await _get(settings, client, url, headers, params)
            ids += _ids(page, "models", _gemini_id, name)
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
            params = {"pageSize": "1000", "pageToken": token}
    return sorted(set(ids))


def _ids(page: JSONObject, key: str, pick: Callable[[JSONObject], str | None], name: str) -> list[str]:
    entries = page.get(key)
    if not isinstance(entries, list):
        raise ProviderError(f"{name}: the server's model list has no {key!r} array; type a model name")
    return [found for entry in entries if isinstance(entry, dict) and (found := pick(entry))]


def _openai_id(entry: JSONObject) -> str | None:
    value = entry.get("id")
    return value if isinstance(value, str) and value else None


def _ollama_id(entry: JSONObject) -> str | None:
    for key in ("name", "model"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _gemini_id(entry: JSONObject) -> str | None:
    methods = entry.get("supportedGenerationMethods")
    if isinstance(methods, list) and "generateContent" not in methods:
        return None  # embedding and other models that cannot chat
    name = entry.get("name")
    return name.removeprefix("models/") if isinstance(name, str) and name else None


async def _get(
    settings: ProviderSettings,
    client: httpx.AsyncClient | None,
    url: str,
    headers: dict[str, str],
    params: dict[str, str],
) -> JSONObject:
    """One GET of a listing page as a JSON object; every failure a ProviderError naming the provider."""
    import httpx

    from agent.providers.http import get_client
    from agent.providers.retry import _auth_message, error_message

    name = settings.name
    http = client or get_client(settings.verify_tls, tls=not url.startswith("http://"))
    timeout = httpx.Timeout(min(settings.timeout, LIST_TIMEOUT), connect=CONNECT_TIMEOUT)
    try:
        response = await http.get(url, headers=headers, params=params, timeout=timeout)
    except httpx.TimeoutException as exc:
        detail = str(exc) or "no answer"
        raise ProviderError(f"{name}: listing the models timed out ({url}: {detail}); type a model name") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ProviderError(f"{name}: cannot list the models: {url} failed ({exc}); check base_url") from exc
    status = response.status_code
    if status in UNSUPPORTED_STATUSES:
        raise ProviderError(
            f"{name}: this server does not list its models (HTTP {status} from {url}); type a model name",
            status=status,
        )
    if status in (401, 403):
        raise ProviderError(_auth_message(settings, status, error_message(response)), status=status)
    if status >= 400:
        raise ProviderError(
            f"{name}: listing the models failed: HTTP {status}: {error_message(response)}; type a model name",
            status=status,
            retryable=status >= 500 or status == 429,
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"{name}: {url} did not answer with a model list (not a JSON object); type a model name")
    return data
