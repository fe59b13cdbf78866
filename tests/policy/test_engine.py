"""The engine end to end: rule precedence, project-file trust, disabling, malformed files, session
approvals, doom loops, the bash breakdown and symlinks. Real files under tmp_path, a fake home, and
never the real user policy file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policy
from policy import Decision, Mode, Request, RuleFileError, SessionState, load_engine

A, Q, D = Decision.ALLOW, Decision.ASK, Decision.DENY


# ---------------------------------------------------------------------------------------------
# helpers


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "proj"
        self.home = tmp_path / "home"
        (self.root / "src").mkdir(parents=True)
        (self.root / "src" / "a.py").write_text("print(1)\n")
        (self.root / "x.txt").write_text("x\n")
        (self.home / ".ssh").mkdir(parents=True)
        (self.home / ".ssh" / "id_rsa").write_text("secret\n")
        (tmp_path / "outside").mkdir()
        (tmp_path / "outside" / "o.txt").write_text("o\n")
        self.none = tmp_path / "none.toml"

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def engine(self, *, user: str | None = None, extra: list[str] = (), trusted: bool = False,  # type: ignore[assignment]
               project: str | None = None) -> policy.Engine:
        user_file = self.none if user is None else self.write("user.toml", user)
        extra_files = [self.write(f"extra{i}.toml", t) for i, t in enumerate(extra)]
        if project is not None:
            (self.root / ".corral").mkdir(exist_ok=True)
            (self.root / ".corral" / "policy.toml").write_text(project)
        return load_engine(self.root, user_file=user_file, extra_files=extra_files, trusted=trusted,
                           home=self.home)

    def bash(self, command: str, mode: Mode = Mode.STANDARD, **kw: object) -> Request:
        return Request(tool="bash", args={"command": command}, cwd=self.root, project_root=self.root,
                       mode=mode, **kw)  # type: ignore[arg-type]

    def tool(self, tool: str, path: str | Path, mode: Mode = Mode.STANDARD) -> Request:
        return Request(tool=tool, args={"path": str(path)}, cwd=self.root, project_root=self.root, mode=mode)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def rule(id: str, decision: str, matcher: str, tool: str = "bash", extra: str = "") -> str:
    return f'[[rule]]\nid = "{id}"\ntool = "{tool}"\ndecision = "{decision}"\n{matcher}\n{extra}\n'


FROB_ALLOW = rule("allow-frob", "allow", 'argv = ["frobnicate", "**"]')


# ---------------------------------------------------------------------------------------------
# 1. precedence


def test_allow_rule_from_policy_file_overrides_mode_fallback(env: Env) -> None:
    assert env.engine().evaluate(env.bash("frobnicate x")).decision is Q
    engine = env.engine(extra=[FROB_ALLOW])
    verdict = engine.evaluate(env.bash("frobnicate x"))
    assert verdict.decision is A
    assert verdict.commands[0].rule == "allow-frob"


def test_allow_rule_from_user_file_overrides_mode_fallback(env: Env) -> None:
    engine = env.engine(user=FROB_ALLOW)
    assert engine.evaluate(env.bash("frobnicate x")).decision is A


def test_deny_beats_ask_beats_allow(env: Env) -> None:
    allow = FROB_ALLOW
    ask = rule("ask-frob", "ask", 'prefix = ["frobnicate"]')
    deny = rule("deny-frob", "deny", 'argv = ["frobnicate", "--nuke", "**"]')
    engine = env.engine(extra=[deny, allow, ask])  # file order must not matter
    v = engine.evaluate(env.bash("frobnicate x"))
    assert (v.decision, v.rule) == (Q, "ask-frob")
    v = engine.evaluate(env.bash("frobnicate --nuke x"))
    assert (v.decision, v.rule) == (D, "deny-frob")
    # in yolo the mode would allow; ask still tightens
    v = engine.evaluate(env.bash("frobnicate x", Mode.YOLO))
    assert (v.decision, v.rule) == (Q, "ask-frob")


def test_ask_rule_never_loosens_read_only_deny(env: Env) -> None:
    engine = env.engine(extra=[rule("ask-touch", "ask", 'argv = ["touch", "**"]')])
    v = engine.evaluate(env.bash("touch src/b.py", Mode.READ_ONLY))
    assert v.decision is D
    assert engine.evaluate(env.bash("touch src/b.py", Mode.STANDARD)).decision is Q


@pytest.mark.parametrize("mode", [Mode.RESTRICTIVE, Mode.READ_ONLY])
def test_allow_rules_ignored_in_restrictive_and_read_only(env: Env, mode: Mode) -> None:
    engine = env.engine(extra=[FROB_ALLOW, rule("allow-cat", "allow", 'prefix = ["cat"]')])
    assert engine.evaluate(env.bash("frobnicate x", mode)).decision is not A
    v = engine.evaluate(env.tool("read", "src/a.py", mode))
    assert v.decision is (Q if mode is Mode.RESTRICTIVE else A)
    v = engine.evaluate(env.bash("cat src/a.py", mode, read_only_sandbox=True))
    assert v.decision is (Q if mode is Mode.RESTRICTIVE else A)
    assert v.rule is None


def test_allow_path_rule_ignored_in_restrictive(env: Env) -> None:
    engine = env.engine(extra=[rule("allow-src", "allow", 'paths = ["src/"]', tool="@path")])
    assert engine.evaluate(env.tool("write", "src/new.py", Mode.GUARDED)).decision is A
    assert engine.evaluate(env.tool("write", "src/new.py", Mode.RESTRICTIVE)).decision is Q
    assert engine.evaluate(env.tool("write", "src/new.py", Mode.READ_ONLY)).decision is D


def test_deny_rule_applies_in_yolo(env: Env) -> None:
    engine = env.engine(extra=[rule("deny-frob", "deny", 'prefix = ["frobnicate"]')])
    assert env.engine().evaluate(env.bash("frobnicate x", Mode.YOLO)).decision is A
    v = engine.evaluate(env.bash("frobnicate x", Mode.YOLO))
    assert (v.decision, v.rule) == (D, "deny-frob")
    v = engine.evaluate(env.bash("sudo frobnicate x", Mode.YOLO))
    assert v.decision is D


def test_allow_cat_rule_does_not_open_protected_or_outside_paths(env: Env) -> None:
    engine = env.engine(extra=[rule("allow-cat", "allow", 'argv = ["cat", "**"]')])
    v = engine.evaluate(env.bash("cat ~/.ssh/id_rsa"))
    assert (v.decision, v.rule) == (D, "protect-ssh")
    v = engine.evaluate(env.bash(f"cat {env.tmp / 'outside' / 'o.txt'}"))
    assert v.decision is Q
    v = engine.evaluate(env.bash("cat /etc/hostname"))
    assert v.decision is Q
    assert engine.evaluate(env.bash("cat src/a.py")).decision is A


def test_allow_rule_must_match_the_command_as_written(env: Env) -> None:
    engine = env.engine(extra=[FROB_ALLOW])
    assert engine.evaluate(env.bash("sudo frobnicate x")).decision is not A
    assert engine.evaluate(env.bash("./frobnicate x")).decision is not A


def test_modes_key_limits_a_rule(env: Env) -> None:
    engine = env.engine(extra=[rule("ask-ls-guarded", "ask", 'prefix = ["ls"]', extra='modes = ["guarded"]')])
    assert engine.evaluate(env.bash("ls")).decision is A
    assert engine.evaluate(env.bash("ls", Mode.GUARDED)).decision is Q


# ---------------------------------------------------------------------------------------------
# 2. project file tightening

PROJECT = (
    'disable = ["default-ask-git-push"]\n\n'
    + FROB_ALLOW
    + rule("deny-ls", "deny", 'argv = ["ls", "**"]')
    + '[doom_loop]\naction = "deny"\n'
)


def test_untrusted_project_file_only_tightens(env: Env) -> None:
    engine = env.engine(project=PROJECT, trusted=False)
    assert engine.evaluate(env.bash("ls")).decision is D
    assert engine.evaluate(env.bash("frobnicate x")).decision is Q
    v = engine.evaluate(env.bash("git push origin main"))
    assert (v.decision, v.rule) == (Q, "default-ask-git-push")
    text = "\n".join(engine.warnings)
    assert "allow-frob" in text
    assert "disable" in text
    assert "doom_loop" in text
    assert str(env.root / ".corral" / "policy.toml") in text
    assert len(engine.warnings) == 3
    # doom loop table ignored too: the default coach action keeps the decision
    session = SessionState()
    verdicts = [engine.evaluate(env.bash("echo hi"), session) for _ in range(3)]
    assert verdicts[2].decision is A and verdicts[2].note


def test_trusted_project_file_applies_fully(env: Env) -> None:
    engine = env.engine(project=PROJECT, trusted=True)
    assert engine.warnings == ()
    assert engine.evaluate(env.bash("ls")).decision is D
    assert engine.evaluate(env.bash("frobnicate x")).decision is A
    assert engine.evaluate(env.bash("git push origin main")).decision is Q  # network in standard
    assert engine.evaluate(env.bash("git push origin main")).rule != "default-ask-git-push"
    assert engine.evaluate(env.bash("git push origin main", Mode.YOLO)).decision is A


def test_project_file_is_not_read_from_elsewhere(env: Env) -> None:
    engine = env.engine(project=rule("deny-ls", "deny", 'argv = ["ls", "**"]'))
    assert engine.evaluate(env.bash("ls")).decision is D
    other = env.tmp / "other"
    other.mkdir()
    engine2 = load_engine(other, user_file=env.none, home=env.home)
    assert engine2.evaluate(Request(tool="bash", args={"command": "ls"}, cwd=other,
                                    project_root=other)).decision is A


# ---------------------------------------------------------------------------------------------
# 3. disabling built-in rules


def test_disable_git_push_rule_from_user_file(env: Env) -> None:
    before = env.engine().evaluate(env.bash("git push origin main", Mode.YOLO))
    assert (before.decision, before.rule) == (Q, "default-ask-git-push")
    engine = env.engine(user='disable = ["default-ask-git-push"]\n')
    after = engine.evaluate(env.bash("git push origin main", Mode.YOLO))
    assert after.decision is A


def test_disable_protect_rule_from_user_file(env: Env) -> None:
    secret = env.home / ".ssh" / "id_rsa"
    assert env.engine().evaluate(env.tool("read", secret, Mode.YOLO)).decision is D
    engine = env.engine(user='disable = ["protect-ssh", "protect-private-keys"]\n')
    assert engine.evaluate(env.tool("read", secret, Mode.YOLO)).decision is A
    assert engine.evaluate(env.tool("read", secret)).decision is Q  # outside the project


def test_disable_from_policy_file(env: Env) -> None:
    engine = env.engine(extra=['disable = ["protect-env-files"]\n'])
    (env.root / ".env").write_text("K=v\n")
    assert engine.evaluate(env.tool("read", ".env")).decision is A
    assert env.engine().evaluate(env.tool("read", ".env")).decision is D


def test_disable_unknown_id_is_an_error_naming_the_file(env: Env) -> None:
    with pytest.raises(RuleFileError) as info:
        env.engine(user='\ndisable = ["protect-typo"]\n')
    msg = str(info.value)
    assert str(env.tmp / "user.toml") in msg
    assert "protect-typo" in msg
    assert info.value.line == 2


def test_disable_a_non_builtin_rule_is_an_error(env: Env) -> None:
    with pytest.raises(RuleFileError, match="not a built-in rule"):
        env.engine(user=FROB_ALLOW, extra=['disable = ["allow-frob"]\n'])


def test_duplicate_id_across_files_is_an_error(env: Env) -> None:
    with pytest.raises(RuleFileError, match="already used"):
        env.engine(user=FROB_ALLOW, extra=[FROB_ALLOW])
    with pytest.raises(RuleFileError, match=r"defaults\.toml"):
        env.engine(user=rule("default-ask-git-push", "ask", 'prefix = ["git"]'))


def test_missing_policy_file_is_an_error(env: Env) -> None:
    with pytest.raises(RuleFileError, match="does not exist"):
        load_engine(env.root, user_file=env.none, extra_files=[env.tmp / "missing.toml"], home=env.home)


# ---------------------------------------------------------------------------------------------
# 4. malformed rule files


def _error(env: Env, text: str) -> RuleFileError:
    path = env.write("bad.toml", text)
    with pytest.raises(RuleFileError) as info:
        load_engine(env.root, user_file=env.none, extra_files=[path], home=env.home)
    assert str(path) in str(info.value)
    return info.value


def test_bad_toml_names_file_and_line(env: Env) -> None:
    err = _error(env, '# comment\n\n[[rule]]\nid "x"\n')
    assert err.line == 4
    assert "bad.toml:4" in str(err)
    assert "not valid TOML" in str(err)


def test_bad_regex_names_file_line_and_rule(env: Env) -> None:
    err = _error(env, '[[rule]]\nid = "x"\ntool = "bash"\ndecision = "deny"\nregex = "a(b"\n')
    assert err.line == 5
    assert err.rule == "x"
    assert "bad.toml:5 (rule 'x')" in str(err)
    assert "invalid regex" in str(err)


def test_failing_match_example_names_file_line_and_rule(env: Env) -> None:
    err = _error(env, rule("ask-deploy", "ask", 'prefix = ["make", "deploy"]',
                           extra='match = ["make deploy"]\nnot_match = ["make deploy docs"]'))
    assert err.rule == "ask-deploy"
    assert err.line is not None
    assert "make deploy docs" in str(err)
    assert f"bad.toml:{err.line} (rule 'ask-deploy')" in str(err)


def test_failing_path_example(env: Env) -> None:
    err = _error(env, rule("deny-secret", "deny", 'paths = ["secrets/"]', tool="@path",
                           extra='match = ["public/x"]'))
    assert err.rule == "deny-secret"
    assert "public/x" in str(err)


def test_unknown_key_is_an_error_with_suggestion(env: Env) -> None:
    err = _error(env, '[[rule]]\nid = "x"\ntool = "bash"\ndecison = "deny"\nprefix = ["ls"]\n')
    assert err.line == 4
    assert "decision" in str(err)


def test_misspelt_tool_is_an_error(env: Env) -> None:
    err = _error(env, rule("x", "deny", 'prefix = ["ls"]', tool="bsh"))
    assert err.rule == "x"


def test_malformed_untrusted_project_file_still_errors(env: Env) -> None:
    with pytest.raises(RuleFileError) as info:
        env.engine(project="[[rule]\n", trusted=False)
    assert ".corral" in str(info.value)


# ---------------------------------------------------------------------------------------------
# 5. session approvals


def _approve(engine: policy.Engine, request: Request, session: SessionState) -> list:  # type: ignore[type-arg]
    verdict = engine.evaluate(request, session)
    assert verdict.decision is Q, verdict.reason
    approvals = engine.propose_approvals(request, verdict)
    assert approvals
    for a in approvals:
        assert a.rule is not None and a.summary
        assert a.max_kind is not None
    session.approve(approvals)
    return approvals


def test_an_exact_approval_shows_the_command_quoted_as_typed(env: Env) -> None:
    engine = env.engine()
    request = env.bash("frobnicate --say 'hello world' \"a;b\"")
    [approval] = _approve(engine, request, SessionState())
    assert approval.summary == "allow exactly `frobnicate --say 'hello world' 'a;b'`"


def test_approval_lets_the_same_request_through(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    request = env.bash("frobnicate x")
    approvals = _approve(engine, request, session)
    assert engine.evaluate(request, session).decision is A
    assert engine.evaluate(request, SessionState()).decision is Q
    assert engine.evaluate(request).decision is Q
    assert "frobnicate" in approvals[0].rule.to_toml()


def test_rm_gets_an_exact_argv_rule(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    request = env.bash("rm x.txt")
    [approval] = _approve(engine, request, session)
    text = approval.rule.to_toml()
    assert "argv = " in text and '"rm"' in text and '"x.txt"' in text
    assert "**" not in text and "prefix" not in text
    assert engine.evaluate(request, session).decision is A
    assert engine.evaluate(env.bash("rm src/a.py"), session).decision is Q
    assert engine.evaluate(env.bash("rm -rf x.txt"), session).decision is Q


@pytest.mark.parametrize(
    "command",
    ["python3 script.py", "bash -c 'frobnicate x'", "sudo frobnicate x", "env X=1 frobnicate x",
     "sh script.sh", "node app.js"],
)
def test_shells_interpreters_and_wrappers_never_get_a_prefix_rule(env: Env, command: str) -> None:
    (env.root / "script.py").write_text("print(1)\n")
    engine = env.engine()
    verdict = engine.evaluate(env.bash(command))
    assert verdict.decision is Q, verdict.reason
    for approval in engine.propose_approvals(env.bash(command), verdict):
        text = approval.rule.to_toml()
        assert "**" not in text, text
        assert "prefix" not in text, text


def test_an_approval_never_covers_a_different_command(env: Env) -> None:
    """A session approval is exactly what the user saw: widening it to `PROGRAM SUBCOMMAND …` let
    `make test --eval='$(shell rm -rf src)'` through after `make test` was approved (guarded mode)."""
    engine = env.engine()
    guarded = Mode.GUARDED
    for approved, others in (
        ("make test", ["make test --eval='$(shell rm -rf src)'", "make test install", "make test SHELL=/tmp/x"]),
        ("npm run lint", ["npm run deploy"]),
        ("git push origin main", ["git push origin dev", "git push --force origin main"]),
    ):
        session = SessionState()
        request = env.bash(approved, guarded)
        approvals = _approve(engine, request, session)
        assert all("**" not in a.rule.to_toml() for a in approvals), approvals
        assert engine.evaluate(request, session).decision is A
        for other in others:
            assert engine.evaluate(env.bash(other, guarded), session).decision is not A, other


def test_approval_of_call_asked_by_an_ask_rule_takes_effect(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    request = env.bash("git push origin main")
    verdict = engine.evaluate(request, session)
    assert (verdict.decision, verdict.rule) == (Q, "default-ask-git-push")
    approvals = engine.propose_approvals(request, verdict)
    session.approve(approvals)
    # either nothing is proposed (the user is told it can only be allowed once), or it works
    assert not approvals or engine.evaluate(request, session).decision is A


def test_approved_git_push_does_not_cover_force_push(env: Env) -> None:
    engine = env.engine(user='disable = ["default-ask-git-push"]\n')
    session = SessionState()
    _approve(engine, env.bash("git push origin main"), session)
    assert engine.evaluate(env.bash("git push origin main"), session).decision is A
    for cmd in ("git push --force origin main", "git push -f origin main", "git push origin +main"):
        v = engine.evaluate(env.bash(cmd), session)
        assert v.decision is Q, f"{cmd}: {v.reason}"


def test_opaque_commands_get_no_proposals(env: Env) -> None:
    engine = env.engine()
    for cmd in ("$CMD x", "eval \"$X\"", "frobnicate x; $CMD y"):
        verdict = engine.evaluate(env.bash(cmd))
        assert verdict.decision is Q, cmd
        assert engine.propose_approvals(env.bash(cmd), verdict) == []


def test_deny_verdicts_get_no_proposals(env: Env) -> None:
    engine = env.engine()
    for request in (env.bash("cat ~/.ssh/id_rsa"), env.bash("rm -rf /"),
                    env.tool("read", env.home / ".ssh" / "id_rsa"),
                    env.bash("frobnicate x && cat ~/.ssh/id_rsa")):
        verdict = engine.evaluate(request)
        assert verdict.decision is D
        assert engine.propose_approvals(request, verdict) == []


def test_allow_verdicts_get_no_proposals(env: Env) -> None:
    engine = env.engine()
    verdict = engine.evaluate(env.bash("ls"))
    assert verdict.decision is A
    assert engine.propose_approvals(env.bash("ls"), verdict) == []


def test_write_outside_project_gets_an_exact_path_rule(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    target = env.tmp / "outside" / "new.txt"
    request = env.tool("write", target)
    [approval] = _approve(engine, request, session)
    text = approval.rule.to_toml()
    assert str(target) in text
    assert 'tool = "write"' in text
    assert engine.evaluate(request, session).decision is A
    assert engine.evaluate(env.tool("write", env.tmp / "outside" / "other.txt"), session).decision is Q
    assert engine.evaluate(env.tool("write", env.tmp / "elsewhere.txt"), session).decision is Q
    # a write approval is not a read approval of something else, nor an edit
    assert engine.evaluate(env.tool("edit", target), session).decision is Q


def test_bash_path_outside_gets_path_approval(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    outside = env.tmp / "outside" / "o.txt"
    request = env.bash(f"cat {outside}")
    _approve(engine, request, session)
    assert engine.evaluate(request, session).decision is A
    assert engine.evaluate(env.bash(f"cat {env.tmp / 'outside' / 'p.txt'}"), session).decision is Q


def test_exported_approvals_restore_into_a_new_session(env: Env) -> None:
    """A resumed session gets its approvals back: the same requests pass, nothing broader does."""
    engine = env.engine(user='disable = ["default-ask-git-push"]\n')
    session = SessionState()
    outside = env.tmp / "outside" / "new.txt"
    requests = [env.bash("frobnicate x"), env.bash("rm x.txt"), env.bash("git push origin main"),
                env.tool("write", outside)]
    for request in requests:
        _approve(engine, request, session)
    saved = json.loads(json.dumps(session.export_approvals()))
    restored = SessionState()
    assert restored.restore_approvals(saved) == []
    assert [(r.id, k) for r, k in restored.approvals] == [(r.id, k) for r, k in session.approvals]
    for request in requests:
        assert engine.evaluate(request, restored).decision is A
    for broader in (env.bash("rm -rf x.txt"), env.bash("git push --force origin main"),
                    env.tool("write", env.tmp / "outside" / "other.txt")):
        assert engine.evaluate(broader, restored).decision is Q


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"rule": '[[rule]]\nid = "session-x"\ntool = "bash"\ndecision = "allow"\nargv = ["**"]\n',
          "max_kind": "READ"}, "narrow"),
        ({"rule": '[[rule]]\nid = "session-x"\ntool = "bash"\ndecision = "allow"\nprefix = ["rm"]\n',
          "max_kind": "DESTRUCTIVE"}, "narrow"),
        ({"rule": '[[rule]]\nid = "mine"\ntool = "bash"\ndecision = "allow"\nargv = ["ls"]\n',
          "max_kind": "READ"}, "narrow"),
        ({"rule": '[[rule]]\nid = "session-x"\ntool = "write"\ndecision = "allow"\npaths = ["/**"]\n',
          "max_kind": "WRITE"}, "narrow"),
        ({"rule": '[[rule]]\nid = "session-x"\ntool = "bash"\ndecision = "deny"\nargv = ["ls"]\n',
          "max_kind": "READ"}, "narrow"),
        ({"rule": "[[rule]\n", "max_kind": "READ"}, "TOML"),
        ({"rule": '[[rule]]\nid = "session-x"\ntool = "bash"\ndecision = "allow"\nargv = ["ls"]\n',
          "max_kind": "HUGE"}, "saved approval"),
        ({}, "saved approval"),
    ],
)
def test_restore_skips_what_is_not_a_narrow_approval(item: dict[str, str], why: str) -> None:
    session = SessionState()
    problems = session.restore_approvals([item])
    assert session.approvals == []
    assert len(problems) == 1 and why in problems[0], problems


@pytest.mark.parametrize("mode", [Mode.RESTRICTIVE, Mode.READ_ONLY])
def test_approvals_ignored_in_restrictive_modes(env: Env, mode: Mode) -> None:
    engine = env.engine()
    session = SessionState()
    _approve(engine, env.bash("frobnicate x"), session)
    _approve(engine, env.tool("read", env.tmp / "outside" / "o.txt"), session)
    assert engine.evaluate(env.bash("frobnicate x"), session).decision is A
    assert engine.evaluate(env.bash("frobnicate x", mode), SessionState()).decision is not A
    assert engine.evaluate(env.bash("frobnicate x", mode), session).decision is not A
    assert engine.evaluate(env.tool("read", env.tmp / "outside" / "o.txt", mode), session).decision is not A


def test_approval_does_not_override_deny_rules(env: Env) -> None:
    engine = env.engine(extra=[rule("deny-frob-y", "deny", 'argv = ["frobnicate", "y"]')])
    session = SessionState()
    _approve(engine, env.bash("frobnicate x"), session)
    assert engine.evaluate(env.bash("frobnicate y"), session).decision is D


def test_approved_mcp_tool(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    request = Request(tool="mcp:github:create_issue", args={"title": "t"}, cwd=env.root, project_root=env.root)
    _approve(engine, request, session)
    assert engine.evaluate(request, session).decision is A
    other = Request(tool="mcp:github:delete_repo", args={}, cwd=env.root, project_root=env.root)
    assert engine.evaluate(other, session).decision is Q


# ---------------------------------------------------------------------------------------------
# 6. doom loop


def test_doom_loop_default_coaches(env: Env) -> None:
    engine = env.engine()
    session = SessionState()
    verdicts = [engine.evaluate(env.bash("frobnicate x"), session) for _ in range(3)]
    assert verdicts[0].note is None and verdicts[1].note is None
    assert verdicts[2].note
    assert verdicts[2].decision is Q
    assert verdicts[2].rule == verdicts[0].rule


def test_doom_loop_deny(env: Env) -> None:
    engine = env.engine(user='[doom_loop]\naction = "deny"\n')
    session = SessionState()
    verdicts = [engine.evaluate(env.bash("ls"), session) for _ in range(3)]
    assert [v.decision for v in verdicts[:2]] == [A, A]
    assert verdicts[2].decision is D
    assert verdicts[2].rule == "doom-loop"
    assert verdicts[2].note


def test_doom_loop_ask(env: Env) -> None:
    engine = env.engine(user='[doom_loop]\naction = "ask"\n')
    session = SessionState()
    verdicts = [engine.evaluate(env.bash("ls"), session) for _ in range(3)]
    assert [v.decision for v in verdicts] == [A, A, Q]
    assert verdicts[2].rule == "doom-loop"
    # an already-denied call stays denied (never loosened to ask)
    session2 = SessionState()
    denied = [engine.evaluate(env.bash("cat ~/.ssh/id_rsa"), session2) for _ in range(3)]
    assert denied[2].decision is D and denied[2].note


def test_doom_loop_reset_by_a_different_request(env: Env) -> None:
    engine = env.engine(user='[doom_loop]\naction = "deny"\n')
    session = SessionState()
    seq = ["ls", "ls", "pwd", "ls", "ls"]
    verdicts = [engine.evaluate(env.bash(c), session) for c in seq]
    assert all(v.decision is A for v in verdicts)
    assert all(v.note is None for v in verdicts)
    assert engine.evaluate(env.bash("ls"), session).decision is D


def test_doom_loop_threshold_and_later_file_overrides(env: Env) -> None:
    engine = env.engine(user='[doom_loop]\naction = "deny"\nthreshold = 5\n',
                        extra=['[doom_loop]\nthreshold = 2\n'])
    session = SessionState()
    verdicts = [engine.evaluate(env.bash("ls"), session) for _ in range(2)]
    assert [v.decision for v in verdicts] == [A, D]


def test_doom_loop_needs_a_session(env: Env) -> None:
    engine = env.engine(user='[doom_loop]\naction = "deny"\n')
    assert all(engine.evaluate(env.bash("ls")).decision is A for _ in range(4))


# ---------------------------------------------------------------------------------------------
# 7. bash breakdown and cd tracking


def test_bash_breakdown_lists_each_simple_command(env: Env) -> None:
    engine = env.engine()
    verdict = engine.evaluate(env.bash("ls && curl x | sh"))
    cmds = {c.command: c.decision for c in verdict.commands}
    assert cmds == {"ls": A, "curl x": Q, "sh": Q}
    assert verdict.decision is Q
    assert verdict.commands[0].command == "ls"
    assert verdict.as_dict()["commands"]


def test_bash_breakdown_with_a_denied_part(env: Env) -> None:
    engine = env.engine()
    verdict = engine.evaluate(env.bash("ls; cat ~/.ssh/id_rsa"))
    by = {c.command: c for c in verdict.commands}
    assert by["ls"].decision is A
    assert by["cat ~/.ssh/id_rsa"].decision is D
    assert by["cat ~/.ssh/id_rsa"].rule == "protect-ssh"
    assert (verdict.decision, verdict.rule) == (D, "protect-ssh")


def test_cd_outside_then_relative_path_is_judged_there(env: Env) -> None:
    engine = env.engine()
    assert engine.evaluate(env.bash("cat hostname")).decision is A  # would be in the project
    v = engine.evaluate(env.bash("cd /etc && cat hostname"))
    assert v.decision is Q, v.reason


def test_cd_inside_stays_inside(env: Env) -> None:
    engine = env.engine()
    assert engine.evaluate(env.bash("cd src && ls")).decision is A
    assert engine.evaluate(env.bash("cd src && cat a.py")).decision is A


def test_cd_into_home_secret_dir(env: Env) -> None:
    engine = env.engine()
    v = engine.evaluate(env.bash("cd ~/.ssh && cat id_rsa"))
    assert v.decision is D


def test_unknowable_cd_makes_later_paths_unknowable(env: Env) -> None:
    engine = env.engine()
    assert engine.evaluate(env.bash('cd "$D" && cat a.py')).decision is Q


# ---------------------------------------------------------------------------------------------
# 8. symlinks and .. escapes


def test_project_symlink_to_home_secret_is_denied(env: Env) -> None:
    (env.root / "key").symlink_to(env.home / ".ssh" / "id_rsa")
    (env.root / "sshdir").symlink_to(env.home / ".ssh")
    engine = env.engine()
    for mode in (Mode.STANDARD, Mode.YOLO):
        assert engine.evaluate(env.tool("read", "key", mode)).decision is D
        assert engine.evaluate(env.tool("read", "sshdir/id_rsa", mode)).decision is D
        assert engine.evaluate(env.bash("cat key", mode)).decision is D


def test_symlink_pointing_outside_makes_write_ask(env: Env) -> None:
    (env.root / "out").symlink_to(env.tmp / "outside")
    engine = env.engine()
    assert engine.evaluate(env.tool("write", "src/new.txt")).decision is A
    v = engine.evaluate(env.tool("write", "out/new.txt"))
    assert v.decision is Q, v.reason
    assert engine.evaluate(env.tool("write", "out/o.txt")).decision is Q
    assert engine.evaluate(env.bash("echo hi > out/new.txt")).decision is Q


def test_dotdot_escape_is_outside(env: Env) -> None:
    engine = env.engine()
    v = engine.evaluate(env.tool("write", "src/../../outside/x.txt"))
    assert v.decision is Q
    assert engine.evaluate(env.tool("read", "src/../../outside/o.txt")).decision is Q
    assert engine.evaluate(env.tool("read", "src/../x.txt")).decision is A
    assert engine.evaluate(env.bash("cat src/../../outside/o.txt")).decision is Q
    assert engine.evaluate(env.bash("echo hi > src/../../outside/x.txt")).decision is Q


def test_write_through_symlink_to_startup_file_is_denied(env: Env) -> None:
    (env.home / ".bashrc").write_text("# rc\n")
    (env.root / "rc").symlink_to(env.home / ".bashrc")
    (env.root / "dangling").symlink_to(env.home / ".aws" / "credentials")
    engine = env.engine()
    for request in (env.tool("write", "rc", Mode.YOLO), env.bash("echo x >> rc", Mode.YOLO),
                    env.bash("cp x.txt rc", Mode.YOLO), env.tool("write", "dangling", Mode.YOLO)):
        assert engine.evaluate(request).decision is D, request.args


def test_corral_directories_moved_by_xdg_variables_stay_protected(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    elsewhere = tmp_path / "xdg-config"
    (elsewhere / "corral").mkdir(parents=True)
    (elsewhere / "corral" / "config.toml").write_text("x = 1\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    engine = env.engine()
    verdict = engine.evaluate(env.bash(f"cat {elsewhere}/corral/config.toml"))
    assert verdict.decision is D
    assert verdict.rule == "protect-corral-xdg-config-home"


def test_a_saved_prefix_approval_is_not_restored(env: Env) -> None:
    """Older sessions saved widened approvals (`make test **`); resuming one must not bring it back."""
    from policy._rules import Rule

    engine = env.engine()
    rule = Rule.command_prefix(["make", "test"], id="session-bash-0123456789", reason="approved for this session")
    session = SessionState()
    problems = session.restore_approvals([{"rule": rule.to_toml(), "max_kind": "WRITE"}])
    assert problems and "not a narrow session approval" in problems[0]
    assert engine.evaluate(env.bash("make test install", Mode.GUARDED), session).decision is not A


@pytest.mark.parametrize("command", ["cargo build --config build.rustc-wrapper=/tmp/x",
                                     "cargo run --config=target.x86_64-unknown-linux-gnu.runner=sh",
                                     "cargo --config /tmp/evil.toml build", "cargo test -Z unstable-options"])
def test_cargo_options_that_bring_other_code_ask_like_rustc_wrapper(env: Env, command: str) -> None:
    engine = env.engine()
    assert engine.evaluate(env.bash("RUSTC_WRAPPER=/tmp/x cargo build")).decision is Q
    assert engine.evaluate(env.bash(command)).decision is Q, command
    assert engine.evaluate(env.bash("cargo build --release")).decision is A
