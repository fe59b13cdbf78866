"""The incremental SSE parser and NDJSON splitter, fed at arbitrary chunk boundaries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.providers.sse import NDJSONSplitter, SSEEvent, SSEParser


def feed_all(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


def test_events_with_names_multiline_data_comments_and_done() -> None:
    body = (
        b": OPENROUTER PROCESSING\n\n"
        b'event: message_start\ndata: {"a": 1}\n\n'
        b"data: line one\r\ndata: line two\r\n\r\n"
        b"data:no-space\r\rdata:  two spaces\n\n"
        b"id: 7\nretry: 100\nevent: ping\n\n"  # no data: not dispatched
        b"data: [DONE]\n\n"
    )
    events = feed_all([body])
    assert events == [
        SSEEvent("message_start", '{"a": 1}'),
        SSEEvent("message", "line one\nline two"),
        SSEEvent("message", "no-space"),
        SSEEvent("message", " two spaces"),
        SSEEvent("message", "[DONE]"),
    ]
    assert events[-1].done and not events[0].done


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [SSEEvent("message", "a\nb")]


def test_multibyte_character_split_between_chunks() -> None:
    data = "data: héllo — 世界\n\n".encode()
    assert feed_all([data[:9], data[9:10], data[10:]]) == [SSEEvent("message", "héllo — 世界")]


def test_unterminated_last_event_is_dispatched_at_close() -> None:
    assert feed_all([b"\xef\xbb\xbfdata: last"]) == [SSEEvent("message", "last")]


_line = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=12)
_event = st.tuples(
    st.sampled_from(["", "message_start", "content_block_delta"]), st.lists(_line, min_size=1, max_size=3)
)


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_event, max_size=6),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    comments=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_chunking_gives_the_same_events(
    events: list[tuple[str, list[str]]], newline: str, comments: bool, cuts: list[int]
) -> None:
    text = ""
    for name, lines in events:
        if comments:
            text += f": keep-alive{newline}"
        if name:
            text += f"event: {name}{newline}"
        text += "".join(f"data: {line}{newline}" for line in lines) + newline
    data = text.encode()
    expected = [SSEEvent(name or "message", "\n".join(lines)) for name, lines in events]
    assert feed_all([data]) == expected
    assert feed_all(split(data, cuts)) == expected
    assert feed_all([bytes([b]) for b in data]) == expected


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_line.filter(lambda s: s.strip() != ""), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=10),
    final_newline=st.booleans(),
)
def test_ndjson_splitter(lines: list[str], cuts: list[int], final_newline: bool) -> None:
    data = ("\n\n".join(lines) + ("\n" if final_newline else "")).encode()
    splitter = NDJSONSplitter()
    out: list[str] = []
    for piece in split(data, cuts):
        out.extend(splitter.feed(piece))
    out.extend(splitter.close())
    assert out == lines
