"""The script parser: valid scripts become Script/Reply/Part, invalid ones raise ScriptError naming the spot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.llm_server.script import Part, Reply, ScriptError, load, parse, parse_reply
from tests.llm_server.wire_common import fragments, word_chunks


def test_a_full_script_parses() -> None:
    script = parse({
        "comment": "two turns",
        "replies": [
            {"parts": [{"type": "reasoning", "text": "hmm", "signature": "sig"},
                       {"type": "text", "text": "hi"},
                       {"type": "tool_call", "name": "read", "arguments": {"path": "a"}, "id": "c1"},
                       {"type": "tool_call", "name": "bad", "raw_arguments": "{oops"}],
             "usage": {"input_tokens": 3, "output_tokens": 4, "cost": 0.5}, "chunk_delay": 0.01},
            {"error": {"status": 429, "message": "slow", "retry_after": 1.5}},
            {"error": {"drop": True}},
            {"hang": True},
            {"parts": [{"type": "text", "text": "x"}], "stop": "max_tokens"},
            {"parts": [{"type": "text", "text": "half"}], "error": {"status": 529, "mid_stream": True}},
        ],
    })
    first = script.replies[0]
    assert first.parts[0] == Part(type="reasoning", text="hmm", signature="sig")
    assert first.parts[2].arguments_json == '{"path": "a"}' and first.parts[3].arguments_json == "{oops"
    assert first.stop_reason == "tool_calls" and first.text == "hi" and first.reasoning == "hmm"
    assert first.usage == {"input_tokens": 3, "output_tokens": 4, "cost": 0.5} and first.chunk_delay == 0.01
    assert script.replies[1].error == {"status": 429, "message": "slow", "retry_after": 1.5}
    assert script.replies[2].error == {"drop": True}
    assert script.replies[3].hang
    assert script.replies[4].stop_reason == "max_tokens"
    assert Reply(parts=[Part(type="text", text="x")]).stop_reason == "end"


def test_a_bare_list_and_an_empty_script() -> None:
    assert len(parse([{"parts": []}]).replies) == 1
    assert parse({}).replies == []
    assert parse_reply({"parts": [{"type": "text", "text": "a"}]}).text == "a"


@pytest.mark.parametrize(("data", "message"), [
    ("nope", "a script is an object"),
    ({"replies": {}}, "replies must be a list"),
    ({"replies": [], "extra": 1}, "unknown key(s): extra"),
    ({"replies": [3]}, "reply 0: expected an object"),
    ({"replies": [{"partz": []}]}, "reply 0: unknown key(s): partz"),
    ({"replies": [{"parts": {}}]}, "reply 0: parts must be a list"),
    ({"replies": [{"parts": ["x"]}]}, "reply 0 part 0: expected an object"),
    ({"replies": [{}, {"parts": [{"type": "image"}]}]}, "reply 1 part 0: type must be text, reasoning or tool_call"),
    ({"replies": [{"parts": [{"type": "text"}]}]}, "reply 0 part 0: a text part needs a string 'text'"),
    ({"replies": [{"parts": [{"type": "text", "text": "a", "name": "x"}]}]}, "unknown key(s) for a text part: name"),
    ({"replies": [{"parts": [{"type": "reasoning", "text": "a", "signature": 5}]}]}, "'signature' must be a string"),
    ({"replies": [{"parts": [{"type": "tool_call", "arguments": {}}]}]}, "needs a non-empty string 'name'"),
    ({"replies": [{"parts": [{"type": "tool_call", "name": "r", "arguments": [1]}]}]}, "'arguments' must be an object"),
    ({"replies": [{"parts": [{"type": "tool_call", "name": "r", "arguments": {}, "raw_arguments": "{}"}]}]},
     "either 'arguments' or 'raw_arguments'"),
    ({"replies": [{"parts": [{"type": "tool_call", "name": "r", "raw_arguments": {}}]}]},
     "'raw_arguments' must be a string"),
    ({"replies": [{"usage": {"input": 3}}]}, "unknown usage key(s): input"),
    ({"replies": [{"usage": {"input_tokens": -1}}]}, "usage input_tokens must be a non-negative integer"),
    ({"replies": [{"usage": {"output_tokens": 1.5}}]}, "usage output_tokens must be a non-negative integer"),
    ({"replies": [{"usage": {"cost": "free"}}]}, "usage cost must be a non-negative number"),
    ({"replies": [{"usage": []}]}, "usage must be an object"),
    ({"replies": [{"stop": "stop"}]}, "stop must be one of end, tool_calls, max_tokens"),
    ({"replies": [{"chunk_delay": -1}]}, "chunk_delay must be a non-negative number"),
    ({"replies": [{"hang": "yes"}]}, "hang must be true or false"),
    ({"replies": [{"error": "boom"}]}, "error must be an object"),
    ({"replies": [{"error": {"status": 200}}]}, "error needs an HTTP 'status' between 400 and 599"),
    ({"replies": [{"error": {"message": "x"}}]}, "error needs an HTTP 'status'"),
    ({"replies": [{"error": {"status": 429, "retry_after": "soon"}}]}, "retry_after must be a non-negative number"),
    ({"replies": [{"error": {"status": 429, "wait": 1}}]}, "unknown error key(s): wait"),
    ({"replies": [{"error": {"drop": "yes"}}]}, "error drop must be true"),
    ({"replies": [{"error": {"status": 500}, "hang": True}]}, "cannot both hang and be an error"),
    ({"replies": [{"error": {"status": 500}, "parts": [{"type": "text", "text": "a"}]}]},
     "an error reply has no parts"),
    ({"replies": [{"hang": True, "parts": [{"type": "text", "text": "a"}]}]}, "a hanging reply has no parts"),
])
def test_invalid_scripts_name_the_problem(data: Any, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse(data)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_reads_a_file_and_reports_bad_json(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"replies": [{"parts": [{"type": "text", "text": "ok"}]}]}))
    assert load(good).replies[0].text == "ok"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScriptError, match="not valid JSON"):
        load(bad)


@pytest.mark.parametrize("text", ["", "one", "  leading and trailing  ", "a b c d e f g h", "line one\nline two\n\n",
                                  "ünïcode   spaced\ttabs"])
def test_chunking_keeps_every_character(text: str) -> None:
    pieces = word_chunks(text)
    assert "".join(pieces) == text
    assert all(pieces)
    assert "".join(fragments(text)) == text and len(fragments(text)) >= 1
    if len(text.split()) > 3:
        assert len(pieces) > 1
