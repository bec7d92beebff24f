"""Signing in and out of the console, and choosing its language.

Sign-in takes an API key (checked like the API checks it) or a user name and password
(``hub.db.users``); either way the session gets a fresh form token. A failed sign-in shows the
form again saying which way failed, never which part of a name/password pair was wrong. After
``[console] sign_in_max_failures`` failures with one user name (known or not) or with API keys from
one address, further tries are refused (429) for ``sign_in_lockout_s`` (``hub.db.sign_in_failures``).
"""

from __future__ import annotations

from datetime import UTC, datetime

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
from hub.db import sign_in_failures as failures
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
    limits = hub.config.console
    subject = failures.key_subject(request.client.host if request.client else None) if key \
        else failures.user_subject(name)
    now = datetime.now(UTC)
    async with hub.database().transaction() as db:
        until = await failures.locked_until(db, subject, now) if key or name else None
        if until is not None:
            error, field, status = t.t("login.locked", until=t.time(until)), "api_key" if key else "password", 429
        elif key:
            row = await api_key_store.verify_key(db, key)
            if row is not None:
                await failures.clear(db, subject)
                signed_in_session(request, kind="key", sub=row.prefix)
                log.info("console.signed_in", via="key", key=row.prefix)
                return write_session(request, RedirectResponse(target, status_code=303))
            error, field, status = t.t("login.failed_key"), "api_key", 401
        else:
            user = await user_store.verify_password(db, name, form.get("password", "")) if name else None
            if user is not None:
                await failures.clear(db, subject)
                signed_in_session(request, kind="user", sub=user.name)
                log.info("console.signed_in", via="user", user=user.name)
                return write_session(request, RedirectResponse(target, status_code=303))
            error, field, status = t.t("login.failed_password"), "password", 401
        if status == 401 and (key or name):
            until = await failures.record_failure(db, subject, now=now, max_failures=limits.sign_in_max_failures,
                                                  lockout_s=limits.sign_in_lockout_s)
            if until is not None:
                log.warning("console.sign_in_locked", via=field, lockout_s=limits.sign_in_lockout_s)
    log.info("console.sign_in_refused", via=field, locked=status == 429)
    return render(request, "login.html", {"next": target, "error": error, "error_field": field, "user": name},
                  status=status)


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
