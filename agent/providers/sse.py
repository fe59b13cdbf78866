"""Incremental parsers for streamed HTTP bodies: Server-Sent Events and newline-delimited JSON.

Both take the body in arbitrary byte chunks (a chunk may end inside a line, inside a `\\r\\n` pair or
inside a multi-byte UTF-8 character) and return whatever became complete. A leading UTF-8 BOM is dropped.

SSE follows the WHATWG rules that matter to model APIs: lines end in `\\n`, `\\r\\n` or `\\r`; a blank line
dispatches the event; `data:` lines accumulate, joined by `\\n`; one space after the colon is dropped;
lines starting with `:` are comments (OpenRouter's keep-alives); `id:` and `retry:` are ignored. An event
without data is not dispatched. `[DONE]` (OpenAI's end marker) is an ordinary data value: see `SSEEvent.done`.
"""

from __future__ import annotations

import codecs
import re

from agent.values import frozen

_NEWLINE = re.compile(r"\r\n|\r|\n")


@frozen
class SSEEvent:
    event: str
    """The `event:` field, "message" when absent."""
    data: str

    @property
    def done(self) -> bool:
        """True for OpenAI's `data: [DONE]` end marker."""
        return self.data.strip() == "[DONE]"


class _LineSplitter:
    """Bytes in, complete text lines out (without their terminator)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._buffer = ""
        self._pending_cr = False  # the last chunk ended in "\r": a "\n" starting the next one belongs to it

    def feed(self, data: bytes) -> list[str]:
        text = self._decoder.decode(data)
        return self._split(text)

    def close(self) -> list[str]:
        lines = self._split(self._decoder.decode(b"", final=True))
        if self._buffer:
            lines.append(self._buffer)
            self._buffer = ""
        return lines

    def _split(self, text: str) -> list[str]:
        if self._pending_cr and text:
            if text.startswith("\n"):
                text = text[1:]
            self._pending_cr = False
        if not text:
            return []
        text = self._buffer + text
        lines: list[str] = []
        start = 0
        for match in _NEWLINE.finditer(text):
            if match.group() == "\r" and match.end() == len(text):
                self._pending_cr = True  # maybe the first half of a "\r\n" split across chunks
            lines.append(text[start : match.start()])
            start = match.end()
        self._buffer = text[start:]
        return lines


class SSEParser:
    """Feed body bytes, get complete events."""

    def __init__(self) -> None:
        self._lines = _LineSplitter()
        self._event = ""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[SSEEvent]:
        return self._handle(self._lines.feed(data))

    def close(self) -> list[SSEEvent]:
        """The end of the body: an event left without its blank line is dispatched too (lenient)."""
        events = self._handle(self._lines.close())
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _handle(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
                continue
            if line.startswith(":"):
                continue
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return events

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SSEEvent(event or "message", "\n".join(data))


class NDJSONSplitter:
    """Feed body bytes, get complete non-blank lines (each one JSON document, not parsed here)."""

    def __init__(self) -> None:
        self._lines = _LineSplitter()

    def feed(self, data: bytes) -> list[str]:
        return [line for line in self._lines.feed(data) if line.strip()]

    def close(self) -> list[str]:
        return [line for line in self._lines.close() if line.strip()]
