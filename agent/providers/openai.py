"""The OpenAI Chat Completions wire format: kinds `openai` and `openrouter`, and every OpenAI-compatible
server (vLLM, LiteLLM, llama.cpp, LM Studio …).

POST {base_url}/chat/completions with `stream: true` and `stream_options.include_usage`; the answer is SSE
with `choices[0].delta` chunks, a `finish_reason`, a final usage chunk and `data: [DONE]`.

Mapping notes:
- Messages: the system prompt first; assistant tool calls as `tool_calls: [{id, type: function,
  function: {name, arguments: <JSON text>}}]` (a call whose arguments did not parse is sent back with
  `{}`); tool results as `role: tool` with `tool_call_id`.
- Deltas: `content` → text; `reasoning` (OpenRouter, vLLM) or `reasoning_content` (DeepSeek, older vLLM)
  → reasoning; tool calls assembled by their `index` (a new `id` at a used index starts a new call, for
  servers that number every call 0).
- Thinking: kind openai sends `reasoning_effort: low|medium|high`; kind openrouter sends
  `reasoning: {effort: …}`. For "off" both omit the parameter (the model's default: OpenRouter answers
  400 to `enabled: false` on models whose reasoning cannot be switched off).
- OpenRouter also gets `usage: {include: true}`, so the usage chunk carries `cost` (USD), and its
  `reasoning_details` (which hold Anthropic's thinking signatures) are kept — JSON-encoded in
  `Message.reasoning_signature` — and sent back on the assistant message, as OpenRouter requires for
  thinking with tool use.
- Prompt caching: OpenAI and most upstreams of OpenRouter cache automatically. Anthropic models need
  explicit breakpoints, so for kind openrouter and a model named `anthropic/…` the system prompt and the
  last user message are sent as content parts carrying `cache_control: {type: ephemeral}`.
- Usage: input = prompt_tokens (the whole prompt); cache reads from prompt_tokens_details.cached_tokens
  (or DeepSeek's prompt_cache_hit_tokens), cache writes from prompt_tokens_details.cache_write_tokens
  (OpenRouter); reasoning from completion_tokens_details.reasoning_tokens; `cost` when reported.
"""

from __future__ import annotations

import json
from dataclasses import field

import httpx

from agent.providers.assemble import Assembly, JSONObject, integer, loads_object, obj, objects, string
from agent.providers.base import Completion, CompletionRequest, Emit, Message, StopReason
from agent.providers.retry import RETRYABLE_STATUSES, StreamError, error_text
from agent.providers.sse import SSEParser
from agent.providers.wire import EPHEMERAL, HTTPProvider, join_url, new_call_id
from agent.values import record

FINISH_REASONS: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


class OpenAIProvider(HTTPProvider):
    """Chat Completions for kinds openai and openrouter."""

    @property
    def openrouter(self) -> bool:
        return self.kind == "openrouter"

    def url(self, model: str) -> str:
        return join_url(self.settings.base_url, "", "/chat/completions")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def body(self, request: CompletionRequest, model: str) -> dict[str, object]:
        cache = self.openrouter and model.startswith("anthropic/")
        body: dict[str, object] = {
            "model": model,
            "messages": messages(request, cache=cache, reasoning_details=self.openrouter),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
                }
                for t in request.tools
            ]
        if request.max_tokens is not None:
            official = "api.openai.com" in self.settings.base_url
            body["max_completion_tokens" if official else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if self.openrouter:
            body["usage"] = {"include": True}
            if request.thinking != "off":
                body["reasoning"] = {"effort": request.thinking}
        elif request.thinking != "off":
            body["reasoning_effort"] = request.thinking
        return body

    async def consume(self, response: httpx.Response, emit: Emit) -> Completion:
        stream = _Stream(Assembly(emit))
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                stream.event(event.data, event.done)
        for event in parser.close():
            stream.event(event.data, event.done)
        return stream.finish(self.settings.prices)


def messages(request: CompletionRequest, *, cache: bool, reasoning_details: bool) -> list[JSONObject]:
    """The `messages` array (cache: add Anthropic-style cache breakpoints, see the module docstring)."""
    out: list[JSONObject] = []
    if request.system:
        if cache:
            out.append({"role": "system", "content": [_text_part(request.system, cache=True)]})
        else:
            out.append({"role": "system", "content": request.system})
    last_user = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=-1)
    for i, message in enumerate(request.messages):
        if message.role == "user":
            if cache and i == last_user:
                out.append({"role": "user", "content": [_text_part(message.content, cache=True)]})
            else:
                out.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            out.append(_assistant(message, reasoning_details))
        elif message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content})
        else:
            out.append({"role": "system", "content": message.content})
    return out


def _text_part(text: str, *, cache: bool) -> JSONObject:
    part: JSONObject = {"type": "text", "text": text}
    if cache:
        part["cache_control"] = dict(EPHEMERAL)
    return part


