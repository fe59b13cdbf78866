"""The core loop in-process: real provider (OpenAI wire format) against the scripted server, the real
policy engine and gate, real tools on real files. What the front ends rely on: events, concurrency of
read-only calls, approvals (once, for the session, denied with a reason), failures that go back to the
model, and a history that stays valid when a run is cancelled."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

import policy
from agent.events import AssistantMessage, Event, PolicyChecked, RunFinished, ToolFinished, TurnStarted
from agent.gate import ApprovalAnswer, ApprovalRequest, Gate
from agent.loop import INTERRUPTED_REPLY, Agent
from agent.providers import make_provider
from agent.providers.base import TextDelta, ToolSpec
from agent.providers.settings import ProviderSettings
from agent.tools import builtin_tools
from agent.tools.base import Tool, ToolContext, ToolResult
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle


class SlowProbe:
    """A read-only test tool standing in for grep (so the engine judges it as a read): it takes 0.4 s and
    records when it ran, to observe concurrency."""

    spec = ToolSpec("grep", "wait a little", {"type": "object", "properties": {"n": {"type": "integer"}}})
    read_only = True

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        return {"path": "."}

    async def run(self, call_id: str, args: Mapping[str, object], ctx: ToolContext) -> ToolResult:
        start = time.monotonic()
        await trio.sleep(0.4)
        self.spans.append((start, time.monotonic()))
        return ToolResult(f"probe {args.get('n')} done")


class Broken:
    """A tool with a bug: it raises."""

    spec = ToolSpec("broken", "always fails", {"type": "object", "properties": {}})
    read_only = False

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        return {"path": "."}

    async def run(self, call_id: str, args: Mapping[str, object], ctx: ToolContext) -> ToolResult:
        raise RuntimeError("boom")


@pytest.fixture
def project() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="corral-loop-", dir="/var/tmp")).resolve()
    subprocess.run(["git", "init", "-q", str(base)], check=True)
    (base / "notes.txt").write_text("alpha\nbeta\n")
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_agent(server: ServerHandle, project: Path, *, tools: list[Any] | None = None,
               approver: Any = None, mode: policy.Mode = policy.Mode.STANDARD) -> tuple[Agent, list[Event]]:
    events: list[Event] = []
    settings = ProviderSettings(name="t", kind="openai", base_url=f"{server.base_url}/v1", max_retries=0)
    engine = policy.load_engine(project, home=project / "fake-home")
    gate = Gate(engine, mode, project, approver=approver)
    ctx = ToolContext(project_root=project, cwd=project, sandbox_backend="bwrap", home=project / "fake-home")
    extra = {t.spec.name for t in tools or []}
    all_tools: list[Tool] = [*(t for t in builtin_tools() if t.spec.name not in extra), *(tools or [])]
    agent = Agent(provider=make_provider(settings), model="m", tools=all_tools, gate=gate, ctx=ctx,
                  emit=events.append, system="test")
    return agent, events


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "arguments": arguments}


def sent_tool_messages(server: ServerHandle, index: int) -> list[dict[str, Any]]:
    return [m for m in server.model_requests[index].body["messages"] if m["role"] == "tool"]


async def test_events_in_order_and_final_answer(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([
        {"parts": [{"type": "text", "text": "Reading."}, call("read", path="notes.txt")]},
        {"parts": [{"type": "text", "text": "It has two lines."}], "usage": {"input_tokens": 9, "output_tokens": 4}},
    ])
    agent, events = make_agent(llm_server, project)
    result = await agent.run("what is in notes.txt?")
    assert (result.stop, result.text, result.turns) == ("done", "It has two lines.", 2)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "TurnStarted" and kinds[-1] == "RunFinished"
    assert kinds.index("PolicyChecked") < kinds.index("ToolFinished") < kinds.index("TurnStarted", 1)
    assert any(isinstance(e, TextDelta) for e in events)
    assert [m.role for m in agent.messages] == ["user", "assistant", "tool", "assistant"]
    assert "alpha" in sent_tool_messages(llm_server, 1)[0]["content"]
    assert agent.usage.output_tokens >= 4
    assert isinstance(events[-1], RunFinished) and sum(isinstance(e, TurnStarted) for e in events) == 2
    assert sum(isinstance(e, AssistantMessage) for e in events) == 2


async def test_read_only_calls_run_concurrently_and_writes_alone(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    probe = SlowProbe()
    llm_server.set_script([
        {"parts": [call("grep", n=1), call("grep", n=2), call("grep", n=3),
                   call("write", path="out.txt", content="x\n"), call("grep", n=4)]},
        {"parts": [{"type": "text", "text": "done"}]},
    ])
    agent, events = make_agent(llm_server, project, tools=[probe])
    started = time.monotonic()
    result = await agent.run("go")
    assert result.stop == "done"
    first_three = probe.spans[:3]
    assert max(s for s, _ in first_three) < min(e for _, e in first_three), "probes 1-3 did not overlap"
    assert time.monotonic() - started < 1.6  # 3 concurrent + 1 alone, not 4 in a row (1.6 s)
    write_done = next(e for e in events if isinstance(e, ToolFinished) and e.call.name == "write")
    assert write_done.result.is_error is False and (project / "out.txt").read_text() == "x\n"
    # results go back in the model's order
    assert [m["content"][:7] for m in sent_tool_messages(llm_server, 1)][:3] == ["probe 1", "probe 2", "probe 3"]


async def test_failures_go_back_to_the_model(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([
        {"parts": [call("nope"), call("broken"), {"type": "tool_call", "name": "read", "raw_arguments": "{bad"},
                   call("read", path="missing.txt"), call("read")]},
        {"parts": [{"type": "text", "text": "ok"}]},
    ])
    agent, _ = make_agent(llm_server, project, tools=[Broken()], mode=policy.Mode.YOLO)
    result = await agent.run("go")
    assert result.stop == "done"
    contents = [m["content"] for m in sent_tool_messages(llm_server, 1)]
    assert "unknown tool 'nope'" in contents[0]
    assert "RuntimeError: boom" in contents[1]
    assert "JSON" in contents[2]
    assert "missing.txt" in contents[3]
    assert "path" in contents[4]


async def test_denied_call_is_explained(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([
        {"parts": [call("bash", command="rm -rf ~")]},
        {"parts": [{"type": "text", "text": "I won't."}]},
    ])
    agent, events = make_agent(llm_server, project)
    await agent.run("clean up")
    checked = next(e for e in events if isinstance(e, PolicyChecked))
    assert (checked.decision, checked.final) == ("deny", "deny")
    assert sent_tool_messages(llm_server, 1)[0]["content"].startswith("Denied by policy")


async def test_approvals_once_for_the_session_and_denied_with_reason(
    llm_server: ServerHandle, project: Path  # noqa: F811
) -> None:
    asked: list[ApprovalRequest] = []
    answers = [ApprovalAnswer(True, remember=True), ApprovalAnswer(False, message="use the staging server")]

    async def approver(request: ApprovalRequest) -> ApprovalAnswer:
        asked.append(request)
        return answers.pop(0)

    cmd = "python3 -c 'print(6*7)'"
    llm_server.set_script([
        {"parts": [call("bash", command=cmd)]},
        {"parts": [call("bash", command=cmd)]},  # approved for the session: not asked again
        {"parts": [call("bash", command="curl -s https://example.com")]},  # asked, denied with a reason
        {"parts": [{"type": "text", "text": "done"}]},
    ])
    agent, events = make_agent(llm_server, project, approver=approver)
    result = await agent.run("compute")
    assert result.stop == "done"
    assert len(asked) == 2
    assert asked[0].session_rules, "an allow-for-session answer must show the narrow rule it adds"
    assert "42" in sent_tool_messages(llm_server, 1)[0]["content"]
    checks = [e for e in events if isinstance(e, PolicyChecked)]
    assert [c.approved_by for c in checks] == ["user", "session", "user"]
    assert "use the staging server" in sent_tool_messages(llm_server, 3)[-1]["content"]


async def test_cancellation_keeps_a_valid_history(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([{"parts": [call("bash", command="sleep 30")]}])
    agent, events = make_agent(llm_server, project, mode=policy.Mode.YOLO)
    with trio.move_on_after(3) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(agent.run, "wait")
            while not any(isinstance(e, PolicyChecked) for e in events):  # noqa: ASYNC110
                await trio.sleep(0.02)
            await trio.sleep(0.3)
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught, "cancelling did not stop the run promptly"
    assert [m.role for m in agent.messages] == ["user", "assistant", "tool"]
    assert "cancelled" in agent.messages[-1].content
    json.dumps([m.content for m in agent.messages])


async def test_a_reply_cut_by_cancellation_stays_in_the_history(llm_server: ServerHandle, project: Path) -> None:  # noqa: F811
    llm_server.set_script([{"parts": [{"type": "text", "text": "first part. " * 40}], "chunk_delay": 0.02}])
    agent, events = make_agent(llm_server, project)
    with trio.move_on_after(5) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(agent.run, "explain")
            while sum(isinstance(e, TextDelta) for e in events) < 3:  # noqa: ASYNC110
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught
    assert [m.role for m in agent.messages] == ["user", "assistant"]
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    kept = agent.messages[-1].content
    assert kept == f"{shown.rstrip()}\n\n{INTERRUPTED_REPLY}"  # exactly what the user saw, marked as cut
    assert len(shown) < len("first part. " * 40) and not agent.messages[-1].tool_calls
