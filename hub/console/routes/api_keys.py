"""The API keys screen (admins): every key (never the key itself), a form to create one whose
result page shows the new key once, a key's shops page, and revoking a key after a confirm step.

Creating redirects (303) to the result page, so reloading that page never sends the form again
(which would make a second key). The hub keeps only the key's hash, so the plaintext travels to
that page in a cookie of its own: signed, readable only by the session that created the key,
sent only to that page, good for ``SHOW_FOR_S`` and deleted by the page that reads it. A reload
then says the key was shown already.

Creating and revoking call the API's own route functions (``hub.api.routes.api_keys``) with the
signed-in person as the principal, so the stored rows, the audit entries (``apikey.created`` /
``apikey.revoked``, attributed to ``user:<name>`` or ``apikey:<prefix>:<name>``) and the refusal
to revoke the last admin key (or limit the last admin key of every shop) are exactly the API's. A
bad name or role gives the form again (422) with the field named; nothing is stored.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadData, URLSafeTimedSerializer
from pydantic import ValidationError

from hub.api.auth import ROLES, Permission
from hub.api.errors import ApiError
from hub.api.models import ApiKeyOut
from hub.api.routes.api_keys import (
    ApiKeyChange,
    NewApiKey,
    change_api_key,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from hub.console.auth import (
    ConsolePrincipal,
    check_form,
    checked_form,
    console_principal,
    console_secret,
    current_session,
    require_right,
)
from hub.console.i18n import Translator
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.errors import BadInputError

router = APIRouter(prefix="/console/api-keys")
FIELDS = ("name", "role")
#: The page that shows a new key, and the cookie that carries it there (sent to that page only).
SHOWN_PATH = "/console/api-keys/created"
NEW_KEY_COOKIE = "hub_console_new_key"
#: How long after creating a key its page may still show it (a slow redirect, not a later visit).
SHOW_FOR_S = 300
_SALT = "hub.console.new-key.v1"


def _carrier(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(console_secret(request.app.state.hub), salt=_SALT)


def _session_tag(request: Request) -> str:
    """Ties the cookie to the session that created the key (its form token, hashed)."""
    return hashlib.sha256(current_session(request).csrf.encode()).hexdigest()[:32]


def _problem(t: Translator, field: str) -> str:
    if field == "role":
        return t.t("keys.problem_role", roles=", ".join(ROLES))
    return t.t("keys.problem_name")


def _problems(t: Translator, name: str, role: str) -> dict[str, str]:
    """Each bad field with its message, checked as the API checks them (``NewApiKey``, the roles)."""
    problems: dict[str, str] = {}
    try:
        NewApiKey(name=name, role=role)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "name"
            problems[field if field in FIELDS else "name"] = _problem(t, field)
    if not name.strip():
        problems["name"] = _problem(t, "name")
    if role not in ROLES:
        problems["role"] = _problem(t, "role")
    return problems


async def _list_page(request: Request, *, form: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
                     status: int = 200, **context: Any) -> Response:
    keys = await list_api_keys(request)
    return render(request, "api_keys.html", {
        "keys": keys, "roles": ROLES, "form": form or {"name": "", "role": "viewer", "shops": []},
        "shop_names": sorted(request.app.state.hub.config.shops), "problems": problems or {},
        **context}, status=status)


async def _active_key(request: Request, prefix: str) -> ApiKeyOut | None:
    return next((k for k in await list_api_keys(request) if k.prefix == prefix and k.revoked_at is None), None)


@router.get("", include_in_schema=False)
async def api_keys_page(request: Request, revoked: str | None = None, shops: str | None = None,
                        principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.API_KEYS)
    keys = await list_api_keys(request)
    shown = revoked if any(k.prefix == revoked and k.revoked_at is not None for k in keys) else None
    changed = shops if any(k.prefix == shops and k.revoked_at is None for k in keys) else None
    return await _list_page(request, revoked=shown, shops_changed=changed)


def _shops_page(request: Request, key: ApiKeyOut, *, ticked: list[str], problem: str | None = None,
                refusal: str | None = None, status: int = 200) -> Response:
    return render(request, "api_key_shops.html", {
        "key": key, "ticked": ticked, "shop_names": sorted(request.app.state.hub.config.shops),
        "problem": problem, "refusal": refusal}, status=status)


@router.get("/{prefix}/shops", include_in_schema=False)
async def shops_page(request: Request, prefix: str,
                     principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The shops an active key is limited to, ticked (none ticked: every shop), to change."""
    require_right(principal, Permission.API_KEYS)
    key = await _active_key(request, prefix)
    if key is None:
        return error_page(request, translator(request).t("keys.not_found", prefix=prefix), status=404)
    return _shops_page(request, key, ticked=key.shops or [])


