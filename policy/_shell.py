"""The bash analysis: every simple command a script would run, with its words, redirections and
assignments, and the reasons (if any) the script cannot be seen through.

    analyze(source) -> ShellAnalysis      # never raises

bashlex is the parser. A quote-aware pre-pass (:mod:`policy._shell_scan`) first rewrites, in place
and at the same length, the constructs bashlex rejects (``[[ ]]``, ``(( ))``, ``$(( ))``, ``case``,
``select``, ``time``, quoted here-documents, array literals) and records their text; bashlex parses
the rest; :mod:`policy._shell_tree` walks the trees and checks that every rewrite sits where bashlex
put it. The text bashlex does not parse is analysed here: ``${…}`` operands, unquoted here-document
bodies, ``[[ ]]`` operands, ``case`` subjects, patterns and branches, array elements and arithmetic,
each searched for substitutions, which are analysed recursively. Arithmetic and name lookups that
evaluate a variable the script filled from untrusted data are opaque (:mod:`policy._shell_vars`).

Commands found inside substitutions are reported like any other, with their context (see
:mod:`policy._shell_tree`); commands from a ``case`` branch have context ``condition``, from a
here-document body ``heredoc``. Arithmetic assignments (``(( i++ ))``) are reported as bare
assignments with a non-literal value. Results are cached per source string (they are immutable).
"""

from __future__ import annotations

import functools

from policy import _bashlex_fast
from policy._shell_comments import comment_in_substitution
from policy._shell_scan import Region, prescan
from policy._shell_tree import BadTree, Walker
from policy._shell_vars import VarTracker, scan_arith
from policy._shell_words import build_word, find_expansions, join_continuations, parse_param, split_outside
from policy._types import Redirect, ShellAnalysis, SimpleCommand, Word

MAX_SOURCE = 100_000
MAX_DEPTH = 12
_CACHED_SIZE = 4096
_ARITH_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})


def analyze(source: str) -> ShellAnalysis:
    """Every simple command in ``source``; any entry in ``opaque`` means it must never be allowed."""
    if not isinstance(source, str):
        return ShellAnalysis(repr(source), (), ("the command is not a string",))
    return _cached(source) if len(source) <= _CACHED_SIZE else _analyze(source)


def _analyze(source: str) -> ShellAnalysis:
    a = _Analysis()
    try:
        if len(source) > MAX_SOURCE:
            a.reason(f"the script is longer than {MAX_SOURCE // 1000} kB")
        elif "\0" in source:
            a.reason("the script contains a NUL character")
        else:
            if ("$(" in source or "`" in source) and "#" in source and comment_in_substitution(source):
                a.reason("a comment inside a command substitution (bash may end the substitution elsewhere)")
            a.run(source, "top", 0)
            a.reasons += a.vars.finish(a.functions)
            a.commands = _substitute_loop_values(a.commands, a.vars, a.loop_start)
    except RecursionError:
        a.reason("the script is nested too deeply to analyse")
    except Exception as exc:  # fail closed: an analysis bug must never let a script through
        a.reason(f"internal error while analysing the script ({type(exc).__name__})")
    return ShellAnalysis(source, tuple(a.commands), tuple(dict.fromkeys(a.reasons)), frozenset(a.functions))


_cached = functools.lru_cache(maxsize=512)(_analyze)


