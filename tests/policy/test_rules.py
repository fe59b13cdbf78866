"""Rule files: matchers, examples, errors, trust, merging, rendering, and the built-in rule files."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from policy._errors import RuleFileError
from policy._rules import (
    EXAMPLE_HOME,
    EXAMPLE_PROJECT,
    DoomLoop,
    Rule,
    RuleFile,
    Source,
    default_example_check,
    load_rule_file,
    merge,
    optional_rule_file,
)
from policy._types import Decision, Mode

ROOT = Path("/work/proj")
HOME = Path("/home/alice")
POLICIES = Path(__file__).resolve().parents[2] / "policies"
BUILTIN_FILES = ("protected.toml", "defaults.toml")
BA = 'tool = "bash"\ndecision = "ask"\n'  # rule bodies used throughout
RA = 'tool = "read"\ndecision = "ask"\n'


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, source: Source = "user", *, trusted: bool = True) -> RuleFile:
    return load_rule_file(write(tmp_path, text), source, trusted=trusted)


def one_rule(tmp_path: Path, body: str, source: Source = "user") -> Rule:
    rf = load(tmp_path, "[[rule]]\nid = \"r\"\n" + textwrap.dedent(body), source)
    assert len(rf.rules) == 1
    return rf.rules[0]


def cmd(rule: Rule, *layers: str, text: str | None = None) -> bool:
    words = [layer.split() for layer in layers]
    return rule.matches_command(words, text if text is not None else layers[0])


def path_hit(rule: Rule, path: str, root: Path = ROOT, home: Path = HOME) -> bool:
    return rule.matches_path(Path(path), root, home)


def error(tmp_path: Path, text: str, source: Source = "user") -> RuleFileError:
    with pytest.raises(RuleFileError) as info:
        load(tmp_path, text, source)
    return info.value


def builtin_files() -> list[RuleFile]:
    return [load_rule_file(POLICIES / name, "builtin") for name in BUILTIN_FILES]


# ---------------------------------------------------------------------------------------------
# argv / prefix


def test_argv_is_exact_length_with_fnmatch_words(tmp_path: Path) -> None:
    r = one_rule(tmp_path, BA + 'argv = ["git", "push", "orig?n", "ma*"]\n')
    assert cmd(r, "git push origin main")
    assert cmd(r, "git push origXn master")
    assert not cmd(r, "git push origin")
    assert not cmd(r, "git push origin main --force")
    assert not cmd(r, "git pull origin main")


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        (["git", "push", "**"], ["git push", "git push origin main"], ["git", "git pull"]),
        (["**", "--force"], ["--force", "git push --force"], ["git push --force x"]),
        (["git", "**", "push", "**"], ["git push", "git -C d push x", "git a b push"], ["git pull", "git"]),
        (["a", "**", "b", "**", "c"], ["a b c", "a x b y c", "a b b c", "a x b c"], ["a c", "a b", "a c b"]),
        (["**"], ["", "anything at all"], []),
        (["x", "**", "**", "y"], ["x y", "x 1 2 y"], ["x", "y"]),
        (["rm", "-[rR]*"], ["rm -rf", "rm -R"], ["rm -f", "rm"]),
    ],
)
def test_double_star_matches_zero_or_more_words(
    tmp_path: Path, pattern: list[str], yes: list[str], no: list[str]
) -> None:
    words = ", ".join(f'"{w}"' for w in pattern)
    r = one_rule(tmp_path, BA + f"argv = [{words}]\n")
    for text in yes:
        assert r.matches_command([text.split()], text), text
    for text in no:
        assert not r.matches_command([text.split()], text), text


def test_double_star_inside_a_word_is_an_ordinary_wildcard(tmp_path: Path) -> None:
    r = one_rule(tmp_path, BA + 'argv = ["cp", "--target=**"]\n')
    assert cmd(r, "cp --target=/x/y")
    assert not cmd(r, "cp --target=/x y")


def test_prefix_is_argv_plus_double_star(tmp_path: Path) -> None:
    r = one_rule(tmp_path, BA + 'prefix = ["git", "push"]\n')
    assert cmd(r, "git push") and cmd(r, "git push -f origin")
    assert not cmd(r, "git pul")


def test_tightening_rules_see_every_layer_and_program_names(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "bash"\ndecision = "deny"\nprefix = ["git", "push"]\n')
    assert r.matches_command([["sudo", "git", "push"], ["git", "push"]], "sudo git push")
    assert r.matches_command([["/usr/bin/git", "push"]], "/usr/bin/git push")


def test_allow_rules_only_see_the_command_as_written(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "bash"\ndecision = "allow"\nprefix = ["git", "status"]\n')
    assert r.matches_command([["git", "status"]], "git status")
    assert not r.matches_command([["sudo", "git", "status"], ["git", "status"]], "sudo git status")
    assert not r.matches_command([["./git", "status"]], "./git status")


def test_exact_command_escapes_wildcards() -> None:
    r = Rule.exact_command(["rm", "*.log", "**", "a?", "[x]"], id="s1", reason="approved")
    assert r.matches_command([["rm", "*.log", "**", "a?", "[x]"]], "")
    assert not r.matches_command([["rm", "a.log", "**", "a?", "[x]"]], "")
    assert not r.matches_command([["rm", "*.log", "a", "b", "a?", "[x]"]], "")
    assert not r.matches_command([["rm", "*.log", "**", "ab", "[x]"]], "")
    assert not r.matches_command([["rm", "*.log", "**", "a?", "x"]], "")
    assert r.source == "session" and r.file == "<session>" and r.decision is Decision.ALLOW


def test_command_prefix_escapes_and_extends() -> None:
    r = Rule.command_prefix(["cargo", "build*"], id="s2")
    assert r.matches_command([["cargo", "build*", "--release"]], "")
    assert not r.matches_command([["cargo", "builder"]], "")


# ---------------------------------------------------------------------------------------------
# regex


def test_regex_on_commands_tests_text_and_layers(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "bash"\ndecision = "deny"\nregex = \'^curl\\s.*\\|\'\n')
    assert r.matches_command([["curl", "x", "|"]], "curl x |")
    assert r.matches_command([["timeout", "5", "curl", "a|b"], ["curl", "a|b"]], "timeout 5 curl a|b")
    assert not r.matches_command([["wget", "x"]], "wget x")


def test_regex_on_paths_and_values(tmp_path: Path) -> None:
    p = one_rule(tmp_path, 'tool = "read"\ndecision = "deny"\nregex = \'\\.secret$\'\n')
    assert path_hit(p, "/anywhere/a.secret") and not path_hit(p, "/a.secret.txt")
    web = one_rule(tmp_path, 'tool = "web_fetch"\ndecision = "deny"\nregex = \'^https?://evil\\.example/\'\n')
    assert web.matches_value("https://evil.example/x") and not web.matches_value("https://good.example/")
    assert not web.applies_to("bash", Mode.STANDARD)  # matching methods leave tools to applies_to
    mcp = one_rule(tmp_path, 'tool = "mcp:github:*"\ndecision = "ask"\nregex = \'"repo": "secret\'\n')
    assert mcp.matches_value('{"repo": "secret-stuff"}')


# ---------------------------------------------------------------------------------------------
# paths


def test_relative_patterns_apply_inside_the_project_only(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "@path"\ndecision = "deny"\npaths = ["src/**/*.rs", "secret.txt"]\n')
    assert path_hit(r, "/work/proj/src/main.rs")
    assert path_hit(r, "/work/proj/src/a/b/lib.rs")
    assert not path_hit(r, "/work/proj/other/src/main.rs")  # a pattern with a slash is anchored
    assert path_hit(r, "/work/proj/deep/down/secret.txt")  # a bare name matches at any depth
    assert not path_hit(r, "/elsewhere/secret.txt")
    assert not path_hit(r, "/work/projx/secret.txt")  # whole components


def test_absolute_and_home_patterns(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "@path"\ndecision = "deny"\npaths = ["/etc/**", "~/.aws/", "/**/.env"]\n')
    assert path_hit(r, "/etc/passwd") and path_hit(r, "/etc/ssl/certs/x")
    assert path_hit(r, "/home/alice/.aws/credentials")
    assert not path_hit(r, "/home/bob/.aws/credentials")
    assert path_hit(r, "/home/bob/.aws/credentials", home=Path("/home/bob"))
    assert path_hit(r, "/srv/x/.env") and path_hit(r, "/work/proj/.env")


@pytest.mark.parametrize("pattern", ["~/.ssh/", "~/.ssh"])
def test_a_directory_pattern_matches_the_directory_and_everything_under_it(
    tmp_path: Path, pattern: str
) -> None:
    r = one_rule(tmp_path, f'tool = "@path"\ndecision = "deny"\npaths = ["{pattern}"]\n')
    assert path_hit(r, "/home/alice/.ssh")
    assert path_hit(r, "/home/alice/.ssh/id_rsa")
    assert path_hit(r, "/home/alice/.ssh/a/b/c")
    assert not path_hit(r, "/home/alice/.sshx")
    assert not path_hit(r, "/home/alice/x/.ssh/id_rsa")  # "~/" patterns are anchored at home


def test_negation_last_match_wins_across_bases(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "@path"\ndecision = "deny"\npaths = ["/**/.env.*", "!.env.example"]\n')
    assert path_hit(r, "/work/proj/.env.local")
    assert not path_hit(r, "/work/proj/.env.example")
    assert not path_hit(r, "/work/proj/sub/.env.example")
    assert path_hit(r, "/elsewhere/.env.example")  # the relative exclusion covers the project only


def test_the_base_directory_itself_is_not_matched(tmp_path: Path) -> None:
    r = one_rule(tmp_path, 'tool = "@path"\ndecision = "ask"\npaths = ["**", "~/**"]\n')
    assert path_hit(r, "/work/proj/a") and path_hit(r, "/home/alice/a")
    assert not path_hit(r, "/work/proj") and not path_hit(r, "/home/alice")


def test_for_path_is_literal_and_covers_what_is_under_it() -> None:
    r = Rule.for_path("read", "/data/[weird]*name ", id="s3", reason="approved")
    assert r.matches_path(Path("/data/[weird]*name "), ROOT, HOME)
    assert r.matches_path(Path("/data/[weird]*name /inner"), ROOT, HOME)
    assert not r.matches_path(Path("/data/w*name "), ROOT, HOME)
    assert not r.matches_path(Path("/data/[weird]*name"), ROOT, HOME)
    assert r.applies_to("read", Mode.STANDARD) and not r.applies_to("write", Mode.STANDARD)


def test_for_tool_matches_every_call_but_refuses_broad_allows() -> None:
    r = Rule.for_tool("mcp:github:create_issue", id="s4")
    assert r.matches_value("{}") and r.applies_to("mcp:github:create_issue", Mode.STANDARD)
    for tool in ("bash", "read", "@path", "*"):
        with pytest.raises(RuleFileError, match="refusing"):
            Rule.for_tool(tool, id="s5")
    assert Rule.for_tool("bash", id="s6", decision=Decision.DENY).matches_command([["ls"]], "ls")


# ---------------------------------------------------------------------------------------------
# tools and modes


def test_applies_to_tools_groups_and_mcp_wildcards(tmp_path: Path) -> None:
    rf = load(tmp_path, """
        [[rule]]
        id = "a"
        tool = ["@read", "write"]
        decision = "deny"
        paths = ["x"]

        [[rule]]
        id = "b"
        tool = "mcp:git*:*"
        decision = "ask"
        regex = ""

        [[rule]]
        id = "c"
        tool = "*"
        decision = "deny"
        regex = "zzz"
    """)
    a, b, c = rf.rules
    assert all(a.applies_to(t, Mode.STANDARD) for t in ("read", "grep", "find_files", "list_dir", "write"))
    assert not a.applies_to("edit", Mode.STANDARD) and not a.applies_to("bash", Mode.STANDARD)
    assert b.applies_to("mcp:github:create_issue", Mode.YOLO) and b.applies_to("mcp:gitlab:x", Mode.YOLO)
    assert not b.applies_to("mcp:slack:post", Mode.YOLO) and not b.applies_to("bash", Mode.YOLO)
    assert all(c.applies_to(t, Mode.GUARDED) for t in ("bash", "read", "web_fetch", "mcp:a:b"))


def test_modes_filter_and_loosening_rules_are_ignored_in_strict_modes(tmp_path: Path) -> None:
    rf = load(tmp_path, """
        [[rule]]
        id = "only-yolo"
        tool = "bash"
        decision = "ask"
        prefix = ["make"]
        modes = ["yolo", "standard"]

        [[rule]]
        id = "allow-ls"
        tool = "bash"
        decision = "allow"
        prefix = ["ls"]
    """)
    only, allow = rf.rules
    assert only.modes == frozenset({Mode.YOLO, Mode.STANDARD})
    assert only.applies_to("bash", Mode.YOLO) and not only.applies_to("bash", Mode.GUARDED)
    assert allow.applies_to("bash", Mode.STANDARD) and allow.applies_to("bash", Mode.GUARDED)
    assert not allow.applies_to("bash", Mode.RESTRICTIVE) and not allow.applies_to("bash", Mode.READ_ONLY)
    rs = merge([rf])
    assert rs.for_tool("bash", Mode.RESTRICTIVE) == ()
    assert rs.for_tool("bash", Mode.YOLO) == (only, allow)


# ---------------------------------------------------------------------------------------------
# examples


def test_examples_are_verified_in_both_directions(tmp_path: Path) -> None:
    base = '[[rule]]\nid = "push"\ntool = "bash"\ndecision = "ask"\nprefix = ["git", "push"]\n'
    assert load(tmp_path, base + 'match = ["git push -f"]\nnot_match = ["git pull"]\n').rules
    err = error(tmp_path, base + 'match = ["git pull"]\n')
    assert "example 'git pull' is listed under match but does not match" in str(err)
    assert (err.line, err.rule) == (6, "push")  # the line of the `match` key
    err = error(tmp_path, base + 'match = ["git push"]\nnot_match = ["git push origin"]\n')
    assert "example 'git push origin' is listed under not_match but matches" in str(err)
    assert str(err).startswith(f"{tmp_path / 'policy.toml'}:7 (rule 'push'): ")


def test_bash_examples_are_split_like_a_shell(tmp_path: Path) -> None:
    r = one_rule(tmp_path, """
        tool = "bash"
        decision = "deny"
        argv = ["echo", "a b"]
        match = ["echo 'a b'"]
        not_match = ["echo a b"]
    """)
    assert default_example_check(r, 'echo "a b"')
    err = error(tmp_path, '[[rule]]\nid = "q"\ntool = "bash"\ndecision = "deny"\nprefix = ["x"]\n'
                          'match = ["x \'unclosed"]\n')
    assert "cannot split" in str(err) and err.rule == "q"


def test_path_examples_are_placed_textually(tmp_path: Path) -> None:
    r = one_rule(tmp_path, """
        tool = "@path"
        decision = "deny"
        paths = ["~/.aws/", "build/"]
        match = ["~/.aws/credentials", "build/out.o", "/home/user/.aws/config", "src/../build/x"]
        not_match = ["/root/.aws/credentials", "~/build/x", ".aws/credentials"]
    """)
    home, project = Path(str(EXAMPLE_HOME)), Path(str(EXAMPLE_PROJECT))
    assert project.parent == home  # examples model the usual layout: the project inside home
    assert r.matches_path(home / ".aws/x", project, home) and r.matches_path(project / "build", project, home)


def test_an_example_checker_decides_and_may_defer(tmp_path: Path) -> None:
    text = '[[rule]]\nid = "c"\ntool = "bash"\ndecision = "deny"\nprefix = ["rm"]\nmatch = ["sudo rm x"]\n'
    path = write(tmp_path, text)
    with pytest.raises(RuleFileError, match="does not match"):
        load_rule_file(path, "user")

    seen: list[tuple[str, str]] = []

    def unwrap(rule: Rule, example: str) -> bool | None:
        seen.append((rule.id, example))
        words = example.split()
        layers = [words, words[1:]] if words[0] == "sudo" else [words]
        return rule.matches_command(layers, example)

    assert load_rule_file(path, "user", check_example=unwrap).rules[0].id == "c"
    assert seen == [("c", "sudo rm x")]
    assert load_rule_file(write(tmp_path, text.replace("sudo rm x", "rm x")), "user",
                          check_example=lambda r, e: None).rules


# ---------------------------------------------------------------------------------------------
# errors: every kind names the file, the line and the rule


def rule_error(tmp_path: Path, body: str, *, rule_id: str | None = "bad") -> RuleFileError:
    text = '# leading comment\n\n[[rule]]\nid = "ok"\ntool = "bash"\ndecision = "ask"\nprefix = ["a"]\n\n'
    text += "[[rule]]\n" + (f'id = "{rule_id}"\n' if rule_id else "") + textwrap.dedent(body)
    err = error(tmp_path, text)
    assert err.path == str(tmp_path / "policy.toml")
    assert err.line is not None and err.line >= 9, err  # the second [[rule]] header is on line 9
    assert err.rule == rule_id
    assert str(err).startswith(f"{err.path}:{err.line}")
    return err


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BA + 'prefix = ["a"]\ndecison = "x"\n',
         r"unknown key 'decison' \(did you mean 'decision'\?\); allowed: id, tool, decision"),
        ('tool = "bash"\nprefix = ["a"]\n', r"no decision; add decision = \"allow\", \"ask\" or \"deny\""),
        ('decision = "ask"\nprefix = ["a"]\n', r"no tool; add one"),
        (BA, r"no matcher; add exactly one of argv, prefix, regex, paths"),
        (BA + 'prefix = ["a"]\nregex = "a"\n', r"has prefix and regex; .*exactly one"),
        ('tool = "bash"\ndecision = "maybe"\nprefix = ["a"]\n',
         r"unknown decision 'maybe': use allow, ask or deny"),
        (BA + 'prefix = ["a"]\nmodes = ["turbo"]\n', r"unknown mode 'turbo'"),
        (BA + 'prefix = ["a"]\nmodes = []\n', r"modes is empty"),
        ('tool = "Bash"\ndecision = "ask"\nprefix = ["a"]\n',
         r"unknown tool 'Bash' \(did you mean 'bash'\?\)"),
        ('tool = "mcp:only-server"\ndecision = "ask"\nregex = ""\n', r"unknown tool 'mcp:only-server'"),
        (BA + 'regex = "a(b"\n', r"invalid regex 'a\(b': missing \), unterminated"),
        (RA + 'paths = ["../x"]\n', r"path pattern '\.\./x' contains '\.' or '\.\.'"),
        (RA + 'paths = ["!"]\n', r"path pattern '!' matches nothing"),
        (RA + 'paths = ["#x"]\n', r"path pattern '#x' matches nothing"),
        (RA + 'paths = ["~bob/x"]\n', r"only '~/'"),
        (RA + 'paths = ["/"]\n', r"to match everything under it use '/\*\*'"),
        (RA + 'paths = []\n', r"paths must be a string or a non-empty list"),
        (RA + 'argv = ["cat"]\n', r'argv matches shell words and works only with tool = "bash"'),
        ('tool = ["bash", "read"]\ndecision = "ask"\nprefix = ["cat"]\n', r"prefix matches shell words"),
        (BA + 'paths = ["x"]\n', r"paths works only with path tools"),
        (BA + 'argv = "git push"\n', r'argv must be a list of words'),
        (BA + 'argv = []\n', r"argv is empty"),
        (BA + 'regex = 3\n', r"regex must be a string, not an integer"),
        (BA + 'prefix = ["a"]\nreason = 1\n', r"reason must be a string"),
        ('tool = "bash"\ndecision = 2\nprefix = ["a"]\n', r"decision must be a string, not an integer"),
        ('tool = "bash"\ndecision = "allow"\nprefix = ["a"]\nmodes = ["read-only"]\n', r"never applies"),
        ('tool = ["bash", "read"]\ndecision = "ask"\nregex = "x"\nmatch = ["x"]\n',
         r"examples are ambiguous"),
        (BA + 'prefix = ["a"]\nmatch = ["b"]\n',
         r"example 'b' is listed under match but does not match; fix the matcher or the example"),
        (BA + 'prefix = ["a"]\nmatch = [3]\n', r"match must be a string or"),
    ],
)
def test_rule_errors_name_file_line_rule_and_the_fix(tmp_path: Path, body: str, expected: str) -> None:
    err = rule_error(tmp_path, body)
    assert re.search(expected, str(err)), str(err)


def test_unknown_key_points_at_its_line(tmp_path: Path) -> None:
    err = rule_error(tmp_path, BA + 'prefix = ["a"]\ncolour = "red"\n')
    assert err.line == 14


def test_missing_or_bad_ids(tmp_path: Path) -> None:
    err = rule_error(tmp_path, BA + 'prefix = ["a"]\n', rule_id=None)
    assert "the rule has no id; add one" in str(err)
    err = rule_error(tmp_path, BA + 'prefix = ["a"]\n', rule_id="Bad Id")
    assert "invalid id 'Bad Id'" in str(err)


def test_duplicate_id_within_a_file(tmp_path: Path) -> None:
    rule = '[[rule]]\nid = "twice"\ntool = "bash"\ndecision = "ask"\nprefix = ["a"]\n\n'
    err = error(tmp_path, rule + rule)
    assert (err.line, err.rule) == (7, "twice")
    assert "duplicate rule id (first defined at line 1); rule ids must be unique" in str(err)


def test_toml_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    err = error(tmp_path, '[[rule]]\nid = "x"\ntool = bash\n')
    assert err.line == 3 and "not valid TOML" in str(err) and "fix the syntax" in str(err)


def test_file_level_errors(tmp_path: Path) -> None:
    err = error(tmp_path, 'disable = []\n\n[[rules]]\nid = "x"\n')
    assert "unknown top-level key 'rules' (did you mean 'rule'?)" in str(err) and err.line == 3
    assert "[[rule]] (two brackets)" in str(error(tmp_path, '[rule]\nid = "x"\n'))
    assert "disable must be a list of rule ids" in str(error(tmp_path, 'disable = "protect-ssh"\n'))
    assert "not a rule id" in str(error(tmp_path, 'disable = ["Not An Id"]\n'))
    err = error(tmp_path, '# c\n[doom_loop]\naction = "panic"\n')
    assert 'action must be "coach", "ask" or "deny"' in str(err) and err.line == 2
    assert "at least 2" in str(error(tmp_path, "[doom_loop]\nthreshold = 1\n"))
    assert "at least 2" in str(error(tmp_path, "[doom_loop]\nthreshold = true\n"))
    assert "unknown key in [doom_loop] 'limit'" in str(error(tmp_path, "[doom_loop]\nlimit = 3\n"))


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert optional_rule_file(missing, "user") is None
    (tmp_path / "file").write_text("")
    assert optional_rule_file(tmp_path / "file" / "below-a-file.toml", "user") is None
    with pytest.raises(RuleFileError, match="does not exist"):
        load_rule_file(missing, "cli")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'# caf\xe9\n')
    with pytest.raises(RuleFileError, match="not UTF-8"):
        load_rule_file(bad, "user")
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rule_file(tmp_path, "user")  # a directory


def test_rule_lines_follow_the_nth_header(tmp_path: Path) -> None:
    rf = load(tmp_path, """
        # comment mentioning [[rule]] is not a header

        [[rule]]
        id = "a"
        tool = "bash"
        decision = "ask"
        prefix = ["a"]

          [[ rule ]]   # spaced header
        id = "b"
        tool = "bash"
        decision = "ask"
        prefix = ["b"]
    """)
    assert [(r.id, r.line) for r in rf.rules] == [("a", 3), ("b", 9)]


# ---------------------------------------------------------------------------------------------
# trust, disable, merge

LOOSE_PROJECT = """
    disable = ["protect-ssh"]

    [doom_loop]
    threshold = 9

    [[rule]]
    id = "project-allow-curl"
    tool = "bash"
    decision = "allow"
    prefix = ["curl"]

    [[rule]]
    id = "project-deny-make"
    tool = "bash"
    decision = "deny"
    prefix = ["make", "deploy"]
