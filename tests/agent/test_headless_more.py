"""One-shot mode (`corral -p`) end to end, the real CLI in a subprocess against the scripted LLM server:
what json and stream-json report (this run's usage, the session's totals, the session id), interrupted
runs in all three formats, answers cut at the output-token limit, and sandbox problems on stderr."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent.test_oneshot_e2e import Env, call, scratch, text
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle


@pytest.fixture
def env(llm_server: ServerHandle) -> Iterator[Env]:  # noqa: F811
    """No retries: a provider error shows at once."""
    with scratch(llm_server, max_retries=0) as made:
        yield made


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


USAGE = {"input_tokens": 10, "output_tokens": 5, "cost": 0.001}


# ------------------------------------------------------------------------------------ usage and session id


def test_json_reports_this_runs_usage_and_the_sessions_separately(env: Env) -> None:
    env.server.set_script([{"parts": [text(f"answer {i}")], "usage": USAGE} for i in range(4)])
    first = json.loads(env.run("-p", "q0", "--output-format", "json").out)
    for i in (1, 2):
        r = env.run("-c", "-p", f"q{i}", "--output-format", "json")
        assert r.code == 0, r.err
    third = json.loads(r.out)
    assert third["session_id"] == first["session_id"]
    assert third["turns"] == 1 and third["result"] == "answer 2"
    assert third["usage"]["input_tokens"] == 10 and third["usage"]["output_tokens"] == 5
    assert third["cost"] == pytest.approx(0.001)
    assert third["session_usage"]["input_tokens"] == 30 and third["session_usage"]["cost"] == pytest.approx(0.003)
    r = env.run("-c", "-p", "q3", "--output-format", "stream-json")
    assert r.code == 0, r.err
    events = lines(r.out)
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["usage"]["input_tokens"] == 10
    assert finished["usage"]["cost"] == pytest.approx(0.001)


def test_stream_json_names_the_session_first_and_last(env: Env) -> None:
    env.server.set_script([{"parts": [text("Streamed.")]}, {"parts": [text("Again.")]}])
    r = env.run("-p", "hi", "--output-format", "stream-json")
    assert r.code == 0, r.err
    events = lines(r.out)
    assert events[0]["type"] == "session" and events[0]["resumed"] is False
    session = events[0]["session_id"]
    assert (env.base / "xdg-data" / "corral" / "sessions" / session / "session.jsonl").is_file()
    assert events[-1]["type"] == "run_finished" and events[-1]["session_id"] == session
    r = env.run("-c", "-p", "again", "--output-format", "stream-json")
    events = lines(r.out)
    assert events[0] == {"type": "session", "session_id": session, "resumed": True}


# ------------------------------------------------------------------------------------ interrupted runs

SLOW = {"parts": [text("word " * 400)], "chunk_delay": 0.05}


def test_interrupted_json_reports_the_partial_answer_and_usage(env: Env) -> None:
    env.server.set_script([{"parts": [text("Looking."), call("read", path="README.md")], "usage": USAGE}, SLOW])
    (env.project / "README.md").write_text("# readme\n")
    r = env.interrupted("-p", "explain", "--output-format", "json", after_requests=2, wait=1.0)
    assert r.code == 130, r.err
    obj = json.loads(r.out)
    assert obj["stop"] == "cancelled" and obj["error"] == "interrupted" and obj["turns"] == 2
    assert obj["result"].startswith("word word") and len(obj["result"]) < len("word " * 400)
    assert obj["usage"]["input_tokens"] == 10 and obj["cost"] == pytest.approx(0.001)
    assert obj["session_id"] and obj["session_usage"]["input_tokens"] == 10
    assert "interrupted" in r.err


def test_interrupted_during_a_command_in_every_format(env: Env) -> None:
    reply = {"parts": [text("Waiting for it."), call("bash", command="sleep 30")], "usage": USAGE}
    env.server.set_script([reply])
    r = env.interrupted("-p", "wait", "--yolo", "--output-format", "stream-json", after_requests=1, wait=1.5,
                        sig=signal.SIGTERM)
    assert r.code == 130, r.err
    events = lines(r.out)
    assert events[0]["type"] == "session"
    last = events[-1]
    assert last["type"] == "run_finished" and last["stop"] == "cancelled" and last["turns"] == 1
    assert last["text"] == "Waiting for it." and last["usage"]["input_tokens"] == 10
    assert last["session_id"] == events[0]["session_id"]
    env.server.set_script([reply])
    env.server.clear_requests()
    r = env.interrupted("-p", "wait", "--yolo", after_requests=1, wait=1.5)
    assert r.code == 130, r.err
    assert r.out == "Waiting for it.\n"
    assert r.err.rstrip().endswith("corral: interrupted")


def test_interrupted_text_mode_prints_the_partial_answer(env: Env) -> None:
    env.server.set_script([SLOW])
    r = env.interrupted("-p", "explain", after_requests=1, wait=1.0)
    assert r.code == 130, r.err
    assert r.out.startswith("word word") and len(r.out) < len("word " * 400)
    assert "interrupted" in r.err


# ------------------------------------------------------------------------------------ max_tokens


def test_an_answer_cut_at_the_output_limit_is_not_a_success(env: Env) -> None:
    env.server.set_script([{"parts": [text("The list: one, two,")], "stop": "max_tokens"}])
    r = env.run("-p", "list", "--output-format", "json")
    assert r.code == 1
    obj = json.loads(r.out)
    assert obj["stop"] == "max_tokens" and obj["result"] == "The list: one, two,"
    assert "output-token limit" in obj["error"]
    env.server.set_script([{"parts": [text("The list: one, two,")], "stop": "max_tokens"}])
    r = env.run("-p", "list")
    assert r.code == 1 and r.out == "The list: one, two,\n"
    assert r.err.count("output-token limit") == 1, r.err  # the notice, not repeated as the closing line


# ------------------------------------------------------------------------------------ the sandbox


def test_a_broken_sandbox_shows_why_on_stderr(env: Env) -> None:
    env.server.set_script([{"parts": [call("bash", command="echo hi")]}, {"parts": [text("It failed.")]}])
    r = env.run("-p", "run it", "--sandbox", "zerobox", ZEROBOX_BIN="/bin/false")
    progress = [line for line in r.err.splitlines() if line.startswith("  bash ")]
    assert progress, r.err
    assert "bash error: The sandbox refused to run the command: sandbox backend zerobox does not work" in progress[0]


def test_sandbox_none_is_announced(env: Env) -> None:
    env.server.set_script([{"parts": [text("ok")]}])
    r = env.run("-p", "hi", "--sandbox", "none")
    assert r.code == 0, r.err
    assert "without a sandbox" in r.err.lower()
    env.server.set_script([{"parts": [text("ok")]}])
    r = env.run("-p", "hi")
    assert "without a sandbox" not in r.err.lower()


@pytest.mark.parametrize("fmt", ["json", "stream-json"])
def test_safety_warnings_reach_stderr_in_every_format(env: Env, fmt: str) -> None:
    for flag, warning in (("--sandbox", "without a sandbox"), ("--dangerously-skip-permissions", "engine is OFF")):
        env.server.set_script([{"parts": [text("ok")]}])
        args = ["-p", "hi", "--output-format", fmt, flag] + (["none"] if flag == "--sandbox" else [])
        r = env.run(*args)
        assert r.code == 0, r.err
        assert warning.lower() in r.err.lower(), (flag, r.err)
        if fmt == "json":
            json.loads(r.out)  # stdout is still exactly one JSON object