@router.post("/{prefix}/shops", include_in_schema=False)
async def change_shops(request: Request, prefix: str) -> Response:
    """Limit the key to the shops ticked (none: every shop) through the API's route; a shop not
    configured is the page again naming the field (422), the last admin key of every shop the page
    with the reason (409)."""
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.API_KEYS)
    t = translator(request)
    key = await _active_key(request, prefix)
    if key is None:
        return error_page(request, t.t("keys.not_found", prefix=prefix), status=404)
    shops = await _ticked_shops(request)
    unknown = [s for s in shops or [] if s not in request.app.state.hub.config.shops]
    if unknown:
        return _shops_page(request, key, ticked=shops or [], status=422,
                           problem=t.t("access.problem_shops", shops=", ".join(unknown)))
    try:
        await change_api_key(request, prefix, ApiKeyChange(shops=shops), principal)
    except ApiError as exc:
        if exc.status == 409:  # the last admin key of every shop: nothing changed
            return _shops_page(request, key, ticked=key.shops or [], status=409,
                               refusal=t.t("keys.last_admin_shops", prefix=prefix))
        return api_error_page(request, exc)
    target = "/console/api-keys?" + urlencode({"shops": prefix})
    return write_session(request, RedirectResponse(target, status_code=303))


async def _ticked_shops(request: Request) -> list[str] | None:
    """The shops ticked on the form (none ticked: every shop)."""
    ticked = [v for v in (await request.form()).getlist("shops") if isinstance(v, str) and v]
    return ticked or None


@router.post("", include_in_schema=False)
async def create(request: Request) -> Response:
    form, principal = await checked_form(request, Permission.API_KEYS)
    t = translator(request)
    name, role = form.get("name", ""), form.get("role", "")
    shops = await _ticked_shops(request)
    kept: dict[str, Any] = {"name": name, "role": role, "shops": shops or []}
    problems = _problems(t, name, role)
    configured = list(request.app.state.hub.config.shops)
    unknown = [s for s in shops or [] if s not in configured]
    if unknown:
        problems["shops"] = t.t("access.problem_shops", shops=", ".join(unknown))
    if problems:
        return await _list_page(request, form=kept, problems=problems, status=422)
    try:
        created = await create_api_key(request, NewApiKey(name=name, role=role, shops=shops), principal)
    except BadInputError as exc:  # the API's own checks, should the console's ever differ
        field = exc.field if exc.field in FIELDS else "name"
        return await _list_page(request, form=kept, problems={field: _problem(t, field)}, status=422)
    carried = _carrier(request).dumps({"prefix": created.prefix, "name": created.name, "role": created.role,
                                       "key": created.key, "session": _session_tag(request)})
    response = RedirectResponse(f"{SHOWN_PATH}/{quote(created.prefix, safe='')}", status_code=303)
    response.set_cookie(NEW_KEY_COOKIE, carried, path=SHOWN_PATH, httponly=True, samesite="strict",
                        secure=request.app.state.hub.config.console.secure_cookie)
    return write_session(request, response)


@router.get("/created/{prefix}", include_in_schema=False)
async def created_page(request: Request, prefix: str,
                       principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The new key, the first time this page is shown after creating it; afterwards, that it was."""
    require_right(principal, Permission.API_KEYS)
    shown: dict[str, Any] | None = None
    carried = request.cookies.get(NEW_KEY_COOKIE)
    if carried:
        try:
            data = _carrier(request).loads(carried, max_age=SHOW_FOR_S)
        except BadData:
            data = None
        if isinstance(data, dict) and data.get("prefix") == prefix and data.get("session") == _session_tag(request):
            shown = data
    if shown is not None:
        response = render(request, "api_key_created.html", {"key": shown})
    else:
        known = next((k for k in await list_api_keys(request) if k.prefix == prefix), None)
        if known is None:
            response = error_page(request, translator(request).t("keys.not_found", prefix=prefix), status=404)
        else:
            response = render(request, "api_key_created.html", {"key": None, "already": known}, status=410)
    response.delete_cookie(NEW_KEY_COOKIE, path=SHOWN_PATH, httponly=True, samesite="strict",
                           secure=request.app.state.hub.config.console.secure_cookie)
    return response


@router.get("/{prefix}/revoke", include_in_schema=False)
async def revoke_confirm(request: Request, prefix: str,
                         principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The confirm step: what the key is and what revoking it does."""
    require_right(principal, Permission.API_KEYS)
    key = await _active_key(request, prefix)
    if key is None:
        return error_page(request, translator(request).t("keys.not_found", prefix=prefix), status=404)
    return render(request, "api_key_revoke.html", {"key": key})


@router.post("/{prefix}/revoke", include_in_schema=False)
async def revoke(request: Request, prefix: str) -> Response:
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.API_KEYS)
    key = await _active_key(request, prefix)
    if key is None:
        return error_page(request, translator(request).t("keys.not_found", prefix=prefix), status=404)
    try:
        await revoke_api_key(request, prefix, principal)
    except ApiError as exc:
        if exc.status == 409:  # the last admin key: say so on the confirm page, nothing changed
            return render(request, "api_key_revoke.html", {"key": key, "refusal": translator(request).t(
                "keys.last_admin", prefix=prefix)}, status=409)
        return api_error_page(request, exc)
    target = "/console/api-keys?" + urlencode({"revoked": prefix})
    return write_session(request, RedirectResponse(target, status_code=303))
