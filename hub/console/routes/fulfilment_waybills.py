"""Console screens for parcels, electronic waybills and printable labels.

``/console/fulfilment/parcels``: parcels awaiting print (and printed, waiting for a waybill,
failed), keyset pages; tick several and "Print labels" posts them to
``/console/fulfilment/parcels/labels``, which answers the batch PDF (opened in a new tab) and marks
them printed, as ``POST /api/v1/labels`` does. The order page's parcels panel
(``/console/orders/{id}/panel/parcels``) lists the order's parcels with a print button each. A
parcel waiting for the number of a label bought elsewhere (or whose provider failed it) has a
small form on both to type it in (``/console/fulfilment/parcels/{id}/waybill``).
Labels show personal data only to roles with ``orders.read_pii``. Not for the rules behind them
(``hub.services.fulfilment.waybills`` and ``labels``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.params import RowId
from hub.api.routes.fulfilment_waybills import MAX_LABELS, parcel_page
from hub.console.auth import ConsolePrincipal, checked_form, console_principal
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.context import Hub
from hub.db.tables import ParcelRow
from hub.errors import BadInputError, NotFoundError
from hub.services.access.owners import ensure_owned, sees_order
from hub.services.fulfilment import labels, waybills

router = APIRouter(prefix="/console", include_in_schema=False)

TABS = ("issued", "printed", "pending", "failed")
PAGE_SIZE = 50


@router.get("/fulfilment/parcels", include_in_schema=False)
async def parcels_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    status = request.query_params.get("status") or "issued"
    if status not in TABS:
        status = "issued"
    cursor = request.query_params.get("cursor") or None
    try:
        page = await parcel_page(hub, status=[status], limit=PAGE_SIZE, cursor=cursor, shops=principal.shops)
    except BadInputError:
        page = await parcel_page(hub, status=[status], limit=PAGE_SIZE, shops=principal.shops)
        cursor = None
    return render(request, "fulfilment/waybills_parcels.html", {
        "rows": page.rows, "next_cursor": page.next_cursor, "cursor": cursor, "status": status, "tabs": TABS,
        "printable": status in ("issued", "printed"),
        "enterable": _enterable(hub, page.rows), "notice": _notice(request),
    })


def _enterable(hub: Hub, rows: list[ParcelRow]) -> set[int]:
    """The parcels a person may type a waybill number in for (labels bought elsewhere)."""
    return {row.id for row in rows if waybills.waits_for_entry(hub, row)}


def _notice(request: Request) -> str | None:
    entered = request.query_params.get("entered", "")
    return translator(request).t("waybills.enter.done", parcel=entered) if entered.isdigit() else None


@router.post("/fulfilment/parcels/{parcel_id}/waybill", include_in_schema=False)
async def enter_from_form(request: Request, parcel_id: RowId) -> Response:
    """A person types in the tracking number of a label bought elsewhere; back to where the form was."""
    form, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    courier = (form.get("courier_code") or "").strip() or None
    hub: Hub = request.app.state.hub
    try:
        await ensure_owned(hub, principal, "parcel", [parcel_id])
        outcome = await waybills.enter_waybill(hub, parcel_id, form.get("waybill_number", ""), courier,
                                               actor=principal.actor)
    except BadInputError as exc:
        return api_error_page(request, ApiError(400, "bad_input", str(exc), field=exc.field))
    except NotFoundError as exc:
        return api_error_page(request, ApiError(404, "not_found", str(exc)))
    except waybills.WaybillRefused as exc:
        return api_error_page(request, ApiError(409, "conflict", str(exc)))
    if form.get("back") == "order":
        async with hub.database().session() as session:
            order_id = await session.scalar(select(ParcelRow.order_id).where(ParcelRow.id == parcel_id))
        target = f"/console/orders/{order_id}"
    else:
        target = "/console/fulfilment/parcels?" + urlencode({"status": "issued", "entered": outcome.parcel_id})
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/fulfilment/parcels/labels", include_in_schema=False)
async def print_selected(request: Request) -> Response:
    """The ticked parcels' labels as one PDF; they become printed."""
    _, principal = await checked_form(request, Permission.SHIPMENTS_WRITE)
    t = translator(request)
    raw = (await request.form()).getlist("parcel_id")
    ids = [int(v) for v in raw if isinstance(v, str) and v.isdigit() and 0 < len(v) < 19]
    if not ids or len(ids) != len(raw):
        return error_page(request, t.t("waybills.none_selected"), status=400)
    if len(ids) > MAX_LABELS:
        return error_page(request, t.t("waybills.too_many", count=MAX_LABELS), status=400)
    hub: Hub = request.app.state.hub
    try:
        await ensure_owned(hub, principal, "parcel", ids)
        pdf = await labels.print_labels(hub, ids, actor=principal.actor,
                                        reveal=principal.may(Permission.ORDERS_READ_PII))
    except NotFoundError as exc:
        return error_page(request, str(exc), status=404)
    except waybills.WaybillRefused as exc:
        return error_page(request, str(exc), status=409)
    name = f"label-{ids[0]}.pdf" if len(ids) == 1 else "labels.pdf"
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/orders/{order_id}/panel/parcels", include_in_schema=False)
async def parcels_panel(request: Request, order_id: RowId,
                        principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The order page's parcels panel (an htmx fragment)."""
    if not await sees_order(request.app.state.hub, principal, order_id):
        return Response("", status_code=404, media_type="text/html")
    hub: Hub = request.app.state.hub
    async with hub.database().session() as session:
        rows = list((await session.execute(select(ParcelRow).where(ParcelRow.order_id == order_id)
                                           .order_by(ParcelRow.id))).scalars())
    return render(request, "fulfilment/waybills_panel.html", {"rows": rows, "printable": labels.PRINTABLE,
                                                               "enterable": _enterable(hub, rows)})
