"""Round 2 of the exploratory tester's findings, through the real CLI in subprocesses (the agent's runs
against the scripted LLM server): `corral policy check` judges with the project's trust as a run does,
escapes what it prints and refuses an unknown --tool; a forced push says why it asks; --yolo's help;
`corral trust --revoke` is remembered; integer variables say what they need; a broken untrusted project
rule file says whose it is and what to do; the no-sandbox warning names its source; --compact reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import trust
from tests.agent.test_headless_more import Env, call, env, text  # noqa: F401
from tests.llm_server.fixtures import llm_server  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

ALLOW_CURL = """\
[[rule]]
id = "allow-curl"
tool = "bash"
decision = "allow"
reason = "fetching is fine in this project"
prefix = ["curl"]
match = ["curl https://example.com"]
"""


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "LANG": "C.UTF-8",
            "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def corral(tmp_path: Path, cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=cwd, env={**base_env(tmp_path), **extra},
                          capture_output=True, text=True, timeout=120)


def project(tmp_path: Path, policy: str) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / ".corral").mkdir()
    (root / ".corral" / "policy.toml").write_text(policy)
    (tmp_path / "home").mkdir(exist_ok=True)
    return root


# ------------------------------------------------------------------------- 1. policy check and trust


def test_policy_check_judges_with_the_projects_trust(tmp_path: Path) -> None:
    root = project(tmp_path, ALLOW_CURL)
    untrusted = corral(tmp_path, root, "policy", "check", "--", "curl https://example.com")
    assert untrusted.returncode == 0, untrusted.stderr
    assert untrusted.stdout.startswith("ask"), untrusted.stdout
    assert "ignored rule 'allow-curl' from untrusted project file" in untrusted.stderr

    assert corral(tmp_path, root, "trust").returncode == 0
    assert corral(tmp_path, root, "trust", "--status").returncode == 0
    trusted = corral(tmp_path, root, "policy", "check", "--", "curl https://example.com")
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.startswith("allow") and "fetching is fine in this project" in trusted.stdout, \
        trusted.stdout
    assert "warning" not in trusted.stderr, trusted.stderr


# --------------------------------------------------------------------------- 2. escaping what is shown


def test_policy_check_shows_control_characters_as_escapes(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    r = corral(tmp_path, root, "policy", "check", "--", "printf '\x1b[2J\x1b]0;owned\x07' && frobnicate \x1b[31m")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout, repr(r.stdout)
    assert "\\x1b[2J" in r.stdout and "\\x07" in r.stdout


def test_one_shot_progress_escapes_model_text_but_not_the_answer(env: Env) -> None:  # noqa: F811
    (env.project / "a\x1b[2Jb.txt").write_text("x\n")
    env.server.set_script([{"parts": [call("read", path="a\x1b[2Jb.txt")]},
                           {"parts": [text("answer \x1b[1mbold\x1b[0m")]}])
    r = env.run("-p", "go")
    assert r.code == 0, r.err
    assert "\x1b" not in r.err, repr(r.err)
    assert "read a\\x1b[2Jb.txt" in r.err
    assert r.out == "answer \x1b[1mbold\x1b[0m\n"  # the program's output stays as the model wrote it


def test_one_shot_error_lines_escape_what_the_provider_said(env: Env) -> None:  # noqa: F811
    env.server.set_script([{"error": {"status": 400, "message": "bad \x1b]0;owned\x07 request\n· bash rm  [allow]"}}])
    r = env.run("-p", "go")
    assert r.code == 1, r.err
    assert "\x1b" not in r.err and "\x07" not in r.err, repr(r.err)
    assert "bad \\x1b]0;owned\\x07 request" in r.err, r.err


# ------------------------------------------------------------------------------- 3. an unknown --tool


def test_policy_check_refuses_an_unknown_tool(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    r = corral(tmp_path, root, "policy", "check", "--tool", "reed", "--path", "a.txt")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "unknown tool 'reed'" in r.stderr and "read" in r.stderr and "mcp:SERVER:TOOL" in r.stderr
    assert r.stdout == ""
    ok = corral(tmp_path, root, "policy", "check", "--tool", "mcp:github:list_issues")
    assert ok.returncode == 0, ok.stderr


# --------------------------------------------------------------------- 4. why a forced push asks


@pytest.mark.parametrize("mode", ["standard", "yolo"])
def test_a_forced_push_says_it_can_overwrite_history(tmp_path: Path, mode: str) -> None:
    root = project(tmp_path, "")
    r = corral(tmp_path, root, "policy", "check", "--mode", mode, "--", "git push --force origin main")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ask") and "overwrite" in r.stdout and "history" in r.stdout, r.stdout


# ------------------------------------------------------------------------------------ 5. --yolo help


def test_yolo_help_matches_the_mode_table(tmp_path: Path) -> None:
    r = corral(tmp_path, tmp_path, "--help")
    assert r.returncode == 0
    flat = " ".join(r.stdout.split())
    yolo = flat[flat.index("--yolo allow"):][:200]
    for word in ("destructive", "privilege", "opaque", "ask"):
        assert word in yolo, yolo


# ----------------------------------------------------------------------------------- 6. revoking


def test_status_after_revoke_says_it_was_revoked(tmp_path: Path) -> None:
    root = project(tmp_path, "")
    assert corral(tmp_path, root, "trust").returncode == 0
    assert corral(tmp_path, root, "trust", "--revoke").returncode == 0
    r = corral(tmp_path, root, "trust", "--status")
    assert r.returncode == 1
    assert "revoked on" in r.stdout and "never trusted" not in r.stdout, r.stdout
    assert corral(tmp_path, root, "trust").returncode == 0  # trusting again clears the note
    assert "trusted (`corral trust` on" in corral(tmp_path, root, "trust", "--status").stdout
    assert trust.trust_file(base_env(tmp_path)).read_text().count("revoked") == 0


# ---------------------------------------------------------------------------- 7. integer variables


@pytest.mark.parametrize("value", ["-5", "1e5", "12.5", "lots"])
def test_an_integer_variable_says_it_needs_digits(tmp_path: Path, value: str) -> None:
    r = corral(tmp_path, tmp_path, "config", "show", CORRAL_CONTEXT_WINDOW=value)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "CORRAL_CONTEXT_WINDOW" in r.stderr and "positive whole number" in r.stderr, r.stderr
    assert "a string" not in r.stderr


# -------------------------------------------------------- 8. a broken untrusted project rule file


BROKEN = '[[rule]]\nid = "deny-x"\ntool = "bash"\ndecison = "deny"\nprefix = ["x"]\n'


def test_a_broken_untrusted_project_rule_file_says_whose_it_is(tmp_path: Path) -> None:
    root = project(tmp_path, BROKEN)
    r = corral(tmp_path, root, "policy", "check", "--", "ls")
    assert r.returncode == 2, (r.stdout, r.stderr)
    own = str(root.resolve() / ".corral" / "policy.toml")
    assert f"{own}:4" in r.stderr  # the file and the line
    assert "this project's own rule file" in r.stderr and "not trusted" in r.stderr
    assert "remove" in r.stderr, r.stderr


def test_rule_file_problem_leaves_other_files_alone(tmp_path: Path) -> None:
    from policy import RuleFileError

    other = RuleFileError("unknown key", path=str(tmp_path / "mine.toml"), line=2)
    assert trust.rule_file_problem(other, tmp_path, False) == str(other)
    own = RuleFileError("unknown key", path=str(tmp_path / ".corral" / "policy.toml"), line=2)
    assert "trusted with `corral trust`" in trust.rule_file_problem(own, tmp_path, True)
    assert "not trusted" in trust.rule_file_problem(own, tmp_path, False)


# ------------------------------------------------------------------------ 9. where sandbox none came from


def test_no_sandbox_warning_names_its_source(env: Env) -> None:  # noqa: F811
    env.server.set_script([{"parts": [text("ok")]}])
    r = env.run("-p", "hi", CORRAL_SANDBOX="none")
    assert r.code == 0, r.err
    assert "environment variable CORRAL_SANDBOX" in r.err and "--sandbox none" not in r.err, r.err
    env.server.set_script([{"parts": [text("ok")]}])
    r = env.run("-p", "hi", "--sandbox", "none")
    assert "command-line flag --sandbox" in r.err, r.err


# ----------------------------------------------------------------------------------- 10. --compact


def test_compact_alone_reports_in_text_mode(env: Env) -> None:  # noqa: F811
    (env.project / "big.txt").write_text("".join(f"line {i}: " + "data " * 30 + "\n" for i in range(200)))
    env.server.set_script([{"parts": [call("read", path="big.txt")]}, {"parts": [text("read it")]},
                           {"parts": [text("Second answer.")]}])
    assert env.run("-p", "read big.txt").code == 0
    assert env.run("-c", "-p", "and then?").code == 0
    env.server.set_script([{"parts": [text("Summary: big.txt was read.")]}])
    r = env.run("-c", "--compact")
    assert r.code == 0, r.err
    assert r.out == ""
    [line] = [x for x in r.err.splitlines() if "compact" in x]
    assert line.startswith("corral: compacted: ") and "earlier messages summarised" in line and "→" in line, r.err
    again = env.run("-c", "--compact")
    assert again.code == 0 and "nothing to compact" in again.err, again.err
