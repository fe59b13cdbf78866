"""Context-overflow errors: each wire format's real error shape becomes ProviderError(context_overflow=True),
is never retried (not even on a retryable status), and other errors are not mistaken for it."""

from __future__ import annotations

from typing import Any

import pytest

from agent.errors import ProviderError
from agent.providers.base import CompletionRequest, Message, TextDelta
from agent.providers.retry import is_context_overflow
from tests.agent.providers.conftest import MakeProvider, Recorder
from tests.llm_server.server import ServerHandle

OK = {"parts": [{"type": "text", "text": "all good"}]}

# (kind, scripted error) as the real services send them
OVERFLOWS: list[tuple[str, dict[str, Any]]] = [
    ("openai", {"status": 400, "type": "invalid_request_error", "code": "context_length_exceeded",
                "message": "This model's maximum context length is 128000 tokens. However, your messages resulted "
                           "in 130512 tokens. Please reduce the length of the messages."}),
    ("openrouter", {"status": 400, "message": "This endpoint's maximum context length is 8192 tokens. However, "
                                              "you requested about 9120 tokens (9120 of text input)."}),
    ("openai", {"status": 400, "type": "BadRequestError",  # vLLM
                "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
                           "(4000 in the messages, 1000 in the completion)."}),
    ("openai", {"status": 400, "type": "exceed_context_size_error",  # llama.cpp server
                "message": "request (4476 tokens) exceeds the available context size (4096 tokens), try "
                           "increasing it"}),
    ("openai", {"status": 400,  # LM Studio
                "message": "Trying to keep the first 5120 tokens when context the overflows. "
                           "However, the model is loaded with context length of only 4096 tokens, "
                           "which is not enough."}),
    ("anthropic", {"status": 400, "type": "invalid_request_error",
                   "message": "prompt is too long: 208310 tokens > 200000 maximum"}),
    ("anthropic", {"status": 413, "type": "request_too_large",
                   "message": "Request exceeds the maximum allowed number of bytes."}),
    ("gemini", {"status": 400, "type": "INVALID_ARGUMENT",
                "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}),
    ("ollama", {"status": 400, "message": "the input length exceeds the context length"}),
    ("ollama", {"status": 500, "message": "input exceeds context length"}),  # a retryable status: still final
]


def request() -> CompletionRequest:
    return CompletionRequest(model="", system="sys", messages=[Message("user", "hi")])


@pytest.mark.parametrize(("kind", "error"), OVERFLOWS)
async def test_overflow_is_flagged_and_not_retried(
    kind: str, error: dict[str, Any], make: MakeProvider, llm_server: ServerHandle
) -> None:
    llm_server.push({"error": error}, OK)
    with pytest.raises(ProviderError) as caught:
        await make(kind, max_retries=3).stream(request(), Recorder())
    assert caught.value.context_overflow is True
    assert caught.value.retryable is False
    assert caught.value.status == error["status"]
    assert error["message"] in str(caught.value)
    assert len(llm_server.model_requests) == 1


@pytest.mark.parametrize("kind", ["openrouter", "anthropic", "gemini", "ollama"])
async def test_overflow_inside_the_stream(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    message = {
        "openrouter": "This endpoint's maximum context length is 8192 tokens.",
        "anthropic": "prompt is too long: 208310 tokens > 200000 maximum",
        "gemini": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        "ollama": "the input length exceeds the context length",
    }[kind]
    llm_server.push({"parts": [{"type": "text", "text": "partial answer"}],
                     "error": {"status": 400, "message": message, "mid_stream": True}})
    emit = Recorder()
    with pytest.raises(ProviderError) as caught:
        await make(kind).stream(request(), emit)
    assert caught.value.context_overflow is True and message in str(caught.value)
    assert emit.of(TextDelta)


@pytest.mark.parametrize(("kind", "error"), [
    ("openai", {"status": 429, "type": "tokens", "code": "rate_limit_exceeded",
                "message": "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, "
                           "Requested 5000."}),
    ("anthropic", {"status": 429, "type": "rate_limit_error",
                   "message": "This request would exceed the rate limit for your organization of 40,000 input "
                              "tokens per minute."}),
    ("openai", {"status": 400, "message": "model 'nope' does not exist"}),
    ("gemini", {"status": 400, "type": "INVALID_ARGUMENT",
                "message": "API key not valid. Please pass a valid API key."}),
    ("anthropic", {"status": 400, "type": "invalid_request_error", "message": "max_tokens: must be at least 1"}),
])
async def test_other_errors_are_not_overflows(
    kind: str, error: dict[str, Any], make: MakeProvider, llm_server: ServerHandle
) -> None:
    llm_server.push({"error": error}, OK)
    try:
        await make(kind, max_retries=0).stream(request(), Recorder())
    except ProviderError as exc:
        assert exc.context_overflow is False
    else:
        pytest.fail("expected a ProviderError")


def test_classifier_texts() -> None:
    assert is_context_overflow(400, '{"error": {"code": "context_length_exceeded", "message": "x"}}')
    assert is_context_overflow(None, "Context size has been exceeded.")
    assert is_context_overflow(400, "Input is too long for requested model.")
    assert not is_context_overflow(429, "prompt is too long")  # a 429 is a rate limit, whatever it says
    assert not is_context_overflow(None, "ThrottlingException: Too many tokens, please wait before trying again.")
    assert not is_context_overflow(400, "tool_choice is not supported with this model")
