"""The request handler of the scripted LLM server: routing by path, recording, replying per the script.

A model request (see server.py for the paths) is recorded, takes the next scripted reply and answers it
in its format's wire shapes (wire_*.py): a stream (chunked transfer encoding, `chunk_delay` between
chunks), a full JSON body, an HTTP error in the provider's error shape (with Retry-After when scripted),
a dropped connection, or a hang (headers, then nothing until the client or the server goes away).
"""

from __future__ import annotations

import json
import re
import select
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.llm_server import wire_anthropic, wire_gemini, wire_models, wire_ollama, wire_openai
from tests.llm_server.script import Reply, parse, parse_reply
from tests.llm_server.state import RecordedRequest, ServerState
from tests.llm_server.wire_common import Ctx, default_message

_GEMINI = re.compile(r"^/(?:v1beta|v1|v1alpha)/models/(?P<model>[^/:]+)"
                     r":(?P<method>streamGenerateContent|generateContent)$")


def route(method: str, path: str, body: Any) -> tuple[ModuleType | None, str, str, bool]:
    """(format module, kind, model, stream) for a request; kind "completion" for a model request."""
    fields = body if isinstance(body, dict) else {}
    model = str(fields.get("model", ""))
    if method == "POST":
        if path.endswith("/chat/completions"):
            return wire_openai, "completion", model, fields.get("stream") is True
        if path.endswith("/messages/count_tokens"):
            return wire_anthropic, "count_tokens", model, False
        if path.endswith("/v1/messages") or path == "/messages":
            return wire_anthropic, "completion", model, fields.get("stream") is True
        match = _GEMINI.match(path)
        if match:
            return wire_gemini, "completion", match["model"], match["method"] == "streamGenerateContent"
        if path == "/api/chat":
            return wire_ollama, "completion", model, fields.get("stream", True) is not False
        if path == "/api/show":
            return wire_ollama, "show", model, False
    elif method == "GET":
        if path == "/api/tags":
            return wire_ollama, "tags", "", False
        if path == "/api/version":
            return wire_ollama, "version", "", False
        if path.startswith(("/v1beta/", "/v1alpha/")) and path.endswith("/models"):
            return wire_gemini, "models", "", False
        if path.endswith("/models"):
            return wire_openai, "models", "", False
        if path == "/":
            return wire_ollama, "root", "", False
    return None, "not_found", model, False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-llm/1.0"
    sys_version = ""

    @property
    def state(self) -> ServerState:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.state.register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.state.unregister(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # ----------------------------------------------------------------------------------------- reading
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw = self._read_body()
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if path.startswith("/__scripted/"):
            self._control(path, body)
            return
        fmt, kind, model, stream = route(self.command, path, body)
        record = RecordedRequest(self.command, path, query, headers, body, raw, fmt.NAME if fmt else None,
                                 stream if kind == "completion" else None, None, kind == "completion")
        if fmt is None or kind != "completion":
            self.state.record(record)
            self._helper(fmt, kind, headers, path, query, raw)
            return
        if bad_json or not isinstance(body, dict):
            self.state.record(record)
            self._send_json(400, fmt.error_body(400, "the request body is not a JSON object", {}))
            return
        serial, reply = self.state.next_reply()
        record.serial = serial if reply is not None else None
        self.state.record(record)
        if reply is None:
            message = f"scripted LLM server: the script is exhausted (no reply left for model request {serial})"
            self._send_json(500, fmt.error_body(500, message, {}))
            return
        self._answer(fmt, reply, Ctx(model=model or "scripted-model", serial=serial), stream, query)

    # ----------------------------------------------------------------------------------------- replying
    def _answer(self, fmt: ModuleType, reply: Reply, ctx: Ctx, stream: bool, query: dict[str, str]) -> None:
        error = reply.error
        if error is not None and error.get("drop"):
            self.close_connection = True  # no response at all: the connection just closes
            return
        if error is not None and not (stream and error.get("mid_stream")):
            status = int(error["status"])
            extra = {}
            if error.get("retry_after") is not None:
                seconds = float(error["retry_after"])
                extra["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
            message = error.get("message") or default_message(status)
            self._send_json(status, fmt.error_body(status, message, error), extra)
            return
        if reply.hang:
            self._start_stream(fmt.STREAM_CONTENT_TYPE if stream else "application/json")
            self._hang()
            return
        if not stream:
            if reply.chunk_delay and self.state.closing.wait(reply.chunk_delay):
                self.close_connection = True
                return
            self._send_json(200, fmt.complete(reply, ctx))
            return
        finish = error is None  # a mid_stream error replaces the closing events
        content_type, events = fmt.STREAM_CONTENT_TYPE, fmt.stream(reply, ctx, finish)
        if fmt is wire_gemini and query.get("alt") != "sse":
            content_type, events = "application/json", wire_gemini.stream_array(reply, ctx, finish)
        try:
            self._start_stream(content_type)
            for n, event in enumerate(events):
                if n and reply.chunk_delay and self.state.closing.wait(reply.chunk_delay):
                    self.close_connection = True  # the server is closing: cut the stream short
                    return
                self._write_chunk(event)
            if error is not None and content_type != "application/json":  # mid_stream: the provider's error event
                status = int(error["status"])
                self._write_chunk(fmt.stream_error(error.get("message") or default_message(status), error))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True  # the client went away

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _hang(self) -> None:
        """Send nothing more until the client disconnects (or the server closes)."""
        self.close_connection = True
        sock = self.connection
        while not self.state.closing.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(4096):
                    return
            except (OSError, ValueError):
                return

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    # ----------------------------------------------------------------------------------------- helpers
    def _helper(self, fmt: ModuleType | None, kind: str, headers: dict[str, str], path: str,
                query: dict[str, str], raw: bytes) -> None:
        models = self.state.models
        if kind in ("models", "tags"):
            if models is None:  # a server without model listing
                fmt = wire_anthropic if "anthropic-version" in headers and fmt is wire_openai else fmt
                assert fmt is not None
                self._send_json(404, fmt.error_body(404, f"scripted LLM server: no model listing at {path}", {}))
                return
            status, body = wire_models.listing(kind, fmt.NAME if fmt else None, path, query, headers, models)
            self._send_json(status, body)
        elif kind == "version":
            self._send_json(200, {"version": "0.12.0"})
        elif kind == "show":
            self._send_json(200, {"modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                                  "details": {"format": "gguf", "family": "llama"}, "model_info": {},
                                  "capabilities": ["completion", "tools", "thinking"]})
        elif kind == "count_tokens":
            self._send_json(200, {"input_tokens": max(1, len(raw) // 4)})
        elif kind == "root":
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_json(404, {"error": {"message": f"scripted LLM server: no route for {self.command} {path}",
                                            "type": "not_found_error", "code": 404}})

    def _control(self, path: str, body: Any) -> None:
        state = self.state
        if path == "/__scripted/requests" and self.command == "GET":
            with state.lock:
                requests = [r.to_dict() for r in state.requests]
            self._send_json(200, requests)
        elif path == "/__scripted/replies" and self.command == "POST":
            try:
                if (isinstance(body, dict) and "replies" in body) or isinstance(body, list):
                    replies = parse(body).replies
                else:
                    replies = [parse_reply(body)]
            except ValueError as exc:
                self._send_json(400, {"error": str(exc)})
                return
            with state.lock:
                state.replies.extend(replies)
                remaining = len(state.replies)
            self._send_json(200, {"remaining": remaining})
        elif path == "/__scripted/health":
            with state.lock:
                remaining = len(state.replies)
            self._send_json(200, {"ok": True, "remaining": remaining})
        else:
            self._send_json(404, {"error": f"no control endpoint {self.command} {path}"})
