"""The Gemini API wire format (kind `gemini`, Google AI Studio's generativelanguage API).

POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse with `x-goog-api-key`; the answer is
SSE whose every event is a whole GenerateContentResponse (candidates[0].content.parts, finishReason,
usageMetadata — cumulative, the last one wins).

Mapping notes:
- Roles user/model; the system prompt is `systemInstruction`; consecutive turns of one role are merged
  (the function responses answering one model turn must arrive in one user turn).
- Tools: `[{functionDeclarations: [{name, description, parameters}]}]`. Gemini takes an OpenAPI subset
  of JSON schema: `clean_schema` inlines local `$ref`s, turns `const` into `enum`, `oneOf` into `anyOf`,
  `type: [T, "null"]` into `type: T, nullable: true`, and drops every other key (`additionalProperties`,
  `$schema` …); a tool without parameters sends none.
- Function calls arrive whole: one ToolCallBegin and one ToolCallArgsDelta with the JSON. Gemini gives
  no call ids: they are generated (`call_<n>`), and tool results are matched by name and order, sent as
  `functionResponse: {name, response: {content}}` parts (`is_error: true` added for failures).
- Thought signatures (`thoughtSignature` on a part) must go back on the same part: a function call's in
  `ToolCall.signature`, a text or thought part's in `Message.reasoning_signature` (sent back on the first
  text part). Thought summaries (`thought: true` parts) are reasoning and are not sent back.
- Thinking: `generationConfig.thinkingConfig: {thinkingBudget, includeThoughts: true}` with budget
  0 (off) / 2048 / 8192 / 24576. Pro models cannot switch thinking off: "off" sends their minimum, 128.
  Models before 2.5 (gemini-1.x, gemini-2.0-…) get no thinkingConfig for "off".
- Usage: input = promptTokenCount (cached included); cache reads = cachedContentTokenCount;
  output = candidatesTokenCount + thoughtsTokenCount (thoughts are billed as output); reasoning =
  thoughtsTokenCount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

import httpx

from agent.providers.assemble import Assembly, JSONObject, integer, loads_object, obj, objects, string
from agent.providers.base import Completion, CompletionRequest, Emit, Message, StopReason, Thinking
from agent.providers.retry import RETRYABLE_STATUSES, StreamError
from agent.providers.sse import SSEParser
from agent.providers.wire import HTTPProvider, join_url, new_call_id, tool_name

THINKING_BUDGETS: dict[Thinking, int] = {"off": 0, "low": 2048, "medium": 8192, "high": 24576}
PRO_MINIMUM_BUDGET = 128
FINISH_REASONS: dict[str, StopReason] = {"STOP": "end", "MAX_TOKENS": "max_tokens"}
RETRYABLE_ERROR_STATUSES = {"UNAVAILABLE": 503, "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "DEADLINE_EXCEEDED": 504}
_PRE_THINKING = re.compile(r"gemini-(1(\.\d+)?|2\.0)-")

SCHEMA_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "items", "minItems", "maxItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern",
    "minimum", "maximum", "anyOf", "propertyOrdering", "default", "example",
})  # fmt: skip


class GeminiProvider(HTTPProvider):
    """streamGenerateContent over SSE."""

    def url(self, model: str) -> str:
        model = model.removeprefix("models/")
        return join_url(
            self.settings.base_url, "/v1beta", f"/models/{quote(model, safe='')}:streamGenerateContent?alt=sse"
        )

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def body(self, request: CompletionRequest, model: str) -> dict[str, object]:
        body: dict[str, object] = {"contents": contents(request.messages)}
        if request.system:
            body["systemInstruction"] = {"parts": [{"text": request.system}]}
        if request.tools:
            declarations: list[JSONObject] = []
            for tool in request.tools:
                declaration: JSONObject = {"name": tool.name, "description": tool.description}
                parameters = clean_schema(tool.parameters)
                if obj(parameters.get("properties")) or parameters.get("type") not in (None, "object"):
                    declaration["parameters"] = parameters
                declarations.append(declaration)
            body["tools"] = [{"functionDeclarations": declarations}]
        config: JSONObject = {}
        thinking = thinking_config(request.thinking, model)
        if thinking is not None:
            config["thinkingConfig"] = thinking
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if config:
            body["generationConfig"] = config
        return body

    async def consume(self, response: httpx.Response, emit: Emit) -> Completion:
        stream = _Stream(Assembly(emit))
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                stream.event(event.data)
        for event in parser.close():
            stream.event(event.data)
        return stream.finish(self.settings.prices)


def thinking_config(level: Thinking, model: str) -> JSONObject | None:
    name = model.rsplit("/", 1)[-1]
    budget = THINKING_BUDGETS[level]
    if level == "off":
        if _PRE_THINKING.match(name):
            return None
        if "-pro" in name:
            budget = PRO_MINIMUM_BUDGET
    return {"thinkingBudget": budget, "includeThoughts": True}


def contents(history: list[Message]) -> list[JSONObject]:
    merged: list[tuple[str, list[JSONObject]]] = []
    for index, message in enumerate(history):
        role, parts = _parts(history, index, message)
        if not parts:
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(parts)
        else:
            merged.append((role, parts))
    return [{"role": role, "parts": parts} for role, parts in merged]


def _parts(history: list[Message], index: int, message: Message) -> tuple[str, list[JSONObject]]:
    if message.role == "tool":
        response: JSONObject = {"content": message.content}
        if message.is_error:
            response["is_error"] = True
        return "user", [{"functionResponse": {"name": tool_name(history, index), "response": response}}]
    if message.role != "assistant":
        return "user", [{"text": message.content or "(empty)"}]
    parts: list[JSONObject] = []
    signature = message.reasoning_signature
    if message.content or (signature and not any(call.signature for call in message.tool_calls)):
        part: JSONObject = {"text": message.content}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    for call in message.tool_calls:
        part = {"functionCall": {"name": call.name, "args": call.arguments}}
        if call.signature:
            part["thoughtSignature"] = call.signature
        parts.append(part)
    return "model", parts


def clean_schema(schema: Mapping[str, object]) -> JSONObject:
    """A JSON schema rewritten into the subset Gemini accepts (see the module docstring)."""
    definitions = {**obj(schema.get("definitions")), **obj(schema.get("$defs"))}
    return _clean(schema, definitions, 0)


def _clean(schema: Mapping[str, object], definitions: JSONObject, depth: int) -> JSONObject:
    if depth > 12:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = obj(definitions.get(ref.rsplit("/", 1)[-1])) if ref.startswith("#/") else {}
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _clean(merged, definitions, depth + 1)
    out: JSONObject = {}
    for key, value in schema.items():
        if key == "const":
            out.setdefault("enum", [value])
        elif key == "oneOf":
            out["anyOf"] = value
        elif key == "allOf" and isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            out.update(_clean(value[0], definitions, depth + 1))
        elif key in SCHEMA_KEYS:
            out[key] = value
    kind = out.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        if len(types) < len(kind):
            out["nullable"] = True
        out["type"] = types[0] if types else "string"
    enum = out.get("enum")
    if isinstance(enum, list) and not all(isinstance(v, str) for v in enum):
        del out["enum"]  # Gemini enums are strings only
    elif enum is not None:
        out.setdefault("type", "string")
    properties = out.get("properties")
    if isinstance(properties, dict):
        cleaned = {str(name): _clean(obj(sub), definitions, depth + 1) for name, sub in properties.items()}
        out["properties"] = cleaned
        required = out.get("required")
        if isinstance(required, list):
            out["required"] = [name for name in required if name in cleaned]
    else:
        out.pop("properties", None)
        out.pop("required", None)
    items = out.get("items")
    if isinstance(items, dict):
        out["items"] = _clean(items, definitions, depth + 1)
    elif items is not None:
        del out["items"]
    any_of = out.get("anyOf")
    if isinstance(any_of, list):
        out["anyOf"] = [_clean(sub, definitions, depth + 1) for sub in objects(any_of)]
    elif any_of is not None:
        del out["anyOf"]
    return out


class _Stream:
    """The state of one streamGenerateContent stream."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self.finished = False

    def event(self, data: str) -> None:
        chunk = loads_object(data)
        if chunk is None:
            return
        if chunk.get("error"):
            error = obj(chunk.get("error"))
            code = integer(error.get("code")) or RETRYABLE_ERROR_STATUSES.get(string(error.get("status")), 0)
            message = string(error.get("message")) or "the server reported an error"
            raise StreamError(message, retryable=code in RETRYABLE_STATUSES, status=code or None)
        blocked = string(obj(chunk.get("promptFeedback")).get("blockReason"))
        if blocked:
            raise StreamError(f"the prompt was blocked ({blocked})")
        a = self.assembly
        for candidate in objects(chunk.get("candidates"))[:1]:
            for part in objects(obj(candidate.get("content")).get("parts")):
                signature = string(part.get("thoughtSignature")) or None
                call = part.get("functionCall")
                if isinstance(call, dict):
                    call_id = string(call.get("id")) or new_call_id()
                    a.whole_tool_call(call_id, string(call.get("name")), call.get("args"), signature)
                    continue
                if part.get("thought") is True:
                    a.reasoning(string(part.get("text")))
                else:
                    a.text(string(part.get("text")))
                if signature:
                    a.reasoning_signature = signature
            reason = string(candidate.get("finishReason"))
            if reason:
                a.stop = FINISH_REASONS.get(reason, "other")
                self.finished = True
        usage = obj(chunk.get("usageMetadata"))
        if usage:
            u = a.usage
            u.cache_read_tokens = integer(usage.get("cachedContentTokenCount"))
            u.input_tokens = integer(usage.get("promptTokenCount"))
            u.reasoning_tokens = integer(usage.get("thoughtsTokenCount"))
            u.output_tokens = integer(usage.get("candidatesTokenCount")) + u.reasoning_tokens

    def finish(self, prices: dict[str, float] | None) -> Completion:
        if not self.finished:
            raise StreamError("the response ended before it was complete", retryable=True)
        return self.assembly.finish(prices)