"""


def test_untrusted_project_file_can_only_tighten(tmp_path: Path) -> None:
    rf = load(tmp_path, LOOSE_PROJECT, "project", trusted=False)
    assert [r.id for r in rf.rules] == ["project-deny-make"]
    assert rf.disable == () and rf.doom_loop is None
    path = tmp_path / "policy.toml"
    assert rf.warnings == (
        f"ignored rule 'project-allow-curl' from untrusted project file {path}:6: a project file can "
        "only tighten until you run `corral trust`",
        f"ignored `disable` from untrusted project file {path}:1: a project file can only tighten "
        "until you run `corral trust`",
        f"ignored [doom_loop] from untrusted project file {path}:3: a project file can only tighten "
        "until you run `corral trust`",
    )
    rs = merge([*builtin_files(), rf])
    assert rs.get("protect-ssh") is not None and rs.doom_loop == DoomLoop("coach", 3)
    assert rs.warnings == rf.warnings


def test_trusted_project_file_may_loosen(tmp_path: Path) -> None:
    rf = load(tmp_path, LOOSE_PROJECT, "project", trusted=True)
    assert [r.id for r in rf.rules] == ["project-allow-curl", "project-deny-make"]
    rs = merge([*builtin_files(), rf])
    assert rs.get("protect-ssh") is None and rs.disabled == ("protect-ssh",)
    assert rs.doom_loop == DoomLoop("coach", 9)
    assert rs.get("project-allow-curl") is not None


def test_trusted_flag_only_matters_for_project_files(tmp_path: Path) -> None:
    rf = load(tmp_path, LOOSE_PROJECT, "user", trusted=False)
    assert len(rf.rules) == 2 and rf.disable == ("protect-ssh",) and not rf.warnings


def test_disable_removes_builtin_rules(tmp_path: Path) -> None:
    user = load(tmp_path, 'disable = ["protect-env-files", "default-ask-git-push"]\n')
    rs = merge([*builtin_files(), user])
    assert rs.get("protect-env-files") is None and rs.get("default-ask-git-push") is None
    assert rs.get("protect-ssh") is not None
    assert rs.disabled == ("protect-env-files", "default-ask-git-push")


def test_disable_of_an_unknown_id_is_an_error(tmp_path: Path) -> None:
    user = load(tmp_path, '# mine\ndisable = ["protect-typo"]\n')
    with pytest.raises(RuleFileError) as info:
        merge([*builtin_files(), user])
    assert info.value.path == str(tmp_path / "policy.toml") and info.value.line == 2
    assert "disable lists 'protect-typo', but no loaded rule has that id" in str(info.value)


def test_disable_of_a_non_builtin_rule_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    mine = load(tmp_path / "a", '[[rule]]\nid = "mine"\ntool = "bash"\ndecision = "ask"\nprefix = ["x"]\n')
    cli = load_rule_file(write(tmp_path, 'disable = ["mine"]\n', "cli.toml"), "cli")
    with pytest.raises(RuleFileError, match=r"not a built-in rule .* edit or remove it there"):
        merge([mine, cli])


def test_duplicate_ids_across_files_name_both_files(tmp_path: Path) -> None:
    text = '# mine\n[[rule]]\nid = "default-ask-git-push"\ntool = "bash"\ndecision = "ask"\nprefix = ["x"]\n'
    user = load(tmp_path, text)
    with pytest.raises(RuleFileError) as info:
        merge([*builtin_files(), user])
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'policy.toml'}:2 (rule 'default-ask-git-push')")
    assert str(POLICIES / "defaults.toml") in msg and "rename one" in msg


def test_doom_loop_settings_merge_key_by_key(tmp_path: Path) -> None:
    user = load(tmp_path, '[doom_loop]\naction = "deny"\n')
    assert merge([*builtin_files(), user]).doom_loop == DoomLoop("deny", 3)
    assert merge([]).doom_loop == DoomLoop("coach", 3)


def test_with_rules_adds_session_rules_with_unique_ids() -> None:
    rs = merge(builtin_files())
    extra = Rule.exact_command(["make"], id="session-x")
    assert rs.with_rules([extra]).get("session-x") == extra
    with pytest.raises(RuleFileError, match="already exists"):
        rs.with_rules([Rule.exact_command(["make"], id="protect-ssh")])


# ---------------------------------------------------------------------------------------------
# rendering


def test_to_toml_round_trips(tmp_path: Path) -> None:
    rf = load(tmp_path, r'''
        [[rule]]
        id = "one"
        tool = ["@read", "edit"]
        decision = "deny"
        reason = 'quotes " and \ backslash, tab	and unicode é'
        paths = ["~/.x/", "/etc/*.conf", "!/etc/ok.conf", "src/**"]
        modes = ["yolo", "guarded"]
        match = ["~/.x/y"]
        not_match = ["/etc/ok.conf"]

        [[rule]]
        id = "two"
        tool = "bash"
        decision = "ask"
        regex = '^git\s+push\b'

        [[rule]]
        id = "three"
        tool = "bash"
        decision = "allow"
        argv = ["make", "**", "[!-]*"]
    ''')
    session = [
        Rule.exact_command(["echo", 'a"b\\c\n', "*"], id="s.1", reason="approved\x7f"),
        Rule.for_path("write", "/tmp/a b/[c]", id="s-2"),
        Rule.for_tool("mcp:srv:tool", id="s_3"),
    ]
    for i, rule in enumerate([*rf.rules, *session]):
        text = rule.to_toml()
        assert text.startswith("[[rule]]\n")
        back = load_rule_file(write(tmp_path, text, f"r{i}.toml"), rule.source).rules[0]
        assert back == replace(rule, file=back.file, line=back.line), text


# ---------------------------------------------------------------------------------------------
# the built-in files


def test_builtin_files_load_and_every_rule_has_examples() -> None:
    files = builtin_files()
    rs = merge(files)
    assert rs.doom_loop == DoomLoop("coach", 3) and not rs.warnings
    for rule in rs.rules:
        assert rule.match and rule.not_match, rule.id
        assert rule.source == "builtin"
        prefix = "protect-" if rule.file.endswith("protected.toml") else "default-"
        assert rule.id.startswith(prefix), rule.id


@pytest.mark.parametrize(
    ("tool", "path", "decision"),
    [
        ("read", "/home/alice/.ssh/id_rsa", Decision.DENY),
        ("list_dir", "/home/alice/.ssh", Decision.DENY),
        ("grep", "/work/proj/.env", Decision.DENY),
        ("read", "/work/proj/.env.example", None),
        ("read", "/srv/x/.env.production", Decision.DENY),
        ("read", "/proc/self/environ", Decision.DENY),
        ("read", "/home/alice/.bashrc", None),
        ("write", "/home/alice/.bashrc", Decision.DENY),
        ("edit", "/work/proj/.git/hooks/pre-commit", Decision.DENY),
        ("write", "/work/proj/sub/.git/config", Decision.DENY),
        ("read", "/work/proj/.git/config", None),
        ("write", "/work/proj/.github/workflows/ci.yml", Decision.ASK),
        ("write", "/work/proj/CLAUDE.md", None),
        ("write", "/work/proj/.claude/settings.json", Decision.DENY),
        ("read", "/work/proj/.corral/policy.toml", Decision.DENY),
        ("read", "/home/alice/.config/corral/config.toml", Decision.DENY),
        ("read", "/work/proj/src/main.py", None),
        ("write", "/work/proj/src/main.py", None),
        ("read", "/root/.ssh/id_rsa", Decision.DENY),  # by name, even under another home
        ("read", "/root/.aws/credentials", None),  # home is the engine's, not hard-coded
    ],
)
def test_builtin_protections(tool: str, path: str, decision: Decision | None) -> None:
    rs = merge(builtin_files())
    hits = [r.decision for r in rs.for_tool(tool, Mode.YOLO) if r.matches_path(Path(path), ROOT, HOME)]
    assert (max(hits) if hits else None) == decision


@pytest.mark.parametrize(
    ("command", "rule_id"),
    [
        ("git push origin main", "default-ask-git-push"),
        ("git -C repo push", "default-ask-git-push"),
        ("git stash push", None),
        ("rm -rf /", "default-deny-rm-root"),
        ("rm -rf ~/", "default-deny-rm-root"),
        ("rm -rf build", None),
        ("dd if=/dev/zero of=/dev/nvme0n1", "default-deny-disk-overwrite"),
        ("ls -la", None),
    ],
)
def test_builtin_command_rules(command: str, rule_id: str | None) -> None:
    rs = merge(builtin_files())
    words = command.split()
    hits = [r.id for r in rs.for_tool("bash", Mode.YOLO) if r.matches_command([words], command)]
    assert hits == ([rule_id] if rule_id else [])


def test_pathological_git_command_is_matched_quickly() -> None:
    rs = merge(builtin_files())
    rule = rs.get("default-ask-git-push")
    assert rule is not None
    words = ["git", *(["-c", "-x"] * 200), "status"]
    assert not rule.matches_command([words], " ".join(words))
