"""Context compaction in the core loop, against the scripted LLM server: a small configured window and long
tool results trigger a summary before the request that would overflow; `Agent.compact` on demand; a
provider's context-overflow error (each wire format) is recovered by compacting, then by cutting tool
results, then reported clearly; a failing summary falls back to dropping turns; calibration; Ollama's
silent truncation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import policy
from agent import compaction
from agent.compaction import ContextMeter, plan_cut, shrink_tool_results
from agent.events import Compacted, Event, Notice, RunFinished, event_dict
from agent.gate import Gate
from agent.loop import Agent
from agent.providers import make_provider
from agent.providers.base import CompletionRequest, Message, ToolCall, Usage
from agent.providers.settings import ProviderSettings
from agent.tools import builtin_tools
from agent.tools.base import ToolContext
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle

PROMPT_MARK = "You are the memory of a coding agent"  # prompts/compaction.md
LINE = "the quick brown fox jumps over the lazy dog, again and again; "  # 64 characters


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                      ("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(name, str(home / sub))
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for n in (1, 2, 3):
        (root / f"big{n}.txt").write_text("".join(f"{n}:{i:03d} {LINE}\n" for i in range(55)))  # ~3.9 kB
    return root


def base_url(kind: str, server: ServerHandle) -> str:
    return f"{server.base_url}/v1" if kind == "openai" else server.base_url


def make_agent(server: ServerHandle, project: Path, *, kind: str = "openai", window: int | None = 2000,
               **fields: Any) -> tuple[Agent, list[Event]]:
    events: list[Event] = []
    settings = ProviderSettings(name=f"t-{kind}", kind=kind, base_url=base_url(kind, server), max_retries=0,
                                api_key=None if kind == "ollama" else "sk-test", model="m")
    engine = policy.load_engine(project, home=project.parent / "home")
    gate = Gate(engine, policy.Mode.STANDARD, project)
    ctx = ToolContext(project_root=project, cwd=project, sandbox_backend="bwrap", home=project.parent / "home")
    tools = [t for t in builtin_tools() if t.spec.name == "read"]
    agent = Agent(provider=make_provider(settings), model="m", tools=tools, gate=gate, ctx=ctx,
                  emit=events.append, system="test", context_window=window, **fields)
    return agent, events


def read(n: int) -> dict[str, Any]:
    return {"parts": [{"type": "tool_call", "name": "read", "arguments": {"path": f"big{n}.txt"}}]}


def answer(text: str, **usage: int) -> dict[str, Any]:
    return {"parts": [{"type": "text", "text": text}], **({"usage": usage} if usage else {})}


SUMMARY = answer("## Task\nread the big files\n## Next\nanswer")


def overflow(kind: str) -> dict[str, Any]:
    """Each wire format's real context-overflow error."""
    return {
        "openai": {"status": 400, "type": "invalid_request_error", "code": "context_length_exceeded",
                   "message": "This model's maximum context length is 2000 tokens. However, your messages "
                              "resulted in 2113 tokens. Please reduce the length of the messages."},
        "anthropic": {"status": 400, "type": "invalid_request_error",
                      "message": "prompt is too long: 2113 tokens > 2000 maximum"},
        "gemini": {"status": 400, "type": "INVALID_ARGUMENT",
                   "message": "The input token count (2113) exceeds the maximum number of tokens allowed (2000)."},
        "ollama": {"status": 400, "message": "the input length exceeds the context length"},
        "llamacpp": {"status": 400, "type": "exceed_context_size_error",
                     "message": "request (2113 tokens) exceeds the available context size (2000 tokens), "
                                "try increasing it"},
    }[kind]


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def pairs_intact(messages: list[dict[str, Any]]) -> bool:
    """OpenAI wire: every tool message answers a call of the nearest assistant message before it."""
    open_ids: set[str] = set()
    for m in messages:
        if m["role"] == "assistant":
            open_ids = {c["id"] for c in m.get("tool_calls") or []}
        elif m["role"] == "tool":
            if m["tool_call_id"] not in open_ids:
                return False
            open_ids.discard(m["tool_call_id"])
    return True


