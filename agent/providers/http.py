"""The process-wide HTTP client every provider shares (one per TLS-verification setting).

One `httpx.AsyncClient` keeps the connection pool warm across model calls, and one SSL context is built
once (building a context reads the CA store, which costs tens of milliseconds). HTTP/1.1 only: every
provider API streams fine over it and it needs no extra dependency. Timeouts are set per request from the
provider's settings (`request_timeout`); the client's own defaults are the same shape.

Tests and embedders inject their own client into the providers instead (`client=` everywhere).
"""

from __future__ import annotations

import ssl

import httpx

CONNECT_TIMEOUT = 10.0

_clients: dict[tuple[bool, bool], httpx.AsyncClient] = {}
_ssl_context: ssl.SSLContext | None = None


def request_timeout(read_timeout: float) -> httpx.Timeout:
    """Connect within 10 s; each read (and write, and waiting for a pooled connection) within read_timeout."""
    return httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT)


def ssl_context() -> ssl.SSLContext:
    """The one verifying SSL context of the process: the system CA store (honouring SSL_CERT_FILE and
    SSL_CERT_DIR), or certifi's bundle (an httpx dependency) where the system has none."""
    global _ssl_context
    if _ssl_context is None:
        context = ssl.create_default_context()
        if not context.cert_store_stats().get("x509_ca") and not context.get_ca_certs():
            try:
                import certifi

                context.load_verify_locations(cafile=certifi.where())
            except (ImportError, OSError):
                pass  # verification then fails with a clear certificate error
        _ssl_context = context
    return _ssl_context


def get_client(verify_tls: bool, *, tls: bool = True) -> httpx.AsyncClient:
    """The shared client for this TLS setting, created on first use.

    tls=False is for plain http:// base URLs (a local Ollama or vLLM, the test server): that client never
    negotiates TLS, so it skips loading the CA store (~50 ms here); it must only be used for http:// URLs
    (redirects are not followed, so it cannot be led to an https one).

    The client is tied to the trio run that first uses it (its pooled connections are); corral runs a
    single trio run per process. `aclose_clients` closes them at shutdown.
    """
    key = (verify_tls, tls)
    client = _clients.get(key)
    if client is None:
        client = httpx.AsyncClient(
            verify=ssl_context() if verify_tls and tls else False,
            http1=True,
            http2=False,
            timeout=request_timeout(120.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=60.0),
            follow_redirects=False,
        )
        _clients[key] = client
    return client


async def aclose_clients() -> None:
    """Close the shared clients (they are recreated on next use)."""
    clients = list(_clients.values())
    _clients.clear()
    for client in clients:
        await client.aclose()
