"""End to end: the real `corral -p` CLI in a subprocess against the scripted LLM server, for every
provider wire format. Real policy engine, real tools, real sandbox (bwrap or zerobox, whichever works).

Each test writes a config file with a custom provider of one kind pointing at the server, runs corral in
a scratch project under /var/tmp (the sandbox gives commands a private /tmp), and checks what the user
sees (stdout, stderr, exit code), what happened on disk, and what the model was sent (the server's
record of each request).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle
from tests.sandbox.helpers import marked, nonce

REPO = Path(__file__).resolve().parents[2]
KINDS = ("openai", "anthropic", "gemini", "ollama")


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Env:
    """A scratch project and the corral command line that talks to the scripted server in one wire format."""

    base: Path
    project: Path
    server: ServerHandle
    kind: str = "openai"
    max_retries: int = 3

    def config(self) -> Path:
        url = self.server.base_url + ("/v1" if self.kind == "openai" else "")
        path = self.base / "config.toml"
        path.write_text(
            f'provider = "scripted"\nmodel = "scripted-model"\n'
            f'[providers.scripted]\nkind = "{self.kind}"\nbase_url = "{url}"\nmax_retries = {self.max_retries}\n'
        )
        return path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "XDG_CONFIG_HOME": str(self.base / "xdg-config"),
            "XDG_DATA_HOME": str(self.base / "xdg-data"),
            "XDG_CACHE_HOME": str(self.base / "xdg-cache"),
            **extra,
        }

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "agent.cli", "--config", str(self.config()), *args]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60, **extra: str) -> Run:
        """corral with `stdin` piped in (none: /dev/null) and `extra` environment variables."""
        proc = subprocess.run(self.argv(*args), cwd=self.project, env=self.env(**extra), input=stdin,
                              stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True, text=True,
                              timeout=timeout)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def interrupted(self, *args: str, after_requests: int, wait: float, sig: int = signal.SIGINT) -> Run:
        """Run corral, and send it `sig` `wait` seconds after the server received `after_requests` requests."""
        proc = subprocess.Popen(self.argv(*args), cwd=self.project, env=self.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.server.wait_for_requests(after_requests, timeout=30)
            time.sleep(wait)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
        return Run(proc.returncode, out, err)

    def tool_results(self, request_index: int) -> str:
        """Everything the client sent in one request, as text (tool results are somewhere inside)."""
        return json.dumps(self.server.requests[request_index].body)


@contextmanager
def scratch(server: ServerHandle, kind: str = "openai", **fields: Any) -> Iterator[Env]:
    """An Env on a new git project under /var/tmp (the sandbox gives commands a private /tmp), removed after."""
    base = Path(tempfile.mkdtemp(prefix="corral-e2e-", dir="/var/tmp")).resolve()
    project = base / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    try:
        yield Env(base, project, server, kind, **fields)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=KINDS)
def env(request: pytest.FixtureRequest, llm_server: ServerHandle) -> Iterator[Env]:  # noqa: F811
    with scratch(llm_server, request.param) as made:
        yield made


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "arguments": arguments}


def test_read_edit_run_and_answer(env: Env) -> None:
    (env.project / "hello.py").write_text('print("hello wrld")\n')
    env.server.set_script({"replies": [
        {"parts": [{"type": "reasoning", "text": "Look at the file first."}, call("read", path="hello.py")]},
        {"parts": [text("There is a typo."),
                   call("edit", path="hello.py", edits=[{"old": "wrld", "new": "world"}])]},
        {"parts": [call("bash", command="grep -n world hello.py && ls -la")]},
        {"parts": [text("Fixed the typo; the script now prints hello world.")],
         "usage": {"input_tokens": 100, "output_tokens": 20}},
    ]})
    r = env.run("-p", "Fix the typo in hello.py and check it")
    assert r.code == 0, r.err
    assert r.out.strip() == "Fixed the typo; the script now prints hello world."
    assert (env.project / "hello.py").read_text() == 'print("hello world")\n'
    assert len(env.server.requests) == 4
    assert "wrld" in env.tool_results(1)  # the read result went back to the model
    assert '1:print(\\"hello world\\")' in env.tool_results(3)  # the command's output went back too
    assert "bash" in r.err and "read" in r.err  # progress on stderr


def test_denied_command_is_explained_to_the_model(env: Env) -> None:
    env.server.set_script({"replies": [
        {"parts": [call("bash", command="cat ~/.ssh/id_rsa")]},
        {"parts": [text("I cannot read that key.")]},
    ]})
    r = env.run("-p", "show me my ssh key")
    assert r.code == 0, r.err
    sent = env.tool_results(1)
    assert "Denied" in sent, sent
    assert "deny" in r.err


def test_ask_becomes_a_denial_in_one_shot_mode(env: Env) -> None:
    env.server.set_script({"replies": [
        {"parts": [call("bash", command="curl -s https://example.com")]},
        {"parts": [text("The network call needs approval.")]},
    ]})
    r = env.run("-p", "fetch example.com")
    assert r.code == 0, r.err
    assert "non-interactive" in env.tool_results(1)


def test_provider_error_is_retried(env: Env) -> None:
    env.server.set_script({"replies": [
        {"error": {"status": 503, "message": "overloaded", "retry_after": 1}},
        {"parts": [text("Answer after a retry.")]},
    ]})
    started = time.monotonic()
    r = env.run("-p", "hi")
    assert r.code == 0, r.err
    assert r.out.strip() == "Answer after a retry."
    assert "retry" in r.err.lower()
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert len(env.server.requests) == 2


def test_cancelled_run_leaves_no_process_behind(env: Env) -> None:
    mark = nonce()
    env.server.set_script({"replies": [
        {"parts": [call("bash", command=f"(setsid sleep 1000.{mark} &); sleep 1001.{mark}")]},
        {"parts": [text("not reached")]},
    ]})
    proc = subprocess.Popen(env.argv("-p", "start a server"), cwd=env.project, env=env.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(marked(mark)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(marked(mark)) >= 2, "the sleeps never started"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert marked(mark) == [], "a process of the cancelled run survived"


def test_json_and_stream_json_output(env: Env) -> None:
    env.server.set_script({"replies": [
        {"parts": [call("read", path="README.md")]},
        {"parts": [text("Summary.")], "usage": {"input_tokens": 10, "output_tokens": 5}},
    ]})
    (env.project / "README.md").write_text("# readme\n")
    r = env.run("-p", "summarize", "--output-format", "json")
    assert r.code == 0, r.err
    obj = json.loads(r.out)
    assert obj["result"] == "Summary." and obj["turns"] == 2 and obj["stop"] == "done"
    assert obj["session_id"] and obj["usage"]["output_tokens"] >= 5
    env.server.set_script({"replies": [{"parts": [text("Streamed.")]}]})
    r = env.run("-p", "hi", "--output-format", "stream-json")
    assert r.code == 0, r.err
    events = [json.loads(line) for line in r.out.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "session" and types[1] == "turn_started" and types[-1] == "run_finished"
    assert "text_delta" in types
    assert events[-1]["text"] == "Streamed."


def test_prompt_from_stdin_and_audit_log(env: Env) -> None:
    env.server.set_script({"replies": [
        {"parts": [call("list_dir", path=".")]},
        {"parts": [text("ok")]},
    ]})
    r = env.run("-p", "-", "--output-format", "json", stdin="list the files")
    assert r.code == 0, r.err
    assert "list the files" in json.dumps(env.server.requests[0].body)
    session = json.loads(r.out)["session_id"]
    audit = env.base / "xdg-data" / "corral" / "sessions" / session / "audit.jsonl"
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["tool"], x["final"]) for x in lines] == [("list_dir", "allow")]
    assert oct(audit.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("kind", ["openai"])
def test_failures_exit_1_with_the_reason(llm_server: ServerHandle, kind: str) -> None:  # noqa: F811
    base = Path(tempfile.mkdtemp(prefix="corral-e2e-", dir="/var/tmp")).resolve()
    try:
        (base / "project").mkdir()
        e = Env(base, base / "project", llm_server, kind)
        llm_server.set_script({"replies": [{"error": {"status": 400, "message": "model not found: scripted-model"}}]})
        r = e.run("-p", "hi")
        assert r.code == 1
        assert "model not found" in r.err
        llm_server.set_script({"replies": [{"parts": [call("read", path="x")]}, {"parts": [call("read", path="y")]}]})
        r = e.run("-p", "hi", "--max-turns", "1")
        assert r.code == 1 and "max-turns" in r.err
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(tmp_path), "OPENROUTER_API_KEY": ""}
    env.pop("OPENROUTER_API_KEY")
    r = subprocess.run([sys.executable, "-m", "agent.cli", "-p", "hi"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "OPENROUTER_API_KEY" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([sys.executable, "-m", "agent.cli", "-p", "hi", "--provider", "nope"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "nope" in r.stderr
    r = subprocess.run([sys.executable, "-m", "agent.cli", "-p", "hi", "--max-turns", "0"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2


@pytest.mark.parametrize("kind", ["openai"])
def test_modes_from_the_command_line(llm_server: ServerHandle, kind: str) -> None:  # noqa: F811
    with scratch(llm_server, kind) as e:
        llm_server.set_script([{"parts": [call("write", path="new.txt", content="x")]}, {"parts": [text("ok")]}])
        r = e.run("-p", "write a file", "--read-only")
        assert r.code == 0, r.err
        assert not (e.project / "new.txt").exists()
        assert "Denied" in e.tool_results(1)
        llm_server.clear_requests()
        llm_server.set_script([{"parts": [call("bash", command="python3 -c 'print(6*7)'")]}, {"parts": [text("ok")]}])
        r = e.run("-p", "compute", "--dangerously-skip-permissions")
        assert r.code == 0, r.err
        assert "policy engine is OFF" in r.err
        assert "42" in e.tool_results(1)  # ran (in the sandbox) without asking
        llm_server.clear_requests()
        llm_server.set_script([{"parts": [call("bash", command="python3 -c 'print(6*7)'")]}, {"parts": [text("ok")]}])
        r = e.run("-p", "compute", "--yolo")
        assert r.code == 0 and "42" in e.tool_results(1)
