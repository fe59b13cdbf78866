"""Properties of the bash analysis (policy._shell): it never raises, and a command placed anywhere
executable is reported unless the whole script is opaque (soundness)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policy._shell import analyze
from policy._types import ShellAnalysis


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_text(src: str) -> None:
    assert isinstance(analyze(src), ShellAnalysis)


_FRAGMENTS = ["ls", "$(", ")", "`", "'", '"', "${", "}", "$((", "))", "[[", "]]", "((", "<<EOF", "<<'EOF'",
              "\nEOF\n", "EOF", "case", "in", "esac", ";;", ")", "(", "|", "&&", ";", "\n", "time", "-p",
              "select", "for", "do", "done", "if", "then", "fi", "{", "}", "=~", "$x", "x=", "#", "\\", " ",
              "<(", ">", "2>&1", "$'", "=(", "!", "function", "f()", "a[", "]", "-eq", "*", "~"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=25))
def test_never_raises_on_shell_fragments(parts: list[str]) -> None:
    assert isinstance(analyze("".join(parts)), ShellAnalysis)


_WRAPPERS = [
    "{c}", "echo $( {c} )", "echo `{c}`", "cat <({c})", "echo ${x:-$( {c} )}", 'x="$( {c} )"',
    "[[ $( {c} ) ]]", "x=$(\n {c}\n)", "echo `\n{c}\n`", "cat <(\n{c}\n)", "if true\nthen\n {c}\nfi",
    "case a in\n  a)\n {c}\n ;;\nesac", "f() {\n {c}\n}", "for i in 1\ndo\n {c}\ndone", "{c} # $(x)",
    "echo \"$(\n {c} # )\n)\"", "echo ${x:-\"$( {c} )\"}", "{c} <<'Q'\n$(nope)\nQ\n",
    "cat <<Q\n$( {c} )\nQ\n",
    "echo $(( $( {c} ) ))", "case a in a) {c};; esac", "case $( {c} ) in *) ;; esac", "if {c}; then :; fi",
    "while {c}; do break; done", "for i in 1; do {c}; done", "{ {c}; }", "( {c} )", "time {c}",
    "f() { {c}; }", "cat <<EOF\n$( {c} )\nEOF\n", "select x in a; do {c}; done", "(( x = $( {c} ) ))",
    "a=(1 $( {c} ))", "{c} | cat", "! {c}", "X=1 {c}", "{c} > out", "cat <<< \"$( {c} )\"",
    "echo \"${x:-`{c}`}\"", "[[ -n x && $( {c} ) == y ]]", "for ((i=0; i<$( {c} ); i++)); do :; done",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WRAPPERS), st.sampled_from(_WRAPPERS)), min_size=1, max_size=3),
       st.sampled_from(["; ", " && ", "\n", " || "]))
def test_every_command_is_found_or_the_script_is_opaque(pairs: list[tuple[str, str]], sep: str) -> None:
    """Soundness: a marker command put anywhere executable is reported, unless the script is opaque.
    (Substitutions are written ``$( … )``: ``$((`` would be arithmetic, in bash as here.)"""
    scripts, markers = [], []
    for k, (outer, inner) in enumerate(pairs):
        assume("`" not in outer or "`" not in inner)  # `a `b`` is two substitutions, in bash too
        marker = f"marker{k}"
        scripts.append(outer.replace("{c}", inner.replace("{c}", marker), 1))
        markers.append(marker)
    joined = "".join(scripts)
    src = ("\n" if "EOF" in joined or "Q\n" in joined or "#" in joined else sep).join(scripts)
    a = analyze(src)
    if not a.opaque:  # as the command, or as the argument of a wrapper (X=1 time marker: /usr/bin/time)
        assert set(markers) <= {w.value for c in a.commands for w in c.argv[:2]}, src


_KEYWORDS = frozenset({"case", "if", "for", "while", "until", "select", "[[", "{", "!", "time", "function"})


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WRAPPERS), min_size=1, max_size=4))
def test_nested_wrappers_hide_nothing(chain: list[str]) -> None:
    assume(sum(w.count("`") for w in chain) <= 2)
    src = "marker"
    for wrapper in reversed(chain):
        src = wrapper.replace("{c}", src, 1)
    a = analyze(src)
    if not a.opaque:
        # After an assignment prefix bash does not recognise reserved words: `X=1 case a in a) marker;; esac`
        # runs a program named `case` (reported, unknown) and never runs the marker.
        words = {w.value for c in a.commands for w in c.argv}
        keyword_as_program = any(c.assignments and c.argv and c.argv[0].value in _KEYWORDS for c in a.commands)
        assert "marker" in words or keyword_as_program, src


def test_an_unterminated_parameter_expansion_cannot_hang_the_engine() -> None:
    """bashlex loops forever (growing memory until it runs out) on a word with `${` and no `}`; the engine
    guards it. Run in a child with a memory cap and a timeout, so a regression fails instead of hanging."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    sources = ["[[selectselect]]'${\nx=ls;;$(-eq*'", "\"\"function[[$($'${=(=~$'-eqif>) select"]
    code = ("import resource, sys, json\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))\n"
            "from policy._shell import analyze\n"
            "for src in json.loads(sys.argv[1]):\n"
            "    a = analyze(src)\n"
            "    assert not a.commands and any('cannot parse' in o for o in a.opaque), a\n"
            "    assert not any('MemoryError' in o for o in a.opaque), a\n")
    import json

    done = subprocess.run([sys.executable, "-c", code, json.dumps(sources)], cwd=repo, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
