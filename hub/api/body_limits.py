"""Bounded input at the API's edge: no request may cost more than its route class allows.

``BodyLimitMiddleware`` runs before routing and authentication. It refuses a ``Content-Length``
above the route's limit with 413 without reading a byte of the body, stops a chunked body at the
limit (413), and gives the client ``[limits] body_timeout_s`` to send the whole body (408). Then
it refuses JSON nested deeper than ``json_max_depth`` (400) and NUL characters in the query, the
path or an API JSON body (422 naming the field), and hands the route the body it read. A client
that goes away mid-body is logged on one line, without a trace. Limits come from ``[limits]``
(``hub.config.LimitsSection``). Not for slow *headers*: ``hub.uvicorn_limits`` closes those.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.input_guards import bracket_depth, nul_in_json, nul_in_query
from hub.config import LimitsSection

log = structlog.get_logger(__name__)

NUL_MESSAGE = "must not contain a NUL character"


class BodyLimitMiddleware:
    """Reads each request's body, bounded in size and time, before the app sees the request."""

    def __init__(self, app: ASGIApp, limits: LimitsSection) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = self._refuse_head(scope, path)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        body = await self._read(scope, receive, send, path)
        if body is None:  # refused, or the client went away
            return
        refusal = self._refuse_body(body, path)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refuse_head(self, scope: Scope, path: str) -> tuple[int, dict[str, Any], bool] | None:
        if "\x00" in path:
            return _invalid("path")
        name = nul_in_query(scope.get("query_string") or b"")
        if name is not None:
            return _invalid(f"query.{name}")
        limit = self.limits.body_limit(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.info("request.too_large", path=path[:200], declared=declared, limit=limit)
            return _too_large(limit)
        return None

    async def _read(self, scope: Scope, receive: Receive, send: Send, path: str) -> bytes | None:
        limit = self.limits.body_limit(path)
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        log.info("request.aborted", path=path[:200], received=size)
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        log.info("request.too_large", path=path[:200], received=size, limit=limit)
                        await _respond(send, *_too_large(limit))
                        return None
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            log.info("request.body_timeout", path=path[:200], received=size, timeout_s=self.limits.body_timeout_s)
            await _respond(send, 408, {"error": "request_timeout", "detail":
                                       f"the body was not received within {self.limits.body_timeout_s:g} s"}, True)
            return None

    def _refuse_body(self, body: bytes, path: str) -> tuple[int, dict[str, Any], bool] | None:
        depth = bracket_depth(body)
        if depth > self.limits.json_max_depth:
            log.info("request.too_deep", path=path[:200], depth=depth, limit=self.limits.json_max_depth)
            return 400, {"error": "bad_request", "detail":
                         f"the body nests deeper than {self.limits.json_max_depth} levels"}, False
        # A push's messages are checked one by one (one bad message must not refuse its batch).
        if not path.startswith("/webhooks/"):
            where = nul_in_json(body)
            if where is not None:
                return _invalid(where)
        return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


def _invalid(field: str) -> tuple[int, dict[str, Any], bool]:
    return 422, {"error": "invalid_request", "detail": [{"field": field, "message": NUL_MESSAGE,
                                                         "type": "string_nul"}], "field": field}, False


def _too_large(limit: int) -> tuple[int, dict[str, Any], bool]:
    # Connection: close — the rest of the body is not wanted, and draining it would cost its size.
    return 413, {"error": "too_large", "detail": f"the body may be at most {limit} bytes here"}, True


async def _respond(send: Send, status: int, body: dict[str, Any], close: bool) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then whatever the server sends next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
