"""Console sessions: a signed cookie saying who signed in (an API key or a user), when, and the
form token (CSRF) bound to it; and the checks every console route makes.

The cookie (``hub_console``, HttpOnly, SameSite=Lax, path ``/console``) holds JSON signed with
``itsdangerous`` under ``[console] session_secret``: ``csrf`` (random, rotated at sign-in and
sign-out), ``iat`` (sign-in time; the session ends ``session_max_age_s`` later) and, once signed
in, ``kind`` (``key``/``user``) and ``sub`` (the key's prefix or the user's name). The role is
read from the database on every request, so a revoked key, a deactivated user or a changed role
takes effect at once. Every POST carries ``csrf_token`` equal to the session's token (session-bound
tokens: a page from another site cannot read it). What a role may do is the API's table
(``hub.api.auth``). Not for API keys on the HTTP API (``hub.api.auth``) nor for password hashing.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from hub.api.auth import Permission, Principal, shops_from_row
from hub.context import Hub
from hub.db import users as user_store
from hub.db.tables import ApiKeyRow

log = structlog.get_logger(__name__)

SESSION_COOKIE = "hub_console"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
_SALT = "hub.console.session.v1"


@dataclass(frozen=True)
class ConsoleSession:
    """What the cookie says; ``expired`` and ``new`` are facts about this request, never stored."""

    csrf: str
    iat: int
    kind: str | None = None  # key | user
    sub: str | None = None  # the key's prefix or the user's name
    expired: bool = False
    new: bool = False

    @property
    def signed_in(self) -> bool:
        return self.kind is not None and self.sub is not None

    @classmethod
    def anonymous(cls, *, expired: bool = False) -> ConsoleSession:
        return cls(csrf=secrets.token_urlsafe(32), iat=int(time.time()), expired=expired, new=True)


@dataclass(frozen=True)
class ConsolePrincipal(Principal):
    """Who is using the console: a ``Principal`` (same permission table), attributed by how they signed in."""

    via: str = field(default="key")

    @property
    def actor(self) -> str:
        if self.via == "user":
            return f"user:{self.name}"[:100]
        return super().actor


class ConsoleAuthRequired(Exception):
    """No live session: GETs go to the sign-in page, POSTs get a 'nothing changed' page."""

    def __init__(self, expired: bool) -> None:
        super().__init__("sign-in required")
        self.expired = expired


class ConsoleCsrfRefused(Exception):
    """A form's token did not match the session's: nothing was changed."""


class ConsoleForbidden(Exception):
    def __init__(self, role: str, permission: Permission) -> None:
        super().__init__(f"role {role!r} lacks {permission.value!r}")
        self.role = role
        self.permission = permission


class SessionSigner:
    """Signs and reads the cookie; a session older than ``max_age_s`` reads as anonymous and expired."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)
        self.max_age_s = max_age_s

    def dump(self, session: ConsoleSession) -> str:
        payload = {"csrf": session.csrf, "iat": session.iat, "kind": session.kind, "sub": session.sub}
        return str(self._serializer.dumps(payload))

    def load(self, cookie: str | None, *, now: float | None = None) -> ConsoleSession:
        if not cookie:
            return ConsoleSession.anonymous()
        try:
            data: Any = self._serializer.loads(cookie)
            session = ConsoleSession(csrf=str(data["csrf"]), iat=int(data["iat"]), kind=data.get("kind"),
                                     sub=data.get("sub"))
        except (BadSignature, KeyError, TypeError, ValueError, json.JSONDecodeError):
            return ConsoleSession.anonymous()
        if (now if now is not None else time.time()) - session.iat > self.max_age_s:
            return ConsoleSession.anonymous(expired=session.signed_in)
        return session


def console_secret(hub: Hub) -> str:
    """The configured ``session_secret``, or a random one made once per process (logged)."""
    secret = hub.config.console.session_secret
    if secret is None:
        secret = getattr(hub, "_console_secret", None)
        if secret is None:
            secret = secrets.token_urlsafe(32)
            hub._console_secret = secret  # type: ignore[attr-defined]
            log.warning("console.session_secret_generated",
                        hint="sessions end when this process stops; set HUB_CONSOLE__SESSION_SECRET")
    return secret


def signer_for(hub: Hub) -> SessionSigner:
    """The session signer under ``console_secret``."""
    return SessionSigner(console_secret(hub), hub.config.console.session_max_age_s)


def current_session(request: Request) -> ConsoleSession:
    """The request's session (read once per request); a fresh anonymous one when there is none."""
    cached = getattr(request.state, "console_session", None)
    if isinstance(cached, ConsoleSession):
        return cached
    hub: Hub = request.app.state.hub
    session = signer_for(hub).load(request.cookies.get(SESSION_COOKIE))
    request.state.console_session = session
    return session


def replace_session(request: Request, session: ConsoleSession) -> None:
    """Make ``session`` the one written back with this request's response."""
    request.state.console_session = replace(session, new=True)


def signed_in_session(request: Request, *, kind: str, sub: str) -> ConsoleSession:
    """A new session for whoever just proved who they are (new form token: no fixation)."""
    session = ConsoleSession(csrf=secrets.token_urlsafe(32), iat=int(time.time()), kind=kind, sub=sub, new=True)
    replace_session(request, session)
    return session


async def console_principal(request: Request) -> ConsolePrincipal:
    """The signed-in person, checked against the database now; ``ConsoleAuthRequired`` if there is none."""
    cached = getattr(request.state, "console_principal", None)
    if isinstance(cached, ConsolePrincipal):
        return cached
    session = current_session(request)
    if not session.signed_in or session.sub is None:
        raise ConsoleAuthRequired(expired=session.expired)
    hub: Hub = request.app.state.hub
    principal: ConsolePrincipal | None = None
    async with hub.database().session() as db:
        if session.kind == "key":
            row = await db.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == session.sub))
            if row is not None and row.revoked_at is None:
                principal = ConsolePrincipal(key_id=int(row.id), name=row.name, prefix=row.prefix, role=row.role,
                                             shops=shops_from_row(row.shops), via="key")
        elif session.kind == "user":
            user = await user_store.active_user(db, session.sub)
            if user is not None:
                principal = ConsolePrincipal(key_id=0, name=user.name, prefix="", role=user.role,
                                             shops=shops_from_row(user.shops), via="user")
    if principal is None:
        log.info("console.session_ended", kind=session.kind)
        replace_session(request, ConsoleSession.anonymous(expired=True))
        raise ConsoleAuthRequired(expired=True)
    request.state.console_principal = principal
    request.state.actor = principal.actor
    return principal


def require_right(principal: ConsolePrincipal, permission: Permission) -> None:
    """``ConsoleForbidden`` unless the principal's role grants ``permission``."""
    if not principal.may(permission):
        raise ConsoleForbidden(principal.role, permission)


async def check_form(request: Request) -> dict[str, str]:
    """The posted form, after checking the session is live and the form's token is the session's.

    The session is checked first: a form posted after the session ended says so, not 'stale form'.
    """
    await console_principal(request)
    return await check_csrf(request)


async def checked_form(request: Request, permission: Permission) -> tuple[dict[str, str], ConsolePrincipal]:
    """A write form's values and who posted it: ``check_form``, then ``require_right`` of ``permission``."""
    form = await check_form(request)
    principal = await console_principal(request)
    require_right(principal, permission)
    return form, principal


async def check_csrf(request: Request) -> dict[str, str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    session = current_session(request)
    token = values.get(CSRF_FIELD, "")
    if session.new or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        log.info("console.csrf_refused", path=request.url.path)
        raise ConsoleCsrfRefused()
    return values
