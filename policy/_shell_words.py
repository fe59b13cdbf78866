"""Shell words for the bash analysis: quote removal, literalness, and finding expansions in text.

:func:`build_word` turns the raw text of one word into a :class:`~policy._types.Word` (value after
quote removal; literal unless something would expand at run time). :func:`find_expansions` lists the
substitutions, parameter expansions and arithmetic inside a piece of text that bashlex leaves
unparsed (``${…}`` operands, here-document bodies, ``[[ ]]`` operands, arithmetic, case patterns), so
the analysis can look inside them. :func:`parse_param` splits the inside of ``${…}``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from policy._shell_scan import Scanner
from policy._types import Word

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?)=")
_DQ_ESCAPABLE = '$`"\\\n'
_SPECIAL = "@*#?$!-0123456789"
_PARAM_OPS = (":-", ":=", ":?", ":+", "-", "=", "?", "+", "##", "#", "%%", "%", "//", "/#", "/%", "/",
              "^^", "^", ",,", ",", "@")


def build_word(raw: str, *, assignment: bool = False) -> Word:
    """The :class:`Word` for ``raw`` as written. ``assignment`` is for the value of ``NAME=value``,
    where globs and braces are not expanded but a ``~`` after ``:`` is."""
    out: list[str] = []
    literal, glob, tilde, i, n = True, False, False, 0, len(raw)
    brace_open, brace_sep = -1, False
    if raw.startswith("~"):
        j = 1
        while j < n and raw[j] != "/" and not (assignment and raw[j] == ":"):
            j += 1
        if j == 1:
            tilde, i = True, 1
            out.append("~")
        else:
            literal = False
    while i < n:
        c = raw[i]
        if c == "\\":
            if i + 1 < n and raw[i + 1] != "\n":
                out.append(raw[i + 1])
            i += 2
        elif c == "'":
            j = raw.find("'", i + 1)
            if j < 0:
                return Word(raw, "".join(out), False)
            out.append(raw[i + 1 : j])
            i = j + 1
        elif c == '"':
            i += 1
            while i < n and raw[i] != '"':
                d = raw[i]
                if d == "\\" and i + 1 < n and raw[i + 1] in _DQ_ESCAPABLE:
                    if raw[i + 1] != "\n":
                        out.append(raw[i + 1])
                    i += 2
                    continue
                if d == "`" or (d == "$" and i + 1 < n and _expands(raw[i + 1], quoted=True)):
                    literal = False
                out.append(d)
                i += 1
            i += 1
        else:
            if c == "`" or c in "()<>" or (c == "$" and i + 1 < n and _expands(raw[i + 1], quoted=False)):
                literal = False
            elif not assignment:
                if c in "*?" or (c == "[" and "]" in raw[i + 1 :]):
                    glob = True
                elif c == "{":
                    brace_open, brace_sep = i, False
                elif brace_open >= 0 and (c == "," or raw.startswith("..", i)):
                    brace_sep = True
                elif c == "}" and brace_open >= 0 and brace_sep:
                    literal = False
            elif c == ":" and raw.startswith("~", i + 1):
                literal = False
            out.append(c)
            i += 1
    value = "".join(out)
    if not literal:
        return Word(raw, value, False, tilde=tilde)
    return Word(raw, value, not glob, glob=glob, tilde=tilde)


def _expands(nxt: str, *, quoted: bool) -> bool:
    return nxt.isalnum() or nxt in "_{([" or nxt in _SPECIAL or (not quoted and nxt in "'\"")


def split_assignment(raw: str) -> tuple[str, str | None, str] | None:
    """``NAME[sub]+=value`` → (NAME, sub or None, raw value), or None if ``raw`` is no assignment."""
    m = _ASSIGNMENT.match(raw)
    if not m:
        return None
    sub = m.group(2)
    return m.group(1), (sub[1:-1] if sub else None), raw[m.end() :]


def single_quoted(raw: str) -> list[tuple[int, int]]:
    """Spans of ``raw`` inside single quotes (outside double quotes): text bash never expands."""
    out: list[tuple[int, int]] = []
    i, n, dq = 0, len(raw), False
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            dq = not dq
        elif c == "'" and not dq:
            j = raw.find("'", i + 1)
            j = n if j < 0 else j
            out.append((i, j + 1))
            i = j
        i += 1
    return out


def join_continuations(text: str) -> str:
    """Remove backslash-newline pairs, as bash does before looking at unquoted text."""
    if "\\\n" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(0), text, flags=re.S)


class Expansion(NamedTuple):
    """One thing found by :func:`find_expansions`. ``kind`` is comsub, backtick, procsub, param
    (text inside ``${}``), arith (text inside ``$(( ))``/``$[ ]``), var (a ``$name``), positional
    (``$1``, ``$@`` …) or reason (``text`` says why the text is opaque)."""

    kind: str
    text: str
    start: int = 0  # the span of the whole expansion in the searched text
    end: int = 0


def find_expansions(text: str, mode: str = "word") -> list[Expansion]:
    """The expansions in ``text``. ``mode`` is ``word`` (quotes count) or ``heredoc`` (an unquoted
    here-document body: quotes are plain characters)."""
    sc = Scanner(text, norec=1)
    out: list[Expansion] = []
    n, i, dq = len(text), 0, False
    quotes = mode != "heredoc"
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == "'" and quotes and not dq:
            i = sc.squote(i, n)
        elif c == '"' and quotes:
            dq, i = not dq, i + 1
        elif c == "`":
            j = sc.backtick(i, n, dq)
            out.append(Expansion("backtick", text[i + 1 : j - 1], i, j))
            i = j
        elif c == "$":
            i = _dollar(sc, text, i, out, dq or not quotes)
        elif c in "<>" and quotes and not dq and text.startswith("(", i + 1):
            j = sc.list_(i + 2, ")", n)
            out.append(Expansion("procsub", text[i + 2 : j - 1], i, j))
            if sc.closer != ")":
                out.append(Expansion("reason", "unterminated process substitution"))
            i = j
        else:
            i += 1
    out.extend(Expansion("reason", r) for r in sc.reasons)
    return out


def _dollar(sc: Scanner, text: str, i: int, out: list[Expansion], quoted: bool) -> int:
    n = len(text)
    nxt = text[i + 1] if i + 1 < n else ""
    if nxt == "(":
        if text.startswith("((", i + 1):
            close = sc.arith_close(i + 3, n)
            if close >= 0:
                out.append(Expansion("arith", text[i + 3 : close], i, close + 2))
                return close + 2
        j = sc.list_(i + 2, ")", n)
        if sc.closer != ")":
            out.append(Expansion("reason", "unterminated $( … )"))
        out.append(Expansion("comsub", text[i + 2 : j - 1], i, j))
        return j
    if nxt == "{":
        j = sc.param(i, n)
        out.append(Expansion("param", text[i + 2 : j - 1], i, j))
        return j
    if nxt == "[":
        j = text.find("]", i)
        if j < 0:
            out.append(Expansion("reason", "unterminated $[ … ]"))
            return n
        out.append(Expansion("arith", text[i + 2 : j], i, j + 1))
        return j + 1
    if nxt in ("'", '"') and not quoted:
        out.append(Expansion("reason", "ANSI-C or locale quoting ($'…', $\"…\")"))
        return i + 1
    m = _NAME.match(text, i + 1)
    if m:
        out.append(Expansion("var", m.group(), i, m.end()))
        return m.end()
    if nxt and nxt in _SPECIAL:
        positional = nxt.isdigit() or nxt in "@*"
        out.append(Expansion("positional" if positional else "var", nxt, i, i + 2))
        return i + 2
    return i + 1


def split_outside(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` characters that are not inside an expansion (or quotes)."""
    inside = [(e.start, e.end) for e in find_expansions(text) if e.kind != "reason"]
    parts, last = [], 0
    for k, c in enumerate(text):
        if c == sep and not any(a <= k < b for a, b in inside):
            parts.append(text[last:k])
            last = k + 1
    return [*parts, text[last:]]


