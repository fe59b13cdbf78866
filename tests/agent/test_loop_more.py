"""The core loop when a reply does not end normally: cut at the output-token limit (as final text, or in
the middle of a tool call's arguments), broken off by a provider error mid-stream, failed before anything
was streamed, or cancelled. Real providers of each wire format against the scripted server, the real
policy engine, gate and tools on real files."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import policy
from agent.events import Event, Notice, PolicyChecked, RunFinished
from agent.gate import Gate
from agent.loop import CUT_ARGUMENTS, INTERRUPTED_REPLY, Agent
from agent.providers import make_provider
from agent.providers.base import Message, TextDelta
from agent.providers.settings import ProviderSettings
from agent.tools import builtin_tools
from agent.tools.base import ToolContext
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle

KINDS = ("openai", "anthropic", "gemini", "ollama")


@pytest.fixture
def project() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="corral-loop-", dir="/var/tmp")).resolve()
    subprocess.run(["git", "init", "-q", str(base)], check=True)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_agent(server: ServerHandle, project: Path, kind: str = "openai",
               mode: policy.Mode = policy.Mode.STANDARD) -> tuple[Agent, list[Event]]:
    events: list[Event] = []
    url = server.base_url + ("/v1" if kind == "openai" else "")
    settings = ProviderSettings(name="t", kind=kind, base_url=url, api_key="k", max_retries=0)
    engine = policy.load_engine(project, home=project / "fake-home")
    gate = Gate(engine, mode, project)
    ctx = ToolContext(project_root=project, cwd=project, sandbox_backend="bwrap", home=project / "fake-home")
    agent = Agent(provider=make_provider(settings), model="m", tools=builtin_tools(), gate=gate, ctx=ctx,
                  emit=events.append, system="test")
    return agent, events


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "arguments": arguments}


def notices(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, Notice)]


def roles_sent(server: ServerHandle, index: int) -> list[str]:
    """The roles of the conversation the client sent in one request, in the wire format's own terms."""
    body = server.model_requests[index].body
    if "contents" in body:  # gemini
        return [c["role"] for c in body["contents"]]
    return [m["role"] for m in body["messages"] if m["role"] != "system"]


# ------------------------------------------------------------------------------------ max_tokens


@pytest.mark.parametrize("kind", KINDS)
async def test_a_final_answer_cut_at_the_output_limit_is_reported(llm_server: ServerHandle, project: Path,  # noqa: F811
                                                                 kind: str) -> None:
    llm_server.set_script([{"parts": [text("The three reasons are: first, the")], "stop": "max_tokens"}])
    agent, events = make_agent(llm_server, project, kind)
    result = await agent.run("explain")
    assert result.stop == "max_tokens", result
    assert result.text == "The three reasons are: first, the"
    assert result.error and "output-token limit" in result.error and "incomplete" in result.error
    assert any("output-token limit" in n for n in notices(events))
    assert isinstance(events[-1], RunFinished) and events[-1].stop == "max_tokens"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_tool_call_cut_at_the_output_limit_asks_for_smaller_pieces(llm_server: ServerHandle,  # noqa: F811
                                                                          project: Path, kind: str) -> None:
    """The model's big write is cut mid-arguments; it is told why and how, and writes the file in parts
    (write, then write with append)."""
    cut = '{"path": "big.txt", "content": "line 1\\nli'
    llm_server.set_script([
        {"parts": [text("Writing the file."), {"type": "tool_call", "name": "write", "raw_arguments": cut}],
         "stop": "max_tokens"},
        {"parts": [call("write", path="big.txt", content="line 1\nline 2\n")]},
        {"parts": [call("write", path="big.txt", content="line 3\n", append=True)]},
        {"parts": [text("Written in two parts.")]},
    ])
    agent, events = make_agent(llm_server, project, kind)
    result = await agent.run("write big.txt")
    assert result.stop == "done", result
    first_result = next(m for m in agent.messages if m.role == "tool")
    assert first_result.is_error and first_result.content == CUT_ARGUMENTS
    assert "output-token limit" in first_result.content and "append" in first_result.content
    assert "send them again as valid JSON" not in first_result.content
    assert CUT_ARGUMENTS in str(llm_server.model_requests[1].body)  # the model was told
    assert (project / "big.txt").read_text() == "line 1\nline 2\nline 3\n"
    assert any("output-token limit" in n and "not run" in n for n in notices(events))
    # the cut call never reached the gate: nothing was judged or run for it
    assert len([e for e in events if isinstance(e, PolicyChecked)]) == 2


