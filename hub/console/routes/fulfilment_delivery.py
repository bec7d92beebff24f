"""Console screens for routing and delivery orders: to a WMS or the own warehouse.

``/console/fulfilment/delivery``: delivery orders newest first, filtered by status and warehouse
(keyset pages), each with a cancel for those allowed to write shipments; the order page's panel
``/console/orders/{id}/panel/delivery``: why it was routed where, its delivery orders and their
state, the routing hold if any, and "route now" when it may be routed. Writes call the API's own
route functions, so checks, errors and attribution are the API's. Not for the rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.routes import fulfilment_delivery as api
from hub.console.auth import ConsolePrincipal, check_form, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, render, translator, write_session
from hub.context import Hub
from hub.db.tables import OrderHoldRow, OrderRow, utcnow
from hub.errors import BadInputError, NotFoundError
from hub.services.access.owners import sees_order
from hub.services.fulfilment import delivery_orders as dos
from hub.services.fulfilment import flow, routing

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/fulfilment/delivery"
PAGE_SIZE = 50
#: Holds this step puts on an order (shown in its panel with the reason).
ROUTING_HOLDS = (flow.NO_WAREHOUSE, flow.NO_COURIER, dos.REFUSED_HOLD)


def _url(values: dict[str, Any]) -> str:
    present = {k: v for k, v in values.items() if v}
    return BASE + (f"?{urlencode(present)}" if present else "")


@router.get("/fulfilment/delivery")
async def delivery_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    t = translator(request)
    q = request.query_params
    status = q.get("status") if q.get("status") in dos.STATUSES else None
    warehouse = q.get("warehouse") or None
    filters = dos.DeliveryFilters(status=(status,) if status else (), warehouse=warehouse, shops=principal.shops)
    problem = None
    async with hub.database().session() as session:
        try:
            page = await dos.list_delivery_orders(session, filters, limit=PAGE_SIZE, cursor=q.get("cursor") or None)
        except BadInputError:
            problem = t.t("delivery.problem.cursor")
            page = dos.DeliveryPage([], None)
    params = {"status": status, "warehouse": warehouse}
    notice = None
    if q.get("cancelled"):
        notice = t.t("delivery.cancelled_ok", code=q["cancelled"])
    elif q.get("too_late"):
        notice = t.t("delivery.too_late", code=q["too_late"])
    return render(request, "fulfilment/delivery_list.html", {
        "rows": page.rows, "statuses": dos.STATUSES, "warehouses": routing.enabled_warehouses(hub.config),
        "params": params, "problem": problem, "notice": notice, "now": utcnow(),
        "next_url": _url({**params, "cursor": page.next_cursor}) if page.next_cursor else None,
        "first_url": _url(params) if q.get("cursor") else None, "here": _url({**params, "cursor": q.get("cursor")}),
        "cancellable": ("pending", "sent", "picking", "packed", "cancelling"),
    }, status=422 if problem else 200)


def _back(target: str | None, fallback: str) -> str:
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@router.post("/fulfilment/delivery/{do_id}/cancel")
async def cancel(request: Request, do_id: int) -> Response:
    form, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    target = _back(form.get("next"), BASE)
    try:
        detail = await api.cancel_delivery_order(request, do_id, api.CancelIn(reason=form.get("reason") or
                                                                             "cancelled by a person"), principal)
        code, key = detail.code, "cancelled"
    except ApiError as exc:
        if exc.code != "too_late":
            return api_error_page(request, exc)
        code, key = str(do_id), "too_late"
    joiner = "&" if "?" in target else "?"
    return write_session(request, RedirectResponse(f"{target}{joiner}{urlencode({key: code})}", status_code=303))


@router.get("/orders/{order_id}/panel/delivery")
async def delivery_panel(request: Request, order_id: int,
                         principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    if not await sees_order(request.app.state.hub, principal, order_id):
        return Response("", status_code=404, media_type="text/html")
    hub: Hub = request.app.state.hub
    async with hub.database().session() as session:
        exists = await session.scalar(select(OrderRow.id).where(OrderRow.id == order_id))
        found = await dos.for_order(session, order_id) if exists else []
        holds = list((await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.code.in_(ROUTING_HOLDS),
            OrderHoldRow.released_at.is_(None)))).scalars())
    why = None
    if exists:
        try:
            why = await flow.why_not_routable(hub, order_id)
        except NotFoundError:
            why = None
    return render(request, "fulfilment/delivery_panel.html", {
        "order_id": order_id, "exists": exists is not None, "found": list(reversed(found)), "holds": holds,
        "routable": exists is not None and why is None, "now": utcnow(),
    })


@router.post("/orders/{order_id}/route")
async def route_now(request: Request, order_id: int) -> Response:
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.SHIPMENTS_WRITE)
    try:
        result = await api.route_order(request, order_id, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    query = urlencode({"routed": result.outcome})
    return write_session(request, RedirectResponse(f"/console/orders/{order_id}?{query}", status_code=303))
