"""A port the hub checks is the port it listens on: it is bound at the check and kept until the
server listens on it, so nothing meanwhile — a free-port search, one of the process's own outgoing
connections — can be given it."""

from __future__ import annotations

import errno
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hub.asgi_server import BackgroundServer, PortUnavailable, bind_port


def _taken(port: int) -> bool:
    """Whether a socket binding ``port`` plainly (as a connection's own port is taken) is refused."""
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", port))
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
            return True
    return False


def test_a_bound_port_is_kept_until_closed() -> None:
    held = bind_port("127.0.0.1", 0)
    port = held.getsockname()[1]
    assert _taken(port)
    held.close()
    assert not _taken(port)


def test_a_port_in_use_is_refused_with_the_reason() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(PortUnavailable, match="in use"):
            bind_port("127.0.0.1", listener.getsockname()[1])


def test_a_background_server_holds_its_port_from_construction_to_stop() -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    server = BackgroundServer(Starlette(routes=[Route("/", hello)]))
    assert _taken(server.port)  # before it starts
    server.start()
    try:
        assert httpx.get(server.base_url, timeout=10).text == "ok"
    finally:
        server.stop()
