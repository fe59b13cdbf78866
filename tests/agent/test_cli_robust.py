"""The command line when things are not as expected: a picker in a real terminal, bytes that are not UTF-8,
broken session directories, duplicate names, a reader that goes away (`| head`), an empty stdin, a global
--config before a subcommand. Real `corral` subprocesses against the scripted LLM server; `-r` runs in a
real terminal (tmux)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.session import load_session
from tests.agent.test_oneshot_e2e import REPO, Env, scratch, text
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle

TRACEBACK_MARKS = ("Traceback", "Exception ignored", "ExceptionGroup", "Error:")


@pytest.fixture
def e(llm_server: ServerHandle) -> Iterator[Env]:  # noqa: F811
    """A scratch git project talking to the scripted server (openai wire format)."""
    with scratch(llm_server) as made:
        yield made


def sessions_root(e: Env) -> Path:
    return e.base / "xdg-data" / "corral" / "sessions"


def corral(e: Env, *args: str, stdin: bytes | None = b"", config: bool = True,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run corral with bytes on stdin (None: /dev/null); output decoded with replacement characters."""
    argv = e.argv(*args) if config else [sys.executable, "-m", "agent.cli", *args]
    proc = subprocess.run(argv, cwd=e.project, env=e.env(), input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def new_session(e: Env, prompt: str, *extra: str) -> str:
    e.server.set_script([{"parts": [text(f"answer to {prompt}")]}])
    r = corral(e, "-p", prompt, "--output-format", "json", *extra)
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["session_id"])


# ------------------------------------------------------------------------------------------ -r in a terminal


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bash .ci/setup --test)")
def test_resume_picker_in_a_real_terminal_resumes_the_chosen_session(e: Env) -> None:
    from tests.agent.tui.term import Term

    first = new_session(e, "first question")
    time.sleep(1.1)  # the list is newest first, by the log's mtime
    second = new_session(e, "second question")
    e.server.clear_requests()
    e.server.set_script([{"parts": [text("resumed fine")]}])
    term = Term(e.argv("-r", "-p", "go on"), cwd=e.project, env=_term_env(e))
    try:
        screen = term.wait_for("resume which session?")
        assert "needs a terminal" not in screen
        rows = [line.split() for line in screen.splitlines() if line.split()[:1] in (["1"], ["2"])]
        assert [row[1] for row in rows] == [second, first]  # numbered, newest first
        term.type("2")
        term.keys("Enter")
        screen = term.wait_for("[exit 0]")
        assert "resumed fine" in screen
    finally:
        term.close()
    sent = json.dumps(e.server.requests[0].body)
    assert "first question" in sent and "second question" not in sent and "go on" in sent
    records = (sessions_root(e) / first / "session.jsonl").read_text()
    assert "go on" in records and "go on" not in (sessions_root(e) / second / "session.jsonl").read_text()


def _term_env(e: Env) -> dict[str, str]:
    keep = ("PATH", "PYTHONPATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HOME")
    return {**{k: v for k, v in e.env().items() if k in keep}, "TERM": "xterm", "LANG": "C.UTF-8"}


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bash .ci/setup --test)")
def test_new_in_the_ui_does_not_give_the_next_session_the_same_name(e: Env) -> None:
    from tests.agent.tui.term import Term

    term = Term(e.argv("--name", "alpha"), cwd=e.project, env=_term_env(e))
    try:
        term.wait_for("scripted/scripted-model")
        time.sleep(0.5)
        term.type("/new")
        term.keys("Enter")
        term.wait_for("new session")
        term.keys("C-d")
        term.wait_for("[exit")
    finally:
        term.close()
    named = [(d / "name").read_text() if (d / "name").exists() else "-"
             for d in sessions_root(e).iterdir() if (d / "session.jsonl").exists()]
    assert sorted(named) == ["-", "alpha"], named
    r = corral(e, "sessions", "show", "alpha", config=False)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------------------------------ not UTF-8


