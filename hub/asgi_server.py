"""Run an ASGI app under a real uvicorn server on a background thread (sandboxes, demo, tests).

Not for the hub's own API in production: ``hub serve`` runs uvicorn in the foreground.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class PortUnavailable(Exception):
    """``host:port`` cannot be listened on; the message says why ("in use" …)."""


def bind_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` the way uvicorn binds (SO_REUSEADDR, so a port left in
    TIME_WAIT by a stopped hub is free), not listening yet. Handed to the server, it keeps the port
    from the check to the start: no connection the process opens meanwhile can be given that port.
    ``PortUnavailable`` says why it cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PortUnavailable(f"not a host name this machine can resolve ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable("in use") from exc
        if exc.errno == errno.EACCES:
            raise PortUnavailable("reserved (ports below 1024 need privileges)") from exc
        raise PortUnavailable(f"not available ({exc.strerror})") from exc
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """A uvicorn server on its own thread and loop; ``base_url`` once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 **options: Any) -> None:
        """``options`` go to ``uvicorn.Config`` as given (e.g. ``hub.uvicorn_limits.server_options``).
        Port 0 (the default): a free port, bound at once, so nothing else can take it before the
        server listens."""
        self.host = host
        self.socket = bind_port(host, port)
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(app, host=host, port=self.port, log_level=log_level, lifespan="auto",
                                access_log=False, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name=f"asgi:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"ASGI server on {self.base_url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """``with serve_in_thread(app) as base_url: ...`` — a real HTTP server for the block."""
    server = BackgroundServer(app, host, port).start()
    try:
        yield server.base_url
    finally:
        server.stop()
