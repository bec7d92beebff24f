"""Signing in and out of the console, and choosing its language.

Sign-in takes an API key (checked like the API checks it) or a user name and password
(``hub.db.users``); either way the session gets a fresh form token. A failed sign-in shows the
form again saying which way failed, never which part of a name/password pair was wrong.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.console.auth import (
    ConsoleSession,
    check_csrf,
    current_session,
    replace_session,
    signed_in_session,
)
from hub.console.i18n import LANGUAGE_COOKIE, LANGUAGES
from hub.console.pages import render, translator, write_session
from hub.context import Hub
from hub.db import api_keys as api_key_store
from hub.db import users as user_store

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/console")


def _safe_next(target: str | None) -> str:
    """Only paths inside the console: a sign-in link must not send people to another site."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, next: str | None = None, expired: bool = False, out: bool = False) -> Response:
    current_session(request)
    t = translator(request)
    notice = t.t("login.expired") if expired else t.t("login.signed_out") if out else None
    return render(request, "login.html", {"next": _safe_next(next), "notice": notice})


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    form = await check_csrf(request)
    hub: Hub = request.app.state.hub
    t = translator(request)
    target = _safe_next(form.get("next"))
    key = form.get("api_key", "").strip()
    name = form.get("user", "").strip()
    async with hub.database().transaction() as db:
        if key:
            row = await api_key_store.verify_key(db, key)
            if row is not None:
                signed_in_session(request, kind="key", sub=row.prefix)
                log.info("console.signed_in", via="key", key=row.prefix)
                return write_session(request, RedirectResponse(target, status_code=303))
            error, field = t.t("login.failed_key"), "api_key"
        else:
            user = await user_store.verify_password(db, name, form.get("password", "")) if name else None
            if user is not None:
                signed_in_session(request, kind="user", sub=user.name)
                log.info("console.signed_in", via="user", user=user.name)
                return write_session(request, RedirectResponse(target, status_code=303))
            error, field = t.t("login.failed_password"), "password"
    log.info("console.sign_in_refused", via=field)
    return render(request, "login.html", {"next": target, "error": error, "error_field": field, "user": name},
                  status=401)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    await check_csrf(request)
    replace_session(request, ConsoleSession.anonymous())
    return write_session(request, RedirectResponse("/console/login?out=1", status_code=303))


@router.get("/lang/{language}", include_in_schema=False)
async def choose_language(request: Request, language: str, next: str | None = None) -> Response:
    """Remember the reader's language (a preference, not a change to data: no form token needed)."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/console", samesite="lax")
    return response
