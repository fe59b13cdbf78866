"""Quote-aware pre-pass of the bash analysis: rewrites what bashlex cannot parse and records what it hid.

bashlex rejects constructs models write all the time (``[[ ]]``, ``(( ))``, ``$(( ))``, ``case``,
``select``, ``time``, quoted here-documents, array literals). :func:`prescan` walks the script once,
tracking quotes, comments, substitutions, here-documents and whether a word stands where a command
starts, and returns:

- ``text``: the script with those constructs replaced *in place by text of the same length*, so every
  position bashlex reports still points into the original: ``[[ … ]]``, ``(( … ))`` and ``case … esac``
  become one word of underscores; ``$(( … ))`` becomes ``${___}``, and so does a substitution
  (``$( … )``, backquotes, ``<( … )``) that spans lines, since bashlex keeps only its first line; the
  ``(( … ))`` of an arithmetic ``for`` and the ``( … )`` of an array literal become underscores;
  ``select`` becomes ``for``; the ``time`` keyword (and ``-p``) becomes blanks; here-document bodies
  become blanks and quoted delimiters lose their quotes;
- ``regions``: each rewritten construct, every ``${…}`` and every substitution, with its original
  text, for the caller to analyse on its own and to confirm against bashlex's tree (a rewrite that
  bashlex does not place where expected makes the script opaque);
- ``words``: where each word token starts, so that text bashlex silently skipped can be detected;
- ``heredocs`` (bodies with their quoting) and ``reasons`` (what makes the script opaque, e.g. ``$'…'``).

Inside a construct that is re-analysed from its own text (``${…}``, ``[[ ]]``, arithmetic, ``case``,
array literals, multi-line substitutions) the scanner only looks for the end: it records and rewrites
nothing there. The scanner itself never decides that something is safe; it only says where things are.
"""

from __future__ import annotations

import re

from policy._shell_lex import NAME, Heredoc, Lexer, Prescan, Region

__all__ = ["Heredoc", "Prescan", "Region", "Scanner", "prescan"]

_EMPTY_PARENS = re.compile(r"\([ \t]*\)")
# A line continuation right after an operator character, glued to what follows, can build an operator
# or an expansion out of two lines ("$\<newline>(id)"); bashlex and bash may then disagree.
_CONTINUATION = re.compile(r"[$<>&|;(]\\\n(?=\S)")
_OPS = (";;&", ";;", ";&", "&&", "&>>", "&>", "||", "|&", ";", "&", "|")
_REDIRS = ("<<<", "<<-", "<<", "<&", "<>", ">>", ">&", ">|", "<", ">")
_OPENS_COMMAND = frozenset({"if", "then", "elif", "else", "do", "while", "until", "!", "{"})
_RESERVED = frozenset({"if", "then", "elif", "else", "fi", "do", "done", "while", "until", "for", "in",
                       "case", "esac", "select", "function", "time", "coproc", "{", "}", "!", "[[", "]]"})


