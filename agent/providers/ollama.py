"""The Ollama chat wire format (kind `ollama`, a local server; no API key unless a proxy wants one).

POST {base_url}/api/chat with `stream: true`; the answer is newline-delimited JSON: chunks with
`message: {content, thinking, tool_calls}` and a last one with `done: true`, `done_reason` and the counts.

Mapping notes:
- Messages: system first; assistant `tool_calls: [{function: {name, arguments: <object>}}]` and its
  `thinking`; tool results as `role: tool` with `tool_name` (Ollama matches results by name and order).
- Tools as in OpenAI's format. Tool calls arrive whole: one ToolCallBegin and one ToolCallArgsDelta each;
  ids are Ollama's when it sends them, else generated (`call_<n>`).
- Thinking: `think: true` for low/medium/high, `think: false` for off; gpt-oss models take the level
  itself (`think: "low"|"medium"|"high"`), as they cannot switch thinking off.
- max_tokens and temperature go in `options` (num_predict, temperature).
- Usage: prompt_eval_count → input, eval_count → output; no cost (prices apply when configured).
"""

from __future__ import annotations

import httpx

from agent.providers.assemble import Assembly, JSONObject, integer, loads_object, obj, objects, string
from agent.providers.base import Completion, CompletionRequest, Emit, StopReason
from agent.providers.retry import StreamError
from agent.providers.sse import NDJSONSplitter
from agent.providers.wire import HTTPProvider, join_url, new_call_id, tool_name

DONE_REASONS: dict[str, StopReason] = {"stop": "end", "length": "max_tokens"}


class OllamaProvider(HTTPProvider):
    """/api/chat over NDJSON."""

    def url(self, model: str) -> str:
        return join_url(self.settings.base_url, "/api", "/chat")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        headers["Accept"] = "application/x-ndjson"
        return headers

    def body(self, request: CompletionRequest, model: str) -> dict[str, object]:
        body: dict[str, object] = {"model": model, "messages": messages(request), "stream": True}
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
                }
                for t in request.tools
            ]
        if "gpt-oss" in model:
            body["think"] = request.thinking if request.thinking != "off" else "low"
        else:
            body["think"] = request.thinking != "off"
        options: JSONObject = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if options:
            body["options"] = options
        return body

    async def consume(self, response: httpx.Response, emit: Emit) -> Completion:
        stream = _Stream(Assembly(emit))
        lines = NDJSONSplitter()
        async for chunk in response.aiter_bytes():
            for line in lines.feed(chunk):
                stream.line(line)
        for line in lines.close():
            stream.line(line)
        return stream.finish(self.settings.prices)


def messages(request: CompletionRequest) -> list[JSONObject]:
    out: list[JSONObject] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    history = request.messages
    for index, message in enumerate(history):
        if message.role == "tool":
            out.append({"role": "tool", "content": message.content, "tool_name": tool_name(history, index)})
        elif message.role == "assistant":
            entry: JSONObject = {"role": "assistant", "content": message.content}
            if message.reasoning:
                entry["thinking"] = message.reasoning
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"function": {"name": call.name, "arguments": call.arguments}} for call in message.tool_calls
                ]
            out.append(entry)
        else:
            out.append({"role": message.role, "content": message.content})
    return out


class _Stream:
    """The state of one /api/chat stream."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.finished = False

    def line(self, line: str) -> None:
        chunk = loads_object(line)
        if chunk is None:
            return
        error = chunk.get("error")
        if error:
            raise StreamError(string(error) or str(error))
        a = self.assembly
        message = obj(chunk.get("message"))
        a.reasoning(string(message.get("thinking")))
        a.text(string(message.get("content")))
        for call in objects(message.get("tool_calls")):
            function = obj(call.get("function"))
            arguments = function.get("arguments")
            call_id = string(call.get("id")) or new_call_id()
            a.whole_tool_call(call_id, string(function.get("name")), arguments if arguments is not None else {})
        if chunk.get("done") is True:
            self.finished = True
            a.stop = DONE_REASONS.get(string(chunk.get("done_reason")) or "stop", "other")
            a.usage.input_tokens = integer(chunk.get("prompt_eval_count"))
            a.usage.output_tokens = integer(chunk.get("eval_count"))

    def finish(self, prices: dict[str, float] | None) -> Completion:
        if not self.finished:
            raise StreamError("the response ended before it was complete", retryable=True)
        return self.assembly.finish(prices)
