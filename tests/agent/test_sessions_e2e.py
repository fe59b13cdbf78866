"""End to end: sessions, prompts, project context and trust through the real `corral -p` CLI against the
scripted LLM server (real policy engine, real tools, real sandbox).

What a user relies on: a run is saved as it happens; `-c`/`--session` bring back the conversation (the
model sees earlier tool calls as tool calls, in every wire format), the mode, prompt and todo list;
`--no-session` saves nothing; `--compact` summarises; a SIGKILLed run can be resumed; `--prompt` and
project context shape the system prompt; an untrusted project cannot loosen anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.test_oneshot_e2e import Env, call, env, scratch, text  # noqa: F401
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle


def _sessions(e: Env) -> list[Path]:
    root = e.base / "xdg-data" / "corral" / "sessions"
    return sorted(p for p in root.iterdir() if (p / "session.jsonl").exists()) if root.exists() else []


def _records(session: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (session / "session.jsonl").read_text().splitlines() if line.strip()]


def _system(e: Env, index: int) -> str:
    """The system prompt of one model request, whatever the wire format put it in."""
    body = e.server.requests[index].body
    if "system" in body:  # anthropic
        system = body["system"]
        return system if isinstance(system, str) else "".join(part.get("text", "") for part in system)
    if "systemInstruction" in body:  # gemini
        return "".join(part.get("text", "") for part in body["systemInstruction"]["parts"])
    return str(body["messages"][0]["content"])  # openai, ollama


def test_resume_brings_back_the_conversation_with_real_tool_calls(env: Env) -> None:  # noqa: F811
    e = env
    (e.project / "notes.txt").write_text("the answer is 42\n")
    e.server.set_script([{"parts": [call("read", path="notes.txt")]}, {"parts": [text("It says 42.")]}])
    first = e.run("-p", "What do the notes say?", "--output-format", "json")
    assert first.code == 0, first.err
    session_id = json.loads(first.out)["session_id"]
    [session] = _sessions(e)
    assert session.name == session_id
    assert (session.stat().st_mode & 0o777, (session / "session.jsonl").stat().st_mode & 0o777) == (0o700, 0o600)

    e.server.clear_requests()
    e.server.set_script([{"parts": [text("You asked about the notes.")]}])
    second = e.run("-c", "-p", "What did I ask before?", "--output-format", "json")
    assert second.code == 0, second.err
    assert json.loads(second.out)["session_id"] == session_id  # the same session goes on
    sent = e.tool_results(0)
    assert "What do the notes say?" in sent and "the answer is 42" in sent and "What did I ask before?" in sent
    body = e.server.requests[0].body
    if e.kind == "openai":  # the earlier read is a real tool call with its result, not text
        roles = [m["role"] for m in body["messages"]]
        assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
        assert body["messages"][2]["tool_calls"][0]["function"]["name"] == "read"
    elif e.kind == "anthropic":
        kinds = [part["type"] for m in body["messages"] for part in m["content"] if isinstance(part, dict)]
        assert "tool_use" in kinds and "tool_result" in kinds
    elif e.kind == "gemini":
        parts = [key for c in body["contents"] for part in c["parts"] for key in part]
        assert "functionCall" in parts and "functionResponse" in parts
    else:
        roles = [m["role"] for m in body["messages"]]
        assert "tool" in roles and any(m.get("tool_calls") for m in body["messages"])
    assert _sessions(e) == [session]

    e.server.clear_requests()
    e.server.set_script([{"parts": [text("again")]}])
    third = e.run("--session", session_id[:12], "-p", "once more", "--name", "notes-talk")
    assert third.code == 0, third.err
    assert "What did I ask before?" in e.tool_results(0)
    e.server.clear_requests()
    e.server.set_script([{"parts": [text("by name")]}])
    fourth = e.run("--session", "notes-talk", "-p", "by name")
    assert fourth.code == 0, fourth.err
    assert "once more" in e.tool_results(0)


def test_no_session_keeps_no_log_and_continue_needs_one(one: Env) -> None:
    e, server = one, one.server
    server.set_script([{"parts": [text("ok")]}])
    r = e.run("--no-session", "-p", "hi")
    assert r.code == 0, r.err
    assert _sessions(e) == []
    r = e.run("-c", "-p", "continue")
    assert r.code == 2 and "no session to continue" in r.err
    r = e.run("--session", "nope", "-p", "x")
    assert r.code == 2 and "nope" in r.err
    r = e.run("-r", "-p", "x")  # no terminal here
    assert r.code == 2 and ("terminal" in r.err or "no session" in r.err)


@pytest.fixture
def one(llm_server: ServerHandle) -> Iterator[Env]:  # noqa: F811
    """A scratch project talking to the server in one wire format (the resume test covers all four)."""
    with scratch(llm_server) as made:
        yield made


def test_resume_restores_mode_prompt_and_todos(one: Env) -> None:
    e, server = one, one.server
    todos = [{"content": "read the code", "status": "done"}, {"content": "write the plan", "status": "pending"}]
    server.set_script([{"parts": [call("todo", todos=todos)]}, {"parts": [text("planned")]}])
    r = e.run("--prompt", "review", "-p", "review this")
    assert r.code == 0, r.err
    assert "permission mode: read-only" in _system(e, 0)  # review lowers standard to read-only
    server.clear_requests()
    server.set_script([{"parts": [call("write", path="x.txt", content="x")]}, {"parts": [text("done")]}])
    r = e.run("-c", "-p", "now write x.txt")
    assert r.code == 0, r.err
    system = _system(e, 0)
    assert "permission mode: read-only" in system and "review" in system.lower()
    assert not (e.project / "x.txt").exists()
    assert "Denied" in e.tool_results(1)
    [session] = _sessions(e)
    todo_records = [rec for rec in _records(session) if rec["type"] == "todo"]
    assert todo_records and todo_records[-1]["items"] == todos  # type: ignore[index]
    # flags given now win over the session's
    server.clear_requests()
    server.set_script([{"parts": [text("ok")]}])
    r = e.run("-c", "--prompt", "code", "-p", "go on")
    assert r.code == 0, r.err
    assert "permission mode: standard" in _system(e, 0)


def test_plan_prompt_writes_only_plan_files(one: Env) -> None:
    e, server = one, one.server
    (e.project / "app.py").write_text("x = 1\n")
    server.set_script([
        {"parts": [call("write", path=".plans/refactor.md", content="# Plan\n1. do it\n")]},
        {"parts": [call("write", path="app.py", content="x = 2\n")]},
        {"parts": [call("bash", command="echo y > other.txt")]},
        {"parts": [text("planned")]},
    ])
    r = e.run("--prompt", "plan", "-p", "plan a refactor")
    assert r.code == 0, r.err
    assert (e.project / ".plans" / "refactor.md").read_text() == "# Plan\n1. do it\n"
    assert (e.project / "app.py").read_text() == "x = 1\n"
    assert not (e.project / "other.txt").exists()
    assert "may write only" in e.tool_results(2)
    assert "permission mode: read-only" in _system(e, 0)


def test_project_context_files_and_no_context_flag(one: Env) -> None:
    e, server = one, one.server
    (e.project / "AGENTS.md").write_text("Use tabs, never spaces.\n")
    (e.project / "ARCHITECTURE.md").write_text("The core is in src/core.\n")
    (e.base / "AGENTS.md").write_text("Outer rule.\n")
    secret = e.base / "secret.txt"
    secret.write_text("TOP SECRET\n")
    (e.project / "CLAUDE.md").symlink_to(secret)  # a repository pointing its context file outside
    server.set_script([{"parts": [text("ok")]}, {"parts": [text("ok")]}])
    r = e.run("-p", "hi")
    assert r.code == 0, r.err
    system = _system(e, 0)
    assert "Use tabs, never spaces." in system and "The core is in src/core." in system
    assert str(e.project / "AGENTS.md") in system
    assert "TOP SECRET" not in system
    r = e.run("-n", "-p", "hi")
    assert r.code == 0, r.err
    assert "Use tabs" not in _system(e, 1)


def test_untrusted_project_cannot_loosen_and_trust_accepts_it(one: Env) -> None:
    e, server = one, one.server
    corral_dir = e.project / ".corral"
    (corral_dir / "prompts").mkdir(parents=True)
    (corral_dir / "config.toml").write_text('mode = "yolo"\nsandbox_network = true\n')
    (corral_dir / "policy.toml").write_text(
        '[[rule]]\nid = "allow-curl"\ntool = "bash"\ndecision = "allow"\nprefix = ["curl"]\n')
    (corral_dir / "prompts" / "house.md").write_text("---\nname: house\ndescription: ours\n---\nHouse rules.\n")
    server.set_script([{"parts": [call("bash", command="curl -s http://127.0.0.1:1/")]}, {"parts": [text("ok")]}])
    r = e.run("-p", "fetch")
    assert r.code == 0, r.err
    for refused in ("mode", "sandbox_network", "allow-curl"):
        assert refused in r.err, r.err
    assert "corral trust" in r.err
    assert "permission mode: standard" in _system(e, 0)
    assert "Denied" in e.tool_results(1)
    r = e.run("--prompt", "house", "-p", "x")
    assert r.code == 2 and "trust" in r.err

    trust = subprocess.run([*e.argv("trust")[:3], "trust"], cwd=e.project, env=e.env(),
                           capture_output=True, text=True)
    assert trust.returncode == 0, trust.stderr
    server.clear_requests()
    server.set_script([{"parts": [text("ok")]}])
    r = e.run("--prompt", "house", "-p", "x")
    assert r.code == 0, r.err
    system = _system(e, 0)
    assert "House rules." in system and "permission mode: yolo" in system  # trusted: its config applies
    (corral_dir / "config.toml").write_text('mode = "yolo"\nsandbox_network = true\n# changed\n')
    r = e.run("-p", "x")  # a changed file means untrusted again
    assert "corral trust" in r.err


def test_compact_summarises_the_resumed_session(one: Env) -> None:
    e, server = one, one.server
    (e.project / "big.txt").write_text("".join(f"line {i}: " + "data " * 30 + "\n" for i in range(200)))
    server.set_script([
        {"parts": [call("read", path="big.txt")]}, {"parts": [text("read it")]},
        {"parts": [text("Second answer.")]},
    ])
    assert e.run("-p", "read big.txt").code == 0
    assert e.run("-c", "-p", "and then?").code == 0
    server.clear_requests()
    server.set_script([{"parts": [text("Summary: the user had big.txt read; nothing else is pending.")],
                        "usage": {"input_tokens": 700, "output_tokens": 30}}])
    r = e.run("-c", "--compact")
    assert r.code == 0, r.err
    assert "big.txt" in e.tool_results(0) and "tools" not in e.server.requests[0].body
    [session] = _sessions(e)
    assert any(rec["type"] == "compaction" for rec in _records(session))
    spent = [rec for rec in _records(session) if rec["type"] == "usage"]
    assert any(rec.get("input_tokens") == 700 for rec in spent), spent  # the summary's tokens count too
    server.clear_requests()
    server.set_script([{"parts": [text("ok")]}])
    assert e.run("-c", "-p", "next").code == 0
    sent = e.tool_results(0)
    assert "Summary: the user had big.txt read" in sent and "line 150" not in sent


def test_a_killed_run_can_be_resumed(one: Env) -> None:
    e, server = one, one.server
    (e.project / "a.txt").write_text("alpha\n")
    server.set_script([{"parts": [call("read", path="a.txt")]}, {"hang": True}])
    proc = subprocess.Popen(e.argv("-p", "read a.txt please"), cwd=e.project, env=e.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server.wait_for_requests(2, timeout=30)  # the read ran; the model hangs on the second request
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    server.clear_requests()
    server.set_script([{"parts": [text("resumed")]}])
    r = e.run("-c", "-p", "go on")
    assert r.code == 0, r.err
    sent = e.tool_results(0)
    assert "read a.txt please" in sent and "alpha" in sent and "go on" in sent


def test_prompts_command_lists_the_library(one: Env) -> None:
    e = one
    user_dir = e.base / "xdg-config" / "corral" / "prompts"
    user_dir.mkdir(parents=True)
    (user_dir / "changelog.md").write_text("---\ndescription: Write the changelog.\nmode: guarded\n---\nDo it.\n")
    (e.project / ".corral" / "prompts").mkdir(parents=True)
    (e.project / ".corral" / "prompts" / "house.md").write_text("House rules.\n")
    argv = [*e.argv()[:3], "prompts"]
    listed = subprocess.run(argv, cwd=e.project, env=e.env(), capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith("review") and "read-only" in line for line in lines)
    assert any(line.startswith("changelog") and "user" in line for line in lines)
    assert not any(line.startswith(("compaction", "subagent", "house")) for line in lines)
    assert "not trusted" in listed.stdout
    as_json = subprocess.run([*argv, "--json"], cwd=e.project, env=e.env(), capture_output=True, text=True)
    names = {json.loads(line)["name"] for line in as_json.stdout.splitlines()}
    assert {"code", "plan", "review", "changelog"} <= names and "house" not in names


def test_resume_restores_session_approvals(one: Env) -> None:
    """An approval given "for this session" (recorded by the interactive UI) holds again after resuming;
    nothing broader does."""
    import policy
    from agent.session import SessionWriter, load_session

    e, server = one, one.server
    server.set_script([{"parts": [call("bash", command="frobnicate x")]}, {"parts": [text("denied")]}])
    first = e.run("-p", "run frobnicate", "--output-format", "json")
    assert first.code == 0, first.err
    assert "ask → deny" in first.err or "Denied" in e.tool_results(1)
    [session] = _sessions(e)
    rule = policy.Rule.exact_command(["frobnicate", "x"], id="session-bash-0123456789",
                                     reason="approved for this session")
    with SessionWriter.resume(load_session(session)) as writer:
        writer.approval({"rule": rule.to_toml(), "max_kind": "UNKNOWN"})
    server.clear_requests()
    server.set_script([{"parts": [call("bash", command="frobnicate x")]},
                       {"parts": [call("bash", command="frobnicate y")]}, {"parts": [text("done")]}])
    r = e.run("-c", "-p", "again")
    assert r.code == 0, r.err
    assert "frobnicate x  [allow]" in r.err, r.err
    assert "frobnicate y  [ask → deny]" in r.err, r.err
