"""Unit tests of the pure pieces: request mapping details, schema cleaning, Retry-After, prices, dispatch.

Wire quirks the scripted server does not produce (servers that number every tool call 0, streams that
end early) are fed through httpx.MockTransport.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.errors import ProviderError
from agent.providers import KINDS, make_provider
from agent.providers.anthropic import messages as anthropic_messages
from agent.providers.base import CompletionRequest, Message, ToolCall, ToolCallBegin, Usage
from agent.providers.gemini import clean_schema, thinking_config
from agent.providers.retry import RetryPolicy, parse_retry_after
from agent.providers.settings import ProviderSettings, apply_prices
from tests.agent.providers.conftest import Recorder

ROOT = Path(__file__).resolve().parents[3]


def settings(kind: str = "openai", **overrides: Any) -> ProviderSettings:
    values: dict[str, Any] = {"name": "unit", "kind": kind, "base_url": "http://llm.test/v1", "model": "m"}
    values.update(overrides)
    return ProviderSettings(**values)


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ProviderError) as caught:
        make_provider(settings("bedrock"))
    assert "bedrock" in str(caught.value)
    for kind in KINDS:
        assert kind in str(caught.value)


def test_make_provider_dispatches_on_kind() -> None:
    for kind in KINDS:
        provider = make_provider(settings(kind, name=f"p-{kind}"))
        assert (provider.name, provider.kind) == (f"p-{kind}", kind)


def test_importing_the_package_does_not_import_httpx() -> None:
    code = (
        "import sys, agent.providers, agent.providers.settings, agent.providers.base; "
        "print(sorted(m for m in ('httpx', 'agent.providers.openai', 'agent.providers.http') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_missing_model_is_an_error() -> None:
    provider = make_provider(settings(model=""))
    with pytest.raises(ProviderError, match="no model"):
        await provider.stream(CompletionRequest(model="", system="", messages=[]), Recorder())


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after": "600"}) == 60.0  # capped
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    in_five = parse_retry_after({"retry-after": formatdate(time.time() + 5, usegmt=True)})
    assert in_five is not None and 3.5 <= in_five <= 5.0
    assert parse_retry_after({"retry-after": formatdate(time.time() - 50, usegmt=True)}) == 0.0


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (10, 30.0)):
        delays = {policy.backoff(retry) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_prices() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=500_000)
    apply_prices(usage, {"input": 2.0, "output": 8.0})  # cache reads default to the input price
    assert usage.cost == pytest.approx(2.0 + 8.0)
    reported = Usage(input_tokens=10, cost=0.5)
    apply_prices(reported, {"input": 2.0})
    assert reported.cost == 0.5
    unpriced = Usage(input_tokens=10)
    apply_prices(unpriced, None)
    assert unpriced.cost is None


def test_gemini_schema_cleaning() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "$defs": {
            "Range": {"type": "object", "properties": {"start": {"type": "integer"}}, "additionalProperties": False}
        },
        "properties": {
            "path": {"type": ["string", "null"], "description": "a path"},
            "mode": {"const": "fast"},
            "range": {"$ref": "#/$defs/Range"},
            "level": {"type": "integer", "enum": [1, 2]},
            "items": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
            "properties": {"type": "string", "examples": ["a property named properties"]},
        },
        "required": ["path", "ghost"],
    }
    assert clean_schema(schema) == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "nullable": True, "description": "a path"},
            "mode": {"enum": ["fast"], "type": "string"},
            "range": {"type": "object", "properties": {"start": {"type": "integer"}}},
            "level": {"type": "integer"},
            "items": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
            "properties": {"type": "string"},
        },
        "required": ["path"],
    }


def test_gemini_thinking_config_by_model() -> None:
    assert thinking_config("off", "gemini-2.5-flash") == {"thinkingBudget": 0, "includeThoughts": True}
    assert thinking_config("off", "gemini-2.5-pro") == {"thinkingBudget": 128, "includeThoughts": True}
    assert thinking_config("off", "gemini-2.0-flash") is None
    assert thinking_config("high", "gemini-2.0-flash") == {"thinkingBudget": 24576, "includeThoughts": True}


def test_anthropic_merges_roles_and_drops_empty_assistant_messages() -> None:
    history = [
        Message("user", "one"),
        Message("user", "two"),
        Message("assistant", ""),
        Message("assistant", "", reasoning="unsigned thoughts", tool_calls=[ToolCall("t1", "read", {"p": 1})]),
        Message("tool", "result", tool_call_id="t1", name="read"),
        Message("user", "and now?"),
    ]
    assert anthropic_messages(history) == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {"p": 1}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "result"},
                {"type": "text", "text": "and now?", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ]


def _sse(*chunks: object, done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def _delta(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def _openai_with_body(body: bytes, **overrides: Any) -> tuple[list[httpx.Request], object, Recorder]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = make_provider(settings(**overrides), client, retry_base_delay=0.001)
        emit = Recorder()
        try:
            result: object = await provider.stream(
                CompletionRequest(model="", system="", messages=[Message("user", "hi")]), emit
            )
        except ProviderError as exc:
            result = exc
    return seen, result, emit


async def test_openai_tool_calls_all_numbered_zero_are_told_apart_by_id() -> None:
    body = _sse(
        _delta({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "read", "arguments": '{"p":'}}]}),
        _delta({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        _delta({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "grep", "arguments": "{}"}}]}),
        _delta({}, "stop"),
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
    )
    _, completion, emit = await _openai_with_body(body)
    calls = completion.message.tool_calls  # type: ignore[attr-defined]
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "read", {"p": 1}), ("b", "grep", {})]
    assert completion.stop_reason == "tool_calls"  # type: ignore[attr-defined]
    assert [(b.index, b.id) for b in emit.of(ToolCallBegin)] == [(0, "a"), (1, "b")]


async def test_openai_reasoning_content_and_missing_done() -> None:
    body = _sse(_delta({"reasoning_content": "hmm"}), _delta({"content": "hi"}), _delta({}, "stop"), done=False)
    _, completion, _ = await _openai_with_body(body)
    assert completion.message.reasoning == "hmm"  # type: ignore[attr-defined]
    assert completion.message.content == "hi"  # type: ignore[attr-defined]


async def test_a_stream_that_ends_early_is_retried_then_given_up() -> None:
    seen, result, _ = await _openai_with_body(_sse(_delta({"role": "assistant"}), done=False), max_retries=2)
    assert isinstance(result, ProviderError) and "ended before it was complete" in str(result)
    assert len(seen) == 3


async def test_official_openai_uses_max_completion_tokens() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_sse(_delta({"content": "x"}, "stop")))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = make_provider(settings(base_url="https://api.openai.com/v1"), client)
        await provider.stream(CompletionRequest(model="", system="", messages=[], max_tokens=9), Recorder())
    assert json.loads(seen[0].content)["max_completion_tokens"] == 9
    assert str(seen[0].url) == "https://api.openai.com/v1/chat/completions"
