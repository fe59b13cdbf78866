"""Inline markdown (emphasis, code spans, links, autolinks) and greedy word wrapping, both incremental.

The streaming renderer (markdown.py) keeps, per open block, only the text that is not final yet (its
tail). `parse_inline(tail, final=False)` parses it and also returns a *safe point*: a position before
which nothing can change whatever text follows (no emphasis, code span or link still open). The
pieces before it are handed to a `Wrapper`, which fills lines greedily and emits each line once it is
full; the tail is cut there. So every character is parsed a bounded number of times, and the live view
redraws only the tail. Two rules keep that bound in adversarial text: an inline construct must end
within SPAN_LIMIT (LINK_LIMIT for links) characters of its start (beyond that it is literal text), and
the text before the oldest opener still open is final too; a safe point may fall inside a word (the
wrapper carries a word across feeds), so a 100 KB line without spaces is still cut into pieces.
The same rules apply when the whole text is parsed at once, so the output never depends on how the text
was split into deltas.
"""

from __future__ import annotations

import re
import unicodedata

from prompt_toolkit.utils import get_cwidth

Fragments = list[tuple[str, str]]

SPAN_LIMIT = 200  # emphasis and code spans end within this many characters of their start
LINK_LIMIT = 500  # so do links (their URL included) and bare URLs
LIMIT = LINK_LIMIT
_LIMITS = {"*": SPAN_LIMIT, "_": SPAN_LIMIT, "~": SPAN_LIMIT, "[": LINK_LIMIT, "!": LINK_LIMIT}
_GUARD = 8  # a safe point keeps this far from the end of partial text ("htt" may become "https://")
_SPECIAL = re.compile(r"[\\`*_~\[\]<!\n]|https?://")
_URL = re.compile(rf"https?://[^\s<>]{{0,{LIMIT}}}")
_AUTOLINK = re.compile(rf"<(https?://[^\s<>]{{1,{LIMIT}}}|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)>")
_DEST = re.compile(r"\(\s*(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)")
_DEST_PREFIX = re.compile(r"\(\s*(?:<[^<>\n]*>?|[^\s()<>]*(?:\([^\s()<>]*\)?[^\s()<>]*)*)"
                          r"(?:\s+(?:\"[^\"\n]*\"?|'[^'\n]*'?)?)?\s*")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_EMPHASIS = {1: "class:md.italic", 2: "class:md.bold", 3: "class:md.bold class:md.italic"}
_TOKEN = re.compile(r"\n|[ \t]+|[^ \t\n]+")


def _punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch)[0] in "PS"