class Param(NamedTuple):
    """The inside of ``${…}``: ``prefix`` is ``!`` (indirection), ``#`` (length) or empty;
    ``subscript`` the text in ``[ ]``; ``op`` the operator (``:`` for a substring) and ``word`` its
    operand."""

    prefix: str
    name: str
    subscript: str | None
    op: str
    word: str


def parse_param(text: str) -> Param | None:
    """Split the inside of ``${…}``; None if it is not a form this analysis understands."""
    if text in ("#", "!", "@", "*", "?", "$", "-") or text.isdigit():
        return Param("", text, None, "", "")
    prefix = text[0] if text[:1] in ("!", "#") else ""
    rest = text[len(prefix) :]
    m = _NAME.match(rest)
    if m:
        name, k = m.group(), m.end()
    elif rest[:1].isdigit():
        k = len(rest) - len(rest.lstrip("0123456789"))
        name = rest[:k]
    elif rest[:1] and rest[0] in _SPECIAL:
        name, k = rest[0], 1
    else:
        return None
    subscript = None
    if rest[k : k + 1] == "[":
        close = _bracket_end(rest, k)
        if close < 0:
            return None
        subscript, k = rest[k + 1 : close], close + 1
    tail = rest[k:]
    if not tail:
        return Param(prefix, name, subscript, "", "")
    if prefix == "!" and tail in ("*", "@"):
        return Param(prefix, name, subscript, tail, "")
    if tail[0] == ":" and tail[1:2] not in ("-", "=", "?", "+"):
        return Param(prefix, name, subscript, ":", tail[1:])
    for op in _PARAM_OPS:
        if tail.startswith(op):
            return Param(prefix, name, subscript, op, tail[len(op) :])
    return None


def _bracket_end(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 1
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1
