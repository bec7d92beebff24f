"""The exceptions queue: open holds grouped by code (the orders under each, oldest hold first, with
a release per order and "release all shown"), and the dead letters waiting for a replay.

Lists come from ``hub.api.queries.exceptions`` (keyset pages; the one count is the grouped count
of open holds). A single release calls the API's own route function, so checks and errors are the
API's; "release all shown" releases exactly the orders the page listed, in one transaction, through
the API's batch release (``POST /api/v1/orders/holds/{code}/release``). Dead letters' detail and replay live in
``hub.console.routes.exception_letters``, included here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.models import HoldReleaseIn
from hub.api.queries.exceptions import (
    MAX_LIMIT,
    DeadLetterPage,
    HeldPage,
    dead_letter_page,
    held_orders,
    open_hold_groups,
)
from hub.api.routes.orders import release_held_orders
from hub.console.auth import ConsolePrincipal, checked_form, console_principal
from hub.console.pages import api_error_page, error_page, render, translator, with_notice, write_session
from hub.console.routes import exception_letters
from hub.console.routes.orders import release_from_form
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError
from hub.logging import scrub_text

router = APIRouter(prefix="/console/exceptions")
router.include_router(exception_letters.router)

PAGE_SIZE = 50  # held orders under one code, or dead letters, per page
PREVIEW = 10  # held orders shown under each code on the unfiltered page
BASE = "/console/exceptions"
_PARAMS = ("code", "cursor", "actor", "dl_cursor", "replayed")


def back_to(target: str | None) -> str:
    """Where to go after an action: a path on this screen (never another site), else the screen."""
    if target and target.startswith(BASE) and not target.startswith("//") and "\\" not in target:
        return target
    return BASE


@router.get("", include_in_schema=False)
async def exceptions_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    params = {k: v for k, v in request.query_params.items() if k in _PARAMS and v}
    problems: dict[str, str] = {}  # the part of the page at fault, in words -> what to do
    t = translator(request)
    code = params.get("code")
    groups: list[Any] = []
    pages: dict[str, HeldPage] = {}
    letters: DeadLetterPage | None = None
    async with hub.database().session() as db:
        groups = await open_hold_groups(db)
        shown = [g for g in groups if g.code == code] if code else groups
        for group in shown:
            try:
                pages[group.code] = await held_orders(db, group.code, limit=PAGE_SIZE if code else PREVIEW,
                                                      cursor=params.get("cursor") if code else None)
            except BadInputError:
                problems[t.t("exceptions.holds")] = t.t("exceptions.problem.cursor")
                pages[group.code] = HeldPage([], None)
        if principal.may(Permission.DEAD_LETTERS):
            try:
                letters = await dead_letter_page(db, actor=params.get("actor"), include_replayed="replayed" in params,
                                                 limit=PAGE_SIZE, cursor=params.get("dl_cursor"))
            except BadInputError:
                problems[t.t("exceptions.letters")] = t.t("exceptions.problem.cursor")
                letters = DeadLetterPage([], None)
    kept = {k: v for k, v in params.items() if k not in ("cursor", "dl_cursor")}
    links = {
        "holds_next": _url({**kept, "code": code or "", "cursor": pages[code].next_cursor})
        if code and code in pages and pages[code].next_cursor else None,
        "holds_first": _url(kept) if code and params.get("cursor") else None,
        "letters_next": _url({**params, "dl_cursor": letters.next_cursor}) + "#dead-letters"
        if letters and letters.next_cursor else None,
        "letters_first": _url({k: v for k, v in params.items() if k != "dl_cursor"}) + "#dead-letters"
        if params.get("dl_cursor") else None,
    }
    notice = _notice(request)
    reasons = {d.id: scrub_text((d.reason or "").splitlines()[0] if d.reason else "")[:300]
               for d in (letters.rows if letters else [])}
    return render(request, "exceptions.html", {
        "groups": groups, "shown": [g for g in groups if g.code in pages], "pages": pages, "code": code,
        "letters": letters, "reasons": reasons, "params": params, "problems": problems, "links": links,
        "notice": notice, "now": utcnow(), "here": _url(params), "letters_permission": Permission.DEAD_LETTERS.value,
    }, status=422 if problems else 200)


def _url(values: dict[str, Any]) -> str:
    present = {k: v for k, v in values.items() if v}
    return BASE + (f"?{urlencode(present)}" if present else "")


def _notice(request: Request) -> str | None:
    """The sentence confirming what the last action did (from the redirect's query)."""
    t = translator(request)
    q = request.query_params
    if q.get("released_code"):
        count = q.get("released", "0")
        if not count.isdigit() or count == "0":
            return t.t("exceptions.released_none")
        if q.get("released_order"):
            return t.t("exceptions.released_one", code=q["released_code"], order=q["released_order"])
        return t.t("exceptions.released_many", count=count, code=q["released_code"])
    if q.get("replayed_actor") and q.get("replayed_n", "").isdigit():
        return t.t("exceptions.replayed_many", count=q["replayed_n"], actor=q["replayed_actor"])
    return None


@router.post("/holds/{order_id}/{code}/release", include_in_schema=False)
async def release_one(request: Request, order_id: int, code: str) -> Response:
    form, refused = await release_from_form(request, order_id, code)
    if refused is not None:
        return refused
    target = with_notice(back_to(form.get("next")), released=1, released_code=code, released_order=order_id)
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/holds/{code}/release-shown", include_in_schema=False)
async def release_shown(request: Request, code: str) -> Response:
    """Release ``code`` on exactly the orders the page showed (``order_ids``), in one transaction."""
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    raw = [part.strip() for part in form.get("order_ids", "").split(",") if part.strip()]
    if not raw or len(raw) > MAX_LIMIT or not all(part.isdigit() and 0 < len(part) < 19 for part in raw):
        return error_page(request, translator(request).t("exceptions.bad_batch"), status=400)
    try:
        result = await release_held_orders(request, code, HoldReleaseIn(order_ids=[int(part) for part in raw]),
                                           principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    target = with_notice(back_to(form.get("next")), released=len(result.released), released_code=code)
    return write_session(request, RedirectResponse(target, status_code=303))
