"""The uvicorn settings that keep slow or idle clients from holding the API's connections.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) and bounds the size of
unparsed headers (``h11_max_incomplete_event_size``), but gives a client forever to *finish* its
headers: one byte every few seconds keeps a connection open indefinitely (slow loris).
``BoundedH11Protocol`` closes a connection whose request headers are not complete
``[limits] header_timeout_s`` after it opened (or after its previous response), with one info
log line. Slow bodies are ``hub.api.body_limits``' concern (408). Not for TLS or proxies: put
those in front of the hub.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.config import LimitsSection

log = structlog.get_logger(__name__)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline on receiving each request's headers."""

    header_timeout_s: ClassVar[float] = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_overdue)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        # IDLE: no complete request line and headers since the connection opened or the last response.
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        log.info("http.header_timeout", timeout_s=self.header_timeout_s,
                 buffered=len(self.conn.trailing_data[0]))
        self.transport.close()


def protocol_class(limits: LimitsSection) -> type[BoundedH11Protocol]:
    """``BoundedH11Protocol`` with the configured header deadline (uvicorn instantiates the class)."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"header_timeout_s": limits.header_timeout_s})


def server_options(limits: LimitsSection) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run`` that enforce ``limits``."""
    return {
        "http": protocol_class(limits),
        "timeout_keep_alive": limits.keep_alive_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "limit_concurrency": limits.max_connections,
    }