class Scanner(Lexer):
    """Command lists and the compound commands bashlex does not know, on top of the lexer."""

    def list_(self, i: int, closer: str, end: int) -> int:
        """Scan commands from ``i``. ``closer`` is ``)`` (returns after it), ``case`` (returns at
        ``;;``/``;&``/``;;&``/``esac``, setting ``self.closer``) or empty (scan to ``end``)."""
        s = self.s
        cmdpos, fname, after_function = True, False, False
        while i < end:
            c = s[i]
            if c in " \t":
                i += 1
                continue
            if c == "\\" and s.startswith("\\\n", i):
                i += 2
                continue
            if c == "\n":
                i = self.newline(i + 1, end)
                cmdpos, fname = True, False
                continue
            if c == "#":
                j = s.find("\n", i, end)
                i = end if j < 0 else j
                continue
            self.tokens += 1
            if c == ")":
                if closer == ")":
                    self.closer = ")"
                    return i + 1
                i += 1
                cmdpos = fname = False
                continue
            if c == "(":
                m = _EMPTY_PARENS.match(s, i, end) if fname else None
                if m:
                    i, cmdpos, fname = m.end(), True, False
                    continue
                if cmdpos and s.startswith("((", i):
                    j = self.dparen(i, "arith-cmd", end)
                    if j >= 0:
                        i, cmdpos, fname = j, False, False
                        continue
                i = self.list_(i + 1, ")", end)
                cmdpos = fname = False
                continue
            if c in ";&|":
                op = next(o for o in _OPS if s.startswith(o, i))
                if closer == "case" and op in (";;", ";&", ";;&"):
                    self.closer = op
                    return i
                i += len(op)
                cmdpos, fname = not op.startswith("&>"), False
                if op.startswith("&>"):
                    i = self.target(i, end)
                continue
            if c in "<>" and not s.startswith("(", i + 1):
                op = next(o for o in _REDIRS if s.startswith(o, i))
                i = self.heredoc(i, op, end) if op in ("<<", "<<-") else self.target(i + len(op), end)
                cmdpos = fname = False
                continue
            start = i
            i, plain = self.word(i, end)
            if i == start:
                i += 1
                continue
            if not self.norec:
                self.words.append(start)
            w = s[start:i] if plain else ""
            if closer == "case" and cmdpos and w == "esac":
                self.closer = "esac"
                return start
            fname = (cmdpos and plain and w not in _RESERVED) or after_function
            after_function = cmdpos and w == "function"
            if w == "{":
                cmdpos = True
            if not cmdpos:
                continue
            cmdpos = w in _OPENS_COMMAND
            if w == "[[":
                i = self._cond(start, end)
            elif w == "case":
                i = self._case(start, i, end)
            elif w == "time":
                if not self.norec:
                    self.words.pop()  # blanked: bashlex does not see it
                i, cmdpos = self._time(start, i, end), True
            elif w in ("for", "select"):
                i = self._for(start, i, w, end)
            elif w == "coproc":
                self.reasons.append("coproc is not supported")
                cmdpos = True
        self.closer = ""
        return i

    # -- compound commands bashlex does not know ------------------------------------------------------

    def _cond(self, start: int, end: int) -> int:
        if ("cond", start, end) in self.failed:
            return self.failed["cond", start, end]
        s = self.s
        words: list[tuple[int, int]] = []
        prev, i, ok = "", start + 2, False
        self.norec += 1
        self.depth += 1
        try:
            while i < end:
                c = s[i]
                if c in " \t" or s.startswith("\\\n", i):
                    i += 1 if c != "\\" else 2
                    continue
                if s.startswith(("&&", "||"), i):
                    i, prev = i + 2, ""
                    continue
                if c in "()<>":
                    i, prev = i + 1, c
                    continue
                if c in ";&|\n#":
                    break
                ws = i
                i = self._regex(i, end) if prev == "=~" else self.word(i, end)[0]
                if i == ws:
                    break
                if s[ws:i] == "]]":
                    ok = True
                    break
                words.append((ws, i))
                prev = s[ws:i]
        finally:
            self.norec -= 1
            self.depth -= 1
        if not ok:
            self.reasons.append("a [[ … ]] expression that could not be analysed")
            self.failed["cond", start, end] = start + 2
            return start + 2
        self.edit(start, "_" * (i - start))
        self.region(Region("cond", start, i, s[start + 2 : i - 2], words))
        return i

    def _regex(self, i: int, end: int) -> int:
        """The right side of ``=~``: parentheses and ``|`` do not end it."""
        s = self.s
        depth = 0
        while i < end:
            c = s[i]
            if depth == 0 and c in " \t\n;&<>":
                break
            if c == "(":
                depth += 1
                i += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
                i += 1
            else:
                i = self.unit(i, end)
        return min(i, end)

    def _case(self, start: int, i: int, end: int) -> int:
        if ("case", start, end) in self.failed:
            return self.failed["case", start, end]
        region = Region("case", start, start)
        self.norec += 1
        self.depth += 1
        try:
            stop = self._case_items(region, i, end)
        finally:
            self.norec -= 1
            self.depth -= 1
        if stop < 0:
            self.reasons.append("a case statement that could not be analysed")
            self.failed["case", start, end] = start + 4
            return start + 4
        region.end, region.text = stop, self.s[start:stop]
        self.edit(start, "_" * (stop - start))
        self.region(region)
        return stop

    def _case_items(self, region: Region, i: int, end: int) -> int:
        """Subject, ``in``, then ``pattern|pattern) list ;;`` items up to ``esac``; -1 if malformed."""
        s = self.s
        ws = self.blanks(i, end)
        i = self.word(ws, end)[0]
        region.words.append((ws, i))
        ws = self.space(i, end)
        i = self.word(ws, end)[0]
        if region.words[0][0] == region.words[0][1] or s[ws:i] != "in":
            return -1
        while True:
            i = self.space(i, end)
            j, plain = self.word(i, end)
            if plain and s[i:j] == "esac":
                return j
            if i >= end:
                return -1
            i = i + 1 if s[i] == "(" else i
            while True:
                ws = self.blanks(i, end)
                i = self.word(ws, end)[0]
                if i == ws:
                    return -1
                region.words.append((ws, i))
                i = self.blanks(i, end)
                if not s.startswith(("|", ")"), i):
                    return -1
                i += 1
                if s[i - 1] == ")":
                    break
            body = i
            i = self.list_(i, "case", end)
            region.bodies.append((body, i))
            if self.closer == "esac":
                return i + 4
            if not self.closer:
                return -1
            i += len(self.closer)

    def _time(self, start: int, i: int, end: int) -> int:
        s = self.s
        self.edit(start, " " * (i - start))
        j = self.blanks(i, end)
        if s.startswith("-p", j) and (j + 2 >= end or s[j + 2] in " \t\n"):
            self.edit(j, "  ")
            j = self.blanks(j + 2, end)
        self.region(Region("time", start, j))
        return j

    def _for(self, start: int, i: int, keyword: str, end: int) -> int:
        j = self.blanks(i, end)
        if keyword == "select":
            self.edit(start, "for   ")
            m = NAME.match(self.s, j, end)
            self.region(Region("select", start, i, name=m.group() if m else ""))
        elif self.s.startswith("((", j):
            k = self.dparen(j, "arith-for", end)
            if k >= 0:
                return k
        return i

    def array(self, start: int, i: int, end: int) -> int:
        """``NAME=( … )`` with ``(`` at ``i``."""
        s = self.s
        words: list[tuple[int, int]] = []
        j, ok = i + 1, False
        self.norec += 1
        self.depth += 1
        try:
            while j < end:
                j = self.space(j, end)
                if j < end and s[j] == ")":
                    j, ok = j + 1, True
                    break
                ws, j = j, self.word(j, end)[0]
                if j == ws:
                    break
                words.append((ws, j))
        finally:
            self.norec -= 1
            self.depth -= 1
        if not ok:
            self.reasons.append("an array assignment that could not be analysed")
            return j
        self.edit(i, "_" * (j - i))
        self.region(Region("array", i, j, s[i + 1 : j - 1], words, name=s[start:i].rstrip("=").rstrip("+")))
        return j

def prescan(src: str) -> Prescan:
    sc = Scanner(src)
    if _CONTINUATION.search(src):
        sc.reasons.append("a line continuation glued to an operator or expansion")
    sc.list_(0, "", len(src))
    if sc.pending:
        sc.reasons.append("here-document is not terminated")
    text = src
    if sc.edits:
        parts: list[str] = []
        pos = 0
        for start, repl in sorted(sc.edits):
            if start < pos:
                sc.reasons.append("overlapping rewrites in the shell pre-pass")
                continue
            parts += (src[pos:start], repl)
            pos = start + len(repl)
        parts.append(src[pos:])
        text = "".join(parts)
    return Prescan(text, sc.regions, sc.heredocs, sc.reasons, sc.tokens == 0, sc.words)
