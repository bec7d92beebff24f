"""The users screen (admins): the people who sign in to the console with a password — list, add
(name, role, shops, initial password), and per user: set or clear their shops, reset the password,
deactivate, reactivate.

The same store and rules as ``hub user`` (``hub.db.users``: argon2id hashes, at least
``MIN_PASSWORD_LENGTH`` characters, audit entries attributed to the signed-in person). The last
active admin user cannot be deactivated here, nor the last active admin user of every shop limited to
shops (``hub user deactivate|shops --force`` can). Bad values give
the form again (422) with each field named; passwords are never shown again, logged or kept in
the form.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import ROLES, Permission
from hub.console.auth import ConsolePrincipal, check_form, console_principal, require_right
from hub.console.i18n import Translator
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.db import users as user_store
from hub.db.tables import UserRow
from hub.errors import BadInputError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/console/users")
DONE = ("created", "password", "shops", "deactivated", "reactivated")


def _password_problems(t: Translator, password: str, again: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if len(password) < user_store.MIN_PASSWORD_LENGTH:
        problems["password"] = t.t("users.problem_password", min=user_store.MIN_PASSWORD_LENGTH)
    elif password != again:
        problems["password_again"] = t.t("users.problem_password_again")
    return problems


def _new_user_problems(t: Translator, name: str, role: str, password: str, again: str) -> dict[str, str]:
    """Every bad field of the add form, by the store's own rules."""
    problems: dict[str, str] = {}
    if not re.fullmatch(user_store.NAME_PATTERN, name):
        problems["name"] = t.t("users.problem_name")
    if role not in ROLES:
        problems["role"] = t.t("users.problem_role", roles=", ".join(ROLES))
    problems.update(_password_problems(t, password, again))
    return problems


async def _manager(request: Request) -> ConsolePrincipal:
    principal = await console_principal(request)
    require_right(principal, Permission.USERS_MANAGE)
    return principal


async def _list_page(request: Request, *, form: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
                     status: int = 200, **context: Any) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        rows = await user_store.list_users(db)
    return render(request, "users.html", {
        "users": rows, "roles": ROLES, "form": form or {"name": "", "role": "operator", "shops": []},
        "shop_names": sorted(hub.config.shops), "problems": problems or {},
        "min_password": user_store.MIN_PASSWORD_LENGTH, **context}, status=status)


async def _user(request: Request, name: str) -> UserRow | None:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        return await user_store.get_user(db, name)


def _user_page(request: Request, user: UserRow, *, problems: dict[str, str] | None = None, status: int = 200,
               **context: Any) -> Response:
    hub: Hub = request.app.state.hub
    context.setdefault("ticked", user.shops or [])
    return render(request, "user.html", {"user": user, "problems": problems or {},
                                         "shop_names": sorted(hub.config.shops),
                                         "min_password": user_store.MIN_PASSWORD_LENGTH, **context}, status=status)


def _not_found(request: Request, name: str) -> Response:
    return error_page(request, translator(request).t("users.not_found", name=name), status=404)


def _to_user(request: Request, name: str, done: str) -> Response:
    target = f"/console/users/{quote(name, safe='')}?" + urlencode({"done": done})
    return write_session(request, RedirectResponse(target, status_code=303))


@router.get("", include_in_schema=False)
async def users_page(request: Request, principal: ConsolePrincipal = Depends(_manager)) -> Response:
    return await _list_page(request)


@router.post("", include_in_schema=False)
async def add_user(request: Request) -> Response:
    form = await check_form(request)
    principal = await _manager(request)
    hub: Hub = request.app.state.hub
    t = translator(request)
    name, role = form.get("name", "").strip(), form.get("role", "")
    shops = [v for v in (await request.form()).getlist("shops") if isinstance(v, str) and v] or None
    kept: dict[str, Any] = {"name": name, "role": role, "shops": shops or []}  # never the passwords
    problems = _new_user_problems(t, name, role, form.get("password", ""), form.get("password_again", ""))
    unknown = [s for s in shops or [] if s not in hub.config.shops]
    if unknown:
        problems["shops"] = t.t("access.problem_shops", shops=", ".join(unknown))
    if not problems:
        try:
            async with hub.database().transaction() as db:
                await user_store.create_user(db, name=name, password=form.get("password", ""), role=role,
                                             created_by=principal.actor, shops=shops)
        except user_store.UserExistsError:
            problems["name"] = t.t("users.problem_name_taken", name=name)
        except BadInputError as exc:  # the store's own checks, should the console's ever differ
            problems[exc.field or "name"] = str(exc)
    if problems:
        return await _list_page(request, form=kept, problems=problems, status=422)
    log.info("console.user_created", user=name, role=role, by=principal.actor)
    return _to_user(request, name, "created")


