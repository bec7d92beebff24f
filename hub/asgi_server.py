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


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on ("in use", "not an address of this machine"…), or None.

    Binds the way uvicorn does (SO_REUSEADDR), so a port left in TIME_WAIT by a stopped hub is free.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"not a host name this machine can resolve ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "in use"
            if exc.errno == errno.EACCES:
                return "reserved (ports below 1024 need privileges)"
            return f"not available ({exc.strerror})"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """A uvicorn server on its own thread and loop; ``base_url`` once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 **options: Any) -> None:
        """``options`` go to ``uvicorn.Config`` as given (e.g. ``hub.uvicorn_limits.server_options``)."""
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level=log_level, lifespan="auto",
                                access_log=False, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"asgi:{self.port}", daemon=True)

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


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """``with serve_in_thread(app) as base_url: ...`` — a real HTTP server for the block."""
    server = BackgroundServer(app, host, port).start()
    try:
        yield server.base_url
    finally:
        server.stop()