# ------------------------------------------------------------------------------------------ automatic


async def test_window_nearly_full_compacts_before_the_request(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([read(1), read(2), SUMMARY, answer("done")])
    agent, events = make_agent(llm_server, project)
    result = await agent.run("read big1.txt and big2.txt")
    assert (result.stop, result.text) == ("done", "done")
    requests = llm_server.model_requests
    assert len(requests) == 4
    summarising = requests[2].body
    assert PROMPT_MARK in summarising["messages"][0]["content"]
    assert "tools" not in summarising and "reasoning_effort" not in summarising
    assert "1:054" in summarising["messages"][1]["content"]  # the older tool result is in the transcript
    assert "2:000" not in summarising["messages"][1]["content"]  # the kept one is not
    sent = requests[3].body["messages"]
    assert sent[0] == {"role": "system", "content": "test"}
    assert sent[1]["role"] == "user" and sent[1]["content"].startswith(compaction.SUMMARY_MARK)
    assert "read the big files" in sent[1]["content"]
    assert "read big1.txt and big2.txt" in sent[1]["content"]  # the latest request survives verbatim
    assert [m["role"] for m in sent[2:]] == ["assistant", "tool"]
    assert "2:054" in sent[3]["content"] and pairs_intact(sent)
    [event] = of(events, Compacted)
    assert (event.replaced, event.kept, event.reason, event.dropped) == (3, 2, "auto", False)
    assert event.tokens_after < event.tokens_before and event.tokens_before >= 0.85 * 2000
    assert agent.messages[0].content == event.summary  # the event alone rebuilds the history
    assert event_dict(event)["type"] == "compacted"
    assert events.index(event) < len(events) - 1 and isinstance(events[-1], RunFinished)


async def test_no_compaction_while_the_window_has_room(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([read(1), read(2), answer("done")])
    agent, events = make_agent(llm_server, project, window=8000)
    assert (await agent.run("go")).stop == "done"
    assert not of(events, Compacted) and len(llm_server.model_requests) == 3


async def test_calibration_moves_the_estimate_and_triggers_compaction(
    llm_server: ServerHandle, project: Path  # noqa: F811
) -> None:
    # the server reports far more prompt tokens than characters/4 suggest: the next estimates follow
    reply = read(1)
    reply["usage"] = {"input_tokens": 800}
    llm_server.set_script([reply, read(2), SUMMARY, answer("done")])
    agent, events = make_agent(llm_server, project, window=6000)
    first = agent._request([Message("user", "go")])
    assert agent.meter.estimate(first) < 300
    assert (await agent.run("go")).stop == "done"
    assert agent.meter.samples == 1 and agent.meter.estimate(first) == pytest.approx(800, abs=2)
    # uncalibrated, the third request (~2.3k) would not have reached 85% of 6000; calibrated it did
    [event] = of(events, Compacted)
    assert event.reason == "auto" and event.tokens_before >= 5100


def test_meter_smooths_and_ignores_missing_usage() -> None:
    meter = ContextMeter()
    request = CompletionRequest(model="m", system="", messages=[Message("user", "x" * 4000)])
    assert meter.estimate(request) == 1000 + 8
    meter.observe(request, Usage())  # no usage reported: nothing learned
    assert meter.ratio == 1.0
    meter.observe(request, Usage(input_tokens=2016))
    assert meter.estimate(request) == 2016
    meter.observe(request, Usage(input_tokens=1008))  # the second sample weighs half
    assert meter.ratio == pytest.approx(1.5)
    assert meter.fraction(4032) == pytest.approx(0.25) and meter.fraction(None) == 0.0


# ------------------------------------------------------------------------------------------ on request


async def test_compact_on_request(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([read(1), answer("big1 has 55 lines"), SUMMARY, answer("still here")])
    agent, events = make_agent(llm_server, project, window=None)
    assert (await agent.run("how long is big1.txt?")).stop == "done"
    event = await agent.compact("user", keep_tokens=50)
    assert event is not None and (event.reason, event.replaced, event.kept) == ("user", 3, 1)
    assert [m.role for m in agent.messages] == ["user", "assistant"]
    assert agent.messages[1].content == "big1 has 55 lines"
    assert PROMPT_MARK in llm_server.model_requests[2].body["messages"][0]["content"]
    assert (await agent.run("and now?")).text == "still here"
    sent = llm_server.model_requests[3].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    # nothing worth summarising: the only earlier message is the summary itself
    assert await compaction.compact(agent.provider, "m", [Message("user", "hi")], reason="user", window=None,
                                    meter=agent.meter, request_for=agent._request, emit=events.append) is None


# ------------------------------------------------------------------------------------------ fallbacks


@pytest.mark.parametrize("failure", [{"error": {"status": 400, "message": "summaries are broken"}}, answer("  ")])
async def test_failed_summary_drops_the_oldest_turns(
    failure: dict[str, Any], llm_server: ServerHandle, project: Path  # noqa: F811
) -> None:
    llm_server.set_script([read(1), read(2), failure, answer("done")])
    agent, events = make_agent(llm_server, project)
    result = await agent.run("read both")
    assert (result.stop, result.text) == ("done", "done")
    [event] = of(events, Compacted)
    assert event.dropped and event.replaced == 3
    sent = llm_server.model_requests[3].body["messages"]
    assert "3 earliest messages of this conversation were dropped" in sent[1]["content"]
    assert "read both" in sent[1]["content"]
    assert [m["role"] for m in sent[2:]] == ["assistant", "tool"] and pairs_intact(sent)
    assert any("could not summarise" in n.text for n in of(events, Notice))


# ------------------------------------------------------------------------------------------ overflow


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "ollama", "llamacpp"])
async def test_overflow_error_mid_run_is_recovered(kind: str, llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    wire = "openai" if kind == "llamacpp" else kind
    llm_server.set_script([read(1), read(2), {"error": overflow(kind)}, SUMMARY, answer("recovered")])
    agent, events = make_agent(llm_server, project, kind=wire, window=None)  # the window is unknown
    result = await agent.run("read both")
    assert (result.stop, result.text) == ("done", "recovered")
    assert len(llm_server.model_requests) == 5  # the refused request was not retried as it was
    [event] = of(events, Compacted)
    assert (event.reason, event.replaced) == ("overflow", 3)
    assert agent.window is not None and agent.window <= event.tokens_before  # learned from the refusal
    assert agent.messages[0].content.startswith(compaction.SUMMARY_MARK)
    assert [m.role for m in agent.messages[1:]] == ["assistant", "tool", "assistant"]


async def test_second_overflow_cuts_tool_results_third_gives_up(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    error = {"error": overflow("openai")}
    llm_server.set_script([read(1), read(2), error, SUMMARY, error, error])
    agent, events = make_agent(llm_server, project, window=None)
    result = await agent.run("read both")
    assert result.stop == "error"
    assert "could not make the conversation fit the model's context window" in (result.error or "")
    assert "maximum context length" in (result.error or "")
    requests = llm_server.model_requests
    assert len(requests) == 6
    after_compaction, after_cut = requests[4].body["messages"], requests[5].body["messages"]
    assert "corral cut" not in after_compaction[-1]["content"]
    cut = after_cut[-1]["content"]
    assert "corral cut" in cut and "re-run the command or re-read the file" in cut
    assert len(cut) < len(after_compaction[-1]["content"])
    assert pairs_intact(after_cut)
    assert any("cut the middle out of 1 long tool result" in n.text for n in of(events, Notice))


async def test_second_overflow_then_success(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    error = {"error": overflow("anthropic")}
    llm_server.set_script([read(1), read(2), error, SUMMARY, error, answer("fits now")])
    agent, _ = make_agent(llm_server, project, kind="anthropic", window=None)
    result = await agent.run("read both")
    assert (result.stop, result.text) == ("done", "fits now")
    last = llm_server.model_requests[5].body["messages"]
    results = [b for m in last for b in (m["content"] if isinstance(m["content"], list) else [])
               if b.get("type") == "tool_result"]
    assert results and "corral cut" in str(results[-1]["content"])


async def test_overflow_with_nothing_to_compact_cuts_at_once(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([read(1), {"error": overflow("gemini")}, answer("ok")])
    agent, events = make_agent(llm_server, project, kind="gemini", window=None)
    result = await agent.run("read big1")
    assert (result.stop, result.text) == ("done", "ok")
    assert not of(events, Compacted) and len(llm_server.model_requests) == 3


async def test_other_errors_are_not_overflows(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([read(1), {"error": {"status": 400, "message": "model 'm' does not exist"}}])
    agent, events = make_agent(llm_server, project, window=None)
    result = await agent.run("go")
    assert result.stop == "error" and "does not exist" in (result.error or "")
    assert not of(events, Compacted) and len(llm_server.model_requests) == 2


async def test_ollama_silent_truncation_is_treated_as_overflow(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    # Ollama cuts a prompt that does not fit num_ctx and reports only what it kept: ~300 of ~2000 tokens
    llm_server.set_script([read(1), read(2), answer("I see no task", input_tokens=300), SUMMARY, answer("done")])
    agent, events = make_agent(llm_server, project, kind="ollama", window=None)
    result = await agent.run("read both")
    assert (result.stop, result.text) == ("done", "done")
    assert [e.reason for e in of(events, Compacted)] == ["overflow"]
    assert any("evaluated only 300 prompt tokens" in n.text and "discarded" in n.text for n in of(events, Notice))
    assert all(m.content != "I see no task" for m in agent.messages)
    assert agent.meter.samples == 0  # the cut count taught the meter nothing


# ------------------------------------------------------------------------------------------ units


def tool_turn(call_id: str, size: int) -> list[Message]:
    return [Message("assistant", tool_calls=[ToolCall(call_id, "read", {"path": "x"})]),
            Message("tool", "y" * size, tool_call_id=call_id, name="read")]


def test_the_cut_never_separates_calls_from_results() -> None:
    meter = ContextMeter()
    messages = [Message("user", "task"), *tool_turn("a", 4000), *tool_turn("b", 400), *tool_turn("c", 400)]
    cut = plan_cut(messages, keep_tokens=300, meter=meter)
    assert cut == 3 and messages[cut].role == "assistant"
    assert plan_cut(messages, keep_tokens=10, meter=meter) == 5  # at least the last step is kept
    assert plan_cut(messages[:3], keep_tokens=10, meter=meter) == 0  # only the request before the cut
    assert plan_cut([Message("user", "x")], keep_tokens=10, meter=meter) == 0


def test_shrink_cuts_the_biggest_results_first() -> None:
    meter = ContextMeter()
    messages = [Message("user", "task"), *tool_turn("a", 20_000), *tool_turn("b", 5_000)]
    assert shrink_tool_results(messages, excess_tokens=3000, meter=meter) == 1
    assert len(messages[2].content) < 9_000 and "12," in messages[2].content  # "12,xxx characters"
    assert messages[4].content == "y" * 5_000 and messages[2].tool_call_id == "a"
    assert shrink_tool_results([Message("user", "x")], 1000, meter) == 0


async def test_a_step_too_big_for_a_known_window_is_cut_before_it_is_sent(
        llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    (project / "huge.txt").write_text("".join(f"row {i} " + "x" * 60 + "\n" for i in range(1500)))
    llm_server.set_script([{"parts": [{"type": "tool_call", "name": "read", "arguments": {"path": "huge.txt"}}]},
                           answer("summarised")])
    agent, events = make_agent(llm_server, project, window=4000)
    result = await agent.run("read huge")
    assert (result.stop, result.text) == ("done", "summarised")
    sent = json.dumps(llm_server.model_requests[-1].body)
    assert len(sent) < 4000 * 4 and "row 0 " in sent  # within the window: the middle of the result was cut
    assert any("cut the middle out of" in n.text for n in of(events, Notice))
