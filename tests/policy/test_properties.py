"""Property tests of the policy engine: it never raises, and hiding a dangerous command next to (or
inside) an allowed one never gets it allowed.

The composition check is exhaustive (every everyday command x every dangerous command x every
operator); hypothesis explores random strings, shell-fragment soup and deeper nestings. The whole
module is meant to stay within about a minute.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy import Decision, Engine, Mode, Request, Verdict, load_engine
from tests.policy.corpus import DANGEROUS, EVERYDAY, Fixture, build_fixture, case_id

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return build_fixture(tmp_path_factory.mktemp("props"))


@pytest.fixture(scope="module")
def engine(fx: Fixture) -> Engine:
    return load_engine(fx.root, home=fx.home, user_file=fx.user_policy)


def judge(engine: Engine, fx: Fixture, command: str, mode: Mode = Mode.STANDARD) -> Verdict:
    return engine.evaluate(
        Request(
            tool="bash",
            args={"command": command},
            cwd=fx.root,
            project_root=fx.root,
            mode=mode,
            sandboxed=True,
        )
    )


def check_well_formed(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.decision, Decision)
    assert isinstance(verdict.reason, str)
    assert verdict.reason.strip()
    for part in verdict.commands:
        assert part.decision <= verdict.decision, "combining is max: no part may exceed the whole"


# ---------------------------------------------------------------------------------------------
# Never raises.

FRAGMENTS = [
    "'", '"', "$(", ")", "`", "<<", "<<-", "EOF", "'EOF'", "\n", "[[", "]]", "((", "))", "$((", ";", ";;",
    "|", "||", "&", "&&", " ", "  ", "\t", "\\", "\\\n", "#", "$", "${", "}", "{", "(", "<(", ">(", ">",
    ">>", "<", "<<<", "2>&1", "&>", "=", "x", "ls", "rm", "-rf", "~", "~/.ssh/id_rsa", ".env", "cat",
    "echo", "eval", "bash -c", "sh", "sudo", "env", "xargs", "find", "-exec", "\\;", "if", "then", "fi",
    "for", "in", "do", "done", "while", "case", "esac", "function", "f()", "$'", "\\x72", "!", "*", "?",
    "[", "]", ",", "a=", "IFS=", "LD_PRELOAD=", "/dev/tcp/1.2.3.4/80", "git", "-c", "--output=", "é",
    "\u200b", "\x00", "\r",
]  # fmt: skip

shell_soup = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)


@FAST
@given(command=st.text(max_size=300))
def test_never_raises_on_any_text(engine: Engine, fx: Fixture, command: str) -> None:
    check_well_formed(judge(engine, fx, command))


@FAST
@given(command=shell_soup)
def test_never_raises_on_shell_fragments(engine: Engine, fx: Fixture, command: str) -> None:
    verdict = judge(engine, fx, command)
    check_well_formed(verdict)
    assert judge(engine, fx, command).decision == verdict.decision, "the same request, another decision"
    assert judge(engine, fx, command, Mode.RESTRICTIVE).decision != Decision.ALLOW


PATH_TOOLS = ["read", "write", "edit", "grep", "find_files", "list_dir"]


@settings(max_examples=150, deadline=None)
@given(tool=st.sampled_from(PATH_TOOLS), path=st.one_of(st.text(max_size=80), shell_soup))
def test_path_tools_never_raise(engine: Engine, fx: Fixture, tool: str, path: str) -> None:
    request = Request(tool=tool, args={"path": path}, cwd=fx.root, project_root=fx.root)
    check_well_formed(engine.evaluate(request))


@settings(max_examples=100, deadline=None)
@given(url=st.one_of(st.text(max_size=80), st.just("file:///etc/passwd"), st.just("http://[::1")))
def test_web_fetch_never_raises(engine: Engine, fx: Fixture, url: str) -> None:
    request = Request(tool="web_fetch", args={"url": url}, cwd=fx.root, project_root=fx.root)
    check_well_formed(engine.evaluate(request))


MALFORMED_REFUSED = [
    ("bash", {}),
    ("bash", {"command": None}),
    ("bash", {"command": ["ls"]}),
    ("bash", {"command": 3}),
    ("write", {}),
    ("write", {"path": 7}),
    ("edit", {"path": ""}),
    ("edit", {"path": ["src/main.py"]}),
    ("no-such-tool", {"x": 1}),
]


@pytest.mark.parametrize(("tool", "args"), MALFORMED_REFUSED, ids=[f"{t}-{a}" for t, a in MALFORMED_REFUSED])
def test_malformed_arguments_are_not_allowed(
    engine: Engine, fx: Fixture, tool: str, args: dict[str, object]
) -> None:
    """Fail closed: the engine must not judge something other than what the tool will be given
    (a write whose path is missing or not a string is not a write of the project root)."""
    verdict = engine.evaluate(Request(tool=tool, args=args, cwd=fx.root, project_root=fx.root))
    assert verdict.decision != Decision.ALLOW, verdict.as_dict()


@pytest.mark.parametrize("tool", ["read", "grep", "find_files", "list_dir", "web_fetch"])
def test_missing_arguments_do_not_raise(engine: Engine, fx: Fixture, tool: str) -> None:
    # read-side tools may default their path to the working directory; they only must not raise.
    check_well_formed(engine.evaluate(Request(tool=tool, args={}, cwd=fx.root, project_root=fx.root)))


def test_nul_byte_in_path_does_not_raise(engine: Engine, fx: Fixture) -> None:
    """No real path contains a NUL byte: judge it (fail closed), never raise."""
    problems = []
    for tool in PATH_TOOLS:
        for path in ["src/\x00main.py", "~/.ssh/\x00", "/proc/self/environ\x00"]:
            request = Request(tool=tool, args={"path": path}, cwd=fx.root, project_root=fx.root)
            try:
                verdict = engine.evaluate(request)
            except Exception as exc:
                problems.append(f"{tool} {path!r}: raised {exc!r}")
                continue
            if verdict.decision == Decision.ALLOW:
                problems.append(f"{tool} {path!r}: allowed")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# An allowed command never launders a dangerous one.

# A heredoc's terminator must stand alone on its line, so for commands that end in one, only a newline
# may follow (anything else on that line would make bash swallow the rest as heredoc body).
_HAS_HEREDOC = {cmd for cmd, _, _ in EVERYDAY if "<<" in cmd}

OPERATORS = {
    "semicolon": "{a}; {x}",
    "and": "{a} && {x}",
    "or": "{a} || {x}",
    "pipe": "{a} | {x}",
    "substitution": "{a} $({x})",
    "backticks": "{a} `{x}`",
    "newline": "{a}\n{x}",
    "background": "{a} & {x}",
}


@pytest.mark.parametrize("dangerous", DANGEROUS, ids=[case_id(d) for d in DANGEROUS])
@pytest.mark.parametrize("op", list(OPERATORS))
def test_everyday_then_dangerous_never_allowed(engine: Engine, fx: Fixture, op: str, dangerous: str) -> None:
    template = OPERATORS[op]
    assert judge(engine, fx, dangerous).decision != Decision.ALLOW, f"{dangerous!r} alone is allowed"
    laundered = []
    for everyday, _, _ in EVERYDAY:
        if everyday in _HAS_HEREDOC and op != "newline":
            continue
        command = template.format(a=everyday, x=dangerous)
        verdict = judge(engine, fx, command)
        if verdict.decision == Decision.ALLOW:
            laundered.append(command)
    assert not laundered, "allowed:\n" + "\n".join(repr(c) for c in laundered)


# Deeper: a dangerous command wrapped in random layers, each of which runs its body.
SIMPLE_EVERYDAY = [cmd for cmd, _, _ in EVERYDAY if cmd not in _HAS_HEREDOC]

# INNER marks where the wrapped command goes; QINNER the same, shell-quoted.
WRAPPERS = [
    "( INNER )",
    "{ INNER; }",
    "echo $( INNER )",  # the spaces keep `$( (x) )` from reading as arithmetic `$((x))`
    'echo "$( INNER )"',
    "echo `INNER`",
    "cat <(INNER)",
    "if true; then INNER; fi",
    "if INNER; then :; fi",
    "for i in 1; do INNER; done",
    "while INNER; do break; done",
    "case a in a) INNER;; esac",
    "f() { INNER; }; f",
    "! INNER",
    "time INNER",
    "bash -c QINNER",
    "sh -c QINNER",
    "INNER",
]


def _wrap(inner: str, template: str) -> str:
    return template.replace("QINNER", shlex.quote(inner)).replace("INNER", inner)


@st.composite
def nested_danger(draw: st.DrawFn) -> str:
    command = draw(st.sampled_from(DANGEROUS))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        # Backticks do not nest in bash (the inner one closes the outer): `echo `cat x`` runs nothing
        # dangerous, so a backtick wrapper is only drawn around a command that has none yet.
        inner = command
        template = draw(st.sampled_from(WRAPPERS).filter(lambda t, inner=inner: "`" not in t or "`" not in inner))
        command = _wrap(command, template)
        if draw(st.booleans()):
            everyday = draw(st.sampled_from(SIMPLE_EVERYDAY))
            op = draw(st.sampled_from(["; ", " && ", " || ", " | ", "\n", " & "]))
            command = f"{everyday}{op}{command}" if draw(st.booleans()) else f"{command}{op}{everyday}"
    return command


@FAST
@given(command=nested_danger())
def test_nested_dangerous_never_allowed(engine: Engine, fx: Fixture, command: str) -> None:
    verdict = judge(engine, fx, command)
    assert verdict.decision != Decision.ALLOW, f"allowed: {command!r}\n{verdict.as_dict()}"


def test_fixture_home_is_fake(fx: Fixture) -> None:
    assert fx.home != Path.home()
    assert (fx.home / ".ssh" / "id_rsa").is_file()
