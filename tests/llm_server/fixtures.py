"""Pytest fixtures for the scripted LLM server.

    from tests.llm_server.fixtures import llm_server  # noqa: F401

    def test_something(llm_server):
        llm_server.push({"parts": [{"type": "text", "text": "hello"}]})
        ... point the client at llm_server.base_url ...
        assert llm_server.last_request.body["model"] == "m"

Usable from sync and trio tests alike (the server runs in its own threads). A test can also load a whole
script with `llm_server.set_script({...})`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm_server.server import ServerHandle


@pytest.fixture
def llm_server() -> Iterator[ServerHandle]:
    """A running scripted LLM server with an empty script; closed after the test."""
    handle = ServerHandle()
    try:
        yield handle
    finally:
        handle.close()
