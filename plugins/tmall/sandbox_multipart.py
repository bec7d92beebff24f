"""Multipart/form-data in front of the sandbox's TOP gateway: calls that upload files (``byte[]`` params).

The shared gateway emulator (``plugins.taobao.top_gateway``) reads form-urlencoded bodies only.
This route takes a multipart request apart: the text fields go on to the gateway as an ordinary
form (signature, session and fault checks unchanged: TOP signs no file param), the files are
handed to the method's handler through ``uploaded_files()`` for the length of that one call. Any
other request goes to the gateway as it came. Not a place for business rules.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugins.taobao.top_gateway import TopGateway


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a TOP call."""

    param: str
    filename: str
    content_type: str
    content: bytes


_FILES: ContextVar[dict[str, UploadedFile] | None] = ContextVar("tmall_sandbox_files", default=None)


def uploaded_files() -> dict[str, UploadedFile]:
    """The files of the call being handled (param name → file); empty for a form-urlencoded call."""
    return dict(_FILES.get() or {})


def multipart_route(gateway: TopGateway) -> Route:
    """A ``/router/rest`` route that accepts multipart calls and passes the rest to ``gateway``."""

    async def endpoint(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            _FILES.set(None)
            return await gateway.endpoint(request)
        form = await request.form()
        fields: dict[str, str] = {}
        files: dict[str, UploadedFile] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = UploadedFile(name, value.filename or name, value.content_type or "",
                                           await value.read())
            else:
                fields[name] = str(value)
        body = urlencode(fields).encode("utf-8")
        headers = [(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        token = _FILES.set(files)
        try:
            return await gateway.endpoint(Request({**request.scope, "headers": headers}, receive))
        finally:
            _FILES.reset(token)

    return Route("/router/rest", endpoint, methods=["GET", "POST"])
