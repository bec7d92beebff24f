"""The service-order board at ``/console/service-orders``: open work cards in columns by status
(new, assigned, booked, on site), each with its time left to the next deadline (overdue in red, due
soon in amber, a platform alert badged), filters (type, technician, region, shop, overdue only),
and a list view of every status, closed ones too, in pages. Also the form that creates a service
order for an order of any shop (``/console/service-orders/new?order_id=``).

Reads through ``hub.services.service_orders.queries`` and creates through ``creation`` (the API's
own services). Registered before the service order's page so ``new`` is never read as an id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub.console.auth import CSRF_FIELD, ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import render, translator, write_session
from hub.console.routes.service_orders_support import (
    BOARD_COLUMNS,
    READ,
    WRITE,
    ServiceWords,
    local_time,
    soon_seconds,
)
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError, NotFoundError
from hub.services.service_orders import creation, queries, technicians

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/service-orders"
PAGE_SIZE = 50
#: How many cards each board column shows (the list view pages through all).
PER_COLUMN = 50
_PARAMS = ("view", "type", "technician", "region", "shop", "overdue", "q", "status", "page")


def _url(values: dict[str, Any]) -> str:
    present = {k: v for k, v in values.items() if v}
    return BASE + (f"?{urlencode(present)}" if present else "")


def _filter(params: dict[str, str], *, limit: int, offset: int = 0,
            shops: frozenset[str] | None = None) -> queries.ServiceFilter:
    return queries.ServiceFilter(shops=shops,
        status=(params["status"],) if params.get("status") else (), type=params.get("type"),
        technician=params.get("technician"), region=params.get("region"), shop=params.get("shop"),
        overdue=params.get("overdue") == "1", q=params.get("q"), limit=limit, offset=offset)


@router.get("/service-orders")
async def board_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v.strip() for k, v in request.query_params.items() if k in _PARAMS and v.strip()}
    view = "list" if params.get("view") == "list" else "board"
    page_no = int(params["page"]) if params.get("page", "").isdigit() and int(params["page"]) > 0 else 1
    now = utcnow()
    columns: dict[str, list[queries.ServiceOrderSummary]] = {}
    rows: list[queries.ServiceOrderSummary] = []
    total = 0
    problems: dict[str, str] = {}
    async with hub.database().session() as db:
        techs = await technicians.list_technicians(db, now=now)
        try:
            if view == "board":
                columns = await queries.board(db, _filter(params, limit=PER_COLUMN, shops=principal.shops), now=now,
                                              per_status=PER_COLUMN)
            else:
                rows, total = await queries.list_service_orders(
                    db, _filter(params, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE,
                            shops=principal.shops), now=now)
        except BadInputError as exc:  # a filter value the service does not take
            problems[exc.field or "filter"] = str(exc)
    kept = {k: v for k, v in params.items() if k != "page"}
    settings = hub.config.service_orders
    return render(request, "service_orders/board.html", {
        "view": view, "params": params, "columns": [(s, columns.get(s, [])) for s in BOARD_COLUMNS],
        "rows": rows, "total": total, "problems": problems, "w": ServiceWords(t),
        "soon": soon_seconds(settings.due_soon_hours), "soon_hours": f"{settings.due_soon_hours:g}",
        "next_url": _url({**kept, "view": "list", "page": page_no + 1}) if page_no * PAGE_SIZE < total else None,
        "previous_url": _url({**kept, "view": "list", "page": page_no - 1 if page_no > 2 else None})
        if page_no > 1 else None,
        "board_url": _url({**kept, "view": None, "status": None}), "list_url": _url({**kept, "view": "list"}),
        "types": [k.value for k in ServiceOrderType], "statuses": [s.value for s in ServiceOrderStatus],
        "technicians": techs, "shops": sorted(hub.config.shops),
    }, status=422 if problems else 200)


def _new_page(request: Request, *, values: dict[str, str], problem: tuple[str, str] | None = None,
              status: int = 200) -> Response:
    return render(request, "service_orders/new.html", {
        "values": values, "problem": problem, "types": [k.value for k in ServiceOrderType],
        "w": ServiceWords(translator(request)),
    }, status=status)


@router.get("/service-orders/new")
async def new_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, WRITE)
    order_id = request.query_params.get("order_id", "")
    return _new_page(request, values={"order_id": order_id if order_id.isdigit() else ""})


def _whole(form: dict[str, str], name: str, *, required: bool) -> int | None:
    text = form.get(name, "").strip()
    if not text and not required:
        return None
    if not text.isdigit():
        raise BadInputError("give the hub's number (digits only)", field=name)
    return int(text)


@router.post("/service-orders/new")
async def create_from_form(request: Request) -> Response:
    form, principal = await checked_form(request, WRITE)
    hub: Hub = request.app.state.hub
    t = translator(request)
    values = {k: v for k, v in form.items() if k != CSRF_FIELD}
    try:
        kind = form.get("type", "")
        if kind not in {k.value for k in ServiceOrderType}:
            raise BadInputError(t.t("service_orders.problem_action"), field="type")
        try:
            expected = local_time(form.get("expected_at"), t.zone)
        except ValueError:
            raise BadInputError(t.t("service_orders.problem_when"), field="expected_at") from None
        order_id = _whole(form, "order_id", required=True)
        assert order_id is not None
        created = await creation.create_for_order(hub, creation.CreateRequest(
            order_id=order_id, type=ServiceOrderType(kind), order_line_id=_whole(form, "order_line_id", required=False),
            expected_at=expected, note=form.get("note", "").strip()[:500] or None), actor=principal.actor,
            cause="console")
    except NotFoundError as exc:
        return _new_page(request, values=values, problem=("order_id", str(exc)), status=404)
    except BadInputError as exc:
        return _new_page(request, values=values, problem=(exc.field or "order_id", str(exc)), status=422)
    return write_session(request, RedirectResponse(f"{BASE}/{created}?created=1", status_code=303))
