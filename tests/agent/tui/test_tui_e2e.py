"""End to end: the real `corral` terminal UI in tmux against the scripted LLM server (real policy
engine, real tools, real sandbox). The tests type and read the screen as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.tui.term import Term
from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle
from tests.sandbox.helpers import marked, nonce

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bash .ci/setup --test)")


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "arguments": arguments}


class Ui:
    def __init__(self, base: Path, server: ServerHandle) -> None:
        self.base, self.server = base, server
        self.project = base / "project"
        self.project.mkdir()
        subprocess.run(["git", "init", "-q", str(self.project)], check=True)
        self.config = base / "config.toml"
        self.config.write_text(
            f'provider = "scripted"\nmodel = "scripted-model"\n'
            f'[providers.scripted]\nkind = "openai"\nbase_url = "{server.base_url}/v1"\n'
        )
        self.terms: list[Term] = []

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.base / "home"), "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(self.base / "xdg-config"),
            "XDG_DATA_HOME": str(self.base / "xdg-data"), "XDG_CACHE_HOME": str(self.base / "xdg-cache"),
        }

    def start(self, *args: str) -> Term:
        term = Term([sys.executable, "-m", "agent.cli", "--config", str(self.config), *args], cwd=self.project,
                    env=self.env())
        self.terms.append(term)
        term.wait_for("scripted/scripted-model", timeout=20)  # the status line: the prompt is usable
        deadline = time.monotonic() + 20
        while "starting…" in term.screen(history=0) and time.monotonic() < deadline:  # the agent is ready
            time.sleep(0.02)
        return term

    def sent(self, index: int = -1) -> str:
        return json.dumps(self.server.model_requests[index].body)


@pytest.fixture
def ui(llm_server: ServerHandle) -> Iterator[Ui]:  # noqa: F811
    base = Path(tempfile.mkdtemp(prefix="corral-tui-", dir="/var/tmp")).resolve()
    (base / "home").mkdir()
    made = Ui(base, llm_server)
    try:
        yield made
    finally:
        for term in made.terms:
            term.close()
        shutil.rmtree(base, ignore_errors=True)


def test_a_prompt_streams_markdown_and_the_session_resumes(ui: Ui) -> None:
    ui.server.set_script([{"parts": [text("# Findings\n\nThe parser is **fine**; see `parse()`.\n\n"
                                          "```python\nprint('ok')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")],
                           "chunk_delay": 0.01}])
    term = ui.start()
    term.type("look at the parser")
    term.keys("Enter")
    screen = term.wait_for("print('ok')")
    assert "Findings" in screen and "fine" in screen and "parse()" in screen
    assert "# Findings" not in screen and "**fine**" not in screen  # rendered, not raw markdown
    assert "look at the parser" in ui.sent(0)
    term.keys("C-d")
    screen = term.wait_for("[exit 0]")
    assert "resume it with `corral -c`" in screen

    ui.server.set_script([{"parts": [text("Resumed fine.")]}])
    again = ui.start("-c")
    screen = again.wait_for("── resumed")  # where the user left off, shown again
    assert "resumed session" in screen and "› look at the parser" in screen and "print('ok')" in screen
    assert "**fine**" not in screen
    again.type("and now?")
    again.keys("Enter")
    again.wait_for("Resumed fine.")
    sent = ui.sent(-1)
    assert "look at the parser" in sent and "and now?" in sent


def test_approvals_once_and_for_the_session(ui: Ui) -> None:
    ui.server.set_script([
        {"parts": [call("bash", command="frobnicate --x")]}, {"parts": [text("first done")]},
        {"parts": [call("bash", command="frobnicate --x")]}, {"parts": [text("second done")]},
        {"parts": [call("bash", command="frobnicate --x")]}, {"parts": [text("third done")]},
    ])
    term = ui.start()
    term.type("run it")
    term.keys("Enter")
    screen = term.wait_for("[y] allow once")
    assert "corral asks before running bash frobnicate --x" in screen
    assert "allow exactly `frobnicate --x`" in screen  # the exact narrow rule "for this session" would add
    term.keys("y")
    term.wait_for("first done")
    asked = term.count("[a] allow for this session")  # the first request may still be in the scrollback
    term.type("again")
    term.keys("Enter")
    term.wait_for("[a] allow for this session", times=asked + 1)
    term.keys("a")
    term.wait_for("second done")
    term.type("once more")
    term.keys("Enter")
    term.wait_for("third done")
    sessions = ui.base / "xdg-data" / "corral" / "sessions"
    [log] = list(sessions.glob("*/session.jsonl"))
    assert '"type":"approval"' in log.read_text().replace(" ", "")
    [audit] = list(sessions.glob("*/audit.jsonl"))
    bash = [json.loads(line) for line in audit.read_text().splitlines() if '"bash"' in line]
    assert [(entry["decision"], entry["approved_by"]) for entry in bash] == [
        ("ask", "user"), ("ask", "user"), ("allow", "session")]  # the third call did not ask


def test_deny_and_tell_the_model_why(ui: Ui) -> None:
    ui.server.set_script([{"parts": [call("bash", command="frobnicate --y")]}, {"parts": [text("understood")]}])
    term = ui.start()
    term.type("try")
    term.keys("Enter")
    term.wait_for("[t] deny and tell")
    term.keys("t")
    term.wait_for("why (sent to the model)?")
    term.type("use the make target instead")
    term.keys("Enter")
    term.wait_for("understood")
    assert "use the make target instead" in ui.sent(-1)


def test_ctrl_c_stops_the_turn_and_every_process(ui: Ui) -> None:
    mark = nonce()
    ui.server.set_script([{"parts": [call("bash", command=f"(setsid sleep 1000.{mark} &); sleep 1001.{mark}")]},
                          {"parts": [text("after")]}])
    term = ui.start()
    term.type("start the server")
    term.keys("Enter")
    deadline = time.monotonic() + 30
    while len(marked(mark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(marked(mark)) >= 2, term.screen()
    term.type("queued thing")
    term.keys("Enter")
    term.wait_for("queued: queued thing")
    term.keys("C-c")
    term.wait_for("interrupted")
    deadline = time.monotonic() + 5
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marked(mark) == [], "a process of the cancelled turn survived"
    time.sleep(0.3)
    assert len(ui.server.model_requests) == 1  # the queue was cleared: nothing else was sent
    term.keys("C-c")
    term.wait_for("press Ctrl-C again")
    term.keys("C-c")
    term.wait_for("[exit 0]")


def test_typing_during_a_turn_is_queued_and_sent_after(ui: Ui) -> None:
    ui.server.set_script([{"parts": [text("slow " * 60)], "chunk_delay": 0.05}, {"parts": [text("second answer")]}])
    term = ui.start()
    term.type("first")
    term.keys("Enter")
    term.wait_for("slow slow")
    term.type("second")
    term.keys("Enter")
    term.wait_for("queued: second")
    term.wait_for("second answer", timeout=30)
    assert '"second"' in ui.sent(-1) or "second" in ui.sent(-1)


def test_btw_answers_aside_while_the_agent_works(ui: Ui) -> None:
    ui.server.set_script([{"parts": [text("main " * 80)], "chunk_delay": 0.05},
                          {"parts": [text("The side answer.")]}])
    term = ui.start()
    term.type("main task")
    term.keys("Enter")
    term.wait_for("main main")
    term.type("/btw what is 2+2?")
    term.keys("Enter")
    term.wait_for("The side answer.", timeout=30)
    side = json.loads(ui.sent(1))
    assert "what is 2+2?" in json.dumps(side)
    assert all(t["function"]["name"] not in ("bash", "write", "edit", "todo") for t in side.get("tools", []))


def test_shell_escape_goes_through_the_policy_and_into_the_conversation(ui: Ui) -> None:
    (ui.project / "data.txt").write_text("alpha\nbeta\n")
    ui.server.set_script([{"parts": [text("I see beta.")]}])
    term = ui.start()
    term.type("!grep beta data.txt")
    term.keys("Enter")
    term.wait_for("beta")
    term.type("!cat ~/.ssh/id_rsa")
    term.keys("Enter")
    term.wait_for("Denied by policy")
    term.type("what did grep show?")
    term.keys("Enter")
    term.wait_for("I see beta.")
    assert "grep beta data.txt" in ui.sent(-1)


def test_undo_restores_what_the_last_turn_wrote(ui: Ui) -> None:
    (ui.project / "app.py").write_text("x = 1\n")
    ui.server.set_script([
        {"parts": [call("read", path="app.py")]},
        {"parts": [call("write", path="app.py", content="x = 2\n")]},
        {"parts": [call("write", path="new.py", content="y = 1\n")]},
        {"parts": [text("changed both")]},
    ])
    term = ui.start()
    term.type("change things")
    term.keys("Enter")
    term.wait_for("changed both")
    assert (ui.project / "app.py").read_text() == "x = 2\n" and (ui.project / "new.py").exists()
    term.type("/undo")
    term.keys("Enter")
    term.wait_for("restored")
    assert (ui.project / "app.py").read_text() == "x = 1\n"
    assert not (ui.project / "new.py").exists()


def test_theme_and_cost_commands(ui: Ui) -> None:
    term = ui.start()
    term.type("/theme")
    term.keys("Enter")
    screen = term.wait_for("themes:")
    assert "solarized-light" in screen and "mono" in screen
    term.type("/theme nord")
    term.keys("Enter")
    term.wait_for("theme: nord")
    term.type("/cost")
    term.keys("Enter")
    term.wait_for("/btw: 0 in")
    term.type("/nonsense")
    term.keys("Enter")
    term.wait_for("unknown command /nonsense")


def test_sigterm_leaves_cleanly_and_the_session_resumes(ui: Ui) -> None:
    import signal as signals

    ui.server.set_script([{"parts": [text("first answer")]}, {"parts": [text("resumed")]}])
    term = ui.start()
    term.type("hello there")
    term.keys("Enter")
    term.wait_for("first answer")
    shell = term.pane_pid()
    [pid] = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == shell]
    os.kill(pid, signals.SIGTERM)
    screen = term.wait_for("[exit 143]")
    assert "resume it with `corral -c`" in screen
    again = ui.start("-c")
    again.type("go on")
    again.keys("Enter")
    again.wait_for("resumed")
    assert "hello there" in ui.sent(-1)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def test_model_lists_the_providers_models_and_switches(ui: Ui) -> None:
    ui.server.set_models(["alpha-1", "beta-2"])
    ui.server.set_script([{"parts": [text("answered by beta")]}])
    term = ui.start()
    term.type("/model")
    term.keys("Enter")
    screen = term.wait_for("beta-2")
    assert "alpha-1" in screen
    term.type("/model gamma-3")
    term.keys("Enter")
    term.wait_for("model: gamma-3 (not among the 2 models scripted lists")
    term.type("/model beta-2")
    term.keys("Enter")
    screen = term.wait_for("scripted/beta-2")
    assert "model: beta-2 (not" not in screen
    term.type("/provider anthropic")  # no key for it in this environment
    term.keys("Enter")
    screen = term.wait_for("ANTHROPIC_API_KEY")
    assert "with /provider" in screen and "--provider" not in screen.split("ANTHROPIC_API_KEY")[1][:80]
    term.type("hi")
    term.keys("Enter")
    term.wait_for("answered by beta")
    assert ui.server.model_requests[-1].body["model"] == "beta-2"


def test_at_path_completes_and_attaches_the_file(ui: Ui) -> None:
    (ui.project / "notes").mkdir()
    (ui.project / "notes" / "plan.txt").write_text("step one: measure\n")
    (ui.project / ".env").write_text("TOKEN=hunter2\n")
    ui.server.set_script([{"parts": [text("read it")]}])
    term = ui.start()
    term.type("summarize @notes/pl")
    term.wait_for(" notes/plan.txt")  # the completion menu, computed while typing
    term.keys("Tab")
    term.wait_for("@notes/plan.txt")
    term.type(" and @.env")
    term.keys("Enter")
    screen = term.wait_for("read it")
    assert "attached notes/plan.txt" in screen and "protected" in screen
    sent = ui.sent(-1)
    assert "step one: measure" in sent and "hunter2" not in sent


def test_prompt_and_mode_commands_change_what_the_agent_may_do(ui: Ui) -> None:
    ui.server.set_script([{"parts": [call("write", path="x.txt", content="x")]}, {"parts": [text("tried")]},
                          {"parts": [call("write", path="y.txt", content="y")]}, {"parts": [text("wrote")]}])
    term = ui.start()
    term.type("/prompt review")
    term.keys("Enter")
    term.wait_for("prompt: review (mode read-only)")
    term.type("/mode yolo")
    term.keys("Enter")
    term.wait_for("mode: yolo (the review prompt caps it at read-only)")
    term.type("write x")
    term.keys("Enter")
    term.wait_for("tried")
    assert not (ui.project / "x.txt").exists()
    system = ui.server.model_requests[0].body["messages"][0]["content"]
    assert "here as a code reviewer" in system and "permission mode: read-only" in system
    assert "Denied" in ui.sent(1)
    term.type("/prompt code")
    term.keys("Enter")
    term.wait_for("prompt: code (mode yolo)")
    term.type("write y")
    term.keys("Enter")
    term.wait_for("wrote")
    assert (ui.project / "y.txt").read_text() == "y"


def test_a_missing_api_key_is_one_clear_line_not_a_traceback(ui: Ui) -> None:
    env = {k: v for k, v in ui.env().items() if not k.endswith("_API_KEY")}
    term = Term([sys.executable, "-m", "agent.cli"], cwd=ui.project, env=env)  # the default provider: openrouter
    ui.terms.append(term)
    screen = term.wait_for("[exit 2]")
    assert "corral: no API key for provider openrouter: set OPENROUTER_API_KEY" in screen
    assert "Traceback" not in screen


def test_the_live_area_never_leaks_into_the_scrollback(ui: Ui) -> None:
    ui.server.set_script([
        {"parts": [call("bash", command="frobnicate --z")]}, {"parts": [text("# One\n\n" + "first " * 30)]},
        {"parts": [text("second " * 300)], "chunk_delay": 0.02},
    ])
    term = ui.start()
    screen = term.screen()
    assert screen.lstrip("\n").startswith("corral · ") and "/help lists the commands" in screen
    term.type("go")
    term.keys("Enter")
    term.wait_for("[y] allow once")
    term.keys("y")
    term.wait_for("first first")
    term.type("more")
    term.keys("Enter")
    term.wait_for("second second")
    samples = []  # while the reply streams, the status line and the input stay drawn below it
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        visible = term.screen(history=0)
        if "running · Ctrl-C stops" not in visible and "scripted/scripted-model │" in visible:
            break  # the turn is over
        samples.append("running · Ctrl-C stops" in visible)
        time.sleep(0.03)
    assert len(samples) >= 5 and all(samples), samples
    screen = term.screen()
    # what is drawn live (status line, input, approval box) is on the screen once, never copied above
    assert screen.count("scripted/scripted-model │") == 1, screen
    assert screen.count("[y] allow once") == 0 and screen.count("second second") >= 1


def test_a_command_typed_during_a_turn_runs_after_it(ui: Ui) -> None:
    ui.server.set_script([{"parts": [text("slow " * 60)], "chunk_delay": 0.05, "usage": {"input_tokens": 900,
                                                                                       "output_tokens": 100}}])
    term = ui.start()
    term.type("first")
    term.keys("Enter")
    term.wait_for("slow slow")
    term.type("/mode read-only")
    term.keys("Enter")
    term.wait_for("queued: /mode read-only")
    screen = term.wait_for("mode: read-only", timeout=30)  # run when the turn ended
    assert screen.index("slow slow") < screen.index("mode: read-only")
    term.wait_for("read-only │")  # the status line says so
    term.type("/new")
    term.keys("Enter")
    term.wait_for("new session")
    term.type("/cost")
    term.keys("Enter")
    screen = term.wait_for("session: 0 in")  # a new session counts from zero


def test_the_users_own_command_is_asked_about_without_telling_a_model(ui: Ui) -> None:
    term = ui.start()
    term.type("!frobnicate --w")
    term.keys("Enter")
    screen = term.wait_for("[n] deny")
    assert "corral asks before running bash frobnicate --w" in screen
    assert "[t]" not in screen.split("corral asks before running bash frobnicate --w", 1)[1]
    term.keys("t")  # not an answer here: ignored
    time.sleep(0.3)
    assert "why (sent to the model)?" not in term.screen()
    term.keys("n")
    term.wait_for("denied by you")


def test_ctrl_c_while_asking_says_the_call_never_ran(ui: Ui) -> None:
    ui.server.set_script([{"parts": [call("bash", command="frobnicate --v")]}])
    term = ui.start()
    term.type("try it")
    term.keys("Enter")
    term.wait_for("[y] allow once")
    term.keys("C-c")
    screen = term.wait_for("cancelled while asking")
    assert "⏺ bash frobnicate --v  · cancelled while asking" in screen and "interrupted" in screen


def test_a_data_directory_that_is_a_file_is_one_clear_line(ui: Ui) -> None:
    blocker = ui.base / "not-a-directory"
    blocker.write_text("x\n")
    env = {**ui.env(), "XDG_DATA_HOME": str(blocker)}
    term = Term([sys.executable, "-m", "agent.cli", "--config", str(ui.config)], cwd=ui.project, env=env)
    ui.terms.append(term)
    screen = term.wait_for("[exit 2]")
    assert "corral: cannot create the audit log" in screen and "XDG_DATA_HOME" in screen
    assert "Traceback" not in screen and "saved; resume it" not in screen


def test_an_approval_for_a_script_names_every_part_that_asks(ui: Ui) -> None:
    ui.server.set_script([{"parts": [call("bash", command="touch ok.txt\n\n\n\nfrobnicate --a\nfrobnicate --b")]},
                          {"parts": [text("fine")]}])
    term = ui.start("--guarded")
    term.type("go")
    term.keys("Enter")
    screen = term.wait_for("[n] deny")
    assert "why: frobnicate --a:" in screen and "why: frobnicate --b:" in screen and "why: touch ok.txt:" in screen
    term.keys("n")
    term.wait_for("fine")
