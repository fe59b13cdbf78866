"""Each provider against the scripted LLM server: assembling a streamed reply, what goes on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.providers.base import (
    CompletionRequest,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallBegin,
    ToolSpec,
)
from tests.agent.providers.conftest import KINDS, MakeProvider, Recorder
from tests.llm_server.server import ServerHandle

ARGS = {"path": "src/app.py", "range": {"start": 1, "end": [10, 20]}, "flags": ["x", {"deep": True}]}
REASONING = "Let me think about which file holds the bug before I answer."
TEXT = "I will read the file now and then explain what is wrong with it."
READ = ToolSpec(
    "read",
    "Read a file",
    {
        "type": "object",
        "properties": {"path": {"type": "string"}, "range": {"type": "object"}},
        "required": ["path"],
        "additionalProperties": False,
    },
)


def request(*messages: Message, thinking: Any = "off", tools: list[ToolSpec] | None = None) -> CompletionRequest:
    return CompletionRequest(
        model="",
        system="You are a careful coding agent.",
        messages=list(messages) or [Message("user", "Why does the app crash?")],
        tools=[READ] if tools is None else tools,
        thinking=thinking,
    )


def tool_reply(**extra: Any) -> dict[str, Any]:
    return {
        "parts": [
            {"type": "reasoning", "text": REASONING, "signature": "sig-1"},
            {"type": "text", "text": TEXT},
            {"type": "tool_call", "name": "read", "arguments": ARGS},
        ],
        "usage": {"input_tokens": 100, "output_tokens": 40, "cache_read_tokens": 30, "reasoning_tokens": 12},
        **extra,
    }


def collapse(events: list[Any]) -> list[str]:
    """The event kinds in order, runs of one kind collapsed."""
    kinds: list[str] = []
    for event in events:
        name = type(event).__name__
        if not kinds or kinds[-1] != name:
            kinds.append(name)
    return kinds


@pytest.mark.parametrize("kind", KINDS)
async def test_text_reasoning_and_tool_call_assemble(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push(tool_reply())
    emit = Recorder()
    completion = await make(kind).stream(request(thinking="medium"), emit)

    message = completion.message
    assert message.role == "assistant"
    assert message.content == TEXT
    assert message.reasoning == REASONING
    assert completion.stop_reason == "tool_calls"
    [call] = message.tool_calls
    assert call.name == "read"
    assert call.arguments == ARGS
    assert call.parse_error is None
    assert call.id

    assert collapse(emit.events) == ["ReasoningDelta", "TextDelta", "ToolCallBegin", "ToolCallArgsDelta"]
    assert len(emit.of(TextDelta)) >= 3 and len(emit.of(ReasoningDelta)) >= 3
    assert "".join(e.text for e in emit.of(TextDelta)) == TEXT
    assert "".join(e.text for e in emit.of(ReasoningDelta)) == REASONING
    [begin] = emit.of(ToolCallBegin)
    assert (begin.index, begin.id, begin.name) == (0, call.id, "read")
    fragments = emit.of(ToolCallArgsDelta)
    assert all(f.index == 0 for f in fragments)
    assert json.loads("".join(f.fragment for f in fragments)) == ARGS
    if kind in ("openai", "openrouter", "anthropic"):
        assert len(fragments) > 1  # these formats stream the arguments in pieces

    usage = completion.usage
    assert usage.input_tokens == 100  # the whole prompt, cached part included
    assert usage.output_tokens == 40
    assert usage.cache_read_tokens == (0 if kind == "ollama" else 30)
    assert usage.reasoning_tokens == (12 if kind in ("openai", "openrouter", "gemini") else 0)
    assert usage.cost is None

    if kind in ("anthropic", "gemini"):
        assert message.reasoning_signature == "sig-1"
    elif kind == "openrouter":
        details = json.loads(message.reasoning_signature or "[]")
        assert details[0]["text"] == REASONING and details[0]["signature"] == "sig-1"


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_tool_arguments_are_kept_raw(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "tool_call", "name": "read", "raw_arguments": '{"path": "a.py"'}]})
    completion = await make(kind).stream(request(), Recorder())
    [call] = completion.message.tool_calls
    assert call.arguments == {}
    assert call.parse_error
    assert call.raw_arguments  # the text the model sent (JSON-quoted by formats that send objects)


@pytest.mark.parametrize("kind", KINDS)
async def test_plain_text_reply_and_max_tokens(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "It stops here"}], "stop": "max_tokens"})
    completion = await make(kind).stream(request(), Recorder())
    assert completion.message.content == "It stops here"
    assert completion.message.tool_calls == []
    assert completion.stop_reason == "max_tokens"


def _history(first: Message, second_result: str = "print('hi')") -> list[Message]:
    return [
        Message("user", "Why does the app crash?"),
        first,
        *[
            Message("tool", second_result, tool_call_id=call.id, name=call.name, is_error=(n == 1))
            for n, call in enumerate(first.tool_calls)
        ],
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_result_round_trip(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    reply = tool_reply()
    reply["parts"].append({"type": "tool_call", "name": "read", "arguments": {"path": "b.py"}})
    llm_server.push(reply, {"parts": [{"type": "text", "text": "The bug is on line 3."}]})
    provider = make(kind)
    first = await provider.stream(request(thinking="low"), Recorder())
    assert [c.arguments for c in first.message.tool_calls] == [ARGS, {"path": "b.py"}]
    second = await provider.stream(request(*_history(first.message), thinking="low"), Recorder())
    assert second.message.content == "The bug is on line 3."
    assert second.stop_reason == "end"

    body = llm_server.model_requests[1].body
    ids = [c.id for c in first.message.tool_calls]
    if kind in ("openai", "openrouter"):
        assistant, result_a, result_b = body["messages"][-3:]
        assert assistant["role"] == "assistant" and assistant["content"] == TEXT
        assert [c["id"] for c in assistant["tool_calls"]] == ids
        assert all(c["type"] == "function" and c["function"]["name"] == "read" for c in assistant["tool_calls"])
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == ARGS
        assert result_a == {"role": "tool", "tool_call_id": ids[0], "content": "print('hi')"}
        assert result_b["tool_call_id"] == ids[1]
        if kind == "openrouter":  # the reasoning (with its signature) goes back as reasoning_details
            assert assistant["reasoning_details"][0]["signature"] == "sig-1"
        else:
            assert "reasoning_details" not in assistant
    elif kind == "anthropic":
        assistant, results = body["messages"][-2:]
        assert assistant["role"] == "assistant"
        thinking, text, use_a, use_b = assistant["content"]
        assert thinking == {"type": "thinking", "thinking": REASONING, "signature": "sig-1"}
        assert text == {"type": "text", "text": TEXT}
        assert use_a == {"type": "tool_use", "id": ids[0], "name": "read", "input": ARGS}
        assert use_b["id"] == ids[1]
        assert results["role"] == "user"  # both results in one user message
        block_a, block_b = results["content"]
        assert block_a == {"type": "tool_result", "tool_use_id": ids[0], "content": "print('hi')"}
        assert block_b["tool_use_id"] == ids[1] and block_b["is_error"] is True
    elif kind == "gemini":
        model, results = body["contents"][-2:]
        assert model["role"] == "model"
        assert model["parts"][0]["text"] == TEXT
        calls = [p["functionCall"] for p in model["parts"] if "functionCall" in p]
        assert calls == [{"name": "read", "args": ARGS}, {"name": "read", "args": {"path": "b.py"}}]
        assert model["parts"][0]["thoughtSignature"] == "sig-1"
        assert results["role"] == "user"
        assert results["parts"][0] == {"functionResponse": {"name": "read", "response": {"content": "print('hi')"}}}
        assert results["parts"][1]["functionResponse"]["response"]["is_error"] is True
    else:
        assistant, result_a, result_b = body["messages"][-3:]
        assert assistant["role"] == "assistant" and assistant["content"] == TEXT
        assert assistant["thinking"] == REASONING
        assert assistant["tool_calls"][0] == {"function": {"name": "read", "arguments": ARGS}}
        assert result_a == {"role": "tool", "content": "print('hi')", "tool_name": "read"}
        assert result_b["tool_name"] == "read"


async def test_gemini_function_call_signature_round_trip(make: MakeProvider, llm_server: ServerHandle) -> None:
    """A thought signature on a function-call part comes back on that same part."""
    llm_server.push(
        {"parts": [{"type": "tool_call", "name": "read", "arguments": {"path": "a"}}]},
        {"parts": [{"type": "text", "text": "ok"}]},
    )
    provider = make("gemini")
    first = await provider.stream(request(), Recorder())
    first.message.tool_calls[0].signature = "fc-sig"  # as if Gemini had sent one
    await provider.stream(request(*_history(first.message)), Recorder())
    model = llm_server.model_requests[1].body["contents"][-2]
    assert model["parts"] == [{"functionCall": {"name": "read", "args": {"path": "a"}}, "thoughtSignature": "fc-sig"}]


EXPECTED_THINKING: dict[str, dict[str, Any]] = {
    "openai": {"off": None, "low": "low", "medium": "medium", "high": "high"},
    "openrouter": {"off": None, "low": {"effort": "low"}, "medium": {"effort": "medium"}, "high": {"effort": "high"}},
    "anthropic": {
        "off": None,
        "low": {"type": "enabled", "budget_tokens": 2048},
        "medium": {"type": "enabled", "budget_tokens": 8192},
        "high": {"type": "enabled", "budget_tokens": 24576},
    },
    "gemini": {
        level: {"thinkingBudget": budget, "includeThoughts": True}
        for level, budget in (("off", 0), ("low", 2048), ("medium", 8192), ("high", 24576))
    },
    "ollama": {"off": False, "low": True, "medium": True, "high": True},
}


def _thinking_parameter(kind: str, body: dict[str, Any]) -> Any:
    if kind == "openai":
        return body.get("reasoning_effort")
    if kind == "openrouter":
        return body.get("reasoning")
    if kind == "anthropic":
        return body.get("thinking")
    if kind == "gemini":
        return body.get("generationConfig", {}).get("thinkingConfig")
    return body.get("think")


@pytest.mark.parametrize("kind", KINDS)
async def test_thinking_levels_map_to_the_provider_parameter(
    kind: str, make: MakeProvider, llm_server: ServerHandle
) -> None:
    provider = make(kind)
    for level, expected in EXPECTED_THINKING[kind].items():
        llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
        await provider.stream(request(thinking=level), Recorder())
        body = llm_server.last_request.body
        assert _thinking_parameter(kind, body) == expected, level
        if kind == "anthropic":
            assert body["max_tokens"] == (8192 if expected is None else min(16000 + expected["budget_tokens"], 32000))
        if kind == "openrouter":
            assert body["usage"] == {"include": True}
        if kind in ("openai", "openrouter"):
            assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_gemini_pro_cannot_switch_thinking_off(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    await make("gemini", model="gemini-2.5-pro").stream(request(thinking="off"), Recorder())
    assert llm_server.last_request.body["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 128
    assert llm_server.last_request.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert llm_server.last_request.query == {"alt": "sse"}


def _cache_controls(value: Any) -> int:
    if isinstance(value, dict):
        return ("cache_control" in value) + sum(_cache_controls(v) for v in value.values())
    if isinstance(value, list):
        return sum(_cache_controls(v) for v in value)
    return 0


async def test_anthropic_cache_markers(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    history = [Message("user", "first"), Message("assistant", "answer"), Message("user", "second")]
    tools = [READ, ToolSpec("write", "Write a file", {"type": "object", "properties": {}})]
    await make("anthropic").stream(request(*history, tools=tools), Recorder())
    body = llm_server.last_request.body
    ephemeral = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "You are a careful coding agent.", "cache_control": ephemeral}]
    assert body["tools"][-1]["cache_control"] == ephemeral and "cache_control" not in body["tools"][0]
    assert body["tools"][0]["input_schema"] == READ.parameters
    assert body["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": "second", "cache_control": ephemeral}],
    }
    assert _cache_controls(body) == 3


async def test_openrouter_cache_markers_for_anthropic_models_only(make: MakeProvider, llm_server: ServerHandle) -> None:
    history = [Message("user", "first"), Message("assistant", "answer"), Message("user", "second")]
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]}, {"parts": [{"type": "text", "text": "ok"}]})
    await make("openrouter", model="anthropic/claude-sonnet-4").stream(request(*history), Recorder())
    body = llm_server.last_request.body
    ephemeral = {"type": "ephemeral"}
    assert body["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "You are a careful coding agent.", "cache_control": ephemeral}],
    }
    assert body["messages"][1] == {"role": "user", "content": "first"}
    assert body["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": "second", "cache_control": ephemeral}],
    }
    assert _cache_controls(body) == 2

    await make("openrouter", model="openai/gpt-5").stream(request(*history), Recorder())
    body = llm_server.last_request.body
    assert _cache_controls(body) == 0
    assert body["messages"][0] == {"role": "system", "content": "You are a careful coding agent."}


@pytest.mark.parametrize("kind", KINDS)
async def test_auth_and_extra_headers(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    await make(kind, headers={"X-Title": "corral"}).stream(request(), Recorder())
    recorded = llm_server.last_request
    assert recorded.header("x-title") == "corral"
    key = f"sk-{kind}-secret"
    if kind in ("openai", "openrouter"):
        assert recorded.header("authorization") == f"Bearer {key}"
    elif kind == "anthropic":
        assert recorded.header("x-api-key") == key
        assert recorded.header("anthropic-version") == "2023-06-01"
        assert recorded.header("authorization") is None
    elif kind == "gemini":
        assert recorded.header("x-goog-api-key") == key
        assert "key" not in recorded.query
    else:
        assert recorded.header("authorization") is None
    assert recorded.body["stream"] is True if kind != "gemini" else recorded.path.endswith(":streamGenerateContent")


async def test_no_key_sends_no_auth_header(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    await make("openai", api_key=None).stream(request(), Recorder())
    assert llm_server.last_request.header("authorization") is None


async def test_openrouter_reported_cost(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}], "usage": {"input_tokens": 10, "cost": 0.0123}})
    # configured prices never override a reported cost
    completion = await make("openrouter", prices={"input": 1000.0}).stream(request(), Recorder())
    assert completion.usage.cost == pytest.approx(0.0123)


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "openai"])
async def test_cost_computed_from_prices(kind: str, make: MakeProvider, llm_server: ServerHandle) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500, "cache_read_tokens": 200}
    if kind == "anthropic":
        usage["cache_write_tokens"] = 100
    llm_server.push({"parts": [{"type": "text", "text": "ok"}], "usage": usage})
    prices = {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}
    completion = await make(kind, prices=prices).stream(request(), Recorder())
    u = completion.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens) == (1000, 500, 200)
    if kind == "anthropic":
        assert u.cache_write_tokens == 100
        expected = (700 * 3.0 + 200 * 0.3 + 100 * 3.75 + 500 * 15.0) / 1e6
    else:
        expected = (800 * 3.0 + 200 * 0.3 + 500 * 15.0) / 1e6
    assert u.cost == pytest.approx(expected)


async def test_openai_request_shape(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    req = CompletionRequest(
        model="gpt-override",
        system="sys",
        messages=[Message("user", "hi")],
        tools=[READ],
        max_tokens=77,
        temperature=0.2,
    )
    await make("openai").stream(req, Recorder())
    recorded = llm_server.last_request
    assert recorded.path == "/v1/chat/completions"
    body = recorded.body
    assert body["model"] == "gpt-override"
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "read", "description": "Read a file", "parameters": READ.parameters}}
    ]
    assert body["max_tokens"] == 77 and body["temperature"] == 0.2


async def test_gemini_request_shape(make: MakeProvider, llm_server: ServerHandle) -> None:
    llm_server.push({"parts": [{"type": "text", "text": "ok"}]})
    await make("gemini").stream(request(), Recorder())
    body = llm_server.last_request.body
    assert body["systemInstruction"] == {"parts": [{"text": "You are a careful coding agent."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Why does the app crash?"}]}]
    [declaration] = body["tools"][0]["functionDeclarations"]
    assert declaration["parameters"] == {
        "type": "object",
        "properties": {"path": {"type": "string"}, "range": {"type": "object"}},
        "required": ["path"],
    }  # additionalProperties stripped
