"""Walking bashlex's trees for the bash analysis, through a small typed adapter (bashlex is untyped).

:class:`Walker` turns every command node into a :class:`~policy._types.SimpleCommand` (words are
rebuilt from the *original* text at the node's position, so quoting is judged on what the model
wrote), confirms that each construct the pre-pass rewrote sits where bashlex put it, and
:meth:`Walker.verify` cross-checks the whole tree: every command node visited, every word token of the
pre-pass present as a node (bashlex drops text silently in places), every ``${…}``, substitution and
here-document seen by both, every blanked ``time`` followed by a command. Anything that does not line
up becomes an opaque reason.

Contexts: a pipeline's members are ``pipeline``; ``( … )`` is ``subshell``; ``if`` is ``condition``;
loops are ``loop``; function bodies are ``function``; ``$( … )``/backquotes are ``substitution``; the
innermost construct wins. Redirections on a compound command (``{ …; } > f``, ``done < f``) are
reported as a command with an empty argv in the compound's context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Protocol

from policy._shell_scan import Prescan, Region
from policy._shell_words import build_word, single_quoted, split_assignment
from policy._types import Redirect, SimpleCommand, Word

_CMD_LEVEL = ("cond", "arith-cmd", "case")
_SUBSCRIPTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[[^\]]*\]\+?=")
_STARTS = frozenset({"command", "compound", "pipeline", "list", "function"})


class BadTree(Exception):
    """bashlex returned something this adapter does not understand."""


def kind(node: object) -> str:
    k = getattr(node, "kind", None)
    return k if isinstance(k, str) else ""


def attr(node: object, name: str) -> object:
    return getattr(node, name, None)


def children(node: object, name: str) -> list[object]:
    v = getattr(node, name, None)
    return list(v) if isinstance(v, list) else []


def span(node: object) -> tuple[int, int]:
    p = getattr(node, "pos", None)
    if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], int) and isinstance(p[1], int):
        return p[0], p[1]
    raise BadTree(f"a {kind(node) or 'node'} without a position")


def all_nodes(trees: Iterable[object]) -> Iterator[object]:
    """Every node under ``trees`` (bashlex nodes are all of one class, holding nodes or lists)."""
    stack = [t for t in trees if kind(t)]
    node_type = type(stack[0]) if stack else None
    while stack:
        node = stack.pop()
        yield node
        fields = getattr(node, "__dict__", None)
        if isinstance(fields, dict):
            for v in fields.values():
                if type(v) is node_type:
                    stack.append(v)
                elif isinstance(v, list):
                    stack.extend(x for x in v if type(x) is node_type)


class Sink(Protocol):
    def command(self, cmd: SimpleCommand) -> None: ...
    def reason(self, text: str) -> None: ...
    def function(self, name: str) -> None: ...
    def loop(self, name: str, items: list[Word], keyword: str) -> None: ...
    def arith(self, text: str, context: str, *, subst: bool = True) -> None: ...


class Walker:
    def __init__(self, src: str, pre: Prescan, sink: Sink) -> None:
        self.src = src
        self.sink = sink
        self.visited: set[int] = set()
        self.regions = pre.regions
        self.heredocs = pre.heredocs
        self.words = pre.words
        self.cmd_regions = {r.start: r for r in pre.regions if r.kind in _CMD_LEVEL}
        self.arrays = {r.end: r for r in pre.regions if r.kind == "array"}
        self.confirmed: dict[int, str] = {}  # region start -> context

    def walk(self, node: object, ctx: str) -> None:
        k = kind(node)
        if k == "command":
            self._command(node, ctx)
        elif k == "pipeline":
            parts = [p for p in children(node, "parts") if kind(p) not in ("pipe", "reservedword")]
            for p in parts:
                self.walk(p, "pipeline" if len(parts) > 1 else ctx)
        elif k == "list":
            for p in children(node, "parts"):
                if kind(p) != "operator":
                    self.walk(p, ctx)
        elif k == "compound":
            self._compound(node, ctx)
        elif k == "if":
            self._parts(children(node, "parts"), "condition")
        elif k in ("while", "until"):
            self._parts(children(node, "parts"), "loop")
        elif k == "for":
            self._for(node, ctx)
        elif k == "function":
            name = attr(node, "name")
            word = self._word(name, ctx) if kind(name) == "word" else None
            if word is None or not word.literal:
                self.sink.reason("a function whose name is not a literal word")
            else:
                self.sink.function(word.value)
            self.walk(attr(node, "body"), "function")
        elif k not in ("reservedword", "operator", "pipe"):
            self.sink.reason(f"unexpected shell construct ({k or type(node).__name__})")

    def _parts(self, parts: list[object], ctx: str) -> None:
        for p in parts:
            if kind(p) != "reservedword":
                self.walk(p, ctx)

    def _compound(self, node: object, ctx: str) -> None:
        items = children(node, "list")
        first = items[0] if items else None
        opener = attr(first, "word") if kind(first) == "reservedword" else None
        inner = "subshell" if opener == "(" else ctx
        self._parts(items, inner)
        if opener != "(":
            inner = {"if": "condition", "for": "loop", "while": "loop", "until": "loop"}.get(kind(first), ctx)
        redirects = [self._redirect(r, ctx) for r in children(node, "redirects")]
        if redirects:
            start, end = span(node)
            text = " ".join(self.src[span(r)[0] : span(r)[1]] for r in children(node, "redirects"))
            self.sink.command(SimpleCommand((), (), tuple(redirects), inner, text or self.src[start:end]))

    def _for(self, node: object, ctx: str) -> None:
        start = span(node)[0]
        parts = children(node, "parts")
        words = [p for p in parts if kind(p) == "word"]
        has_in = any(kind(p) == "reservedword" and attr(p, "word") == "in" for p in parts)
        select = next((r for r in self.regions if r.kind == "select" and r.start == start), None)
        if select is not None:
            self.confirmed[select.start] = "loop"
        name = words[0] if words else None
        arith = None
        if name is not None:
            n0, n1 = span(name)
            arith = next((r for r in self.regions if r.kind == "arith-for" and r.start == n0), None)
            if arith is not None and arith.end == n1 and not has_in:
                self.confirmed[arith.start] = "loop"
            else:
                var = self._word(name, ctx)
                items = [self._word(w, ctx) for w in words[1:]]
                if not has_in:
                    self.sink.loop(var.value, [Word("$@", "", False)], "for")
                self.sink.loop(var.value, items, "select" if select is not None else "for")
        for p in parts:
            if kind(p) not in ("reservedword", "word"):
                self.walk(p, "loop")

    def _command(self, node: object, ctx: str) -> None:
        self.visited.add(id(node))
        argv: list[Word] = []
        assigns: list[tuple[str, Word]] = []
        redirs: list[Redirect] = []
        placeholder: Region | None = None
        for part in children(node, "parts"):
            k = kind(part)
            if k == "redirect":
                redirs.append(self._redirect(part, ctx))
                continue
            if k not in ("word", "assignment"):
                self.sink.reason(f"unexpected {k or 'node'} in a command")
                continue
            p0, p1 = span(part)
            region = self.cmd_regions.get(p0)
            if region is not None:
                if argv or assigns or placeholder is not None or p1 != region.end:
                    self.sink.reason(f"a {region.kind} construct in an unexpected place")
                else:
                    placeholder = region
                continue
            # bashlex takes NAME[sub]=value for a word; bash, for an assignment
            subscripted = k == "word" and _SUBSCRIPTED.match(self.src, p0, p1)
            if not argv and placeholder is None and (k == "assignment" or subscripted):
                assigns.append(self._assignment(part, ctx))
            else:
                argv.append(self._word(part, ctx))
        if placeholder is not None:
            if argv:
                self.sink.reason(f"words after a {placeholder.kind} construct")
            self.confirmed[placeholder.start] = ctx
        if not (argv or assigns or redirs):
            return
        start, end = span(node)
        cmd = SimpleCommand(tuple(argv), tuple(assigns), tuple(redirs), ctx, self.src[start:end])
        if argv and not argv[0].literal:
            self.sink.reason(f"the command name {argv[0].raw!r} is not a literal word")
        self.sink.command(cmd)

    def _assignment(self, node: object, ctx: str) -> tuple[str, Word]:
        p0, p1 = span(node)
        raw = self.src[p0:p1]
        self._subst(node, ctx, p0, p1)
        parts = split_assignment(raw)
        if parts is None:
            self.sink.reason(f"an assignment this analysis does not understand: {raw!r}")
            return raw, Word(raw, raw, False)
        name, sub, value = parts
        if sub is not None:
            self.sink.arith(sub, ctx, subst=False)
        return name, build_word(value, assignment=True)

    def _word(self, node: object, ctx: str) -> Word:
        p0, p1 = span(node)
        self._subst(node, ctx, p0, p1)
        return build_word(self.src[p0:p1])

    def _subst(self, node: object, ctx: str, p0: int, p1: int) -> None:
        array = self.arrays.get(p1)
        if array is not None and p0 <= array.start:
            self.confirmed[array.start] = ctx
        quoted = single_quoted(self.src[p0:p1]) if "'" in self.src[p0:p1] else []
        for part in children(node, "parts"):
            k = kind(part)
            if quoted and k in ("commandsubstitution", "processsubstitution"):
                s0 = span(part)[0] - p0
                if any(a < s0 < b for a, b in quoted):  # bashlex expands '$(…)' in assignments
                    self.visited.update(id(n) for n in all_nodes([part]) if kind(n) == "command")
                    continue
            if k == "commandsubstitution":
                self.walk(attr(part, "command"), "heredoc" if ctx == "heredoc" else "substitution")
            elif k == "processsubstitution":
                self.walk(attr(part, "command"), "process-substitution")
            elif k not in ("parameter", "tilde"):
                self.sink.reason(f"unexpected {k or 'node'} in a word")

    def _redirect(self, node: object, ctx: str) -> Redirect:
        op = attr(node, "type")
        fd = attr(node, "input")
        out = attr(node, "output")
        if not isinstance(op, str):
            raise BadTree("a redirection without an operator")
        fdn = fd if isinstance(fd, int) else None
        if op in ("<<", "<<-"):
            return Redirect("<<", None, fdn)
        if kind(out) == "word":
            return Redirect(op, self._word(out, ctx), fdn)
        return Redirect(op, None, fdn)

    def verify(self, trees: list[object]) -> list[str]:
        """Cross-check the pre-pass against the whole tree; returns reasons for what does not match."""
        out: list[str] = []
        starts: set[int] = set()
        heredoc_ops: list[int] = []
        by_start = {r.start: r for r in self.regions if r.kind in ("param", "arith", "comsub", "procsub")}
        substs: set[int] = set()  # starts only: bashlex's ends are off by the blanks before ")"
        tokens: set[int] = set()
        for node in all_nodes(trees):
            k = kind(node)
            if k in ("word", "assignment", "reservedword", "redirect"):
                tokens.add(span(node)[0])
            if k in ("commandsubstitution", "processsubstitution"):
                substs.add(span(node)[0])
            if k in _STARTS:
                starts.add(span(node)[0])
            if k == "command" and id(node) not in self.visited:
                out.append("a command the analysis did not reach")
            elif k == "parameter":
                p0, p1 = span(node)
                r = by_start.get(p0)
                if (r is None and self.src.startswith("${", p0)) or (r is not None and r.end != p1):
                    out.append(f"a parameter expansion that could not be delimited: {self.src[p0:p1]!r}")
                elif r is not None and r.kind != "param":
                    self.confirmed[r.start] = "substitution"
            elif k == "redirect" and attr(node, "type") in ("<<", "<<-"):
                head = self.src[span(node)[0] : span(node)[0] + 12]
                heredoc_ops.append(span(node)[0] + len(head) - len(head.lstrip("0123456789")))
        missing = next((w for w in self.words if w not in tokens), None)
        if missing is not None:
            out.append(f"the parser skipped text at offset {missing}")
        if sorted(heredoc_ops) != sorted(h.op for h in self.heredocs):
            out.append("here-documents that could not be matched up")
        for r in self.regions:
            if r.kind == "subst":
                if r.start not in substs:
                    out.append(f"a substitution the parser did not delimit: {self.src[r.start : r.end]!r}")
            elif r.kind == "time":
                if r.end not in starts:
                    out.append("a time keyword not followed by a command")
            elif r.kind != "param" and r.start not in self.confirmed:
                out.append(f"a {r.kind} construct in an unexpected place")
        return out
