"""Block-level pieces of the markdown renderer: what a line starts, code highlighting, tables.

`classify` tells what a source line is (heading, list item, fence …) from as few characters as possible,
and says "not yet" (None) while more text could change the answer, so the stream can start rendering a
long line before it ends. `Highlighter` colours a code block line by line, carrying the pygments lexer's
state from one line to the next (a docstring opened on one line stays a string on the next), so each
line is lexed once. `render_table` draws a table with box characters, columns fitted to the width and
cells wrapped, measured with wide characters counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from agent.tui.markdown_inline import Fragments, Wrapper, parse_inline, width_of
from agent.values import frozen

HEADING, QUOTE, ITEM, TEXT, PIPE, FENCE, RULE, BLANK = "heading", "quote", "item", "text", "pipe", "fence", \
    "rule", "blank"
_ORDERED = re.compile(r"(\d{1,9})([.)])(?:[ \t]|$)")
_HEADING = re.compile(r"(#{1,6})(?:[ \t]|$)")
_QUOTE = re.compile(r"(?:>[ \t]?)+")
_DELIMITER = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
MAX_LEXED_LINE = 5000  # longer code lines are shown plain


@frozen
class Line:
    """What a source line is: `kind`, where its content starts, and the kind's details (heading level,
    quote depth, list marker, fence characters and language)."""

    kind: str
    start: int = 0
    indent: int = 0
    level: int = 0
    marker: str = ""
    info: str = ""


def classify(line: str, complete: bool) -> Line | None:
    """The kind of `line` (without its newline), or None while a partial line could still be several."""
    body = line.lstrip(" \t")
    indent = len(line[:len(line) - len(body)].expandtabs(4))
    offset = len(line) - len(body)
    if not body:
        return Line(BLANK) if complete else None
    c = body[0]
    if c in "`~":
        run = len(body) - len(body.lstrip(c))
        if run >= 3 and not (c == "`" and "`" in body[run:]):
            return Line(FENCE, indent=indent, marker=body[:run], info=body[run:].strip()) if complete else None
        return None if run == len(body) and not complete else Line(TEXT, offset)
    if c == "#" and indent <= 3:
        m = _HEADING.match(body)
        if m and (complete or m.end() > len(m.group(1))):
            return Line(HEADING, offset + m.end(), level=len(m.group(1)))
        if m:
            return None
        return None if len(body) <= 6 and body == "#" * len(body) and not complete else Line(TEXT, offset)
    if c == ">" and indent <= 3:
        m = _QUOTE.match(body)
        assert m is not None
        if m.end() == len(body) and not complete:
            return None
        return Line(QUOTE, offset + m.end(), level=m.group().count(">"))
    if c in "-*_+":
        if c != "+" and set(body) <= {c, " ", "\t"}:
            if complete and body.count(c) >= 3:
                return Line(RULE)
            if not complete:
                return None
        if c != "_" and (body[1:2] in (" ", "\t") or (body == c and complete)):
            return _item(line, body, offset, indent, c, 1, complete)
        return Line(TEXT, offset)
    if c.isdigit():
        m = _ORDERED.match(body)
        if m:
            return _item(line, body, offset, indent, m.group(1) + m.group(2), len(m.group(1)) + 1, complete)
        digits = len(body) - len(body.lstrip("0123456789"))
        if not complete and digits <= 9 and body[digits:] in ("", ".", ")"):
            return None
        return Line(TEXT, offset)
    if c == "|":
        return Line(PIPE, offset)
    return Line(TEXT, offset)


def _item(line: str, body: str, offset: int, indent: int, marker: str, width: int, complete: bool) -> Line | None:
    content = body[width:].lstrip(" \t")
    start = len(line) - len(content)
    if not complete and content and set(content) <= {marker, " ", "\t"}:
        return None  # "- -" may become the rule "- - -"
    if not complete and content in ("[", "[ ", "[x", "[X", "[ ]", "[x]", "[X]"):
        return None
    if content[:4] in ("[ ] ", "[x] ", "[X] ") or content in ("[ ]", "[x]", "[X]"):
        marker = "☑" if content[1] in "xX" else "☐"
        start += min(4, len(content))
    return Line(ITEM, start, indent=indent, marker=marker)


def split_cells(row: str) -> list[str]:
    """The cells of a table row: split on unescaped "|", outer pipes dropped, "\\|" kept as "|"."""
    cells, cell, k = [], [], 0
    row = row.strip()
    while k < len(row):
        if row[k] == "\\" and row[k + 1:k + 2] == "|":
            cell.append("|")
            k += 2
            continue
        if row[k] == "|":
            cells.append("".join(cell))
            cell = []
        else:
            cell.append(row[k])
        k += 1
    cells.append("".join(cell))
    if row.startswith("|"):
        cells = cells[1:]
    if row.endswith("|") and not row.endswith("\\|") and cells:
        cells = cells[:-1]
    return [c.strip() for c in cells]


def delimiter_aligns(line: str, columns: int) -> list[str] | None:
    """The column alignments ("<", "^", ">") if `line` is a table delimiter row for `columns` columns."""
    if "|" not in line or not _DELIMITER.fullmatch(line.strip()):
        return None
    cells = split_cells(line)
    if len(cells) != columns:
        return None
    return ["^" if c.startswith(":") and c.endswith(":") else ">" if c.endswith(":") else "<" for c in cells]


def render_table(header: list[str], aligns: list[str], rows: list[list[str]], width: int,
                 style: str = "") -> tuple[list[Fragments], int]:
    """The table's lines (box characters, columns fitted to `width`, cells wrapped) and the work done."""
    cols = len(header)
    cells = [[parse_inline(c)[0] for c in (row + [""] * cols)[:cols]] for row in [header, *rows]]
    work = sum(len(c) for row in [header, *rows] for c in row)
    natural = [max(1, *(width_of(row[k]) for row in cells)) for k in range(cols)]
    widths = _fit(natural, max(width - 3 * cols - 1, cols))
    border = f"{style} class:md.table.border".strip()

    def rule(left: str, mid: str, right: str) -> Fragments:
        return [(border, left + mid.join("─" * (w + 2) for w in widths) + right), (style, "\n")]

    lines = [rule("┌", "┬", "┐")]
    for r, row in enumerate(cells):
        base = f"{style} class:md.table.header".strip() if r == 0 else style
        wrapped = []
        for k, cell in enumerate(row):
            wrapper = Wrapper(widths[k], style=base)
            wrapper.feed([(" ".join(f"{base} {s}".split()), t) for s, t in cell])
            wrapper.close()
            wrapped.append([line[:-1] for line in wrapper.take()] or [[]])
        for n in range(max(len(w) for w in wrapped)):
            out: Fragments = [(border, "│")]
            for k, parts in enumerate(wrapped):
                content = parts[n] if n < len(parts) else []
                gap = widths[k] - width_of(content)
                left = gap // 2 if aligns[k] == "^" else gap if aligns[k] == ">" else 0
                out += [(base, " " * (left + 1)), *content, (base, " " * (gap - left + 1)), (border, "│")]
            lines.append([*out, (style, "\n")])
        if r == 0:
            lines.append(rule("├", "┼", "┤"))
    lines.append(rule("└", "┴", "┘"))
    return lines, work