def parse_inline(text: str, *, final: bool = True, prev: str = " ") -> tuple[Fragments, int, int]:
    """Inline markdown of `text` as (style, text) pieces, "\\n" kept as a piece. `prev` is the character
    before `text` (a space at the start of a block). Returns (pieces, safe, cut): with final=False,
    text[:safe] is final and rendered by pieces[:cut]; with final=True, safe == len(text)."""
    texts: list[str] = []
    styles: list[str] = []
    stack: list[tuple[str, int, int, int]] = []  # openers: (char, run length, piece index, position)
    end = len(text)
    i = 0
    safe, safe_piece, safe_cut = 0, 0, 0
    blocked = False  # a code span or link may still close: no safe point after it

    def put(piece: str, style: str = "") -> None:
        texts.append(piece)
        styles.append(style)

    while i < end:
        m = _SPECIAL.search(text, i)
        j = m.start() if m else end
        if j > i:
            put(text[i:j])
            p = j if j < end else end - _GUARD
            if not final and not blocked and p > i:
                # openers too old to close are literal for good; text before the oldest live one is final
                stack[:] = [e for e in stack if p - e[3] < _LIMITS[e[0]]]
                if not stack:
                    safe, safe_piece, safe_cut = p, len(texts) - 1, p - i
                elif stack[0][3] > safe:
                    safe, safe_piece, safe_cut = stack[0][3], stack[0][2], 0
            i = j
            if m is None:
                break
        ch = text[i]
        before = text[i - 1] if i else prev
        if ch == "\n":
            put("\n")
            i += 1
            if not final and not blocked:
                stack[:] = [e for e in stack if i - e[3] < _LIMITS[e[0]]]
                if not stack:
                    safe, safe_piece, safe_cut = i, len(texts) - 1, 1
        elif ch == "\\":
            nxt = text[i + 1:i + 2]
            escaped = nxt in _ASCII_PUNCT and nxt != ""
            put(nxt if escaped else "\\")
            i += 2 if escaped else 1
        elif ch == "h":
            if before.isalnum() or before in "/._-@":
                put("h")
                i += 1
                continue
            match = _URL.match(text, i)
            assert match is not None
            if not final and match.end() == end:
                blocked = True  # the URL may go on (and its trailing punctuation stay in it)
            url = _trim_url(match.group())
            put(url, "class:md.link")
            i += len(url)
        elif ch == "`":
            i, blocked = _code_span(text, i, final, put, blocked)
        elif ch in "*_~":
            run = _run(text, i, ch)
            nxt = text[i + run] if i + run < end else " "
            left = not nxt.isspace() and (not _punct(nxt) or before.isspace() or _punct(before))
            right = not before.isspace() and (not _punct(before) or nxt.isspace() or _punct(nxt))
            can_open, can_close = left, right
            if ch == "_":
                can_open = left and (not right or _punct(before))
                can_close = right and (not left or _punct(nxt))
            if run > 3 or (ch == "~" and run != 2):
                put(ch * run)
            else:
                opener = _find_opener(stack, ch, run, i + run) if can_close else -1
                if opener >= 0:
                    index = stack[opener][2]
                    texts[index] = ""
                    style = " " + ("class:md.strike" if ch == "~" else _EMPHASIS[run])
                    for k in range(index + 1, len(texts)):
                        styles[k] += style
                    del stack[opener:]
                elif can_open:
                    stack.append((ch, run, len(texts), i))
                    put(ch * run)
                else:
                    put(ch * run)
            i += run
        elif ch == "!" and text[i + 1:i + 2] == "[":
            stack.append(("!", 2, len(texts), i))
            put("![")
            i += 2
        elif ch == "[":
            stack.append(("[", 1, len(texts), i))
            put("[")
            i += 1
        elif ch == "]":
            i, blocked = _close_link(text, i, final, stack, texts, styles, blocked)
        elif ch == "<":
            auto = _AUTOLINK.match(text, i)
            put(auto.group(1) if auto else "<", "class:md.link" if auto else "")
            i = auto.end() if auto else i + 1
        else:
            put(ch)
            i += 1
    if final:
        safe = end
    elif safe:
        piece = texts[safe_piece]
        texts[safe_piece:safe_piece + 1] = [piece[:safe_cut], piece[safe_cut:]]
        styles.insert(safe_piece, styles[safe_piece])
        safe_piece += 1
    cut = sum(1 for t in texts[:safe_piece] if t) if not final else 0
    pieces = [(s, t) for s, t in zip(styles, texts, strict=True) if t]
    return pieces, safe, cut if not final else len(pieces)


def _run(text: str, i: int, ch: str) -> int:
    j = i
    while j < len(text) and text[j] == ch:
        j += 1
    return j - i


