"""The state the scripted server's handler threads share: pending replies, the request record, connections."""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.llm_server.script import Reply

DEFAULT_MODELS = ("scripted-model", "scripted-model-mini")


@dataclass
class RecordedRequest:
    """One request as the server received it. headers has lower-case names; body is the parsed JSON
    (None when there was no body or it was not JSON). format is openai/anthropic/gemini/ollama when the
    path is one of theirs; serial is the 1-based number of the reply it consumed (None if it consumed none)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: bytes = b""
    format: str | None = None
    stream: bool | None = None
    serial: int | None = None
    is_completion: bool = False

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "query": self.query, "headers": self.headers,
                "body": self.body, "format": self.format, "stream": self.stream, "serial": self.serial,
                "is_completion": self.is_completion}


@dataclass
class ServerState:
    """What the handler threads share: the pending replies, the record, the open connections."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    models: tuple[str, ...] | None = DEFAULT_MODELS  # None: the listing endpoints answer 404
    on_request: Callable[[RecordedRequest], None] | None = None
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    closing: threading.Event = field(default_factory=threading.Event)
    connections: dict[socket.socket, threading.Thread] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)
            self.changed.notify_all()
        if self.on_request is not None:
            self.on_request(request)

    def next_reply(self) -> tuple[int, Reply | None]:
        """(serial, reply), reply None when the script is exhausted (serial counts requests then)."""
        with self.lock:
            self.served += 1
            return self.served, (self.replies.popleft() if self.replies else None)

    def register(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections[conn] = threading.current_thread()

    def unregister(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections.pop(conn, None)
