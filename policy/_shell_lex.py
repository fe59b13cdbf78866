"""The lexical layer of the bash pre-pass (:mod:`policy._shell_scan`): words, quotes, ``$``-expansions,
backquotes, ``${…}``, arithmetic delimiting and here-documents.

A :class:`Lexer` walks text by position and knows where each of these ends, following bash's rules
(``${`` nests only ``${``; ``((`` is arithmetic only if the matching ``)`` is followed by another one;
here-document bodies start after the next newline token and end at a line equal to the delimiter).
Where bashlex cannot parse a construct, it rewrites it in place at the same length and records a
:class:`Region`; inside a region that is re-analysed from its own text (``norec`` > 0) it only looks for
the end. :class:`policy._shell_scan.Scanner` adds command lists and compound commands on top.
"""

from __future__ import annotations

import re
from typing import NamedTuple

BLANKS = re.compile(r"[ \t]+")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_RUN = re.compile(r"[^ \t\n;&|()<>'\"\\$`]+")
_DQ_RUN = re.compile(r'[^"\\$`]+')
_ASSIGN_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_DELIM = re.compile(r"""([A-Za-z0-9_][A-Za-z0-9_.-]*)|'([A-Za-z0-9_][A-Za-z0-9_.-]*)'"""
                    r"""|"([A-Za-z0-9_][A-Za-z0-9_.-]*)"|\\([A-Za-z0-9_][A-Za-z0-9_.-]*)""")
_BACKTICK_ESCAPE = re.compile(r"\\[$`\\]")


class Region:
    """A construct found by the scanner. ``start``/``end`` delimit it in the scanned text; ``words``
    are spans of the words inside it (``[[`` operands, array elements, case subject and patterns) and
    ``bodies`` the spans of ``case`` branches; ``name`` is the variable of ``select``/array literals.
    ``kind``: cond arith-cmd arith-for arith param case array time select subst comsub procsub.
    (Plain classes and named tuples here: dataclasses cost about a millisecond each at import.)"""

    __slots__ = ("bodies", "end", "kind", "name", "start", "text", "words")

    def __init__(self, kind: str, start: int, end: int, text: str = "",
                 words: list[tuple[int, int]] | None = None, name: str = "") -> None:
        self.kind, self.start, self.end, self.text, self.name = kind, start, end, text, name
        self.words: list[tuple[int, int]] = words if words is not None else []
        self.bodies: list[tuple[int, int]] = []


class Heredoc(NamedTuple):
    """A here-document: ``op`` is the position of its ``<<``; ``body`` is its original text."""

    op: int
    quoted: bool
    body: str


class Prescan(NamedTuple):
    text: str
    regions: list[Region]
    heredocs: list[Heredoc]
    reasons: list[str]
    empty: bool  # no token at all (blank or comments only)
    words: list[int]  # where each word token bashlex must see starts


class _Pending(NamedTuple):
    op: int
    strip: bool
    quoted: bool
    delim: str
    depth: int