def _trim_url(url: str) -> str:
    while url:
        if url[-1] in ".,:;!?'\"*_~" or (url[-1] == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def _find_opener(stack: list[tuple[str, int, int, int]], ch: str, run: int, close_end: int) -> int:
    for k in range(len(stack) - 1, -1, -1):
        kind, length, _index, pos = stack[k]
        if close_end - pos > SPAN_LIMIT or kind in "[!":
            return -1
        if kind == ch and length == run:
            return k
    return -1


def _code_span(text: str, i: int, final: bool, put: object, blocked: bool) -> tuple[int, bool]:
    run = _run(text, i, "`")
    ticks = "`" * run
    j = text.find(ticks, i + run, i + SPAN_LIMIT)
    while j >= 0 and (text[j + run:j + run + 1] == "`"):
        j = text.find(ticks, j + run + _run(text, j + run, "`"), i + SPAN_LIMIT)
    emit = put
    if j < 0:
        if not final and len(text) < i + SPAN_LIMIT:
            blocked = True
        emit(ticks)  # type: ignore[operator]
        return i + run, blocked
    content = text[i + run:j].replace("\n", " ")
    if len(content) > 2 and content[0] == content[-1] == " " and content.strip():
        content = content[1:-1]
    if not final and j + run == len(text):
        blocked = True  # the closing run may still grow
    emit(content, "class:md.code")  # type: ignore[operator]
    return j + run, blocked


def _close_link(text: str, i: int, final: bool, stack: list[tuple[str, int, int, int]], texts: list[str],
                styles: list[str], blocked: bool) -> tuple[int, bool]:
    opener = -1
    for k in range(len(stack) - 1, -1, -1):
        if i - stack[k][3] >= LINK_LIMIT:
            break
        if stack[k][0] in "[!":
            opener = k
            break
    texts.append("]")
    styles.append("")
    if opener < 0:
        return i + 1, blocked
    kind, _run_len, index, pos = stack[opener]
    dest = _DEST.match(text, i + 1) if text[i + 1:i + 2] == "(" else None
    if dest and dest.end() - pos <= LINK_LIMIT:
        url = dest.group(1).strip("<>")
        texts.pop()
        styles.pop()
        label = "".join(texts[index + 1:])
        texts[index] = "image: " if kind == "!" else ""
        for k in range(index, len(texts)):
            styles[k] += " class:md.link"
        if url and url != label:
            texts.append(f" ({url})")
            styles.append("class:md.url")
        del stack[opener:]
        return dest.end(), blocked
    rest = text[i + 1:]
    if not final and len(text) - pos < LINK_LIMIT and (rest == "" or _DEST_PREFIX.fullmatch(rest)):
        return i + 1, True  # may still become a link: the opener stays, nothing after it is final
    del stack[opener]
    return i + 1, blocked


def width_of(fragments: Fragments) -> int:
    return sum(get_cwidth(text) for _style, text in fragments)


class Wrapper:
    """Greedy word wrapping of styled pieces fed in any number of calls; a word may span calls. Whitespace
    runs become one space, "\\n" breaks the line, a word wider than a line is cut by characters. Full
    lines (each ending with a "\\n" fragment) collect in `lines` until taken."""

    def __init__(self, width: int, first: Fragments | None = None, rest: Fragments | None = None,
                 style: str = "") -> None:
        self.width = width
        self.style = style
        self.lines: list[Fragments] = []
        self._rest = rest or []
        self._rest_w = width_of(self._rest)
        self._line: Fragments = list(first or [])
        self._lw = width_of(self._line)
        self._lead = len(self._line)  # fragments of the current line that are its prefix (bullet, bar, indent)
        self._has = False  # a word is on the current line
        self._word: Fragments = []
        self._ww = 0
        self._space: str | None = None  # style of the space due before the next word

    def clone(self) -> Wrapper:
        twin = Wrapper.__new__(Wrapper)
        twin.__dict__.update(self.__dict__)
        twin.lines, twin._line, twin._word = [], list(self._line), list(self._word)
        return twin

    def feed(self, pieces: Fragments) -> None:
        for style, text in pieces:
            for m in _TOKEN.finditer(text):
                token = m.group()
                if token == "\n":
                    self._place()
                    self._end_line()
                elif token[0] in " \t":
                    self._place()
                    if self._has:
                        self._space = style
                else:
                    self._word.append((style, token))
                    self._ww += get_cwidth(token)
                    if self._lw + self._ww + (self._space is not None) > self.width and (
                            self._ww > self.width - (self._rest_w if self._has else self._lw)):
                        if self._has:
                            self._end_line()
                        self._cut_word()

    def close(self) -> None:
        """End the text: the last line is emitted if it holds a word."""
        self._place()
        if self._has:
            self._end_line()

    def take(self) -> list[Fragments]:
        lines, self.lines = self.lines, []
        return lines

    def _place(self) -> None:
        if not self._word:
            return
        if self._has:
            if self._lw + 1 + self._ww <= self.width:
                self._line.append((self._space or self.style, " "))
                self._lw += 1
            else:
                self._end_line()
        if self._ww > self.width - self._lw:
            self._cut_word()
        self._line.extend(self._word)
        self._lw += self._ww
        self._has = True
        self._word, self._ww, self._space = [], 0, None

    def _cut_word(self) -> None:
        """On a fresh line: emit full lines of the pending word's characters, keep the remainder pending."""
        room = max(self.width - self._lw, 1)
        line: Fragments = []
        used = 0
        for style, text in self._word:
            start = 0
            for k, ch in enumerate(text):
                w = get_cwidth(ch)
                if used + w > room and used:
                    line.append((style, text[start:k]))
                    self._line.extend(p for p in line if p[1])
                    self._has = True
                    self._end_line()
                    room, line, used, start = max(self.width - self._lw, 1), [], 0, k
                used += w
            line.append((style, text[start:]))
        self._word = [p for p in line if p[1]]
        self._ww = used

    def _end_line(self) -> None:
        self.lines.append([*self._line, (self.style, "\n")])
        self._line = list(self._rest)
        self._lw = self._rest_w
        self._lead = len(self._rest)
        self._has = False
        self._space = None

    def resize(self, width: int) -> None:
        """Wrap to `width` from now on; the line being filled is wrapped again when it is already wider."""
        self.width = width
        if self._lw <= width:
            return
        words = self._line[self._lead:]
        pending, pending_w, space = self._word, self._ww, self._space
        self._line = self._line[:self._lead]
        self._lw = width_of(self._line)
        self._has, self._word, self._ww, self._space = False, [], 0, None
        self.feed(words)
        self._place()
        self._word, self._ww, self._space = pending, pending_w, space
