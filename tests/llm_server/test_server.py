"""The scripted server's own behaviour: ordering, recording, drop/hang/delay, exhaustion, the CLI, closing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import trio

from tests.llm_server.fixtures import llm_server  # noqa: F401
from tests.llm_server.server import ServerHandle, serve

REPO = Path(__file__).resolve().parents[2]
TEXT = {"parts": [{"type": "text", "text": "one two three four five six seven eight nine ten"}]}
MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]
PATHS = {  # format -> (path, body of a non-streaming request)
    "openai": ("/v1/chat/completions", {"model": "m", "messages": MESSAGES}),
    "anthropic": ("/v1/messages", {"model": "m", "max_tokens": 5, "messages": MESSAGES}),
    "gemini": ("/v1beta/models/g:generateContent", {"contents": []}),
    "ollama": ("/api/chat", {"model": "m", "messages": MESSAGES, "stream": False}),
}


def test_starts_fast_and_closes_fast_even_with_idle_keepalive_connections() -> None:
    t0 = time.perf_counter()
    server = ServerHandle([TEXT])
    started = time.perf_counter() - t0
    client = httpx.Client()  # keeps its connection open after the request
    assert client.post(f"{server.base_url}/api/chat", json={"model": "m", "stream": False}).status_code == 200
    t1 = time.perf_counter()
    server.close()
    closed = time.perf_counter() - t1
    client.close()
    assert started < 0.1 and closed < 0.5
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/v1/models")


def test_replies_are_served_in_order_whatever_the_format(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.set_script({"replies": [{"parts": [{"type": "text", "text": f"reply {n}"}]} for n in range(4)]})
    seen = []
    with httpx.Client(base_url=llm_server.base_url) as client:
        for name in ("ollama", "gemini", "openai", "anthropic"):
            path, body = PATHS[name]
            seen.append(client.post(path, json=body).json())
    assert seen[0]["message"]["content"] == "reply 0"
    assert seen[1]["candidates"][0]["content"]["parts"] == [{"text": "reply 1"}]
    assert seen[2]["choices"][0]["message"]["content"] == "reply 2"
    assert seen[3]["content"] == [{"type": "text", "text": "reply 3"}]
    assert [r.format for r in llm_server.model_requests] == ["ollama", "gemini", "openai", "anthropic"]
    assert [r.serial for r in llm_server.model_requests] == [1, 2, 3, 4]


def test_every_request_is_recorded_and_push_set_script_remaining(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push(TEXT, TEXT)
    assert llm_server.remaining == 2
    llm_server.set_script([{"parts": [{"type": "text", "text": "only"}]}])
    assert llm_server.remaining == 1
    base = llm_server.base_url
    assert httpx.get(f"{base}/api/tags").json()["models"][0]["name"] == "scripted-model"
    assert httpx.get(f"{base}/v1beta/models").json()["models"][0]["name"] == "models/scripted-model"
    assert httpx.get(f"{base}/api/version").json() == {"version": "0.12.0"}
    reply = httpx.post(f"{base}/v1/chat/completions?x=1", json={"model": "m", "messages": MESSAGES},
                       headers={"Authorization": "Bearer k", "X-Custom": "v"})
    assert reply.json()["choices"][0]["message"]["content"] == "only"
    assert llm_server.remaining == 0
    assert [(r.method, r.path, r.is_completion) for r in llm_server.requests] == [
        ("GET", "/api/tags", False), ("GET", "/v1beta/models", False), ("GET", "/api/version", False),
        ("POST", "/v1/chat/completions", True)]
    last = llm_server.last_request
    assert last.query == {"x": "1"} and last.header("X-CUSTOM") == "v" and last.header("authorization") == "Bearer k"
    assert last.body == {"model": "m", "messages": MESSAGES} and json.loads(last.raw_body) == last.body
    assert llm_server.wait_for_requests(1)[0] is not None
    llm_server.clear_requests()
    assert llm_server.requests == []


def test_model_listings_are_configurable_and_paginated(llm_server: ServerHandle) -> None:  # noqa: F811
    base, anthropic_headers = llm_server.base_url, {"anthropic-version": "2023-06-01"}
    llm_server.set_models(["a", "b", "c"])
    assert [m["id"] for m in httpx.get(f"{base}/v1/models").json()["data"]] == ["a", "b", "c"]
    assert httpx.get(f"{base}/api/v1/models").json()["data"][1]["pricing"]["completion"] == "0.000002"
    first = httpx.get(f"{base}/v1/models?limit=2", headers=anthropic_headers).json()
    assert [m["id"] for m in first["data"]] == ["a", "b"] and first["has_more"] and first["last_id"] == "b"
    rest = httpx.get(f"{base}/v1/models?limit=2&after_id=b", headers=anthropic_headers).json()
    assert [m["id"] for m in rest["data"]] == ["c"] and rest["has_more"] is False and rest["first_id"] == "c"
    before = httpx.get(f"{base}/v1/models?limit=5&before_id=c", headers=anthropic_headers).json()
    assert [m["id"] for m in before["data"]] == ["a", "b"] and before["has_more"] is False
    bad = httpx.get(f"{base}/v1/models?limit=0", headers=anthropic_headers)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    page = httpx.get(f"{base}/v1beta/models?pageSize=2").json()
    assert [m["name"] for m in page["models"]] == ["models/a", "models/b"] and page["nextPageToken"] == "2"
    last = httpx.get(f"{base}/v1beta/models?pageSize=2&pageToken=2").json()
    assert [m["name"] for m in last["models"]] == ["models/c"] and "nextPageToken" not in last
    assert [m["name"] for m in httpx.get(f"{base}/api/tags").json()["models"]] == ["a", "b", "c"]
    llm_server.set_models([])
    empty = httpx.get(f"{base}/v1/models", headers=anthropic_headers).json()
    assert empty == {"data": [], "has_more": False, "first_id": None, "last_id": None}
    llm_server.set_models(None)
    for path, headers, key in (("/v1/models", {}, "error"), ("/v1/models", anthropic_headers, "type"),
                               ("/v1beta/models", {}, "error"), ("/api/tags", {}, "error")):
        reply = httpx.get(base + path, headers=headers)
        assert reply.status_code == 404 and key in reply.json(), path
    assert llm_server.model_requests == [] and llm_server.remaining == 0


@pytest.mark.parametrize("name", list(PATHS))
def test_exhausted_script_is_a_500_in_the_provider_shape(llm_server: ServerHandle, name: str) -> None:  # noqa: F811
    path, body = PATHS[name]
    reply = httpx.post(llm_server.base_url + path, json=body)
    assert reply.status_code == 500
    text = json.dumps(reply.json())
    assert "script is exhausted" in text
    assert llm_server.model_requests[0].serial is None


@pytest.mark.parametrize("name", list(PATHS))
def test_error_shapes(llm_server: ServerHandle, name: str) -> None:  # noqa: F811
    llm_server.push({"error": {"status": 503, "message": "busy", "retry_after": 0.5}})
    path, body = PATHS[name]
    reply = httpx.post(llm_server.base_url + path, json=body)
    assert reply.status_code == 503 and reply.headers["retry-after"] == "0.5"
    expected = {
        "openai": {"error": {"message": "busy", "type": "server_error", "param": None, "code": "service_unavailable"}},
        "anthropic": {"type": "error", "error": {"type": "api_error", "message": "busy"}},
        "gemini": {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
        "ollama": {"error": "busy"},
    }[name]
    assert reply.json() == expected


def test_unknown_paths_are_404_and_consume_nothing(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push(TEXT)
    assert httpx.post(f"{llm_server.base_url}/v2/whatever", json={}).status_code == 404
    assert httpx.post(f"{llm_server.base_url}/v1/chat/completions", content=b"{nope").status_code == 400
    assert llm_server.remaining == 1


def test_drop_closes_the_connection_without_a_response(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push({"error": {"drop": True}}, TEXT)
    client = openai.OpenAI(base_url=f"{llm_server.base_url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    completion = client.chat.completions.create(model="m", messages=MESSAGES)  # the next one works
    assert completion.choices[0].message.content == TEXT["parts"][0]["text"]


def test_hang_sends_headers_then_nothing_until_the_client_leaves(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push({"hang": True})
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client, client.stream(
            "POST", f"{llm_server.base_url}/v1/messages", json={"model": "m", "stream": True}) as response:
        assert response.status_code == 200  # the headers arrived
        assert response.headers["content-type"] == "text/event-stream"
        with pytest.raises(httpx.ReadTimeout):
            response.read()
    deadline = time.monotonic() + 2
    while llm_server.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert llm_server.open_connections == 0  # the handler noticed the client left


def test_close_ends_a_hanging_stream_at_once() -> None:
    server = ServerHandle([{"hang": True}])
    client = httpx.Client(timeout=10)
    response = client.send(client.build_request("POST", f"{server.base_url}/api/chat", json={"model": "m"}),
                           stream=True)
    t0 = time.perf_counter()
    server.close()
    assert time.perf_counter() - t0 < 0.5
    with pytest.raises(httpx.HTTPError):
        response.read()
    client.close()


def test_chunk_delay_spaces_the_chunks(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push({**TEXT, "chunk_delay": 0.05})
    arrivals = []
    with httpx.stream("POST", f"{llm_server.base_url}/api/chat", json={"model": "m"}) as response:
        for line in response.iter_lines():
            if line:
                arrivals.append((time.perf_counter(), json.loads(line)))
    assert "".join(obj["message"]["content"] for _, obj in arrivals) == TEXT["parts"][0]["text"]
    assert arrivals[-1][1]["done"] is True and len(arrivals) == 5
    assert arrivals[-1][0] - arrivals[0][0] >= 0.05 * 4 * 0.9


async def test_trio_client_can_stream_and_cancel(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push({**TEXT, "chunk_delay": 1.0}, TEXT)
    received = []
    async with httpx.AsyncClient(base_url=llm_server.base_url) as client:
        t0 = trio.current_time()
        with trio.move_on_after(0.3):
            async with client.stream("POST", "/v1/chat/completions",
                                     json={"model": "m", "messages": MESSAGES, "stream": True}) as response:
                async for line in response.aiter_lines():
                    if line:
                        received.append(line)
        assert trio.current_time() - t0 < 0.9  # cancelled while the server was sleeping between chunks
        assert len(received) == 1
        reply = await client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert reply.json()["choices"][0]["message"]["content"] == TEXT["parts"][0]["text"]


def test_malformed_tool_arguments_reach_the_client_verbatim(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push({"parts": [{"type": "tool_call", "name": "read", "raw_arguments": '{"path": "a'}]})
    client = openai.OpenAI(base_url=f"{llm_server.base_url}/v1", api_key="k", max_retries=0)
    arguments = ""
    for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                arguments += (call.function.arguments if call.function else None) or ""
    assert arguments == '{"path": "a'


def test_gemini_stream_without_alt_sse_is_a_json_array(llm_server: ServerHandle) -> None:  # noqa: F811
    llm_server.push(TEXT)
    reply = httpx.post(f"{llm_server.base_url}/v1beta/models/g:streamGenerateContent", json={"contents": []})
    chunks = reply.json()
    assert isinstance(chunks, list) and len(chunks) > 1
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_cli_serves_records_and_accepts_more_replies(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [TEXT]}))
    record = tmp_path / "record.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--script", str(script),
                             "--record", str(record)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LISTENING http://127.0.0.1:")
        url = line.split()[1]
        path, body = PATHS["anthropic"]
        assert httpx.post(url + path, json=body).json()["content"][0]["text"] == TEXT["parts"][0]["text"]
        pushed = httpx.post(f"{url}/__scripted/replies", json=[{"parts": [{"type": "text", "text": "more"}]}])
        assert pushed.json() == {"remaining": 1}
        assert httpx.post(f"{url}/__scripted/replies", json={"parts": "bad"}).status_code == 400
        path, body = PATHS["ollama"]
        assert httpx.post(url + path, json=body).json()["message"]["content"] == "more"
        recorded = httpx.get(f"{url}/__scripted/requests").json()
        assert [r["path"] for r in recorded] == ["/v1/messages", "/api/chat"]
        lines = [json.loads(x) for x in record.read_text().splitlines()]
        assert [r["format"] for r in lines] == ["anthropic", "ollama"] and lines[0]["body"]["max_tokens"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0


def test_cli_rejects_an_invalid_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"parts": [{"type": "video"}]}]}))
    proc = subprocess.run([sys.executable, "-m", "tests.llm_server", "--script", str(script)], cwd=REPO,
                          capture_output=True, text=True, timeout=10, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and "reply 0 part 0: type must be" in proc.stderr


def test_serve_context_manager() -> None:
    with serve({"replies": [TEXT]}) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
        assert "remaining=1" in repr(server)