def test_a_prompt_on_stdin_that_is_not_utf8_is_replaced_and_said_once(e: Env) -> None:
    e.server.set_script([{"parts": [text("reviewed")]}])
    r = corral(e, "-p", "review", "--output-format", "json", stdin=b"diff caf\xe9\n")
    assert r.returncode == 0, r.stderr
    assert not any(mark in r.stderr for mark in TRACEBACK_MARKS), r.stderr
    assert r.stderr.count("not valid UTF-8") == 1 and "stdin" in r.stderr
    sent = e.server.requests[0]
    sent.raw_body.decode("utf-8")  # what went over the wire is valid UTF-8
    assert "review\n\ndiff caf\ufffd" in sent.body["messages"][-1]["content"]
    session_id = json.loads(r.stdout)["session_id"]
    log = sessions_root(e) / session_id / "session.jsonl"
    log.read_bytes().decode("utf-8")  # strict: every line is valid UTF-8
    loaded = load_session(log)
    assert loaded.warnings == [] and "diff caf\ufffd" in loaded.messages()[0].content


def test_an_argument_that_is_not_utf8_is_replaced_too(e: Env) -> None:
    e.server.set_script([{"parts": [text("ok")]}])
    argv = [os.fsencode(a) for a in e.argv("-p")] + [b"caf\xe9 argument"]
    proc = subprocess.run(argv, cwd=e.project, env=e.env(), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert "-p argument is not valid UTF-8" in err and "Traceback" not in err
    assert "caf\ufffd argument" in e.server.requests[0].body["messages"][-1]["content"]


# ------------------------------------------------------------------------------------------ broken sessions


def _break(e: Env, how: str) -> str:
    """A session of this project whose log is broken in one way; returns its id."""
    sid = new_session(e, f"doomed {how}")
    log = sessions_root(e) / sid / "session.jsonl"
    log.unlink()
    if how == "directory":
        log.mkdir()
    elif how == "fifo":
        os.mkfifo(log)
    elif how == "empty":
        log.write_bytes(b"")
    elif how == "header":
        log.write_bytes(b'{"v":1,"type":"sess\n{"v":1,"type":"message","ts":1,"role":"user","content":"x"}\n')
    return sid


@pytest.mark.parametrize("how", ["directory", "fifo", "empty", "header"])
def test_a_broken_session_never_breaks_the_others_and_can_be_named_and_removed(e: Env, how: str) -> None:
    good = new_session(e, "healthy one")
    bad = _break(e, how)
    for args in (("sessions", "list"), ("sessions", "list", "--all"), ("sessions", "list", "--json")):
        r = corral(e, *args, config=False, timeout=20)  # a FIFO once made this hang forever
        assert r.returncode == 0, r.stderr
        assert good in r.stdout and bad not in r.stdout
        assert f"session {bad} cannot be read" in r.stderr and f"corral sessions rm {bad}" in r.stderr
        assert "Traceback" not in r.stderr
    for args in (("sessions", "show", bad), ("sessions", "export", bad)):
        r = corral(e, *args, config=False, timeout=20)
        assert r.returncode == 1 and "is not a corral session" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert "no session matches" not in r.stderr
    r = corral(e, "--session", bad, "-p", "resume it", timeout=20)
    assert r.returncode == 1 and "is not a corral session" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = corral(e, "sessions", "rm", bad, config=False, timeout=20)
    assert r.returncode == 0 and f"removed {bad}" in r.stdout, r.stderr
    assert not (sessions_root(e) / bad).exists() and (sessions_root(e) / good).exists()
    r = corral(e, "sessions", "list", config=False, timeout=20)
    assert r.returncode == 0 and r.stderr == "" and good in r.stdout


def test_continue_skips_a_fifo_session_and_resumes_the_healthy_one(e: Env) -> None:
    good = new_session(e, "healthy one")
    time.sleep(1.1)
    bad = _break(e, "fifo")
    e.server.clear_requests()
    e.server.set_script([{"parts": [text("continued")]}])
    r = corral(e, "-c", "-p", "continue", "--output-format", "json", timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["session_id"] == good != bad
    assert "healthy one" in json.dumps(e.server.requests[0].body)


# ------------------------------------------------------------------------------------------ names


def test_a_name_already_used_in_this_project_is_refused_before_anything_runs(e: Env) -> None:
    first = new_session(e, "one", "--name", "alpha")
    e.server.clear_requests()
    r = corral(e, "-p", "two", "--name", "alpha")
    assert r.returncode == 2 and "already named 'alpha'" in r.stderr and first in r.stderr, r.stderr
    assert e.server.requests == [] and len(list(sessions_root(e).iterdir())) == 1
    e.server.set_script([{"parts": [text("same one")]}])
    r = corral(e, "--session", "alpha", "-p", "again", "--name", "alpha")  # its own name: fine
    assert r.returncode == 0, r.stderr
    second = new_session(e, "three")
    r = corral(e, "--session", second, "-p", "rename", "--name", "alpha")  # renaming onto a taken name
    assert r.returncode == 2 and "already named 'alpha'" in r.stderr
    r = corral(e, "sessions", "show", "alpha", config=False)
    assert r.returncode == 0 and first in r.stdout


# ------------------------------------------------------------------------------------------ stdout closed


def _closed_stdout(e: Env, *args: str, config: bool = False, timeout: float = 30) -> tuple[int, str]:
    """Run corral with a stdout whose reader is already gone: its first write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    argv = e.argv(*args) if config else [sys.executable, "-m", "agent.cli", *args]
    try:
        proc = subprocess.run(argv, cwd=e.project, env=e.env(), stdin=subprocess.DEVNULL, stdout=write_end,
                              stderr=subprocess.PIPE, timeout=timeout)
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("args", [
    ("prompts", "--json"),
    ("prompts",),
    ("sandbox", "run", "--", "sh", "-c", "yes | head -c 1000000"),
    ("sandbox", "run", "--", "yes"),  # never ends by itself: corral must stop it
    ("sandbox", "doctor"),
    ("sessions", "list", "--all"),
    ("config", "show"),
])
def test_a_closed_stdout_exits_141_without_a_traceback(e: Env, args: tuple[str, ...]) -> None:
    new_session(e, "something to list")
    code, err = _closed_stdout(e, *args)
    assert code == 141, err
    assert not any(mark in err for mark in TRACEBACK_MARKS), err


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_a_closed_stdout_during_a_run_exits_141_without_a_traceback(e: Env, fmt: str) -> None:
    e.server.set_script([{"parts": [text("an answer nobody reads")]}])
    code, err = _closed_stdout(e, "-p", "hi", "--output-format", fmt, config=True)
    assert code == 141, err
    assert not any(mark in err for mark in TRACEBACK_MARKS), err


# ------------------------------------------------------------------------------------------ empty prompts


def test_an_empty_stdin_without_a_terminal_says_how_to_give_a_prompt(e: Env) -> None:
    r = corral(e, stdin=None)
    assert r.returncode == 2 and "needs a terminal" in r.stderr and 'corral -p "..."' in r.stderr, r.stderr
    assert "non-empty prompt on stdin" in r.stderr
    r = corral(e, stdin=b"  \n")
    assert r.returncode == 2 and "needs a terminal" in r.stderr
    r = corral(e, "-p", "", stdin=None)
    assert r.returncode == 2 and "-p was given an empty prompt" in r.stderr and 'corral -p "' in r.stderr
    r = corral(e, "-p", "-", stdin=b"")
    assert r.returncode == 2 and "reads the prompt from stdin, which was empty" in r.stderr
    assert "| corral -p -" in r.stderr
    assert e.server.requests == []


# ------------------------------------------------------------------------------------------ --config first


def test_config_before_the_subcommand_reaches_config_show_and_path(e: Env) -> None:
    cfg = e.config()
    for args in ((["--config", str(cfg)]), ([f"--config={cfg}"])):
        r = corral(e, *args, "config", "show", config=False)
        assert r.returncode == 0, r.stderr
        assert f"# config file: {cfg} (loaded)" in r.stdout and "scripted" in r.stdout
        r = corral(e, *args, "config", "path", config=False)
        assert r.returncode == 0 and r.stdout.strip() == str(cfg)
    r = corral(e, "--config", str(cfg), "prompts", config=False)
    assert r.returncode == 2 and "does not read the config file" in r.stderr


# ------------------------------------------------------------------------------------------ wording


def test_doctor_says_works_once() -> None:
    from agent.cli_sandbox import _status_text

    assert _status_text(True, "works (/usr/bin/bwrap)") == "works (/usr/bin/bwrap)"
    assert _status_text(True, "no isolation at all") == "works — no isolation at all"
    assert _status_text(False, "user namespaces are off") == "does not work — user namespaces are off"
    assert _status_text(False, "") == "does not work"
    out = subprocess.run([sys.executable, "-m", "agent.cli", "sandbox", "doctor"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert "works — works" not in out.stdout and "does not work — does not work" not in out.stdout


def test_sandbox_run_of_a_missing_program_exits_like_a_shell(e: Env) -> None:
    (e.project / "notes.txt").write_text("not a program\n")
    for words, code, why in ((["nosuchcmd-xyz"], 127, "command not found"),
                             (["./nope"], 127, "no such file"),
                             (["./notes.txt"], 126, "permission denied")):
        r = corral(e, "sandbox", "run", "--", *words, config=False)
        assert (r.returncode, why in r.stderr) == (code, True), r.stderr
        assert "Traceback" not in r.stderr


def test_no_session_keeps_no_command_logs(e: Env) -> None:
    e.server.set_script([{"parts": [{"type": "tool_call", "name": "bash", "arguments": {"command": "seq 1 100000"}}]},
                         {"parts": [text("counted")]}])
    r = corral(e, "--no-session", "-p", "count", "--output-format", "json")
    assert r.returncode == 0, r.stderr
    sent = next(m for m in e.server.model_requests[-1].body["messages"] if m["role"] == "tool")["content"]
    log = Path(sent.split("full log: ")[1].split(" ")[0])
    assert not log.exists() and not log.parent.exists()  # deleted when corral left
    [directory] = list(sessions_root(e).iterdir())
    assert [p.name for p in directory.iterdir()] == ["audit.jsonl"]  # the decisions are still audited


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bash .ci/setup --test)")
def test_a_session_that_never_got_a_message_is_not_kept(e: Env) -> None:
    from tests.agent.tui.term import Term

    new_session(e, "kept")
    term = Term(e.argv(), cwd=e.project, env=_term_env(e))
    try:
        term.wait_for("│ bwrap")  # the status line names the backend `auto` chose
        deadline = time.monotonic() + 20
        while "starting…" in term.screen(history=0) and time.monotonic() < deadline:
            time.sleep(0.05)
        term.type("/mode read-only")
        term.keys("Enter")
        term.wait_for("mode: read-only")
        term.keys("C-d")
        term.wait_for("[exit 0]")
    finally:
        term.close()
    assert len(list(sessions_root(e).iterdir())) == 1  # only the one with a conversation


def test_sessions_rm_refuses_a_session_in_use(e: Env) -> None:
    import fcntl

    session = new_session(e, "busy")
    log = sessions_root(e) / session / "session.jsonl"
    fd = os.open(log, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running corral holds it
        r = corral(e, "sessions", "rm", session, config=False)
        assert r.returncode == 2 and "in use by a running corral" in r.stderr and log.exists()
        r = corral(e, "--session", session, "-p", "more")
        assert r.returncode != 0 and "in use by another corral" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "ExceptionGroup" not in r.stderr
    finally:
        os.close(fd)
    assert corral(e, "sessions", "rm", session, config=False).returncode == 0


def test_sessions_commands_show_model_text_safely_and_keep_existing_files(e: Env) -> None:
    e.server.set_script([{"parts": [text("evil \x1b[2J\x1b]0;PWNED\x07 answer")]}])
    r = corral(e, "-p", "hi", "--output-format", "json")
    session = json.loads(r.stdout)["session_id"]
    listing = corral(e, "sessions", "list", config=False).stdout
    shown = corral(e, "sessions", "show", session, config=False).stdout
    for out in (listing, shown):
        assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
    target = e.project / "a.txt"
    target.write_text("my work\n")
    r = corral(e, "sessions", "export", session, "-o", str(target), config=False)
    assert r.returncode == 2 and "--force" in r.stderr and target.read_text() == "my work\n"
    assert corral(e, "sessions", "export", session, "-o", str(target), "--force", config=False).returncode == 0
    assert '"type":"session"' in target.read_text()


def test_a_sessions_path_that_is_a_file_is_reported(e: Env) -> None:
    root = sessions_root(e)
    root.parent.mkdir(parents=True)
    root.write_text("not a directory\n")
    r = corral(e, "sessions", "list", config=False)
    assert r.returncode == 2 and "is not a directory" in r.stderr


def test_config_path_of_a_missing_chosen_file_is_an_error_like_a_run(e: Env) -> None:
    missing = str(e.base / "nope.toml")
    r = corral(e, "config", "path", "--config", missing, config=False)
    assert r.returncode == 2 and r.stdout.strip() == missing and "will not start" in r.stderr
    r = corral(e, "config", "path", config=False)  # the default file may be missing: the defaults apply
    assert r.returncode == 0 and "defaults apply" in r.stderr
