"""The orders screen (filters, buyer/SKU search, cursor pages) and one order's page (lines,
history, holds with their release form, shipments, source messages).

The list uses the API's query (``hub.api.queries.orders``); the order page and the release call
the API's own route functions with the signed-in person as the principal, so masking, checks
and errors are exactly the API's. Bad filter values give the form again with the field named.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.orders import OrderStatus
from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.queries.orders import OrderFilters, list_orders
from hub.api.routes.orders import get_order, release_order_hold
from hub.console.auth import ConsolePrincipal, check_form, console_principal, require_right
from hub.console.pages import api_error_page, render, write_session
from hub.context import Hub
from hub.errors import BadInputError

router = APIRouter(prefix="/console/orders")
PAGE_SIZE = 50
_FILTER_FIELDS = ("status", "shop", "platform", "date", "buyer", "sku", "held")


def _filters(params: dict[str, str], zone: ZoneInfo) -> tuple[OrderFilters, dict[str, str]]:
    """The query's filters from the form's values, and a message per bad field."""
    problems: dict[str, str] = {}
    status = params.get("status", "")
    if status and status not in {s.value for s in OrderStatus}:
        problems["status"] = f"unknown status {status!r}"
    created_from = created_to = None
    if params.get("date"):
        try:
            day = date.fromisoformat(params["date"])
            created_from = datetime.combine(day, time(0), tzinfo=zone)
            created_to = created_from + timedelta(days=1)
        except ValueError:
            problems["date"] = "a day reads YYYY-MM-DD"
    filters = OrderFilters(
        status=(status,) if status and "status" not in problems else (),
        shop=params.get("shop") or None, platform=params.get("platform") or None,
        created_from=created_from, created_to=created_to,
        buyer=params.get("buyer", "").strip() or None, sku=params.get("sku", "").strip() or None,
        on_hold=True if params.get("held") else None,
    )
    return filters, problems


@router.get("", include_in_schema=False)
async def orders_page(request: Request, _: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    params = {k: v for k, v in request.query_params.items() if k in (*_FILTER_FIELDS, "cursor")}
    filters, problems = _filters(params, ZoneInfo(hub.config.console.time_zone))
    rows: list[Any] = []
    next_url = None
    kept = {k: v for k, v in params.items() if k != "cursor" and v}
    first_url = "/console/orders?" + urlencode(kept)
    if not problems:
        try:
            async with hub.database().session() as db:
                page = await list_orders(db, filters, limit=PAGE_SIZE, cursor=params.get("cursor") or None)
            rows = page.rows
            if page.next_cursor:
                next_url = "/console/orders?" + urlencode({**kept, "cursor": page.next_cursor})
        except BadInputError as exc:
            problems[(exc.field or "cursor").removeprefix("query.")] = str(exc)
    shops = {name: shop.platform for name, shop in hub.config.shops.items()}
    return render(request, "orders.html", {
        "rows": rows, "params": params, "problems": problems, "next_url": next_url,
        "statuses": [s.value for s in OrderStatus], "shops": sorted(shops),
        "platforms": sorted(set(shops.values())), "paged": bool(params.get("cursor")), "first_url": first_url,
    }, status=422 if problems else 200)


@router.get("/{order_id}", include_in_schema=False)
async def order_page(
    request: Request, order_id: int, released: str | None = None,
    principal: ConsolePrincipal = Depends(console_principal),
) -> Response:
    try:
        detail = await get_order(request, order_id, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    return render(request, "order.html", {"order": detail, "released": released})


@router.post("/{order_id}/holds/{code}/release", include_in_schema=False)
async def release_hold(request: Request, order_id: int, code: str) -> Response:
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.ORDERS_WRITE)
    try:
        await release_order_hold(request, order_id, code, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    target = f"/console/orders/{order_id}?" + urlencode({"released": code})
    return write_session(request, RedirectResponse(target, status_code=303))
