"""Console screens for parcel tracking: the order page's tracking panel (each parcel's scans,
oldest first, and "ask the courier now"), and the fulfilment exceptions queue at
``/console/fulfilment/exceptions`` (stuck and returned parcels, filtered by kind or order, with
an attributed resolve).

Reads through ``hub.services.fulfilment.tracking``/``exceptions``; writes go through the same
service calls as the API (resolve: ORDERS_WRITE; ask now: SHIPMENTS_WRITE). Not for the rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select

from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, check_form, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.db.tables import ParcelRow, utcnow
from hub.errors import BadInputError, ConfigError, NotFoundError, PartnerError, describe_error
from hub.services.access.owners import ensure_owned, sees_order
from hub.services.fulfilment import exceptions, tracking

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/fulfilment/exceptions"
PAGE_SIZE = 50
_PARAMS = ("kind", "order_id", "state", "cursor")


def _back(target: str | None) -> str:
    """Where to go after a resolve: a path on this screen (never another site), else the screen."""
    if target and target.startswith(BASE) and not target.startswith("//") and "\\" not in target:
        return target
    return BASE


def _with(target: str, **values: Any) -> str:
    joiner = "&" if "?" in target else "?"
    return f"{target}{joiner}{urlencode(values)}"


@router.get("/fulfilment/exceptions")
async def exceptions_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v for k, v in request.query_params.items() if k in _PARAMS and v}
    raw_order = params.get("order_id", "")
    order_id = int(raw_order) if raw_order.isdigit() and len(raw_order) < 19 else None
    state = "resolved" if params.get("state") == "resolved" else "open"
    kind = params.get("kind", "")[:40] or None
    problem = None
    async with hub.database().session() as session:
        try:
            page = await exceptions.list_exceptions(session, state=state, kind=kind, order_id=order_id,
                                                    limit=PAGE_SIZE, cursor=params.get("cursor"),
                                                    shops=principal.shops)
        except BadInputError:
            problem = t.t("fexc.bad_cursor")
            params.pop("cursor", None)
            page = await exceptions.list_exceptions(session, state=state, kind=kind, order_id=order_id,
                                                    limit=PAGE_SIZE, shops=principal.shops)
        ids = [pid for pid in (exceptions.subject_parcel(r.subject) for r in page.rows) if pid is not None]
        parcels = {exceptions.parcel_subject(p.id): p for p in (await session.execute(
            select(ParcelRow).where(ParcelRow.id.in_(ids)))).scalars()} if ids else {}

    def link(**changes: Any) -> str:
        values = {**params, **changes}
        if "cursor" not in changes:
            values.pop("cursor", None)
        present = {k: v for k, v in values.items() if v}
        return BASE + (f"?{urlencode(present)}" if present else "")

    here = BASE + (f"?{urlencode(params)}" if params else "")
    notice = None
    if request.query_params.get("resolved", "").isdigit():
        notice = t.t("fexc.resolved_one", id=request.query_params["resolved"])
    return render(request, "fulfilment/tracking_exceptions.html", {
        "rows": page.rows, "next_cursor": page.next_cursor, "cursor": params.get("cursor"), "kind": kind,
        "state": state, "kinds": tracking.KINDS, "parcels": parcels, "link": link, "here": here, "now": utcnow(),
        "notice": notice, "problem": problem,
    })


@router.post("/fulfilment/exceptions/{exception_id}/resolve")
async def resolve(request: Request, exception_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    t = translator(request)
    try:
        await ensure_owned(request.app.state.hub, principal, "exception", [exception_id])
        await exceptions.resolve(request.app.state.hub, exception_id, actor=principal.actor,
                                 note=(form.get("note") or "")[:1000] or None)
    except exceptions.AlreadyResolved:
        return error_page(request, t.t("fexc.already_resolved"), status=409)
    except NotFoundError as exc:
        return error_page(request, str(exc), status=404)
    target = _with(_back(form.get("next")), resolved=exception_id)
    return write_session(request, RedirectResponse(target, status_code=303))


# --------------------------------------------------------------------------- the order page's panel


async def _panel(request: Request, order_id: int, notice: str | None) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as session:
        parcels = list((await session.execute(select(ParcelRow).where(
            ParcelRow.order_id == order_id,
            or_(ParcelRow.status == "shipped", ParcelRow.tracking_state.is_not(None)))
            .order_by(ParcelRow.seq, ParcelRow.id))).scalars())
        events = await tracking.timeline(session, [p.id for p in parcels])
        open_rows = await exceptions.list_exceptions(session, order_id=order_id, limit=exceptions.MAX_LIMIT)
    return render(request, "fulfilment/tracking_panel.html", {
        "order_id": order_id, "parcels": parcels, "events": events, "open_count": len(open_rows.rows),
        "notice": notice})


@router.get("/orders/{order_id}/panel/tracking")
async def tracking_panel(request: Request, order_id: int,
                         principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    if not await sees_order(request.app.state.hub, principal, order_id):
        return Response("", status_code=404, media_type="text/html")
    # After "ask the courier now" the order page's address says how many scans were new.
    tracked = parse_qs(urlsplit(request.headers.get("hx-current-url", "")).query).get("tracked", [""])[0]
    notice = translator(request).t("tracking.polled", count=int(tracked)) if tracked.isdigit() else None
    return await _panel(request, order_id, notice)


@router.post("/orders/{order_id}/parcels/{parcel_id}/track")
async def track_now(request: Request, order_id: int, parcel_id: int) -> Response:
    """Ask the tracking courier for the parcel's scans now; back to the order page."""
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.SHIPMENTS_WRITE)
    try:
        await ensure_owned(request.app.state.hub, principal, "parcel", [parcel_id])
        outcome = await tracking.track_now(request.app.state.hub, parcel_id)
    except (NotFoundError, BadInputError) as exc:
        return error_page(request, str(exc), status=404 if isinstance(exc, NotFoundError) else 409)
    except (ConfigError, PartnerError) as exc:
        return error_page(request, describe_error(exc), status=409 if isinstance(exc, ConfigError) else 502)
    query = urlencode({"tracked": outcome.inserted})
    return write_session(request, RedirectResponse(f"/console/orders/{order_id}?{query}", status_code=303))
