"""The scripted LLM server: a real HTTP/1.1 server on 127.0.0.1 that replays a Script (script.py).

    with serve(script) as server:               # or the `llm_server` pytest fixture (fixtures.py)
        client = OpenAI(base_url=f"{server.base_url}/v1", api_key="dummy")
        ...
        server.requests[-1].body["messages"]    # every request, recorded in order

One server speaks all four wire formats, chosen by the request path; the script's replies are consumed
in order whatever the format:
    POST .../chat/completions                       OpenAI Chat Completions (/v1, /api/v1, /openai/v1, ...)
    POST /v1/messages                               Anthropic Messages (also /messages)
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse, :generateContent    Gemini (also /v1, /v1alpha)
    POST /api/chat                                  Ollama
Helpers that consume no reply: the model listings, from the `models` list (wire_models.py: GET /v1/models
in the OpenAI shape, the Anthropic one with an anthropic-version header, OpenRouter's under /api/v1, Gemini's
under /v1beta, paginated like the real APIs, and GET /api/tags; with `models=None` they answer 404),
GET /api/version, POST /api/show, POST /v1/messages/count_tokens. Control endpoints (not recorded):
GET /__scripted/requests (the record as JSON), POST /__scripted/replies (append a reply, a list of replies
or a script).

Streaming responses use chunked transfer encoding (connections stay alive); full responses have a
Content-Length. The server runs in daemon threads (one per connection), so synchronous SDK clients and
trio/asyncio code in the test process can all use it; close() ends every connection at once.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from tests.llm_server.handler import Handler
from tests.llm_server.script import Reply, Script, parse, parse_reply
from tests.llm_server.state import DEFAULT_MODELS, RecordedRequest, ServerState

__all__ = ["RecordedRequest", "ServerHandle", "serve", "start"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client going away is not worth a traceback
            super().handle_error(request, client_address)


def _replies(script: Script | dict[str, Any] | list[Any] | None) -> list[Reply]:
    if script is None:
        return []
    if isinstance(script, Script):
        return list(script.replies)
    return parse(script).replies


def _reply(reply: Reply | dict[str, Any]) -> Reply:
    return reply if isinstance(reply, Reply) else parse_reply(reply)


class ServerHandle:
    """A running scripted server. Thread-safe; use as a context manager or call close()."""

    def __init__(self, script: Script | dict[str, Any] | list[Any] | None = None, *, port: int = 0,
                 models: Iterable[str] | None = DEFAULT_MODELS,
                 on_request: Callable[[RecordedRequest], None] | None = None) -> None:
        self._state = ServerState(replies=deque(_replies(script)),
                                  models=None if models is None else tuple(models), on_request=on_request)
        self._server = _HTTPServer(("127.0.0.1", port), self._state)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"llm-server-{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    # -- the script
    def set_script(self, script: Script | dict[str, Any] | list[Any]) -> None:
        """Replace the replies not yet served with this script's."""
        replies = _replies(script)
        with self._state.lock:
            self._state.replies.clear()
            self._state.replies.extend(replies)

    def push(self, *replies: Reply | dict[str, Any]) -> None:
        """Append replies (Reply objects or their JSON form) after the pending ones."""
        parsed = [_reply(r) for r in replies]
        with self._state.lock:
            self._state.replies.extend(parsed)

    def set_models(self, models: Iterable[str] | None) -> None:
        """The models the listing endpoints report from now on (None: they answer 404)."""
        with self._state.lock:
            self._state.models = None if models is None else tuple(models)

    @property
    def remaining(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._state.lock:
            return len(self._state.replies)

    # -- the record
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a snapshot)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """The requests to a model endpoint (chat/messages/generateContent/api/chat), in order."""
        return [r for r in self.requests if r.is_completion]

    @property
    def last_request(self) -> RecordedRequest:
        reqs = self.model_requests
        if not reqs:
            raise AssertionError("the scripted server has received no model request")
        return reqs[-1]

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` model requests were received (AssertionError after timeout)."""
        with self._state.changed:
            ok = self._state.changed.wait_for(
                lambda: sum(r.is_completion for r in self._state.requests) >= count, timeout)
        if not ok:
            raise AssertionError(f"expected {count} model requests within {timeout}s, got {len(self.model_requests)}")
        return self.model_requests

    @property
    def open_connections(self) -> int:
        """How many client connections the server holds open right now (idle keep-alives included)."""
        with self._state.lock:
            return len(self._state.connections)

    # -- lifetime
    def close(self) -> None:
        """Stop serving and end every open connection (streams, hangs, idle keep-alives) now."""
        if self._closed:
            return
        self._closed = True
        self._state.closing.set()
        self._server.shutdown()
        with self._state.lock:
            open_connections = dict(self._state.connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=2)
        for thread in open_connections.values():
            thread.join(timeout=2)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ServerHandle {self.base_url} remaining={self.remaining} requests={len(self.requests)}>"


def start(script: Script | dict[str, Any] | list[Any] | None = None, **kwargs: Any) -> ServerHandle:
    """Start a server now (call close() when done); see ServerHandle for the keyword arguments."""
    return ServerHandle(script, **kwargs)


@contextmanager
def serve(script: Script | dict[str, Any] | list[Any] | None = None, **kwargs: Any) -> Iterator[ServerHandle]:
    """A running server for the duration of the with block."""
    handle = ServerHandle(script, **kwargs)
    try:
        yield handle
    finally:
        handle.close()

