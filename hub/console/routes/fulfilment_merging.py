"""Console screens for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook.

``/console/fulfilment/merges``: the merge proposals (orders of one buyer to one address waiting),
each with "merge" and "ship alone"; the actions call the API's route functions, so checks, errors
and attribution are the API's. ``/console/orders/{id}/panel/merging``: the order page's panel
(merged with which orders, split groups, interception state), an HTML fragment.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.params import RowId
from hub.api.routes import fulfilment_merging as api
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.context import Hub
from hub.db.tables import OrderRow
from hub.services.access.owners import sees_order
from hub.services.fulfilment import interception, merging

router = APIRouter(prefix="/console", include_in_schema=False)
BASE = "/console/fulfilment/merges"


@router.get("/fulfilment/merges")
async def merges_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.ORDERS_READ)
    hub: Hub = request.app.state.hub
    async with hub.database().session() as session:
        found = [p for p in await merging.proposals(session, hub.config.fulfilment.merge)
                 if all(principal.sees_shop(shop) for shop in p.shops)]
        ids = [oid for p in found for oid in p.order_ids]
        rows = {r.id: r for r in (await session.execute(
            select(OrderRow).where(OrderRow.id.in_(ids)))).scalars()} if ids else {}
    t = translator(request)
    notice = None
    q = request.query_params
    if q.get("merged"):
        notice = t.t("merging.merged_notice", orders=q["merged"])
    elif q.get("alone"):
        notice = t.t("merging.alone_notice", orders=q["alone"])
    return render(request, "fulfilment/merging_proposals.html", {
        "proposals": found, "rows": rows, "mode": hub.config.fulfilment.merge.mode, "notice": notice})


def _ids(form: dict[str, str]) -> list[int] | None:
    raw = [part.strip() for part in form.get("order_ids", "").split(",") if part.strip()]
    if not raw or len(raw) > 100 or not all(part.isdigit() and 0 < len(part) < 19 for part in raw):
        return None
    return [int(part) for part in raw]


@router.post("/fulfilment/merges")
async def merge_from_form(request: Request) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    ids = _ids(form)
    if ids is None:
        return error_page(request, translator(request).t("merging.bad_orders"), status=400)
    try:
        if form.get("alone"):
            await api.decline(request, api.DeclineIn(order_ids=ids), principal)
        else:
            await api.merge(request, api.MergeIn(order_ids=ids, force=bool(form.get("force"))), principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    except ValueError:
        return error_page(request, translator(request).t("merging.bad_orders"), status=400)
    key = "alone" if form.get("alone") else "merged"
    target = f"{BASE}?{urlencode({key: ' '.join(map(str, ids))})}"
    return write_session(request, RedirectResponse(target, status_code=303))


@router.get("/orders/{order_id}/panel/merging")
async def merging_panel(request: Request, order_id: RowId,
                        principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.ORDERS_READ)
    if not await sees_order(request.app.state.hub, principal, order_id):
        return Response("", status_code=404, media_type="text/html")
    hub: Hub = request.app.state.hub
    async with hub.database().session() as session:
        if await session.get(OrderRow, order_id) is None:
            return HTMLResponse("", status_code=404)
        plan = await merging.plan_view(session, order_id)
        stop = await interception.view(session, order_id)
    return render(request, "fulfilment/merging_panel.html", {"order_id": order_id, "plan": plan, "stop": stop})
