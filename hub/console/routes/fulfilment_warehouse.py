"""Console screen of the hub's own warehouse: the pick list (delivery orders sent or picking, their
lines, parcels and waybills, units per SKU) with pick, pack and ship buttons, and its CSV.

Every form carries the session's token (``check_form``) and needs SHIPMENTS_WRITE; the actions are
``hub.services.fulfilment.own_warehouse``'s, as in the API, so a state that does not allow a step
is the same 409 with the state named. Not for WMS delivery orders (the WMS reports those).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError, NotFoundError
from hub.services.fulfilment import own_warehouse

router = APIRouter(prefix="/console", include_in_schema=False)
BASE = "/console/fulfilment/warehouse"
NOTICES = ("picked", "packed", "shipped", "repeated")
STATUSES = ("pending", "sent", "picking", "packed", "shipped", "cancelling", "cancelled", "failed")


def status_words(request: Request) -> dict[str, str]:
    """Each delivery order status in the reader's words."""
    t = translator(request)
    return {status: t.t(f"warehouse.status.{status}") for status in STATUSES}


def _warehouse_filter(request: Request) -> str | None:
    value = request.query_params.get("warehouse", "").strip()
    return value[:100] or None


@router.get("/fulfilment/warehouse")
async def warehouse_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    require_right(principal, Permission.ORDERS_READ)
    warehouse = _warehouse_filter(request)
    listed = await own_warehouse.pick_list(hub, warehouse=warehouse, statuses=(*own_warehouse.PICKABLE, "packed"))
    to_pick = own_warehouse.PickList([e for e in listed.entries if e.status in own_warehouse.PICKABLE])
    t = translator(request)
    notice = None
    for kind in NOTICES:
        value = request.query_params.get(kind, "")
        if value.isdigit():
            notice = t.t(f"warehouse.notice.{kind}", id=value)
    own = sorted(name for name, account in hub.config.warehouses.items() if account.platform == "manual")
    return render(request, "fulfilment/warehouse_pick_list.html", {
        "entries": to_pick.entries, "totals": to_pick.sku_totals,
        "packed_entries": [e for e in listed.entries if e.status == "packed"], "status_words": status_words(request),
        "warehouse": warehouse or "", "warehouses": own,
        "notice": notice, "csv_url": f"{BASE}/pick-list.csv" + (f"?{urlencode({'warehouse': warehouse})}"
                                                                 if warehouse else ""),
    })


@router.get("/fulfilment/warehouse/pick-list.csv")
async def pick_list_csv(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.ORDERS_READ)
    listed = await own_warehouse.pick_list(request.app.state.hub, warehouse=_warehouse_filter(request))
    return Response(listed.csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="pick-list.csv"'})


def _refused(request: Request, exc: Exception) -> Response:
    if isinstance(exc, own_warehouse.StateConflict):
        return api_error_page(request, ApiError(409, "conflict", str(exc)))
    if isinstance(exc, NotFoundError):
        return api_error_page(request, ApiError(404, "not_found", str(exc)))
    return api_error_page(request, ApiError(400, "bad_input", str(exc)))


def _done(request: Request, **notice: object) -> Response:
    return write_session(request, RedirectResponse(f"{BASE}?{urlencode(notice)}", status_code=303))


@router.post("/fulfilment/warehouse/{delivery_order_id}/pick")
async def pick_from_form(request: Request, delivery_order_id: int) -> Response:
    _, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    try:
        await own_warehouse.pick(request.app.state.hub, [delivery_order_id], actor=principal.actor)
    except (own_warehouse.StateConflict, NotFoundError) as exc:
        return _refused(request, exc)
    return _done(request, picked=delivery_order_id)


@router.post("/fulfilment/warehouse/{delivery_order_id}/pack")
async def pack_from_form(request: Request, delivery_order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    raw = form.get("weight_grams", "").strip()
    if not raw.isdigit() or not 0 < int(raw) <= 1_000_000:
        return _refused(request, BadInputError(translator(request).t("warehouse.bad_weight"), field="weight_grams"))
    try:
        await own_warehouse.pack(request.app.state.hub, delivery_order_id,
                                 [own_warehouse.PackedParcel(int(raw))], actor=principal.actor)
    except (own_warehouse.StateConflict, NotFoundError, BadInputError) as exc:
        return _refused(request, exc)
    return _done(request, packed=delivery_order_id)


@router.post("/fulfilment/warehouse/{delivery_order_id}/ship")
async def ship_from_form(request: Request, delivery_order_id: int) -> Response:
    _, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    try:
        outcome = await own_warehouse.ship(request.app.state.hub, delivery_order_id, actor=principal.actor)
    except (own_warehouse.StateConflict, NotFoundError, BadInputError) as exc:
        return _refused(request, exc)
    return _done(request, **({"repeated": delivery_order_id} if outcome.repeated else {"shipped": delivery_order_id}))
