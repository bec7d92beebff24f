"""Every error the API returns, as ``{"error": code, "detail": ...}`` JSON, and never a stack trace.

Maps the hub's error classes (``hub.errors``) and FastAPI's own (validation, 404, 405) to status
codes; ``RequestContextMiddleware`` gives each request an id and turns anything unexpected into a
500 ``internal_error`` that names the request id while the exception is logged — except that the
database being unreachable is a 503 with Retry-After on one warning line, as the queue's is. Not for deciding
*whether* something is an error: routes and services raise, this module only renders.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Sequence
from typing import Any

import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import BadInputError, ConfigError, ConflictError, NotFoundError, ShopPausedError, SignatureError

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "too_many_requests",
                 503: "unavailable"}


class ErrorBody(BaseModel):
    """The shape of every error response."""

    error: str = Field(description="A stable, machine-readable code: unauthorized, forbidden, not_found, ...")
    detail: Any = Field(description="What went wrong, for people; for invalid_request, one entry per bad field.")
    field: str | None = Field(default=None, description="The input at fault, when there is one.")
    request_id: str | None = None


class FieldProblem(BaseModel):
    field: str = Field(description="Where the bad value is: body.quantity, query.limit, path.order_id.")
    message: str
    type: str


class ApiError(Exception):
    """Raised by routes and dependencies to answer with a given status and error code."""

    def __init__(
        self, status: int, code: str, detail: Any, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers


def error_response(
    status: int, code: str, detail: Any, *, field: str | None = None, request: Request | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    if request_id is not None and status >= 500:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


def field_problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Validation errors as ``[{"field": "body.quantity", "message": ..., "type": ...}]`` (no input echoed:
    it may hold a secret or a buyer's data)."""
    return [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", "")),
         "type": str(err.get("type", ""))}
        for err in errors
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, field=exc.field, request=request, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", field_problems(exc.errors()), request=request)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else f"no route for {request.url.path}"
    return error_response(exc.status_code, code, detail, request=request, headers=getattr(exc, "headers", None))


async def _signature_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(401, "bad_signature", str(exc), request=request)


async def _bad_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadInputError)
    return error_response(400, "bad_input", str(exc), field=exc.field, request=request)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc), request=request)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return error_response(409, "conflict", str(exc), request=request)


async def _shop_paused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShopPausedError)
    return error_response(503, "shop_paused", str(exc), request=request)


async def _config_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfigError)
    # The problems may name environment variables and settings: log them, tell the client little.
    log.error("request.config_error", path=request.url.path, error=str(exc), problems=exc.problems)
    return error_response(
        500, "config_error", "the hub is misconfigured for this request; an operator should run `hub check-config`",
        request=request,
    )


#: Retry-After (seconds) of a 503 while the queue's broker is unreachable.
BROKER_RETRY_AFTER_S = 30


def broker_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean the queue's broker cannot be reached (Redis down, or timing out)."""
    import dramatiq.errors
    import redis.exceptions

    return (dramatiq.errors.BrokerError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


async def _broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # One line, no trace: an outage is an operator's matter, and every request would repeat it.
    # Whatever committed before the send stays committed; the outbox and the inbox sweep send it later.
    log.warning("request.queue_unavailable", method=request.method, path=request.url.path,
                error_class=type(exc).__name__)
    return error_response(503, "unavailable", "the queue is unreachable; what was recorded is kept, retry later",
                          request=request, headers={"Retry-After": str(BROKER_RETRY_AFTER_S)})


#: Retry-After (seconds) of a 503 while the database is unreachable.
DATABASE_RETRY_AFTER_S = 5
#: Modules whose frames in a traceback mark an ``OSError`` as the database connection's own.
_DATABASE_MODULES = ("asyncpg", "aiosqlite", "sqlalchemy", "psycopg")


def database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached: refused, reset or timed out while
    connecting, the pool out of connections, or a connection lost mid-request. Not a query the
    database refused (a constraint, a bad statement): those stay 500s, worth a traceback."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection within pool_timeout
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if isinstance(error.orig, BaseException) else error
    if type(error).__module__.startswith("asyncpg") and type(error).__name__ in (
            "ConnectionDoesNotExistError", "CannotConnectNowError", "TooManyConnectionsError",
            "ConnectionFailureError", "PostgresConnectionError"):
        return True
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        # Raised by the driver while connecting: only then is it the database's (a partner's
        # HTTP client raises its own classes, which name no driver frame).
        return _raised_in(error, _DATABASE_MODULES)
    return False


def _raised_in(error: BaseException, modules: tuple[str, ...]) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in modules:
            return True
        traceback = traceback.tb_next
    return False


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SignatureError, _signature_error)
    app.add_exception_handler(BadInputError, _bad_input)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(ShopPausedError, _shop_paused)
    app.add_exception_handler(ConfigError, _config_error)
    for broker_error in broker_errors():
        app.add_exception_handler(broker_error, _broker_unavailable)


class RequestContextMiddleware:
    """Gives each request an id (kept from ``X-Request-ID`` when sane), binds it to the logs, echoes
    it in the response, and answers an unhandled exception with a 500 that carries no trace.

    A plain ASGI middleware rather than an ``Exception`` handler: Starlette re-raises after calling
    such a handler, which would print the trace a second time through the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        # 80 random bits name a request well enough to find it in the logs; the module's generator
        # costs no system call (uuid4 reads the OS's random source, a few % of a push's time).
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else f"req_{random.getrandbits(80):020x}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if database_unreachable(exc):
                    # One line, no trace, as for the queue: an outage is an operator's matter, and
                    # every request would repeat it. Nothing of a push was stored: it comes again.
                    log.warning("request.database_unavailable", method=scope.get("method"), path=scope.get("path"),
                                error_class=type(exc).__name__)
                    if not started:
                        await error_response(
                            503, "unavailable", "the database is unreachable; retry later",
                            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})(scope, receive, send_with_id)
                    return
                log.exception("request.failed", method=scope.get("method"), path=scope.get("path"))
                if started:  # the response is half sent: nothing better to do than close it
                    return
                response = JSONResponse(
                    {"error": "internal_error", "detail": "an unexpected error occurred; it has been logged",
                     "request_id": request_id},
                    status_code=500,
                )
                await response(scope, receive, send_with_id)
