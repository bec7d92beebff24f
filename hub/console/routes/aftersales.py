"""The after-sales cases list at ``/console/aftersales`` (due soonest first, time left shown,
overdue in red, due within the alert window highlighted, filters, cursor pages) and the order
page's after-sales panel (``/console/orders/{id}/panel/aftersales``: the order's cases with links).

Reads through ``hub.services.aftersales.queries`` (the API's own reads). ``router`` also carries
the case page (``aftersales_case``) and its decision forms (``aftersales_decisions``); the figures
are ``aftersales_figures``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from contracts.aftersales import AfterSaleStatus, AfterSaleType
from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.pages import render, translator
from hub.console.routes import aftersales_case, aftersales_decisions
from hub.console.routes.aftersales_support import READ, CaseWords, alert_window
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError
from hub.services.aftersales import queries

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/aftersales"
PAGE_SIZE = 50
_PARAMS = ("status", "type", "shop", "platform", "due_before", "open", "cursor", "f")


def _url(values: dict[str, Any]) -> str:
    present = {k: v for k, v in values.items() if v}
    return BASE + (f"?{urlencode(present)}" if present else "")


def _due_before(text: str | None, request: Request) -> datetime | None:
    """A ``datetime-local`` value (``2026-12-10T18:00``) in the merchant's zone; ValueError if malformed."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=translator(request).zone)


@router.get("/aftersales")
async def cases_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v for k, v in request.query_params.items() if k in _PARAMS and v}
    if not params:  # the screen opens on what still waits for an answer
        params = {"open": "1", "f": "1"}
    problems: dict[str, str] = {}
    try:
        due_before = _due_before(params.get("due_before"), request)
    except ValueError:
        due_before = None
        problems["due_before"] = t.t("aftersales.problem_due_before")
    flt = queries.CaseFilter(
        statuses=(params["status"],) if params.get("status") else (),
        types=(params["type"],) if params.get("type") else (),
        shop=params.get("shop"), platform=params.get("platform"), deadline_before=due_before,
        open_only=params.get("open") == "1", shops=principal.shops)
    page = queries.CasePage([], None)
    if not problems:
        async with hub.database().session() as db:
            try:
                page = await queries.list_cases(db, flt, sort="due", cursor=params.get("cursor"), limit=PAGE_SIZE)
            except BadInputError as exc:  # a stale page link, or a filter the service does not take
                problems[exc.field or "cursor"] = (t.t("aftersales.problem_cursor") if exc.field in (None, "cursor")
                                                   else str(exc))
    kept = {k: v for k, v in params.items() if k != "cursor"}
    settings = hub.config.aftersales
    return render(request, "aftersales/cases.html", {
        "page": page, "params": params, "problems": problems, "w": CaseWords(t), "now": utcnow(),
        "alert": alert_window(settings.deadline_alert_hours), "alert_hours": f"{settings.deadline_alert_hours:g}",
        "next_url": _url({**kept, "cursor": page.next_cursor}) if page.next_cursor else None,
        "first_url": _url(kept) if params.get("cursor") else None,
        "statuses": [s.value for s in AfterSaleStatus], "types": [k.value for k in AfterSaleType],
        "shops": sorted(hub.config.shops), "platforms": sorted({s.platform for s in hub.config.shops.values()}),
    }, status=422 if problems else 200)


@router.get("/orders/{order_id}/panel/aftersales")
async def order_panel(request: Request, order_id: int,
                      principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The order's cases, newest first; nothing at all (the panel takes no room) when it has none."""
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        cases = [c for c in await queries.cases_of_order(db, order_id) if principal.sees_shop(c.shop)]
    if not cases:
        return Response("", media_type="text/html", headers={"Cache-Control": "no-store"})
    return render(request, "aftersales/order_panel.html", {
        "cases": cases, "w": CaseWords(translator(request)), "now": utcnow(),
        "alert": alert_window(hub.config.aftersales.deadline_alert_hours)})


router.include_router(aftersales_case.router)
router.include_router(aftersales_decisions.router)