def _fit(natural: list[int], room: int) -> list[int]:
    """Column widths: the natural ones if they fit, else the widest columns capped at one width."""
    if sum(natural) <= room:
        return natural
    low, high = 1, max(natural)
    while low < high:
        cap = (low + high + 1) // 2
        if sum(min(n, cap) for n in natural) <= room:
            low = cap
        else:
            high = cap - 1
    widths = [min(n, low) for n in natural]
    spare = room - sum(widths)
    for k, n in enumerate(natural):
        if spare > 0 and n > widths[k]:
            widths[k] += 1
            spare -= 1
    return widths


_TOKEN_CLASS: dict[Any, str] = {}


def _token_class(ttype: Any) -> str:
    cls = _TOKEN_CLASS.get(ttype)
    if cls is None:
        from pygments import token as t  # type: ignore[import-untyped]

        table = {t.Keyword: "keyword", t.Name.Builtin: "builtin", t.Name.Function: "function",
                 t.Name.Class: "class", t.Name.Exception: "class", t.Name.Decorator: "decorator",
                 t.Name.Tag: "keyword", t.Name: "name", t.String: "string", t.Number: "number",
                 t.Literal: "string", t.Comment.Preproc: "keyword", t.Comment: "comment",
                 t.Operator.Word: "keyword", t.Operator: "operator", t.Punctuation: "punctuation",
                 t.Error: "error", t.Generic.Inserted: "inserted", t.Generic.Deleted: "deleted",
                 t.Generic.Heading: "heading", t.Generic.Subheading: "heading", t.Generic.Prompt: "keyword",
                 t.Generic.Error: "error", t.Generic.Traceback: "error"}
        kind = ttype
        while kind is not None and kind not in table:
            kind = kind.parent
        cls = _TOKEN_CLASS[ttype] = f" class:code.{table[kind]}" if kind is not None else ""
    return cls