async def test_complete_calls_of_a_reply_at_the_limit_still_run(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    """Arguments that are complete JSON were not cut: the call runs and nothing is announced."""
    (project / "x.txt").write_text("the content\n")
    llm_server.set_script([
        {"parts": [call("read", path="x.txt")], "stop": "max_tokens"},
        {"parts": [text("Read it.")]},
    ])
    agent, events = make_agent(llm_server, project)
    assert (await agent.run("read x")).stop == "done"
    tool = next(m for m in agent.messages if m.role == "tool")
    assert not tool.is_error and "the content" in tool.content
    assert not notices(events)


async def test_malformed_arguments_without_the_limit_keep_the_generic_message(llm_server: ServerHandle,  # noqa: F811
                                                                             project: Path) -> None:
    llm_server.set_script([
        {"parts": [{"type": "tool_call", "name": "read", "raw_arguments": "{not json"}]},
        {"parts": [text("ok")]},
    ])
    agent, events = make_agent(llm_server, project)
    await agent.run("read")
    tool = next(m for m in agent.messages if m.role == "tool")
    assert "send them again as valid JSON" in tool.content and tool.content != CUT_ARGUMENTS
    assert not notices(events)


async def test_write_appends_only_to_a_file_it_has_seen(project: Path) -> None:
    tool = next(t for t in builtin_tools() if t.spec.name == "write")
    ctx = ToolContext(project_root=project, cwd=project, home=project / "fake-home")
    (project / "old.txt").write_text("precious\n")
    refused = await tool.run("c1", {"path": "old.txt", "content": "more\n", "append": True}, ctx)
    assert refused.is_error and "read it first" in refused.content and "append to" in refused.content
    assert (project / "old.txt").read_text() == "precious\n"
    created = await tool.run("c2", {"path": "new.txt", "content": "a\n", "append": True}, ctx)
    assert not created.is_error and created.meta["created"] is True
    more = await tool.run("c3", {"path": "new.txt", "content": "b\n", "append": True}, ctx)
    assert not more.is_error and "Appended" in more.content and more.meta["appended"] == 2
    assert (project / "new.txt").read_text() == "a\nb\n"
    (project / "new.txt").write_text("changed behind our back\n")
    stale = await tool.run("c4", {"path": "new.txt", "content": "c\n", "append": True}, ctx)
    assert stale.is_error and "changed on disk" in stale.content


# ------------------------------------------------------------------------------------ provider errors


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reply_broken_off_by_a_provider_error_stays_marked(llm_server: ServerHandle, project: Path,  # noqa: F811
                                                                  kind: str) -> None:
    llm_server.set_script([
        {"parts": [text("partial answer")], "error": {"status": 500, "message": "overloaded", "mid_stream": True}},
        {"parts": [text("Second try.")]},
    ])
    agent, _events = make_agent(llm_server, project, kind)
    result = await agent.run("question")
    assert result.stop == "error" and result.text == "partial answer", result
    assert [m.role for m in agent.messages] == ["user", "assistant"]
    kept = agent.messages[-1].content
    assert kept.startswith("partial answer\n\n[the reply broke off here: ") and kept.endswith("]")
    assert "overloaded" in kept
    again = await agent.run("go on")
    assert again.stop == "done"
    sent = str(llm_server.model_requests[1].body)
    assert "partial answer" in sent and "broke off" in sent
    assert roles_sent(llm_server, 1) == ["user", "assistant" if kind != "gemini" else "model", "user"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failed_request_leaves_a_history_every_format_accepts(llm_server: ServerHandle, project: Path,  # noqa: F811
                                                                     kind: str) -> None:
    """Nothing was streamed: nothing is recorded, and the next prompt follows the unanswered one. Formats
    that need alternating roles (Anthropic, Gemini) get the two prompts merged into one user turn."""
    llm_server.set_script([
        {"error": {"status": 400, "message": "bad request"}},
        {"parts": [text("Answer.")]},
    ])
    agent, _events = make_agent(llm_server, project, kind)
    failed = await agent.run("first question")
    assert failed.stop == "error" and failed.text == ""
    assert [m.role for m in agent.messages] == ["user"]
    assert (await agent.run("second question")).stop == "done"
    roles = roles_sent(llm_server, 1)
    if kind in ("anthropic", "gemini"):
        assert roles == ["user"]
    else:
        assert roles == ["user", "user"]
    sent = str(llm_server.model_requests[1].body)
    assert "first question" in sent and "second question" in sent


async def test_a_stale_partial_is_never_kept_for_a_later_reply(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    """Turn 1 streams text and completes; turn 2 fails before streaming: turn 1's text must not be recorded
    again as turn 2's broken-off reply."""
    llm_server.set_script([
        {"parts": [text("Reading."), call("read", path="x.txt")]},
        {"error": {"status": 400, "message": "bad request"}},
    ])
    (project / "x.txt").write_text("x\n")
    agent, _events = make_agent(llm_server, project)
    result = await agent.run("read x")
    assert result.stop == "error"
    assert [m.role for m in agent.messages] == ["user", "assistant", "tool"]


# ------------------------------------------------------------------------------------ cancellation


async def test_a_cancelled_run_says_what_it_did(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([
        {"parts": [text("Let me wait."), call("bash", command="sleep 30")],
         "usage": {"input_tokens": 10, "output_tokens": 5}},
    ])
    agent, events = make_agent(llm_server, project, mode=policy.Mode.YOLO)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent.run, "wait")
        while not any(isinstance(e, PolicyChecked) for e in events):  # noqa: ASYNC110
            await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    cut = agent.cancelled
    assert cut is not None and cut.stop == "cancelled" and cut.turns == 1
    assert cut.text == "Let me wait." and cut.usage.input_tokens == 10 and cut.usage.output_tokens == 5


async def test_a_reply_cut_by_cancellation_is_the_partial_result(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([{"parts": [text("first part. " * 40)], "chunk_delay": 0.02}])
    agent, events = make_agent(llm_server, project)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent.run, "explain")
        while sum(isinstance(e, TextDelta) for e in events) < 3:  # noqa: ASYNC110
            await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    shown = "".join(e.text for e in events if isinstance(e, TextDelta)).rstrip()
    assert agent.cancelled is not None and agent.cancelled.text == shown
    assert agent.messages[-1] == Message("assistant", f"{shown}\n\n{INTERRUPTED_REPLY}")