class Lexer:
    """The scanning state. ``norec`` > 0 means "only find the end": nothing is recorded or rewritten."""

    def __init__(self, src: str, *, norec: int = 0) -> None:
        self.s = src
        self.norec = norec
        self.depth = 0  # nesting of re-analysed regions, to keep here-document bodies inside theirs
        self.edits: list[tuple[int, str]] = []
        self.regions: list[Region] = []
        self.heredocs: list[Heredoc] = []
        self.reasons: list[str] = []
        self.pending: list[_Pending] = []
        self.closer = ""
        self.tokens = 0
        self.words: list[int] = []
        # Where a construct was already tried and failed (a failure makes the caller scan the same
        # text again another way; without this, nested failures would cost exponential time).
        self.failed: dict[tuple[str, int, int], int] = {}

    def edit(self, start: int, repl: str) -> None:
        if not self.norec:
            self.edits.append((start, repl))

    def region(self, region: Region) -> None:
        if not self.norec:
            self.regions.append(region)

    def blanks(self, i: int, end: int) -> int:
        m = BLANKS.match(self.s, i, end)
        return m.end() if m else i

    def space(self, i: int, end: int) -> int:
        """Skip blanks, newlines (reading pending here-documents), line continuations and comments."""
        s = self.s
        while i < end:
            c = s[i]
            if c in " \t":
                i += 1
            elif c == "\n":
                i = self.newline(i + 1, end)
            elif s.startswith("\\\n", i):
                i += 2
            elif c == "#":
                j = s.find("\n", i, end)
                i = end if j < 0 else j
            else:
                break
        return i

    def list_(self, i: int, closer: str, end: int) -> int:
        raise NotImplementedError

    def array(self, start: int, i: int, end: int) -> int:
        raise NotImplementedError

    # -- words ----------------------------------------------------------------------------------------

    def target(self, i: int, end: int) -> int:
        return self.word(self.blanks(i, end), end)[0]

    def word(self, i: int, end: int) -> tuple[int, bool]:
        """Scan one word; returns its end and whether it is plain (no quote, escape or expansion)."""
        s = self.s
        start, plain = i, True
        while i < end:
            m = _WORD_RUN.match(s, i, end)
            if m:
                i = m.end()
                continue
            c = s[i]
            if c in "<>":
                if i + 1 < end and s[i + 1] == "(":
                    plain = False
                    i = self.substitution(i, i + 2, end, "procsub")
                    continue
                break
            if c == "(":
                if _ASSIGN_PREFIX.fullmatch(s, start, i):
                    plain = False
                    i = self.array(start, i, end)
                break
            if c in " \t\n;&|)":
                break
            plain = False
            i = self.unit(i, end)
        return min(i, end), plain

    def unit(self, i: int, end: int) -> int:
        """Step over the character at ``i`` outside double quotes: a backslash escape, a quoted string,
        a ``$`` expansion or a backquote substitution as a whole (analysing what is inside), any other
        character alone. Returns the position after it."""
        c = self.s[i]
        if c == "\\":
            return i + 2
        if c == "'":
            return self.squote(i, end)
        if c == '"':
            return self.dquote(i + 1, end)
        if c == "$":
            return self.dollar(i, end, False)
        if c == "`":
            return self.backtick(i, end, False)
        return i + 1

    def squote(self, i: int, end: int) -> int:
        j = self.s.find("'", i + 1, end)
        if j < 0:
            self.reasons.append("unterminated single quote")
            return end
        return j + 1

    def dquote(self, i: int, end: int) -> int:
        """``i`` is just after the opening quote; returns the position after the closing one."""
        s = self.s
        while i < end:
            m = _DQ_RUN.match(s, i, end)
            if m:
                i = m.end()
                continue
            c = s[i]
            if c == '"':
                return i + 1
            if c == "\\":
                i += 2
            elif c == "$":
                i = self.dollar(i, end, True)
            else:
                i = self.backtick(i, end, True)
        self.reasons.append("unterminated double quote")
        return end

    def dollar(self, i: int, end: int, dq: bool) -> int:
        s = self.s
        nxt = s[i + 1] if i + 1 < end else ""
        if nxt == "(":
            if s.startswith("((", i + 1):
                j = self.dparen(i + 1, "arith", end)
                if j >= 0:
                    return j
            return self.substitution(i, i + 2, end, "comsub")
        if nxt == "{":
            return self.param(i, end)
        if nxt == "[":
            self.reasons.append("the obsolete $[ … ] arithmetic is not supported")
            return i + 2
        if nxt == "'" and not dq:
            self.reasons.append("ANSI-C quoting $'…' hides what the text is")
            j = i + 2
            while j < end:
                if s[j] == "\\":
                    j += 2
                elif s[j] == "'":
                    return j + 1
                else:
                    j += 1
            self.reasons.append("unterminated $'…'")
            return end
        if nxt == '"' and not dq:
            self.reasons.append('locale quoting $"…" is not supported')
            return self.dquote(i + 2, end)
        return i + 1

    def backtick(self, i: int, end: int, dq: bool) -> int:
        s = self.s
        j = i + 1
        while j < end and s[j] != "`":
            j += 2 if s[j] == "\\" else 1
        if j >= end:
            self.reasons.append("unterminated backquote")
            return end
        body = s[i + 1 : j]
        if _BACKTICK_ESCAPE.search(body) or (dq and '\\"' in body):
            self.reasons.append("backslash escapes inside backquotes")
        marks = self._marks()
        self.list_(i + 1, "", j)
        self._settle(marks, i, i + 1, j + 1, "comsub")
        return j + 1

    def substitution(self, start: int, body: int, end: int, kind: str) -> int:
        """``$(``, ``<(`` or ``>(`` at ``start``, its commands from ``body``."""
        marks = self._marks()
        stop = self.list_(body, ")", end)
        self._settle(marks, start, body, stop, kind)
        return stop

    def _marks(self) -> tuple[int, int, int, int]:
        return len(self.edits), len(self.regions), len(self.heredocs), len(self.words)

    def _settle(self, marks: tuple[int, int, int, int], start: int, body: int, stop: int, kind: str) -> None:
        """bashlex keeps only the first line of a substitution: one that spans lines becomes a
        ``${___}`` placeholder, analysed from its own text (what was recorded inside is dropped)."""
        if "\n" not in self.s[body:stop] or self.norec:
            self.region(Region("subst", start, stop))
            return
        del self.edits[marks[0] :], self.regions[marks[1] :]
        del self.heredocs[marks[2] :], self.words[marks[3] :]
        if stop - start < 4:
            self.reasons.append("a substitution too short to analyse")
            return
        self.edit(start, "${" + "_" * (stop - start - 3) + "}")
        self.region(Region(kind, start, stop, self.s[body : stop - 1]))

    def param(self, i: int, end: int) -> int:
        """``${…}`` at ``i``: bash nests only ``${`` (not bare braces) and honours quotes inside."""
        s = self.s
        self.norec += 1
        self.depth += 1
        j = i + 2
        try:
            while j < end and s[j] != "}":
                j = self.unit(j, end)
        finally:
            self.norec -= 1
            self.depth -= 1
        if j >= end:
            self.reasons.append("unterminated ${…}")
            return end
        self.region(Region("param", i, j + 1, s[i + 2 : j]))
        return j + 1

    # -- arithmetic -----------------------------------------------------------------------------------

    def arith_close(self, i: int, end: int) -> int:
        """Like bash's parse_arith_cmd: from just after ``((``, find the ``)`` that closes the inner
        parenthesis; it is arithmetic only if another ``)`` follows. Returns that position or -1."""
        key = ("arith", i, end)
        if key not in self.failed:
            self.failed[key] = self._arith_close(i, end)
        return self.failed[key]

    def _arith_close(self, i: int, end: int) -> int:
        s = self.s
        depth = 0
        self.norec += 1
        self.depth += 1
        try:
            while i < end:
                c = s[i]
                if c == "(":
                    depth += 1
                    i += 1
                elif c == ")":
                    if depth == 0:
                        return i if i + 1 < end and s[i + 1] == ")" else -1
                    depth -= 1
                    i += 1
                else:
                    i = self.unit(i, end)
            return -1
        finally:
            self.norec -= 1
            self.depth -= 1

    def dparen(self, i: int, kind: str, end: int) -> int:
        """``((`` at ``i`` (for ``arith``, preceded by ``$``). Returns the end, or -1 if it is not
        arithmetic (then it is a subshell inside a subshell or a substitution)."""
        mark = len(self.reasons)
        close = self.arith_close(i + 2, end)
        if close < 0:
            del self.reasons[mark:]
            return -1
        start, stop = (i - 1 if kind == "arith" else i), close + 2
        repl = "${" + "_" * (stop - start - 3) + "}" if kind == "arith" else "_" * (stop - start)
        self.edit(start, repl)
        self.region(Region(kind, start, stop, self.s[i + 2 : close]))
        return stop

    # -- here-documents -------------------------------------------------------------------------------

    def heredoc(self, i: int, op: str, end: int) -> int:
        ws = self.blanks(i + len(op), end)
        j = self.word(ws, end)[0]
        raw = self.s[ws:j]
        m = _DELIM.fullmatch(raw)
        if not m:
            self.reasons.append(f"unusual here-document delimiter {raw!r}")
            return j
        delim = next(g for g in m.groups() if g)
        if delim != raw:
            self.edit(ws, delim.rjust(len(raw)))
        self.pending.append(_Pending(i, op == "<<-", delim != raw, delim, self.depth))
        return j

    def newline(self, i: int, end: int) -> int:
        """``i`` is just after a newline token: the bodies of pending here-documents start here."""
        pending, self.pending = self.pending, []
        for p in pending:
            i = self._body(p, i, end)
        return i

    def _body(self, p: _Pending, i: int, end: int) -> int:
        s = self.s
        start = i
        while True:
            k = s.find("\n", i, end)
            stop = end if k < 0 else k
            line = s[i:stop]
            if (line.lstrip("\t") if p.strip else line) == p.delim:
                if p.depth != self.depth:
                    self.reasons.append("a here-document body outside the construct that started it")
                body = s[start:i]
                if not self.norec:
                    self.heredocs.append(Heredoc(p.op, p.quoted, body))
                    self.edit(start, re.sub(r"[^\n]", " ", body))
                return end if k < 0 else k + 1
            if k < 0:
                self.reasons.append(f"here-document {p.delim!r} is not terminated")
                return end
            i = k + 1


