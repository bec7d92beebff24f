"""The API's limits under a real uvicorn server, as ``hub serve`` runs it (``hub.uvicorn_limits``):
an announced body over the limit is refused before it is sent, a chunked one is cut off at the
limit, headers over the limit are refused with 400 whether they end or not, and clients that
stall mid-headers or mid-body are disconnected, each with one info line and no traceback, while
a keep-alive client's requests are each answered. Deadlines here are generous; nothing asserts
how fast the server is."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from hub.api import create_app
from hub.asgi_server import BackgroundServer
from hub.config import HubConfig, HubSection, LimitsSection
from hub.context import build_hub
from hub.plugins import build_plugin_manager
from hub.uvicorn_limits import server_options
from tests.integration.test_api_support import FakeChannelsPlugin, push_shop

LIMITS = LimitsSection(api_body_bytes=4096, webhook_body_bytes=8192, body_timeout_s=0.5, header_timeout_s=0.5,
                       max_header_bytes=4096)
WAIT_S = 30.0


@pytest.fixture
def server(database_url: str) -> Iterator[BackgroundServer]:
    config = HubConfig(hub=HubSection(database_url=database_url), shops={"fp-main": push_shop()}, limits=LIMITS)
    hub = build_hub(config, plugins=build_plugin_manager(extra=[FakeChannelsPlugin()], load_entry_points=False))
    running = BackgroundServer(create_app(hub), **server_options(LIMITS)).start()
    try:
        yield running
    finally:
        running.stop()


def _connect(server: BackgroundServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT_S)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT_S passes: a failure)."""
    received = b""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server kept the connection open for {WAIT_S} s; got {received[:200]!r}")


def _head(path: str, *headers: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: hub.test", *headers, "", ""]).encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent(server: BackgroundServer) -> None:
    with _connect(server) as sock:
        # Headers only: the 10 MB the length announces are never sent, yet the answer comes.
        sock.sendall(_head("/api/v1/api-keys", "Content-Type: application/json", "Content-Length: 10000000"))
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b'"too_large"' in reply


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_chunked_body_is_cut_off_at_the_limit(server: BackgroundServer) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/webhooks/fakepush/fp-main", "Transfer-Encoding: chunked"))
        chunk = b"x" * 4000
        for _ in range(3):  # 12,000 bytes against a webhook limit of 8,192; no final chunk
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_client_that_stalls_in_its_headers_is_disconnected_with_one_info_line(server: BackgroundServer) -> None:
    with capture_logs() as logs, _connect(server) as sock:
        sock.sendall(b"P")  # one byte, then nothing
        reply = _read_until_closed(sock)
    assert reply == b"", "closed without an answer: there was no request to answer"
    timeouts = [e for e in logs if e["event"] == "http.header_timeout"]
    assert [e["log_level"] for e in timeouts] == ["info"]
    assert not [e for e in logs if e["log_level"] in ("error", "exception")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_client_that_stalls_in_its_body_gets_408_and_is_disconnected(server: BackgroundServer) -> None:
    with capture_logs() as logs, _connect(server) as sock:
        sock.sendall(_head("/api/v1/api-keys", "Content-Type: application/json", "Content-Length: 100") + b"{")
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert [e["log_level"] for e in logs if e["event"] == "request.body_timeout"] == ["info"]
    assert not [e for e in logs if e["log_level"] in ("error", "exception")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_headers_over_the_limit_are_refused_with_400(server: BackgroundServer) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/webhooks/fakepush/fp-main", "X-Padding: " + "p" * 5000, "Content-Length: 0"))
        complete = _read_until_closed(sock)
    with _connect(server) as sock:
        sock.sendall(b"POST /webhooks/fakepush/fp-main HTTP/1.1\r\nX-Padding: " + b"p" * 3000)
        sock.sendall(b"p" * 3000)  # never ends: refused once past the limit, not buffered on
        endless = _read_until_closed(sock)
    assert complete.startswith(b"HTTP/1.1 400 "), complete[:200]
    assert endless.startswith(b"HTTP/1.1 400 "), endless[:200]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_keep_alive_client_gets_each_push_answered(server: BackgroundServer) -> None:
    import json

    from tests.integration.test_api_support import sign

    with _connect(server) as sock:
        for n in range(3):
            body = json.dumps({"events": [{"id": f"k-{n}", "order": str(n)}]}).encode()
            sock.sendall(_head("/webhooks/fakepush/fp-main", f"Content-Length: {len(body)}", f"X-Sign: {sign(body)}")
                         + body)
            reply = b""
            while b'"success"' not in reply:
                chunk = sock.recv(65536)
                assert chunk, f"closed after {n} answers: {reply[:200]!r}"
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
