"""The stock screen: SKUs with on hand per warehouse, reserved and available (search by SKU
prefix, low stock only, cursor pages), and one SKU's page — per warehouse, per shop the target,
what the shop shows, the lag and the last error (refreshed in place while pushes land), recent
movements, and the adjust form. Defective stock has its own page (``stock_defective``).

The numbers are the API's own: ``list_inventory`` and ``show_inventory`` called with the
signed-in person, so the screen and ``GET /api/v1/inventory`` never disagree. The form goes
through ``adjustments.parse_adjustment`` and ``adjustments.adjust_stock`` like ``POST
/api/v1/inventory/adjustments``, with an idempotency key per form shown, so a form sent twice
(a double click, a browser resending) adjusts once. Importing files: ``stock_imports``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.inventory_routes import InventoryItem, list_inventory, show_inventory
from hub.api.params import MAX_TEXT
from hub.api.queries.stock import recent_movements
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, render, translator, write_session
from hub.console.routes import stock_defective, stock_imports
from hub.context import Hub
from hub.errors import BadInputError
from hub.services.stock import adjustments
from hub.services.stock.levels import known_warehouses

router = APIRouter(prefix="/console/stock")
# First: "/console/stock/imports…" is the import screen and "/console/stock/defective" the defective
# stock page, not SKUs called "imports" or "defective".
router.include_router(stock_imports.router)
router.include_router(stock_defective.router)

PAGE_SIZE = 50
MOVEMENTS = 20
#: How often an open SKU page refreshes its numbers (targets move at once, shown values as pushes land).
LIVE_REFRESH_S = 2
NOTE_MAX = 500


def sku_url(sku: str) -> str:
    return "/console/stock/" + quote(sku, safe="")


# --------------------------------------------------------------------------- the list


@router.get("", include_in_schema=False)
async def stock_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v for k, v in request.query_params.items() if k in ("prefix", "low", "cursor")}
    prefix, cursor = params.get("prefix", "").strip(), params.get("cursor", "")
    problems: dict[str, str] = {}
    if len(prefix) > MAX_TEXT:
        problems["prefix"] = t.t("stock.problem.too_long", max=MAX_TEXT)
    if len(cursor) > MAX_TEXT:
        problems["cursor"] = t.t("stock.problem.cursor")
    items: list[InventoryItem] = []
    next_url = None
    kept = {k: v for k, v in params.items() if k != "cursor" and v}
    if not problems:
        page = await list_inventory(request, cursor=cursor or None, limit=PAGE_SIZE, low=bool(params.get("low")),
                                    prefix=prefix or None)
        items = page.items
        if page.next_cursor:
            next_url = "/console/stock?" + urlencode({**kept, "cursor": page.next_cursor})
    warehouses = sorted(known_warehouses(hub.config) | {wh for i in items for wh in i.on_hand})
    return render(request, "stock.html", {
        "items": items, "params": params, "problems": problems, "next_url": next_url, "warehouses": warehouses,
        "paged": bool(cursor), "first_url": "/console/stock?" + urlencode(kept), "sku_url": sku_url,
    }, status=422 if problems else 200)


# --------------------------------------------------------------------------- one SKU


async def _sku_context(request: Request, sku: str) -> dict[str, Any]:
    """The SKU's numbers (the API's), its recent movements and what the templates need to show them."""
    hub: Hub = request.app.state.hub
    item = await show_inventory(request, sku)
    async with hub.database().session() as db:
        movements = await recent_movements(db, sku, limit=MOVEMENTS)
    now = datetime.now(UTC)
    return {"item": item, "movements": movements, "now": now, "refresh_s": LIVE_REFRESH_S,
            "since": lambda seconds: now - timedelta(seconds=seconds),
            "live_url": sku_url(sku) + "?part=live", "adjust_url": sku_url(sku) + "/adjust",
            "warehouses": sorted(known_warehouses(hub.config))}


def _blank_form() -> dict[str, str]:
    return {"warehouse": "", "mode": "set", "quantity": "", "note": "", "form_key": secrets.token_urlsafe(18)}


@router.get("/{sku:path}", include_in_schema=False)
async def sku_page(request: Request, sku: str, part: str | None = None, adjusted: str | None = None,
                   repeated: str | None = None, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    if not sku:
        return RedirectResponse("/console/stock", status_code=307)
    try:
        context = await _sku_context(request, sku)
    except ApiError as exc:
        return api_error_page(request, exc)
    if part == "live":
        return render(request, "_stock_sku_live.html", context)
    return render(request, "stock_sku.html", {**context, "form": _blank_form(), "problems": {},
                                              "adjusted": adjusted, "repeated": bool(repeated)})


def _int_or_text(text: str) -> int | str:
    try:
        return int(text.strip())
    except ValueError:
        return text


@router.post("/{sku:path}/adjust", include_in_schema=False)
async def adjust(request: Request, sku: str) -> Response:
    """Set or move one warehouse's on hand; bad values give the form again (422), nothing changed."""
    values, principal = await checked_form(request, Permission.STOCK_ADJUST)
    hub: Hub = request.app.state.hub
    t = translator(request)
    form = {k: values.get(k, "").strip() for k in ("warehouse", "mode", "quantity", "note", "form_key")}
    problems: dict[str, str] = {}
    if form["mode"] not in ("set", "delta"):
        problems["mode"] = t.t("stock.problem.mode")
    if not form["warehouse"]:
        problems["warehouse"] = t.t("stock.problem.required")
    if not form["quantity"]:
        problems["quantity"] = t.t("stock.problem.required")
    if len(form["note"]) > NOTE_MAX:
        problems["note"] = t.t("stock.problem.too_long", max=NOTE_MAX)
    report = None
    if not problems:
        quantity = _int_or_text(form["quantity"])
        column = "on_hand" if form["mode"] == "set" else "delta"
        raw = {"warehouse": form["warehouse"], "merchant_sku": sku, column: quantity, "note": form["note"] or None}
        try:
            adjustment = adjustments.parse_adjustment(raw)
            report = await adjustments.adjust_stock(
                hub, [adjustment], actor=principal.actor, reference="console", labels=[sku],
                idempotency_key=f"console.adjust:{form['form_key']}"[:200] if form["form_key"] else None)
        except BadInputError as exc:
            field, message = _explain(t, exc, form, quantity)
            problems[field] = message
    if report is None:
        try:
            context = await _sku_context(request, sku)
        except ApiError as exc:
            return api_error_page(request, exc)
        form["form_key"] = form["form_key"] or secrets.token_urlsafe(18)
        return render(request, "stock_sku.html", {**context, "form": form, "problems": problems, "adjusted": None,
                                                  "repeated": False}, status=422)
    query = {"adjusted": f"{report.on_hand_delta:+d}"}
    if report.repeated:
        query["repeated"] = "1"
    return write_session(request, RedirectResponse(f"{sku_url(sku)}?{urlencode(query)}", status_code=303))


def _explain(t: Any, exc: BadInputError, form: dict[str, str], quantity: int | str) -> tuple[str, str]:
    """The form field a refusal is about and what to tell the reader, in their language."""
    if exc.field == "warehouse":
        return "warehouse", t.t("stock.problem.unknown_warehouse", warehouse=form["warehouse"])
    if exc.field in ("delta", "on_hand", "quantity"):
        if not isinstance(quantity, int):
            return "quantity", t.t("stock.problem.whole_number")
        if form["mode"] == "delta" and quantity == 0:
            return "quantity", t.t("stock.problem.zero")
        if form["mode"] == "set" and quantity < 0:
            return "quantity", t.t("stock.problem.negative")
        return "quantity", t.t("stock.problem.below_reserved", detail=str(exc).split(": ", 1)[-1])
    return "quantity", t.t("stock.problem.other", detail=str(exc))