@router.get("/{name}", include_in_schema=False)
async def user_page(request: Request, name: str, done: str | None = None,
                    principal: ConsolePrincipal = Depends(_manager)) -> Response:
    user = await _user(request, name)
    if user is None:
        return _not_found(request, name)
    return _user_page(request, user, done=done if done in DONE else None)


@router.post("/{name}/password", include_in_schema=False)
async def reset_password(request: Request, name: str) -> Response:
    form = await check_form(request)
    principal = await _manager(request)
    hub: Hub = request.app.state.hub
    user = await _user(request, name)
    if user is None:
        return _not_found(request, name)
    problems = _password_problems(translator(request), form.get("password", ""), form.get("password_again", ""))
    if problems:
        return _user_page(request, user, problems=problems, status=422)
    async with hub.database().transaction() as db:
        changed = await user_store.set_password(db, name, form.get("password", ""), actor=principal.actor)
    if not changed:
        return _not_found(request, name)
    log.info("console.user_password_changed", user=name, by=principal.actor)
    return _to_user(request, name, "password")


@router.post("/{name}/shops", include_in_schema=False)
async def change_shops(request: Request, name: str) -> Response:
    """Set the shops ticked (none ticked: every shop); a shop not configured is the page again
    naming the field (422), the last admin of every shop the page with the reason (409)."""
    await check_form(request)
    principal = await _manager(request)
    hub: Hub = request.app.state.hub
    t = translator(request)
    user = await _user(request, name)
    if user is None:
        return _not_found(request, name)
    shops = [v for v in (await request.form()).getlist("shops") if isinstance(v, str) and v] or None
    unknown = [s for s in shops or [] if s not in hub.config.shops]
    if unknown:
        return _user_page(request, user, problems={"shops": t.t("access.problem_shops", shops=", ".join(unknown))},
                          ticked=shops or [], status=422)
    try:
        async with hub.database().transaction() as db:
            changed = await user_store.set_shops(db, name, shops, actor=principal.actor)
    except user_store.LastAdminUserError:
        return _user_page(request, user, refusal=t.t("users.last_admin_shops", name=name), status=409)
    if changed is None:
        return _not_found(request, name)
    log.info("console.user_shops_changed", user=name, by=principal.actor)
    return _to_user(request, name, "shops")


@router.post("/{name}/deactivate", include_in_schema=False)
async def deactivate(request: Request, name: str) -> Response:
    return await _set_active(request, name, active=False)


@router.post("/{name}/reactivate", include_in_schema=False)
async def reactivate(request: Request, name: str) -> Response:
    return await _set_active(request, name, active=True)


async def _set_active(request: Request, name: str, *, active: bool) -> Response:
    """Deactivate or reactivate ``name`` from its page's form; a refusal (already so, or the last
    active admin) is the user's page again with the reason."""
    await check_form(request)
    principal = await _manager(request)
    hub: Hub = request.app.state.hub
    user = await _user(request, name)
    if user is None:
        return _not_found(request, name)
    change = user_store.reactivate_user if active else user_store.deactivate_user
    try:
        async with hub.database().transaction() as db:
            changed = await change(db, name, actor=principal.actor)
    except user_store.LastAdminUserError:
        return _user_page(request, user, refusal=translator(request).t("users.last_admin", name=name), status=409)
    if not changed:
        already = "users.already_active" if active else "users.already_inactive"
        return _user_page(request, user, refusal=translator(request).t(already, name=name), status=409)
    done = "reactivated" if active else "deactivated"
    log.info(f"console.user_{done}", user=name, by=principal.actor)
    return _to_user(request, name, done)
