"""Markdown rendered as it streams, for the terminal UI: each finished line is rendered once.

The UI prints finished output into the terminal's scrollback once and redraws only the message being
streamed, so the renderer has two outputs: `feed()` returns lines that are final (printed now, never
again) and `live()` renders what is still open. Everything final leaves the renderer's buffers, so the
cost of a delta depends on the open part only and a message costs time linear in its length (`work`
counts the characters processed, for the tests and benchmarks/markdown_bench.py):

- paragraphs, headings, list items and quotes go through markdown_inline: their text is cut at safe
  points (no emphasis, code span or link still open) and word-wrapped incrementally, so a long paragraph
  is printed line by line as it arrives;
- code blocks are highlighted line by line with the lexer's state carried over (markdown_blocks), each
  line printed when it ends (the partial line is shown plain: lexing it again at every delta would
  cost more than the rest of the renderer together);
- a table is printed when a line that is not a row follows; while open, the live view shows its last rows.

Lines are classified as early as possible (`classify` says "not yet" while a partial line could still be
a heading, a rule or a list item), and the same rules apply whether text arrives in one piece or one
character at a time, so the output does not depend on how the reply was split. Markdown the renderer does
not know (HTML, footnotes, setext headings: "---" is a rule) is shown as text. Control characters are
shown as visible symbols, never sent to the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.utils import get_cwidth

from agent.tui.markdown_blocks import (
    BLANK,
    FENCE,
    HEADING,
    ITEM,
    PIPE,
    QUOTE,
    RULE,
    TEXT,
    Highlighter,
    Line,
    classify,
    delimiter_aligns,
    render_table,
    split_cells,
)
from agent.tui.markdown_inline import Fragments, Wrapper, parse_inline

if TYPE_CHECKING:
    from agent.tui.themes import Theme

__all__ = ["Fragments", "MarkdownStream", "render_markdown"]

HEAD = 64  # a partial line is classified from its first HEAD characters
HOLD_LIMIT = 400  # a line starting with "|" and at most this long waits for the next line: a table header?
LIVE_ROWS = 12  # the live view of an open table shows its last rows
BULLETS = ("•", "◦", "▪")
_CONTROL = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)} | {13: None, 127: "␡"} | {
    c: "\ufffd" for c in range(0x80, 0xA0)}


class _Flow:
    """An open block of inline text: the part not final yet (`tail`) and the wrapper of what is."""

    def __init__(self, kind: str, level: int, wrap: Wrapper, base: str) -> None:
        self.kind, self.level, self.wrap, self.base = kind, level, wrap, base
        self.tail = ""
        self.prev = " "
        self.next_parse = 0  # tail length at which to look for a safe point again


class _Table:
    def __init__(self, header: list[str], aligns: list[str]) -> None:
        self.header, self.aligns = header, aligns
        self.rows: list[list[str]] = []
        self.live: Fragments | None = None


class MarkdownStream:
    """Renders one streamed message. `style` is added to every fragment (e.g. "class:reasoning")."""

    def __init__(self, theme: Theme, width: int = 100, *, style: str = "") -> None:
        self.theme = theme
        self.width = max(width, 20)
        self.style = style
        self.work = 0  # characters parsed, wrapped and lexed so far
        self._out: list[Fragments] = []
        self._started = False  # a line was emitted
        self._gap = False  # a blank line is due before the next line
        self._flow: _Flow | None = None
        self._code: tuple[Highlighter, str, int] | None = None  # highlighter, fence, fence indent
        self._table: _Table | None = None
        self._held: str | None = None  # a "|" line waiting for the next: a table header?
        self._lists: list[int] = []  # indents of the open list items, outermost first
        self._parts: list[str] = []  # the current line, while not routed to a flow
        self._plen = 0
        self._head = ""
        self._routed = False  # the current line's content goes straight to self._flow
        self._live: Fragments | None = None

    def resize(self, width: int) -> None:
        """The terminal changed width: what is not printed yet is wrapped to the new width (lines already in
        the scrollback stay as they are; the terminal reflows them or not)."""
        self.width = max(width, 20)
        if self._flow is not None:
            self._flow.wrap.resize(self.width)
            for line in self._flow.wrap.take():  # the line being filled, wrapped again: final now
                self._emit(line)
        self._live = None

    def feed(self, delta: str) -> list[Fragments]:
        """Add streamed text. Returns the lines that just became final, rendered, each ending with "\\n"."""
        self._live = None
        text = delta.translate(_CONTROL)
        pos = 0
        while pos < len(text):
            nl = text.find("\n", pos)
            end = len(text) if nl < 0 else nl
            if end > pos:
                self._add(text[pos:end])
            if nl < 0:
                break
            self._end_line()
            pos = nl + 1
        return self._take()

    def live(self) -> Fragments:
        """The part still open, rendered as far as it goes."""
        if self._live is None:
            self._live = self._render_live()
        return self._live

    def finish(self) -> list[Fragments]:
        """The message ended: render and return what is left."""
        self._live = None
        if self._routed or self._plen:
            self._end_line()
        self._release_held()
        self._close_blocks()
        if self._code is not None:
            self._emit(self._border("─" * self.width))
            self._code = None
        return self._take()

    def _cls(self, name: str) -> str:
        return f"{self.style} class:{name}".strip()

    def _take(self) -> list[Fragments]:
        out, self._out = self._out, []
        return out

    def _emit(self, line: Fragments) -> None:
        if self._gap:
            self._out.append([(self.style, "\n")])
            self._gap = False
        self._out.append(_merge(line))
        self._started = True

    def _border(self, text: str) -> Fragments:
        return [(self._cls("md.codeblock.border"), text), (self.style, "\n")]

    # lines

    def _add(self, chunk: str) -> None:
        if self._routed:
            self._flow_add(chunk)
            return
        self._parts.append(chunk)
        self._plen += len(chunk)
        fresh = len(self._head) < HEAD
        if fresh:
            self._head += chunk[:HEAD - len(self._head)]
        if self._code is not None or self._table is not None or self._held is not None:
            return
        kind = classify(self._head, False) if fresh else None
        if kind is None or kind.kind not in (HEADING, QUOTE, ITEM, TEXT):
            if self._plen > HOLD_LIMIT and classify(self._head, False) == Line(PIPE, kind.start if kind else 0):
                kind = Line(TEXT, len(self._head) - len(self._head.lstrip(" \t")))
            else:
                return
        line = self._take_line()
        self._start(kind, line)

    def _take_line(self) -> str:
        line = "".join(self._parts)
        self._parts, self._plen, self._head = [], 0, ""
        return line

    def _end_line(self) -> None:
        if self._routed:
            self._end_routed()
            return
        self._line(self._take_line())

    def _end_routed(self) -> None:
        assert self._flow is not None
        self._flow_add("\n")
        self._routed = False
        self._parts, self._plen, self._head = [], 0, ""
        if self._flow.kind == HEADING:
            self._close_flow()

    def _line(self, line: str) -> None:
        """A complete line that was not routed while it arrived."""
        if self._code is not None:
            self._code_line(line)
            return
        if self._table is not None:
            if line.strip() and "|" in line:
                self._table.rows.append(split_cells(line))
                self._table.live = None
                self.work += len(line)
                return
            self._close_blocks()
        if self._held is not None:
            cells = split_cells(self._held)
            aligns = delimiter_aligns(line, len(cells))
            if aligns is not None:
                self._held = None
                self._close_blocks()
                self._table = _Table(cells, aligns)
                return
            self._release_held()
        kind = classify(line, True)
        assert kind is not None
        if kind.kind == PIPE and len(line) <= HOLD_LIMIT:
            self._held = line
        elif kind.kind in (BLANK, FENCE, RULE) or (kind.kind == QUOTE and not line[kind.start:].strip()):
            self._close_blocks()
            if kind.kind == BLANK:
                self._gap = self._started
            elif kind.kind == RULE:
                self._lists = []
                self._emit([(self._cls("md.rule"), "─" * self.width), (self.style, "\n")])
            elif kind.kind == QUOTE:
                self._emit([(self._cls("md.quote"), "│ " * kind.level), (self.style, "\n")])
            else:
                self._open_code(kind)
        else:
            self._start(kind if kind.kind != PIPE else Line(TEXT, kind.start), line)
            self._end_routed()

    def _release_held(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._start(Line(TEXT, len(held) - len(held.lstrip(" \t"))), held)
            self._end_routed()

    # flows

    def _start(self, kind: Line, line: str) -> None:
        """Route a line of inline text: continue the open flow or open a new one."""
        flow = self._flow
        continues = flow is not None and flow.kind != HEADING and (
            kind.kind == TEXT or (kind.kind == QUOTE and flow.kind == QUOTE and flow.level == kind.level))
        if not continues:
            self._close_blocks()
            self._flow = self._open_flow(kind, line)
        self._routed = True
        self._flow_add(line[kind.start:])

    def _open_flow(self, kind: Line, line: str) -> _Flow:
        width, s = self.width, self.style
        if kind.kind == HEADING:
            self._lists = []
            base = self._cls(f"md.h{kind.level}")
            return _Flow(HEADING, kind.level, Wrapper(width, style=base), base)
        if kind.kind == QUOTE:
            base = self._cls("md.quote")
            bar = [(base, "│ " * kind.level)]
            return _Flow(QUOTE, kind.level, Wrapper(width, bar, bar, base), base)
        if kind.kind == ITEM:
            while self._lists and kind.indent < self._lists[-1]:
                self._lists.pop()
            if not self._lists or kind.indent > self._lists[-1]:
                self._lists.append(kind.indent)
            level = len(self._lists) - 1
            bullet = kind.marker if kind.marker not in "-*+" else BULLETS[level % len(BULLETS)]
            indent = "  " * level
            first = [(s, indent), (self._cls("md.list.bullet"), bullet), (s, " ")]
            rest = [(s, " " * (len(indent) + get_cwidth(bullet) + 1))]
            return _Flow(ITEM, level, Wrapper(width, first, rest, s), s)
        column = len(line[:kind.start].expandtabs(4))
        depth = sum(1 for d in self._lists if d < column)
        if not depth:
            self._lists = []
        pad = [(s, "  " * depth)] if depth else []
        return _Flow(TEXT, 0, Wrapper(width, pad, pad, s), s)

    def _flow_add(self, text: str) -> None:
        flow = self._flow
        assert flow is not None
        flow.tail += text
        if len(flow.tail) < flow.next_parse:
            return  # an open construct blocked the last try: wait for a quarter more text
        self.work += len(flow.tail)
        pieces, safe, cut = parse_inline(flow.tail, final=False, prev=flow.prev)
        flow.next_parse = 0 if safe else len(flow.tail) + max(16, len(flow.tail) // 4)
        if safe:
            flow.wrap.feed([(_join(flow.base, st), t) for st, t in pieces[:cut]])
            flow.prev = flow.tail[safe - 1]
            flow.tail = flow.tail[safe:]
            for line in flow.wrap.take():
                self._emit(line)

    def _close_flow(self) -> None:
        flow, self._flow = self._flow, None
        if flow is None:
            return
        self.work += len(flow.tail)
        pieces = parse_inline(flow.tail, final=True, prev=flow.prev)[0]
        flow.wrap.feed([(_join(flow.base, st), t) for st, t in pieces])
        flow.wrap.close()
        for line in flow.wrap.take():
            self._emit(line)

    def _close_blocks(self) -> None:
        self._close_flow()
        table, self._table = self._table, None
        if table is not None:
            lines, work = render_table(table.header, table.aligns, table.rows, self.width, self.style)
            self.work += work
            for line in lines:
                self._emit(line)

    # code blocks

    def _open_code(self, kind: Line) -> None:
        words = kind.info.split()
        language = words[0].strip("{}.").lower() if words else ""
        self._code = (Highlighter(language), kind.marker, kind.indent)
        label = f"─── {language} " if language else ""
        self._emit(self._border(label + "─" * max(self.width - get_cwidth(label), 3)))

    def _code_line(self, line: str) -> None:
        assert self._code is not None
        highlighter, fence, indent = self._code
        body = line.strip()
        if body.startswith(fence) and not body.strip(fence[0]):
            self._code = None
            self._emit(self._border("─" * self.width))
            return
        self._emit([*self._code_pieces(highlighter, line, indent, True), (self._cls("md.codeblock"), "\n")])

    def _code_pieces(self, highlighter: Highlighter, line: str, indent: int, keep: bool) -> Fragments:
        k = 0
        while k < indent and k < len(line) and line[k] == " ":
            k += 1
        text = line[k:].expandtabs(4)
        self.work += len(text)
        base = self._cls("md.codeblock")
        return [(base + cls, piece) for cls, piece in highlighter.line(text, keep=keep)]

    # live view

    def _render_live(self) -> Fragments:
        out: Fragments = []
        flow = self._flow
        if flow is not None:
            wrap = flow.wrap.clone()
            self.work += len(flow.tail)
            pieces = parse_inline(flow.tail, final=False, prev=flow.prev)[0]
            wrap.feed([(_join(flow.base, st), t) for st, t in pieces])
            wrap.close()
            for line in wrap.take():
                out += line
        partial_row = self._table is not None and self._plen and "".join(self._parts).lstrip().startswith("|")
        if self._table is not None:
            table = self._table
            if partial_row:  # the row being streamed is shown in the table, as far as it goes
                rows = [*table.rows[-(LIVE_ROWS - 1):], split_cells("".join(self._parts))]
                lines, work = render_table(table.header, table.aligns, rows, self.width, self.style)
                self.work += work
                out += [frag for line in lines for frag in line]
            else:
                if table.live is None:
                    lines, work = render_table(table.header, table.aligns, table.rows[-LIVE_ROWS:], self.width,
                                               self.style)
                    self.work += work
                    table.live = [frag for line in lines for frag in line]
                out += table.live
        if self._held is not None:
            out += [(self.style, self._held), (self.style, "\n")]
        if self._plen and not partial_row:
            out += [(self._cls("md.codeblock") if self._code else self.style, self._partial_tail())]
        if out and out[-1][1] == "\n":
            out.pop()
        return out

    def _partial_tail(self) -> str:
        """The end of the current partial line, at most a line wide ("…" when cut)."""
        if self._plen <= self.width:
            return "".join(self._parts)
        tail: list[str] = []
        size = 0
        for part in reversed(self._parts):
            tail.append(part[-(self.width - size):])
            size += len(tail[-1])
            if size >= self.width - 1:
                break
        return "…" + "".join(reversed(tail))[-(self.width - 1):]


def _join(base: str, style: str) -> str:
    return " ".join(f"{base} {style}".split()) if style else base


def _merge(line: Fragments) -> Fragments:
    """Adjacent fragments of one style joined (so the output does not depend on how text was split)."""
    merged: Fragments = []
    for style, text in line:
        if merged and merged[-1][0] == style:
            merged[-1] = (style, merged[-1][1] + text)
        elif text:
            merged.append((style, text))
    return merged


def render_markdown(text: str, theme: Theme, width: int = 100) -> Fragments:
    """The whole of `text` rendered at once (the same lines a stream of it gives)."""
    stream = MarkdownStream(theme, width)
    lines = stream.feed(text) + stream.finish()
    return [fragment for line in lines for fragment in line]
