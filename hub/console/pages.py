"""Rendering console pages: the Jinja2 environment, what every template gets, and the pages for
'sign in first', 'stale form', 'not allowed' and API errors.

``render`` writes the session cookie back when the request started or replaced a session, so a
route never handles cookies itself. Not for deciding who may do what (``hub.console.auth``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.console.auth import (
    COOKIE_PATH,
    CSRF_FIELD,
    SESSION_COOKIE,
    ConsoleAuthRequired,
    ConsoleCsrfRefused,
    ConsoleForbidden,
    current_session,
    signer_for,
)
from hub.console.i18n import LANGUAGE_COOKIE, Translator, negotiate
from hub.context import Hub

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def code_spans(text: object) -> Markup:
    """Text whose `back-quoted` parts are commands, with those parts shown as code and the rest
    escaped (the catalogues write ``hub run --demo`` that way): ``{{ t.t(...)|code_spans }}``."""
    parts = str(escape(text)).split("`")
    if len(parts) % 2 == 0:  # an unpaired back-quote: show the text as it is
        return Markup("`".join(parts))
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


TEMPLATES.env.filters["code_spans"] = code_spans


def with_notice(target: str, **notice: object) -> str:
    """``target`` with the notice's values as query parameters (kept before any ``#fragment``)."""
    path, _, fragment = target.partition("#")
    joiner = "&" if "?" in path else "?"
    return f"{path}{joiner}{urlencode(notice)}" + (f"#{fragment}" if fragment else "")


def translator(request: Request) -> Translator:
    hub: Hub = request.app.state.hub
    language = negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
    return Translator(language, ZoneInfo(hub.config.console.time_zone))


def write_session(request: Request, response: Response) -> Response:
    """Set the session cookie when this request made a new session (anonymous, signed in or out)."""
    session = current_session(request)
    if session.new:
        hub: Hub = request.app.state.hub
        settings = hub.config.console
        response.set_cookie(SESSION_COOKIE, signer_for(hub).dump(session), max_age=settings.session_max_age_s,
                            path=COOKIE_PATH, httponly=True, samesite="lax", secure=settings.secure_cookie)
    return response


#: On every page: no other site may show it in a frame (a hidden Release or Revoke button under a
#: decoy, "clickjacking"), no guessing of content types, and addresses sent only to the hub itself.
PAGE_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200) -> Response:
    """The page from ``template`` with the shared context (words, who is signed in, form token)."""
    principal = getattr(request.state, "console_principal", None)
    session = current_session(request)
    values: dict[str, Any] = {
        "t": translator(request),
        "principal": principal,
        "may": (lambda p: principal is not None and principal.may(Permission(p))),
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf,
        "path": request.url.path,
        # Where the language switch comes back to: this page, or for the answer to a form (a
        # refusal, the form again) the page the form was on, since a link cannot repeat a POST.
        "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method in ("GET", "HEAD") else _page_behind(request),
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(PAGE_HEADERS)
    return write_session(request, response)


def error_page(request: Request, message: str, *, status: int) -> Response:
    return render(request, "error.html", {"message": message}, status=status)


def _page_behind(request: Request) -> str:
    """The console page a fragment request or an event stream was made from (htmx sends its
    address as ``HX-Current-URL``, a browser as ``Referer``), else the overview."""
    for header in ("hx-current-url", "referer"):
        parts = urlsplit(request.headers.get(header, ""))
        if parts.path.startswith("/console") and not parts.path.startswith("/console/login"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/console"


def sign_in_again_url(request: Request) -> str:
    """Where a page whose session ended goes: the sign-in page, back to that page afterwards."""
    return f"/console/login?next={quote(_page_behind(request))}&expired=1"


def expired_stream(request: Request) -> Response:
    """For an event stream whose session ended: one ``expired`` event carrying the sign-in address
    (the page's script goes there), and a long reconnection delay. An EventSource would take any
    other answer as a network fault and keep retrying in silence."""
    body = f"retry: 600000\n\nevent: expired\ndata: {sign_in_again_url(request)}\n\n"
    return Response(body, media_type="text/event-stream",
                    headers={"Cache-Control": "no-store"})


async def _auth_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleAuthRequired)
    if request.headers.get("hx-request") == "true":
        # A fragment (a polling card, a progress bar) must not get the sign-in page swapped into it:
        # htmx sends the whole page there instead.
        return write_session(request, Response(status_code=401, headers={"HX-Redirect": sign_in_again_url(request)}))
    if request.url.path.endswith("/stream"):
        return write_session(request, expired_stream(request))
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        flag = "&expired=1" if exc.expired else ""
        return write_session(request, RedirectResponse(f"/console/login?next={quote(target)}{flag}", status_code=303))
    return error_page(request, translator(request).t("error.session"), status=401)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return error_page(request, translator(request).t("error.csrf"), status=403)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleForbidden)
    return error_page(request, translator(request).t("error.forbidden", role=exc.role,
                                                     permission=exc.permission.value), status=403)


def api_error_page(request: Request, exc: ApiError) -> Response:
    """An ``ApiError`` raised by the API code a console route reused, as a page in the reader's language."""
    t = translator(request)
    key = {404: "error.not_found", 409: "error.conflict"}.get(exc.status, "error.bad_input")
    return error_page(request, t.t(key, detail=str(exc.detail)), status=exc.status)


def _is_console_page(request: Request) -> bool:
    path = request.url.path
    return (path == "/console" or path.startswith("/console/")) and not path.startswith("/console/static/")


def _console_or(api_handler: Any, page: Any) -> Any:
    """An exception handler answering console addresses with ``page`` and the rest as the API does."""
    async def handle(request: Request, exc: Exception) -> Response:
        if _is_console_page(request):
            response: Response = page(request, exc)
            return response
        answer: Response = await api_handler(request, exc)
        return answer
    return handle


def _http_error_page(request: Request, exc: Exception) -> Response:
    """No such page (404), a link to an address that only takes a form (405), and the like, as a
    page in the reader's language rather than the API's JSON."""
    assert isinstance(exc, StarletteHTTPException)
    t = translator(request)
    key = {404: "error.no_page", 405: "error.form_only"}.get(exc.status_code, "error.http")
    response = error_page(request, t.t(key, status=exc.status_code), status=exc.status_code)
    for name, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[name] = value
    return response


def _bad_address_page(request: Request, exc: Exception) -> Response:
    """A console address whose parts are not what the page takes (``/console/orders/abc``): no such page."""
    return error_page(request, translator(request).t("error.no_page"), status=404)


def install_error_pages(app: FastAPI) -> None:
    """The console's refusals as pages; installed after the API's handlers, whose JSON the rest keeps."""
    app.add_exception_handler(ConsoleAuthRequired, _auth_required)
    app.add_exception_handler(ConsoleCsrfRefused, _csrf_refused)
    app.add_exception_handler(ConsoleForbidden, _forbidden)
    for kind, page in ((StarletteHTTPException, _http_error_page), (RequestValidationError, _bad_address_page)):
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.add_exception_handler(kind, _console_or(api_handler, page))
