"""The script the scripted LLM server replays: one reply per model request, in order.

A script is JSON (or the equivalent Python data):

    {"replies": [REPLY, ...]}               # a bare list [REPLY, ...] is accepted too

Each REPLY answers the next request the server receives (on any of the four wire formats, streaming or
not, whatever the model name):

    {"parts": [PART, ...],                  # in the order they are streamed
     "usage": {"input_tokens": 12, "output_tokens": 34, "cache_read_tokens": 0,
               "cache_write_tokens": 0, "reasoning_tokens": 0, "cost": 0.0012},   # all optional
     "stop": "end" | "tool_calls" | "max_tokens",                                  # optional, inferred
     "chunk_delay": 0.0}                    # optional seconds between streamed chunks (to test cancel)

    PART = {"type": "text", "text": "..."}
         | {"type": "reasoning", "text": "...", "signature": "..."}      # signature optional
         | {"type": "tool_call", "name": "read", "arguments": {...}, "id": "call_1"}   # id optional
         | {"type": "tool_call", "name": "read", "raw_arguments": "{not json"}          # malformed on purpose

    or an error reply, answered instead of a completion:

    {"error": {"status": 429, "message": "slow down", "retry_after": 1}}   # retry_after optional (seconds)
    {"error": {"drop": true}}          # close the connection without a response (a network failure)
    {"hang": true}                     # accept, send headers, then stream nothing until the client leaves

Extensions (all optional): an error may name the provider's error `type` (Anthropic/OpenAI) and `code`
(OpenAI) instead of the ones derived from the status; `{"error": {..., "mid_stream": true}, "parts": [...]}`
streams the parts, then the provider's in-stream error event (a non-streaming request gets the HTTP error);
a "comment" key is ignored at the top level and in replies.

Usage numbers are provider-neutral and are mapped onto each wire format:
- input_tokens is the WHOLE prompt, cached tokens included (OpenAI prompt_tokens, Gemini
  promptTokenCount, Ollama prompt_eval_count). Anthropic reports its input_tokens without the cached
  parts: the server sends input_tokens - cache_read_tokens - cache_write_tokens there.
- output_tokens is the whole output, reasoning included (OpenAI completion_tokens, Anthropic
  output_tokens, Ollama eval_count). Gemini reports candidatesTokenCount = output - reasoning and
  thoughtsTokenCount = reasoning.
- cost is sent only on the OpenAI format (OpenRouter's usage.cost), and only when scripted.

Streamed text and reasoning are split into several chunks (a few words each) so clients really assemble
deltas; tool-call arguments are split across chunks too, where the wire format allows it.

Every request the server receives is recorded (path, headers, parsed JSON body) so tests can check what
the client sent: tool results, thinking parameters, cache markers, API keys in the right header.

When the replies run out the server answers HTTP 500 with a message saying the script is exhausted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PART_TYPES = ("text", "reasoning", "tool_call")
STOPS = ("end", "tool_calls", "max_tokens")
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost")
_PART_KEYS = {
    "text": {"type", "text"},
    "reasoning": {"type", "text", "signature"},
    "tool_call": {"type", "name", "arguments", "raw_arguments", "id"},
}
_REPLY_KEYS = {"parts", "usage", "stop", "chunk_delay", "error", "hang", "comment"}
_ERROR_KEYS = {"status", "message", "retry_after", "drop", "type", "code", "mid_stream"}


class ScriptError(ValueError):
    """An invalid script; the message names the reply/part and what is wrong."""


@dataclass
class Part:
    type: str  # "text" | "reasoning" | "tool_call"
    text: str = ""
    signature: str | None = None
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str | None = None
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments exactly as the model "wrote" them (raw_arguments when scripted)."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class Reply:
    parts: list[Part] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    stop: str | None = None
    chunk_delay: float = 0.0
    error: dict[str, Any] | None = None
    hang: bool = False

    @property
    def stop_reason(self) -> str:
        if self.stop:
            return self.stop
        return "tool_calls" if any(p.type == "tool_call" for p in self.parts) else "end"

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if p.type == "text")

    @property
    def reasoning(self) -> str:
        return "".join(p.text for p in self.parts if p.type == "reasoning")

    @property
    def tool_calls(self) -> list[Part]:
        return [p for p in self.parts if p.type == "tool_call"]


@dataclass
class Script:
    replies: list[Reply]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_part(where: str, raw: object) -> Part:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected an object")
    kind = raw.get("type")
    if kind not in PART_TYPES:
        raise ScriptError(f"{where}: type must be text, reasoning or tool_call")
    unknown = sorted(set(raw) - _PART_KEYS[kind])
    if unknown:
        raise ScriptError(f"{where}: unknown key(s) for a {kind} part: {', '.join(unknown)}")
    if kind in ("text", "reasoning") and not isinstance(raw.get("text"), str):
        raise ScriptError(f"{where}: a {kind} part needs a string 'text'")
    if kind == "reasoning" and not isinstance(raw.get("signature", ""), str | None):
        raise ScriptError(f"{where}: 'signature' must be a string")
    if kind == "tool_call":
        if not isinstance(raw.get("name"), str) or not raw["name"]:
            raise ScriptError(f"{where}: a tool_call part needs a non-empty string 'name'")
        if "arguments" in raw and "raw_arguments" in raw:
            raise ScriptError(f"{where}: give either 'arguments' or 'raw_arguments', not both")
        if not isinstance(raw.get("arguments", {}), dict):
            raise ScriptError(f"{where}: 'arguments' must be an object (use raw_arguments for anything else)")
        if not isinstance(raw.get("raw_arguments", ""), str):
            raise ScriptError(f"{where}: 'raw_arguments' must be a string")
        if not isinstance(raw.get("id", ""), str | None):
            raise ScriptError(f"{where}: 'id' must be a string")
    return Part(**raw)


def _parse_usage(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: usage must be an object")
    unknown = sorted(set(raw) - set(USAGE_KEYS))
    if unknown:
        raise ScriptError(f"{where}: unknown usage key(s): {', '.join(unknown)} (known: {', '.join(USAGE_KEYS)})")
    for key, value in raw.items():
        if key == "cost":
            if value is not None and (not _is_number(value) or value < 0):
                raise ScriptError(f"{where}: usage cost must be a non-negative number")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ScriptError(f"{where}: usage {key} must be a non-negative integer")
    return dict(raw)


def _parse_error(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: error must be an object")
    unknown = sorted(set(raw) - _ERROR_KEYS)
    if unknown:
        raise ScriptError(f"{where}: unknown error key(s): {', '.join(unknown)}")
    if raw.get("drop"):
        if raw["drop"] is not True:
            raise ScriptError(f"{where}: error drop must be true")
        return dict(raw)
    status = raw.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ScriptError(f"{where}: error needs an HTTP 'status' between 400 and 599 (or drop: true)")
    if not isinstance(raw.get("message", ""), str):
        raise ScriptError(f"{where}: error message must be a string")
    if "retry_after" in raw and (not _is_number(raw["retry_after"]) or raw["retry_after"] < 0):
        raise ScriptError(f"{where}: error retry_after must be a non-negative number of seconds")
    for key in ("type", "code"):
        if key in raw and not isinstance(raw[key], str):
            raise ScriptError(f"{where}: error {key} must be a string")
    return dict(raw)


def parse_reply(raw: object, index: int = 0) -> Reply:
    """One Reply from its JSON form (raises ScriptError, a ValueError, naming what is wrong)."""
    where = f"reply {index}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected an object")
    unknown = sorted(set(raw) - _REPLY_KEYS)
    if unknown:
        raise ScriptError(f"{where}: unknown key(s): {', '.join(unknown)}")
    raw_parts = raw.get("parts", [])
    if not isinstance(raw_parts, list):
        raise ScriptError(f"{where}: parts must be a list")
    parts = [_parse_part(f"{where} part {j}", p) for j, p in enumerate(raw_parts)]
    usage = _parse_usage(where, raw.get("usage", {}))
    stop = raw.get("stop")
    if stop is not None and stop not in STOPS:
        raise ScriptError(f"{where}: stop must be one of {', '.join(STOPS)}")
    delay = raw.get("chunk_delay", 0.0)
    if not _is_number(delay) or delay < 0:
        raise ScriptError(f"{where}: chunk_delay must be a non-negative number of seconds")
    hang = raw.get("hang", False)
    if not isinstance(hang, bool):
        raise ScriptError(f"{where}: hang must be true or false")
    error = _parse_error(where, raw["error"]) if raw.get("error") is not None else None
    if error is not None and hang:
        raise ScriptError(f"{where}: a reply cannot both hang and be an error")
    if error is not None and parts and not error.get("mid_stream"):
        raise ScriptError(f"{where}: an error reply has no parts (unless the error is mid_stream)")
    if error is not None and error.get("mid_stream") and error.get("drop"):
        raise ScriptError(f"{where}: a mid_stream error cannot be a drop")
    if hang and parts:
        raise ScriptError(f"{where}: a hanging reply has no parts")
    return Reply(parts=parts, usage=usage, stop=stop, chunk_delay=float(delay), error=error, hang=hang)


def parse(data: dict[str, Any] | list[Any]) -> Script:
    """A Script from its JSON form (raises ScriptError, a ValueError, naming what is wrong)."""
    if isinstance(data, list):
        data = {"replies": data}
    if not isinstance(data, dict):
        raise ScriptError("a script is an object {\"replies\": [...]} (or a list of replies)")
    unknown = sorted(set(data) - {"replies", "comment"})
    if unknown:
        raise ScriptError(f"script: unknown key(s): {', '.join(unknown)}")
    raw_replies = data.get("replies", [])
    if not isinstance(raw_replies, list):
        raise ScriptError("script: replies must be a list")
    return Script([parse_reply(raw, i) for i, raw in enumerate(raw_replies)])


def load(path: Path) -> Script:
    """A Script from a JSON file (ScriptError on invalid JSON or an invalid script)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{path}: not valid JSON: {exc}") from exc
    return parse(data)
