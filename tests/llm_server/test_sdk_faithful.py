"""The scripted LLM server is faithful: the providers' OFFICIAL SDKs read its replies as scripted.

For each wire format (OpenAI Chat Completions, Anthropic Messages, Gemini, Ollama), streaming and not,
the SDK must see exactly the scripted text, reasoning, tool call (nested JSON arguments) and usage; a
scripted 429 must surface as the SDK's rate-limit error; the recorded request must be the SDK's body.
Everything stays on 127.0.0.1 with dummy keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from tests.llm_server.server import ServerHandle, serve

REASONING = "The user wants the config. I should read src/app.py before answering anything."
TEXT = "I'll read the file first, then explain what it does, step by step."
SIGNATURE = base64.b64encode(b"opaque-signature-1").decode()  # base64: google-genai decodes it to bytes
ARGS: dict[str, Any] = {
    "path": "src/app.py",
    "range": {"start": 1, "end": 40},
    "flags": ["-n", "--color=never"],
    "options": {"deep": {"nested": [1, 2.5, None, True, "ünïcode \"quoted\""]}, "empty": {}},
}
USAGE = {"input_tokens": 1234, "output_tokens": 321, "cache_read_tokens": 1000, "cache_write_tokens": 100,
         "reasoning_tokens": 50, "cost": 0.0042}
RATE_LIMITED = {"error": {"status": 429, "message": "slow down, please", "retry_after": 2}}
TOOL_SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}


def full_reply(call_id: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "tool_call", "name": "read", "arguments": ARGS}
    if call_id:
        call["id"] = call_id
    return {"parts": [{"type": "reasoning", "text": REASONING, "signature": SIGNATURE},
                      {"type": "text", "text": TEXT}, call],
            "usage": USAGE}


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with serve() as handle:
        yield handle


# ------------------------------------------------------------------------------------------------ OpenAI


def _openai(server: ServerHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-dummy", max_retries=0, timeout=10)


OPENAI_TOOLS: list[Any] = [{"type": "function",
                            "function": {"name": "read", "description": "Read a file", "parameters": TOOL_SCHEMA}}]
OPENAI_MESSAGES: list[Any] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "read it"}]


def test_openai_streaming(server: ServerHandle) -> None:
    server.push(full_reply(call_id="call_abc"))
    client = _openai(server)
    stream = client.chat.completions.create(model="gpt-test", messages=OPENAI_MESSAGES, tools=OPENAI_TOOLS,
                                            stream=True, stream_options={"include_usage": True})
    text, reasoning, deltas = "", "", 0
    calls: dict[int, dict[str, str]] = {}
    finish, usage = None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                text += delta.content
                deltas += 1
            reasoning += (delta.model_extra or {}).get("reasoning") or ""
            for tc in delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += tc.id or ""
                if tc.function is not None:
                    call["name"] += tc.function.name or ""
                    call["arguments"] += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert text == TEXT and deltas > 2
    assert reasoning == REASONING
    assert list(calls) == [0]
    assert calls[0]["id"] == "call_abc" and calls[0]["name"] == "read"
    assert json.loads(calls[0]["arguments"]) == ARGS
    assert finish == "tool_calls"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1234, 321, 1555)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 50
    assert getattr(usage, "cost", None) == 0.0042

    request = server.last_request
    assert request.path == "/v1/chat/completions" and request.format == "openai" and request.stream
    assert request.body["model"] == "gpt-test"
    assert request.body["messages"] == OPENAI_MESSAGES
    assert request.body["tools"] == OPENAI_TOOLS
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.header("authorization") == "Bearer sk-dummy"


def test_openai_stream_helper_assembles_the_completion(server: ServerHandle) -> None:
    server.push(full_reply())
    with _openai(server).chat.completions.stream(model="gpt-test", messages=OPENAI_MESSAGES,
                                                 tools=OPENAI_TOOLS) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == TEXT
    assert (message.model_extra or {}).get("reasoning") == REASONING
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.type == "function" and call.function.name == "read" and json.loads(call.function.arguments) == ARGS
    assert call.id.startswith("call_")
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_non_streaming(server: ServerHandle) -> None:
    server.push(full_reply(call_id="call_xyz"))
    completion = _openai(server).chat.completions.create(model="gpt-test", messages=OPENAI_MESSAGES,
                                                         tools=OPENAI_TOOLS)
    choice = completion.choices[0]
    assert choice.message.content == TEXT
    assert (choice.message.model_extra or {}).get("reasoning") == REASONING
    details = (choice.message.model_extra or {}).get("reasoning_details")
    assert details and details[0]["signature"] == SIGNATURE
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id == "call_xyz" and call.function.name == "read" and json.loads(call.function.arguments) == ARGS
    assert choice.finish_reason == "tool_calls"
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (1234, 321)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 50
    assert getattr(usage, "cost", None) == 0.0042
    assert server.last_request.stream is False and "stream" not in server.last_request.body


def test_openai_text_only_and_max_tokens(server: ServerHandle) -> None:
    server.push({"parts": [{"type": "text", "text": "cut"}], "stop": "max_tokens"})
    completion = _openai(server).chat.completions.create(model="m", messages=OPENAI_MESSAGES)
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.tool_calls is None


@pytest.mark.parametrize("stream", [True, False])
def test_openai_rate_limit(server: ServerHandle, stream: bool) -> None:
    server.push(RATE_LIMITED)
    with pytest.raises(openai.RateLimitError) as info:
        _openai(server).chat.completions.create(model="m", messages=OPENAI_MESSAGES, stream=stream)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.message.endswith("slow down, please")
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "rate_limit_exceeded"
    assert len(server.model_requests) == 1  # no SDK retry


def test_openai_other_errors_map_to_their_classes(server: ServerHandle) -> None:
    server.push({"error": {"status": 401, "message": "bad key"}}, {"error": {"status": 500}},
                {"error": {"status": 400, "message": "context too long", "code": "context_length_exceeded"}})
    client = _openai(server)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="m", messages=OPENAI_MESSAGES)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=OPENAI_MESSAGES)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m", messages=OPENAI_MESSAGES)
    assert info.value.code == "context_length_exceeded"


def test_openai_models_list(server: ServerHandle) -> None:
    ids = [m.id for m in _openai(server).models.list()]
    assert ids == ["scripted-model", "scripted-model-mini"]
    assert server.remaining == 0 and server.model_requests == []


def test_openrouter_style_base_url(server: ServerHandle) -> None:
    server.push({"parts": [{"type": "text", "text": "via openrouter"}], "usage": {"cost": 0.5}})
    client = openai.OpenAI(base_url=f"{server.base_url}/api/v1", api_key="sk-or-dummy", max_retries=0)
    completion = client.chat.completions.create(model="anthropic/claude-x", messages=OPENAI_MESSAGES)
    assert completion.choices[0].message.content == "via openrouter"
    assert completion.usage is not None and getattr(completion.usage, "cost", None) == 0.5
    assert server.last_request.path == "/api/v1/chat/completions"


# --------------------------------------------------------------------------------------------- Anthropic


def _anthropic(server: ServerHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-dummy", max_retries=0, timeout=10)


ANTHROPIC_TOOLS: list[Any] = [{"name": "read", "description": "Read a file", "input_schema": TOOL_SCHEMA}]
ANTHROPIC_MESSAGES: list[Any] = [{"role": "user", "content": "read it"}]


def _check_anthropic_message(message: Any, call_id: str | None = None) -> None:
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert thinking.thinking == REASONING and thinking.signature == SIGNATURE
    assert text.text == TEXT
    assert tool.name == "read" and tool.input == ARGS
    assert tool.id == call_id if call_id else tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert usage.input_tokens == 1234 - 1000 - 100  # Anthropic's input_tokens exclude cached tokens
    assert usage.output_tokens == 321
    assert usage.cache_read_input_tokens == 1000 and usage.cache_creation_input_tokens == 100


def test_anthropic_streaming(server: ServerHandle) -> None:
    server.push(full_reply(call_id="toolu_given"))
    text_deltas, thinking = [], ""
    with _anthropic(server).messages.stream(model="claude-test", max_tokens=2048, system="be brief",
                                            messages=ANTHROPIC_MESSAGES, tools=ANTHROPIC_TOOLS,
                                            thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        for event in stream:
            if event.type == "text":
                text_deltas.append(event.text)
            elif event.type == "thinking":
                thinking += event.thinking
        message = stream.get_final_message()
    assert "".join(text_deltas) == TEXT and len(text_deltas) > 2
    assert thinking == REASONING
    _check_anthropic_message(message, call_id="toolu_given")

    request = server.last_request
    assert request.path == "/v1/messages" and request.format == "anthropic" and request.stream
    assert request.body["model"] == "claude-test" and request.body["max_tokens"] == 2048
    assert request.body["system"] == "be brief"
    assert request.body["messages"] == ANTHROPIC_MESSAGES and request.body["tools"] == ANTHROPIC_TOOLS
    assert request.body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    # (this SDK version sends the key as a bearer token; older ones and curl examples use x-api-key)
    assert "sk-ant-dummy" in (request.header("x-api-key") or request.header("authorization") or "")
    assert request.header("anthropic-version")


def test_anthropic_raw_stream_events(server: ServerHandle) -> None:
    server.push(full_reply())
    events = list(_anthropic(server).messages.create(model="claude-test", max_tokens=100,
                                                     messages=ANTHROPIC_MESSAGES, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    partial = "".join(d.partial_json for d in deltas if d.type == "input_json_delta")
    assert json.loads(partial) == ARGS
    assert sum(d.type == "input_json_delta" for d in deltas) > 1
    assert [d.signature for d in deltas if d.type == "signature_delta"] == [SIGNATURE]


def test_anthropic_non_streaming(server: ServerHandle) -> None:
    server.push(full_reply(call_id="toolu_1"))
    message = _anthropic(server).messages.create(model="claude-test", max_tokens=100, messages=ANTHROPIC_MESSAGES,
                                                 tools=ANTHROPIC_TOOLS)
    _check_anthropic_message(message, call_id="toolu_1")
    assert server.last_request.stream is False


@pytest.mark.parametrize("stream", [True, False])
def test_anthropic_rate_limit(server: ServerHandle, stream: bool) -> None:
    server.push(RATE_LIMITED)
    with pytest.raises(anthropic.RateLimitError) as info:
        _anthropic(server).messages.create(model="m", max_tokens=10, messages=ANTHROPIC_MESSAGES, stream=stream)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down, please"}}
    assert len(server.model_requests) == 1


def test_anthropic_overloaded_and_models(server: ServerHandle) -> None:
    server.push({"error": {"status": 529, "message": "Overloaded"}})
    client = _anthropic(server)
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="m", max_tokens=10, messages=ANTHROPIC_MESSAGES)
    assert [m.id for m in client.models.list()] == ["scripted-model", "scripted-model-mini"]


# ------------------------------------------------------------------------------------------------ Gemini


def _gemini(server: ServerHandle) -> genai.Client:
    options = genai_types.HttpOptions(base_url=server.base_url, api_version="v1beta",
                                      retry_options=genai_types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="gemini-dummy", vertexai=False, http_options=options)


GEMINI_CONFIG = genai_types.GenerateContentConfig(
    system_instruction="be brief",
    tools=[genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
        name="read", description="Read a file", parameters_json_schema=TOOL_SCHEMA)])],
    thinking_config=genai_types.ThinkingConfig(include_thoughts=True),
    automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
)


def _collect_gemini(responses: list[Any]) -> tuple[str, str, list[Any], bytes | None]:
    text, thoughts, calls, signature = "", "", [], None
    for response in responses:
        for part in response.candidates[0].content.parts or []:
            if part.thought_signature:
                signature = part.thought_signature
            if part.function_call is not None:
                calls.append(part.function_call)
            elif part.thought:
                thoughts += part.text or ""
            else:
                text += part.text or ""
    return text, thoughts, calls, signature


def _check_gemini_usage(usage: Any) -> None:
    assert usage.prompt_token_count == 1234
    assert usage.candidates_token_count == 321 - 50  # Gemini counts thoughts apart
    assert usage.thoughts_token_count == 50
    assert usage.cached_content_token_count == 1000
    assert usage.total_token_count == 1234 + 321


def test_gemini_streaming(server: ServerHandle) -> None:
    server.push(full_reply())
    client = _gemini(server)
    chunks = list(client.models.generate_content_stream(model="gemini-test", contents="read it",
                                                        config=GEMINI_CONFIG))
    assert len(chunks) > 3
    text, thoughts, calls, signature = _collect_gemini(chunks)
    assert text == TEXT and thoughts == REASONING
    assert signature == b"opaque-signature-1"
    assert len(calls) == 1 and calls[0].name == "read" and calls[0].args == ARGS
    last, first = chunks[-1], chunks[0]
    assert last.candidates is not None and last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    _check_gemini_usage(last.usage_metadata)
    assert first.usage_metadata is not None and first.usage_metadata.prompt_token_count == 1234
    assert first.usage_metadata.candidates_token_count is None  # intermediate chunks: prompt count only

    request = server.last_request
    assert request.path == "/v1beta/models/gemini-test:streamGenerateContent" and request.query == {"alt": "sse"}
    assert request.format == "gemini" and request.stream
    assert request.header("x-goog-api-key") == "gemini-dummy"
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": "read it"}]}]
    assert request.body["systemInstruction"]["parts"] == [{"text": "be brief"}]
    # (this SDK version sends some nested keys in snake_case; the API accepts both spellings)
    declaration = request.body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "read"
    assert TOOL_SCHEMA in (declaration.get("parametersJsonSchema"), declaration.get("parameters_json_schema"))
    assert request.body["generationConfig"]["thinkingConfig"] in ({"includeThoughts": True}, {"include_thoughts": True})


def test_gemini_non_streaming(server: ServerHandle) -> None:
    server.push(full_reply())
    client = _gemini(server)
    response = client.models.generate_content(model="gemini-test", contents="read it", config=GEMINI_CONFIG)
    text, thoughts, calls, signature = _collect_gemini([response])
    assert text == TEXT and thoughts == REASONING and signature == b"opaque-signature-1"
    assert len(calls) == 1 and calls[0].name == "read" and calls[0].args == ARGS
    assert response.function_calls is not None and response.function_calls[0].args == ARGS
    _check_gemini_usage(response.usage_metadata)
    assert server.last_request.path == "/v1beta/models/gemini-test:generateContent"
    assert server.last_request.stream is False


def test_gemini_max_tokens(server: ServerHandle) -> None:
    server.push({"parts": [{"type": "text", "text": "cut short"}], "stop": "max_tokens"})
    client = _gemini(server)
    response = client.models.generate_content(model="gemini-test", contents="hi")
    assert response.text == "cut short"
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS


@pytest.mark.parametrize("stream", [True, False])
def test_gemini_rate_limit(server: ServerHandle, stream: bool) -> None:
    server.push(RATE_LIMITED)
    client = _gemini(server)  # (keep a reference: a collected genai.Client closes its HTTP client)
    models = client.models
    with pytest.raises(genai_errors.ClientError) as info:
        if stream:
            list(models.generate_content_stream(model="gemini-test", contents="hi"))
        else:
            models.generate_content(model="gemini-test", contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    assert info.value.message == "slow down, please"
    assert len(server.model_requests) == 1


# ------------------------------------------------------------------------------------------------ Ollama


def _ollama(server: ServerHandle) -> ollama.Client:
    return ollama.Client(host=server.base_url, timeout=10)


OLLAMA_TOOLS: list[Any] = OPENAI_TOOLS


def test_ollama_streaming(server: ServerHandle) -> None:
    server.push(full_reply())
    chunks = list(_ollama(server).chat(model="llama-test", messages=[{"role": "user", "content": "read it"}],
                                       tools=OLLAMA_TOOLS, stream=True, think=True))
    text = "".join(c.message.content or "" for c in chunks)
    thinking = "".join(c.message.thinking or "" for c in chunks)
    calls = [call for c in chunks for call in c.message.tool_calls or []]
    assert text == TEXT and thinking == REASONING
    assert len(calls) == 1 and calls[0].function.name == "read" and calls[0].function.arguments == ARGS
    final = chunks[-1]
    assert final.done and final.done_reason == "stop"
    assert (final.prompt_eval_count, final.eval_count) == (1234, 321)
    assert not any(c.done for c in chunks[:-1])

    request = server.last_request
    assert request.path == "/api/chat" and request.format == "ollama" and request.stream
    assert request.body["model"] == "llama-test" and request.body["think"] is True
    assert request.body["messages"] == [{"role": "user", "content": "read it"}]
    assert request.body["tools"][0]["function"]["name"] == "read"


def test_ollama_non_streaming(server: ServerHandle) -> None:
    server.push(full_reply())
    response = _ollama(server).chat(model="llama-test", messages=[{"role": "user", "content": "read it"}],
                                    tools=OLLAMA_TOOLS, think=True)
    assert response.message.content == TEXT and response.message.thinking == REASONING
    assert response.message.tool_calls is not None
    assert response.message.tool_calls[0].function.arguments == ARGS
    assert response.done and (response.prompt_eval_count, response.eval_count) == (1234, 321)
    assert server.last_request.body["stream"] is False and server.last_request.stream is False


@pytest.mark.parametrize("stream", [True, False])
def test_ollama_rate_limit(server: ServerHandle, stream: bool) -> None:
    server.push(RATE_LIMITED)
    client = _ollama(server)
    with pytest.raises(ollama.ResponseError) as info:
        if stream:
            list(client.chat(model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
        else:
            client.chat(model="m", messages=[{"role": "user", "content": "hi"}], stream=False)
    assert info.value.status_code == 429 and info.value.error == "slow down, please"


def test_ollama_list_models(server: ServerHandle) -> None:
    assert [m.model for m in _ollama(server).list().models] == ["scripted-model", "scripted-model-mini"]


# --------------------------------------------------------------------------------------- mid-stream errors


def test_mid_stream_errors_reach_the_sdks(server: ServerHandle) -> None:
    partial = {"parts": [{"type": "text", "text": "half an answer"}],
               "error": {"status": 529, "message": "Overloaded", "mid_stream": True}}
    server.push(partial, partial)
    seen = ""
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for event in _anthropic(server).messages.create(model="m", max_tokens=10, messages=ANTHROPIC_MESSAGES,
                                                        stream=True):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                seen += event.delta.text
    assert seen == "half an answer"
    with pytest.raises(openai.APIError, match="Overloaded"):
        list(_openai(server).chat.completions.create(model="m", messages=OPENAI_MESSAGES, stream=True))


# ------------------------------------------------------------------------------------------ model listing

MANY_MODELS = [f"model-{n:02d}" for n in range(7)]


def test_sdks_page_through_long_model_lists() -> None:
    with serve(models=MANY_MODELS) as server:
        assert [m.id for m in _anthropic(server).models.list(limit=3)] == MANY_MODELS  # after_id, has_more
        pages = [r.query for r in server.requests if r.path == "/v1/models"]
        assert pages == [{"limit": "3"}, {"limit": "3", "after_id": "model-02"}, {"limit": "3", "after_id": "model-05"}]
        client = _gemini(server)
        listed = [m.name for m in client.models.list(config={"page_size": 3})]  # pageToken, nextPageToken
        assert listed == [f"models/{m}" for m in MANY_MODELS]
        assert sum(r.path == "/v1beta/models" for r in server.requests) == 3
        assert [m.id for m in _openai(server).models.list()] == MANY_MODELS
        assert [m.model for m in _ollama(server).list().models] == MANY_MODELS


def test_openrouter_models_shape() -> None:
    with serve(models=["anthropic/claude-x", "openai/gpt-y"]) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/api/v1", api_key="sk-or-dummy", max_retries=0)
        models = list(client.models.list())
    assert [m.id for m in models] == ["anthropic/claude-x", "openai/gpt-y"]
    extra = models[0].model_extra or {}
    assert extra["context_length"] == 131_072 and extra["pricing"]["prompt"] == "0.000001"


def test_a_server_without_listing_answers_404_to_the_sdks() -> None:
    with serve(models=None) as server:
        with pytest.raises(openai.NotFoundError):
            list(_openai(server).models.list())
        with pytest.raises(anthropic.NotFoundError):
            list(_anthropic(server).models.list())
        client = _gemini(server)
        with pytest.raises(genai_errors.ClientError) as info:
            list(client.models.list())
        assert info.value.code == 404
        with pytest.raises(ollama.ResponseError) as failed:
            _ollama(server).list()
        assert failed.value.status_code == 404