_lexers: dict[str, Any] = {}


def _lexer(language: str) -> Any:
    """The pygments lexer for a fence's language, found once per language (the search is slow), or None."""
    if language not in _lexers:
        from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
        from pygments.util import ClassNotFound  # type: ignore[import-untyped]

        try:
            _lexers[language] = get_lexer_by_name(language)
        except ClassNotFound:
            _lexers[language] = None
    return _lexers[language]


class Highlighter:
    """Highlights a code block line by line, keeping the lexer's state between lines."""

    def __init__(self, language: str) -> None:
        self.lexer: Any = None
        self.stack = ["root"]
        if language:
            self.lexer = _lexer(language.lower())

    def line(self, text: str, *, keep: bool = True) -> Fragments:
        """(class suffix, text) pieces of one line (no newline). keep=False: the line is partial, the
        state is not advanced."""
        if self.lexer is None or len(text) > MAX_LEXED_LINE:
            return [("", text)] if text else []
        stack = self.stack if keep else list(self.stack)
        try:
            pieces = [(_token_class(tt), v) for tt, v in self._tokens(text + "\n", stack)]
        except Exception:  # a lexer bug must not break the UI: show the line plain
            return [("", text)]
        if pieces and pieces[-1][1].endswith("\n"):
            last = pieces.pop()
            if last[1][:-1]:
                pieces.append((last[0], last[1][:-1]))
        return [p for p in pieces if p[1]]

    def _tokens(self, text: str, stack: list[str]) -> Iterator[tuple[Any, str]]:
        from pygments.lexer import RegexLexer  # type: ignore[import-untyped]

        lexer = self.lexer
        if not isinstance(lexer, RegexLexer) or \
                type(lexer).get_tokens_unprocessed is not RegexLexer.get_tokens_unprocessed:
            for _pos, ttype, value in lexer.get_tokens_unprocessed(text):
                yield ttype, value
            return
        yield from _regex_tokens(lexer, text, stack)


def _regex_tokens(lexer: Any, text: str, stack: list[str]) -> Iterator[tuple[Any, str]]:
    """pygments' RegexLexer loop over one line, with the state stack kept in `stack` (changed in place)."""
    from pygments.token import Error, Text, _TokenType  # type: ignore[import-untyped]

    defs = lexer._tokens
    pos, steps = 0, 0
    rules = defs[stack[-1]]
    while pos < len(text):
        steps += 1
        if steps > 4 * len(text) + 100:  # a lexer looping on empty matches
            yield Text, text[pos:]
            return
        for rexmatch, action, new_state in rules:
            m = rexmatch(text, pos)
            if not m:
                continue
            if action is not None:
                if type(action) is _TokenType:
                    yield action, m.group()
                else:
                    for _p, ttype, value in action(lexer, m):
                        yield ttype, value
            pos = m.end()
            if new_state is not None:
                if isinstance(new_state, tuple):
                    for state in new_state:
                        if state == "#pop":
                            if len(stack) > 1:
                                stack.pop()
                        elif state == "#push":
                            stack.append(stack[-1])
                        else:
                            stack.append(state)
                elif isinstance(new_state, int):
                    del stack[max(1, len(stack) + new_state) if abs(new_state) < len(stack) else 1:]
                elif new_state == "#push":
                    stack.append(stack[-1])
                rules = defs[stack[-1]]
            break
        else:
            if text[pos] == "\n":
                stack[:] = ["root"]
                rules = defs["root"]
                yield Text, "\n"
            else:
                yield Error, text[pos]
            pos += 1
