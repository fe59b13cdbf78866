"""The model-listing endpoints of each wire format, answering from the server's configurable model list.

    GET {/v1,/openai/v1,...}/models     OpenAI: {"object": "list", "data": [{id, object, created, owned_by}]}
    GET /api/v1/models                  OpenRouter: {"data": [{id, canonical_slug, name, created, description,
                                        context_length, architecture, pricing, top_provider, ...}]}
    GET /v1/models + anthropic-version  Anthropic: {"data": [{type, id, display_name, created_at}], "has_more",
                                        "first_id", "last_id"}; paginated by `limit` (default 20, 1..1000),
                                        `after_id`, `before_id`
    GET /v1beta/models (/v1alpha)       Gemini: {"models": [{name: "models/<id>", ...}], "nextPageToken"};
                                        paginated by `pageSize` (default 50, at most 1000) and `pageToken`;
                                        a model whose id contains "embedding" supports only embedContent
    GET /api/tags                       Ollama: {"models": [{name, model, modified_at, size, digest, details}]}

A server started with `models=None` has no listing: these paths answer 404 in the format's error shape,
like an OpenAI-compatible server that does not implement /models. Pagination tokens are opaque strings
(here: the index of the next model), as the real APIs' are.
"""

from __future__ import annotations

from typing import Any

CREATED = "2025-01-01T00:00:00Z"
CREATED_UNIX = 1_735_689_600


def openai(models: tuple[str, ...]) -> dict[str, Any]:
    return {"object": "list", "data": [
        {"id": m, "object": "model", "created": CREATED_UNIX, "owned_by": "scripted"} for m in models]}


def openrouter(models: tuple[str, ...]) -> dict[str, Any]:
    return {"data": [
        {"id": m, "canonical_slug": m, "hugging_face_id": None, "name": m, "created": CREATED_UNIX,
         "description": f"the scripted model {m}", "context_length": 131_072,
         "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
                          "tokenizer": "Other", "instruct_type": None},
         "pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0", "image": "0"},
         "top_provider": {"context_length": 131_072, "max_completion_tokens": 16_384, "is_moderated": False},
         "per_request_limits": None,
         "supported_parameters": ["tools", "tool_choice", "reasoning", "max_tokens", "temperature"]}
        for m in models]}


def anthropic(models: tuple[str, ...], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        return 400, _anthropic_error("limit: Input should be between 1 and 1000")
    ids = list(models)
    after, before = query.get("after_id"), query.get("before_id")
    if after is not None:
        if after not in ids:
            return 400, _anthropic_error(f"after_id: unknown model {after!r}")
        page = ids[ids.index(after) + 1 :][:limit]
        has_more = ids.index(after) + 1 + limit < len(ids)
    elif before is not None:
        if before not in ids:
            return 400, _anthropic_error(f"before_id: unknown model {before!r}")
        end = ids.index(before)
        page = ids[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page, has_more = ids[:limit], limit < len(ids)
    return 200, {"data": [{"type": "model", "id": m, "display_name": m, "created_at": CREATED} for m in page],
                 "has_more": has_more, "first_id": page[0] if page else None, "last_id": page[-1] if page else None}


def _anthropic_error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def gemini(models: tuple[str, ...], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        size = int(query.get("pageSize", "50") or "50")
        start = int(query.get("pageToken", "0") or "0")
    except ValueError:
        return 400, {"error": {"code": 400, "message": "Invalid page token or page size.",
                               "status": "INVALID_ARGUMENT"}}
    size = min(max(size, 1), 1000)
    page = models[start : start + size]
    body: dict[str, Any] = {"models": [
        {"name": f"models/{m}", "version": "001", "displayName": m, "description": f"the scripted model {m}",
         "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
         "supportedGenerationMethods": _gemini_methods(m), "thinking": True}
        for m in page]}
    if start + size < len(models):
        body["nextPageToken"] = str(start + size)
    return 200, body


def _gemini_methods(model: str) -> list[str]:
    """What a model can do: embedding models (an id containing "embedding") cannot chat, as on the real API."""
    return ["embedContent", "countTextTokens"] if "embedding" in model else ["generateContent", "countTokens"]


def ollama_tags(models: tuple[str, ...]) -> dict[str, Any]:
    return {"models": [
        {"name": m, "model": m, "modified_at": CREATED, "size": 1_000_000, "digest": f"sha256:{i:064x}",
         "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                     "parameter_size": "1B", "quantization_level": "Q4_K_M"}}
        for i, m in enumerate(models)]}


def listing(kind: str, fmt_name: str | None, path: str, query: dict[str, str], headers: dict[str, str],
            models: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """(status, body) of a listing request: kind "models" or "tags" (see handler.route)."""
    if kind == "tags":
        return 200, ollama_tags(models)
    if fmt_name == "gemini":
        return gemini(models, query)
    if "anthropic-version" in headers:
        return anthropic(models, query)
    if path == "/api/v1/models":
        return 200, openrouter(models)
    return 200, openai(models)