def _assistant(message: Message, reasoning_details: bool) -> JSONObject:
    entry: JSONObject = {"role": "assistant", "content": message.content or (None if message.tool_calls else "")}
    if message.tool_calls:
        entry["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": json.dumps({} if call.parse_error else call.arguments, ensure_ascii=False),
                },
            }
            for call in message.tool_calls
        ]
    if reasoning_details and message.reasoning_signature:
        try:
            details = json.loads(message.reasoning_signature)
        except ValueError:
            details = None  # a signature from another wire format: not ours to send
        if isinstance(details, list) and details:
            entry["reasoning_details"] = details
    return entry


@record
class _Slot:
    """A tool call being streamed, by the server's index."""

    id: str
    name: str = ""
    index: int | None = None  # the Assembly's index, once begun
    early_args: list[str] = field(default_factory=list)


class _Stream:
    """The state of one Chat Completions stream."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.slots: dict[int, _Slot] = {}
        self.details: dict[int, JSONObject] = {}
        self.finished = False
        self.done = False

    def event(self, data: str, done: bool) -> None:
        if done:
            self.done = True
            return
        chunk = loads_object(data)
        if chunk is None:
            return
        if chunk.get("error"):
            error = obj(chunk.get("error"))
            code = integer(error.get("code"))
            message = error_text(chunk) or "the server reported an error"
            raise StreamError(message, retryable=code in RETRYABLE_STATUSES, status=code or None)
        for choice in objects(chunk.get("choices"))[:1]:
            self.delta(obj(choice.get("delta")))
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self.assembly.stop = FINISH_REASONS.get(reason, "other")
                self.finished = True
        usage = obj(chunk.get("usage"))
        if usage:
            self.usage(usage)

    def delta(self, delta: JSONObject) -> None:
        a = self.assembly
        a.reasoning(string(delta.get("reasoning")) or string(delta.get("reasoning_content")))
        for detail in objects(delta.get("reasoning_details")):
            self.detail(detail)
        a.text(string(delta.get("content")))
        for call in objects(delta.get("tool_calls")):
            self.tool_call(call)

    def detail(self, detail: JSONObject) -> None:
        """Merge one streamed OpenRouter reasoning_details entry (text pieces concatenated)."""
        key = integer(detail.get("index")) if "index" in detail else len(self.details)
        merged = self.details.setdefault(key, {})
        for name, value in detail.items():
            old = merged.get(name)
            if name in ("text", "summary", "data") and isinstance(value, str) and isinstance(old, str):
                merged[name] = old + value
            elif value is not None:
                merged[name] = value

    def tool_call(self, call: JSONObject) -> None:
        function = obj(call.get("function"))
        call_id = string(call.get("id"))
        if "index" in call:
            key = integer(call.get("index"))
        else:  # no index: an id starts a new call, fragments continue the latest one
            key = max(self.slots, default=-1) + (1 if call_id or not self.slots else 0)
        slot = self.slots.get(key)
        if slot is None or (call_id and slot.id and call_id != slot.id):
            if slot is not None and slot.index is None:
                self._begin(slot)
            slot = self.slots[key] = _Slot(call_id)
        if call_id and not slot.id:
            slot.id = call_id
        name = string(function.get("name"))
        if name and slot.index is None:
            slot.name += name
            self._begin(slot)
        arguments = string(function.get("arguments"))
        if arguments:
            if slot.index is None:
                slot.early_args.append(arguments)
            else:
                self.assembly.tool_args(slot.index, arguments)

    def _begin(self, slot: _Slot) -> None:
        slot.index = self.assembly.begin_tool_call(slot.id or new_call_id(), slot.name)
        for fragment in slot.early_args:
            self.assembly.tool_args(slot.index, fragment)
        slot.early_args.clear()

    def usage(self, usage: JSONObject) -> None:
        u = self.assembly.usage
        prompt = integer(usage.get("prompt_tokens"))
        details = obj(usage.get("prompt_tokens_details"))
        u.cache_read_tokens = integer(details.get("cached_tokens")) or integer(usage.get("prompt_cache_hit_tokens"))
        u.cache_write_tokens = integer(details.get("cache_write_tokens"))
        u.input_tokens = prompt
        u.output_tokens = integer(usage.get("completion_tokens"))
        u.reasoning_tokens = integer(obj(usage.get("completion_tokens_details")).get("reasoning_tokens"))
        cost = usage.get("cost")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            u.cost = float(cost)

    def finish(self, prices: dict[str, float] | None) -> Completion:
        if not (self.finished or self.done):
            raise StreamError("the response ended before it was complete", retryable=True)
        for slot in self.slots.values():
            if slot.index is None:
                self._begin(slot)
        if self.details:
            self.assembly.reasoning_signature = json.dumps([self.details[k] for k in sorted(self.details)])
        return self.assembly.finish(prices)
