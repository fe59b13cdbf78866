"""`corral policy check` through a real subprocess: output shape, modes, --cwd, --policy, path tools,
exit codes (0 when it evaluated, whatever the decision; 2 on usage or rule-file errors).

HOME points at the fixture's fake home so that ``~`` and the user's files are the fixture's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.policy.corpus import Fixture, build_fixture

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("cli"))


# `python -m agent.cli …` (what the tests use) and the installed `corral` script (agent.cli:main).
MODULE = ("-m", "agent.cli")
ENTRY_POINT = ("-c", "import sys; from agent.cli import main; sys.exit(main())")


def corral(
    fx: Fixture, *args: str, cwd: Path | None = None, how: tuple[str, str] = MODULE
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(fx.home),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [sys.executable, *how, "policy", "check", *args],
        cwd=cwd or fx.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_json(fx: Fixture, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    proc = corral(fx, "--json", *args, cwd=cwd)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    out = json.loads(proc.stdout)
    assert isinstance(out, dict)
    return out


def test_json_shape(fx: Fixture) -> None:
    out = check_json(fx, "--", "ls -la | head -3")
    assert {"decision", "reason", "rule", "commands"} <= out.keys()
    assert out["decision"] == "allow"
    assert isinstance(out["reason"], str) and out["reason"]
    assert out["rule"] is None or isinstance(out["rule"], str)
    assert isinstance(out["commands"], list) and len(out["commands"]) == 2
    for part in out["commands"]:
        assert {"command", "decision", "reason", "rule", "kind"} <= part.keys()
        assert part["decision"] in {"allow", "ask", "deny"}


def test_deny_still_exits_zero(fx: Fixture) -> None:
    out = check_json(fx, "--", "cat ~/.ssh/id_rsa")
    assert out["decision"] == "deny", out
    assert out["reason"]


def test_command_given_as_several_words(fx: Fixture) -> None:
    assert check_json(fx, "--", "git", "status")["decision"] == "allow"
    assert check_json(fx, "--", "rm", "-rf", "~")["decision"] != "allow"


def test_chain_in_one_argument_is_split(fx: Fixture) -> None:
    out = check_json(fx, "--", "ls; rm -rf ~")
    assert out["decision"] != "allow"
    assert len(out["commands"]) >= 2
    decisions = {part["decision"] for part in out["commands"]}
    assert "allow" in decisions and decisions != {"allow"}


@pytest.mark.parametrize(
    ("mode", "command", "expected"),
    [
        ("standard", "curl http://x.example", {"ask"}),
        ("restrictive", "ls", {"ask"}),
        ("guarded", "ls", {"allow"}),
        ("guarded", "touch x", {"ask"}),
        ("read-only", "touch x", {"deny"}),
        ("readonly", "touch x", {"deny"}),
        ("yolo", "curl http://x.example", {"allow"}),
        ("yolo", "rm -rf ~", {"ask", "deny"}),
        ("yolo", "cat .env", {"deny"}),
    ],
)
def test_mode(fx: Fixture, mode: str, command: str, expected: set[str]) -> None:
    out = check_json(fx, "--mode", mode, "--", command)
    assert out["decision"] in expected, out


def test_cwd(fx: Fixture) -> None:
    assert check_json(fx, "--cwd", str(fx.root), "--", "cat README.md", cwd=fx.base)["decision"] == "allow"
    sibling = check_json(fx, "--cwd", str(fx.root), "--", "cat ../project-evil/notes.txt", cwd=fx.base)
    assert sibling["decision"] != "allow"
    assert check_json(fx, "--cwd", str(fx.root / "src"), "--", "cat main.py")["decision"] == "allow"
    assert check_json(fx, "--cwd", str(fx.root / "src"), "--", "cat leak")["decision"] == "deny"


# The rule syntax of docs/POLICY.md.
ALLOW_RULE = """\
[[rule]]
id = "test-allow-make-it-so"
tool = "bash"
prefix = ["make-it-so"]
decision = "allow"
match = ["make-it-so", "make-it-so now"]
not_match = ["make-it-not"]
"""

DENY_RULE = """\
[[rule]]
id = "test-deny-git-status"
tool = "bash"
prefix = ["git", "status"]
decision = "deny"
match = ["git status", "git status -s"]
not_match = ["git log"]
"""

BAD_TOML = """\
[[rule]]
id = "broken"
tool = "bash"
prefix = ["ls" "x"
decision = "allow"
"""

BAD_EXAMPLE = """\
[[rule]]
id = "wrong-example"
tool = "bash"
prefix = ["make-it-so"]
decision = "allow"
match = ["something-else"]
"""


def test_policy_file_loosens(fx: Fixture, tmp_path: Path) -> None:
    assert check_json(fx, "--", "make-it-so now")["decision"] == "ask"
    rules = tmp_path / "allow.toml"
    rules.write_text(ALLOW_RULE)
    out = check_json(fx, "--policy", str(rules), "--", "make-it-so now")
    assert out["decision"] == "allow", out
    assert out["rule"] == "test-allow-make-it-so" or any(
        p["rule"] == "test-allow-make-it-so" for p in out["commands"]
    )
    # An allow rule for one program does not launder a chain.
    assert check_json(fx, "--policy", str(rules), "--", "make-it-so now; rm -rf ~")["decision"] != "allow"


def test_policy_file_tightens(fx: Fixture, tmp_path: Path) -> None:
    rules = tmp_path / "deny.toml"
    rules.write_text(DENY_RULE)
    out = check_json(fx, "--policy", str(rules), "--", "git status")
    assert out["decision"] == "deny", out
    assert check_json(fx, "--policy", str(rules), "--", "git log")["decision"] == "allow"


def test_malformed_policy_file_exits_2_with_file_and_line(fx: Fixture, tmp_path: Path) -> None:
    rules = tmp_path / "broken-rules.toml"
    rules.write_text(BAD_TOML)
    proc = corral(fx, "--json", "--policy", str(rules), "--", "ls")
    assert proc.returncode == 2, proc
    assert "broken-rules.toml" in proc.stderr
    assert any(f"{sep}{n}" in proc.stderr for n in (4, 5) for sep in (":", "line ")), proc.stderr


def test_rule_whose_example_fails_exits_2(fx: Fixture, tmp_path: Path) -> None:
    rules = tmp_path / "bad-example.toml"
    rules.write_text(BAD_EXAMPLE)
    proc = corral(fx, "--policy", str(rules), "--", "ls")
    assert proc.returncode == 2, proc
    assert "bad-example.toml" in proc.stderr
    assert "wrong-example" in proc.stderr


def test_missing_policy_file_exits_2(fx: Fixture, tmp_path: Path) -> None:
    proc = corral(fx, "--policy", str(tmp_path / "nope.toml"), "--", "ls")
    assert proc.returncode == 2, proc
    assert "nope.toml" in proc.stderr


@pytest.mark.parametrize(
    ("tool", "path", "expected"),
    [
        ("write", "src/new.py", {"allow"}),
        ("write", "HOME/.bashrc", {"deny"}),
        ("write", ".git/hooks/pre-commit", {"deny"}),
        ("write", ".git/config", {"deny"}),
        ("write", "../project-evil/x", {"ask"}),
        ("edit", "src/main.py", {"allow"}),
        ("read", "README.md", {"allow"}),
        ("read", ".env", {"deny"}),
        ("read", "src/leak", {"deny"}),
        ("read", "HOME/.ssh/id_rsa", {"deny"}),
        ("list_dir", "src", {"allow"}),
    ],
)
def test_path_tools(fx: Fixture, tool: str, path: str, expected: set[str]) -> None:
    path = path.replace("HOME", str(fx.home))
    out = check_json(fx, "--tool", tool, "--path", path)
    assert out["decision"] in expected, out


def test_text_output(fx: Fixture) -> None:
    proc = corral(fx, "--", "rm -rf ~")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert any(word in proc.stdout.lower() for word in ("ask", "deny")), proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--mode", "bogus", "--", "ls"), id="unknown-mode"),
        pytest.param((), id="no-command"),
        pytest.param(("--json", "--"), id="empty-after-dashes"),
        pytest.param(("--tool", "write"), id="tool-without-path"),
        pytest.param(("--no-such-flag", "--", "ls"), id="unknown-flag"),
    ],
)
def test_usage_errors_exit_2(fx: Fixture, args: tuple[str, ...]) -> None:
    proc = corral(fx, *args)
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr


def test_unknown_mode_names_the_modes(fx: Fixture) -> None:
    proc = corral(fx, "--mode", "bogus", "--", "ls")
    assert proc.returncode == 2
    assert "bogus" in proc.stderr
    assert "standard" in proc.stderr


def test_usage_error_through_the_console_script_entry_point(fx: Fixture) -> None:
    proc = corral(fx, "--mode", "bogus", "--", "ls", how=ENTRY_POINT)
    assert proc.returncode == 2, proc.stderr
    assert "bogus" in proc.stderr
    assert "Traceback" not in proc.stderr