class _Analysis:
    def __init__(self) -> None:
        self.commands: list[SimpleCommand] = []
        self.reasons: list[str] = []
        self.functions: set[str] = set()
        self.vars = VarTracker()
        self.loop_start: dict[str, int] = {}  # loop variable -> index of the first command after its `for`
        self.depth = 0

    # -- what the walker reports (policy._shell_tree.Sink) ------------------------------------------

    def command(self, cmd: SimpleCommand) -> None:
        self.commands.append(cmd)
        if cmd.argv[:1] and cmd.argv[0].value == "alias" and any("=" in w.raw for w in cmd.argv[1:]):
            self.reason("an alias definition changes what later commands mean")
        arith, reasons = self.vars.observe(cmd)
        self.reasons += reasons
        for text in arith:
            self.arith(text, cmd.context)

    def reason(self, text: str) -> None:
        self.reasons.append(text)

    def function(self, name: str) -> None:
        self.functions.add(name)

    def loop(self, name: str, items: list[Word], keyword: str) -> None:
        self.loop_start.setdefault(name, len(self.commands))
        self.vars.loop(name, items, keyword)

    def arith(self, text: str, context: str, *, subst: bool = True) -> None:
        """Arithmetic ``text`` as written; ``subst`` False when bashlex already showed its
        substitutions (an assignment's subscript)."""
        res = scan_arith(text)
        self.reasons += res.reasons
        where = f"the arithmetic {text.strip()[:40]!r}"
        for name in res.names:
            self.vars.use(name, where)
        if res.positional:
            self.vars.use("1", where)
        for kind, inner in res.expansions:
            if kind == "param":
                p = parse_param(inner)
                if p is not None and p.prefix != "#":
                    self.vars.use(p.name, where)
            if subst:
                self._expansion(kind, inner, context)
        for name in dict.fromkeys(res.assigned):
            value = Word(text, "", False)
            self.commands.append(SimpleCommand((), ((name, value),), (), context, f"(( {text.strip()} ))"))

    # -- analysis -------------------------------------------------------------------------------------

    def run(self, text: str, ctx: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.reason("substitutions nested too deeply to analyse")
            return
        saved, self.depth = self.depth, depth
        try:
            self._run(text, ctx)
        finally:
            self.depth = saved

    def _run(self, text: str, ctx: str) -> None:
        pre = prescan(text)
        self.reasons += pre.reasons
        if pre.empty:
            return
        try:
            trees = _bashlex_fast.parse(pre.text)
        except RecursionError:
            raise
        except Exception as exc:
            self.reason(f"bash syntax the analysis cannot parse ({_describe(exc)})")
            return
        walker = Walker(text, pre, self)
        try:
            for tree in trees:
                walker.walk(tree, ctx)
            self.reasons += walker.verify(trees)
        except BadTree as exc:
            self.reason(f"unexpected parse tree ({exc})")
            return
        for region in pre.regions:
            self._region(text, region, walker.confirmed.get(region.start, ctx))
        for doc in pre.heredocs:
            if not doc.quoted:
                self.expand(join_continuations(doc.body), "heredoc", "heredoc")

    def _region(self, text: str, r: Region, ctx: str) -> None:
        if r.kind in ("arith", "arith-cmd"):
            self.arith(r.text, ctx)
        elif r.kind == "arith-for":
            for part in split_outside(r.text, ";"):
                self.arith(part, ctx)
        elif r.kind == "param":
            self.param(r.text, ctx)
        elif r.kind in ("comsub", "procsub"):
            sub = "process-substitution" if r.kind == "procsub" else "substitution"
            self.run(r.text, "heredoc" if ctx == "heredoc" else sub, self.depth + 1)
        elif r.kind == "cond":
            self._cond([text[a:b] for a, b in r.words])
        elif r.kind == "case":
            for a, b in r.words:
                self.expand(text[a:b], "word", ctx)
            for a, b in r.bodies:
                self.run(text[a:b], "condition", self.depth + 1)
        elif r.kind == "array":
            for a, b in r.words:
                self.vars.assign(r.name, build_word(text[a:b]))
                self.expand(text[a:b], "word", ctx)

    def _cond(self, words: list[str]) -> None:
        for k, w in enumerate(words):
            self.expand(w, "word", "substitution")
            prev = words[k - 1] if k else ""
            if prev in _ARITH_TESTS or (k + 1 < len(words) and words[k + 1] in _ARITH_TESTS):
                self.arith(w, "condition", subst=False)
            if prev == "-v":
                arith, reasons = self.vars.name_argument("[[", build_word(w))
                self.reasons += reasons
                for text in arith:
                    self.arith(text, "condition")
            if w == "=~":
                self.vars.taint("BASH_REMATCH", "[[ =~ ]] fills it from the text it matches")

    def param(self, text: str, ctx: str) -> None:
        """The inside of ``${…}``."""
        p = parse_param(text)
        if p is None:
            self.reason(f"a parameter expansion the analysis does not understand: ${{{text[:60]}}}")
            return
        where = f"${{{text[:40]}}}"
        if (p.prefix == "!" and p.op not in ("*", "@")) or (p.op == "@" and p.word.startswith("P")):
            self.vars.use(p.name, where)
        if p.subscript is not None and p.subscript not in ("@", "*"):
            self.arith(p.subscript, ctx)
        if p.op == ":":
            for part in split_outside(p.word, ":"):
                self.arith(part, ctx)
            return
        if p.op in ("=", ":="):
            self.vars.taint(p.name, f"{where} assigns it")
        if p.op:
            self.expand(p.word, "word", ctx)

    def expand(self, text: str, mode: str, ctx: str) -> None:
        """Look into the expansions of ``text`` (``word`` or ``heredoc`` quoting)."""
        for e in find_expansions(text, mode):
            self._expansion(e.kind, e.text, ctx)

    def _expansion(self, kind: str, text: str, ctx: str) -> None:
        if kind in ("comsub", "backtick"):
            self.run(text, "heredoc" if ctx == "heredoc" else "substitution", self.depth + 1)
        elif kind == "procsub":
            self.run(text, "process-substitution", self.depth + 1)
        elif kind == "param":
            self.param(text, ctx)
        elif kind == "arith":
            self.arith(text, ctx)
        elif kind == "reason":
            self.reason(text)


_MAX_COPIES = 16


def _substitute_loop_values(
    commands: list[SimpleCommand], tracker: VarTracker, starts: dict[str, int]
) -> list[SimpleCommand]:
    """``for f in src/*.py; do wc -l "$f"; done``: a double-quoted ``"$f"`` whose variable only such
    loops set can hold only the loop's words, so the command is reported once per value (the glob
    stays a glob, for the engine to expand). Commands before the loop (where the variable still holds
    its inherited value) and other uses of the variable stay non-literal."""
    out: list[SimpleCommand] = []
    for index, cmd in enumerate(commands):
        words = list(cmd.argv) + [r.target for r in cmd.redirects if r.target is not None]
        choices = [_loop_choices(w, tracker, starts, index) for w in words]
        count = 1
        for c in choices:
            count *= len(c) if c else 1
        if all(c is None for c in choices) or count > _MAX_COPIES:
            out.append(cmd)
            continue
        for combo in _combinations([c if c else [w] for w, c in zip(words, choices, strict=True)]):
            argv = tuple(combo[: len(cmd.argv)])
            targets = iter(combo[len(cmd.argv):])
            redirects = tuple(
                r if r.target is None else Redirect(r.op, next(targets), r.fd) for r in cmd.redirects
            )
            out.append(SimpleCommand(argv, cmd.assignments, redirects, cmd.context, cmd.text))
    return out


def _loop_choices(word: Word, tracker: VarTracker, starts: dict[str, int], index: int) -> list[Word] | None:
    raw = word.raw
    if not (raw.startswith('"$') and raw.endswith('"')):
        return None
    name = raw[2:-1]
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    start = starts.get(name)
    if not name.isidentifier() or start is None or index < start:
        return None
    return tracker.loop_values(name)


def _combinations(options: list[list[Word]]) -> list[list[Word]]:
    combos: list[list[Word]] = [[]]
    for opts in options:
        combos = [[*c, o] for c in combos for o in opts]
    return combos


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
