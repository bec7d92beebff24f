"""The uvicorn settings that keep slow or idle clients from holding the API's connections.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``), but gives a client forever
to *finish* its headers: one byte every few seconds keeps a connection open indefinitely (slow
loris). The protocol here closes a connection whose request headers are not complete
``[limits] header_timeout_s`` after it opened (or after its previous response), with one info
log line, and refuse a request line and headers over ``[limits] max_header_bytes`` with 400.
``BoundedHttpToolsProtocol`` is uvicorn's httptools protocol (llhttp, in C; installed with
``uvicorn[standard]``) with those two bounds added: it costs about half of what uvicorn's pure-Python
h11 protocol does per request, which at thousands of pushes a second was most of a push's cost.
Slow bodies are ``hub.api.body_limits``' concern (408). Not for
TLS or proxies: put those in front of the hub.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.config import LimitsSection

log = structlog.get_logger(__name__)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parse error, uvicorn into a 400."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline on each request's headers and a bound on their size."""

    header_timeout_s: ClassVar[float] = 10.0
    max_header_bytes: ClassVar[int] = 64 * 1024
    _header_timer: asyncio.TimerHandle | None = None
    #: No complete request line and headers since the connection opened or the last response.
    _awaiting_head = True
    _head_size = 0  # request line and headers parsed so far (the exact check)
    _head_bytes = 0  # bytes received while the headers were incomplete (bounds what the parser buffers)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:  # headers still incomplete past the limit
                self._refuse_head()

    def on_message_begin(self) -> None:
        self._awaiting_head, self._head_size, self._head_bytes = True, 0, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request waiting in ``pipeline`` has its headers; otherwise the next is awaited.
        self._awaiting_head = not self.pipeline
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.max_header_bytes:
            raise _HeadTooLarge

    def _refuse_head(self) -> None:
        msg = "Invalid HTTP request received."  # what uvicorn answers any unparsable request
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_overdue)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._awaiting_head:
            return
        log.info("http.header_timeout", timeout_s=self.header_timeout_s, buffered=self._head_bytes)
        self.transport.close()


def protocol_class(limits: LimitsSection) -> type[BoundedHttpToolsProtocol]:
    """``BoundedHttpToolsProtocol`` with the configured limits (uvicorn instantiates the class)."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,),
                {"header_timeout_s": limits.header_timeout_s, "max_header_bytes": limits.max_header_bytes})


def server_options(limits: LimitsSection) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run`` that enforce ``limits``."""
    return {
        "http": protocol_class(limits),
        "timeout_keep_alive": limits.keep_alive_s,
        "limit_concurrency": limits.max_connections,
    }
