"""The catalogue screen: SKUs and bundles with search (SKU, name or product code) and cursor pages,
the add form, deactivate and reactivate, one SKU's page with the shop listings bound to it, and
the listings the last listing sync of each shop could not bind.

It reads and writes through the same services as ``/api/v1/skus`` and ``/api/v1/listings``
(``hub.services.catalogue``, ``hub.services.listings``), so the screen and the API never disagree.
Reading needs ``stock.read``; adding, deactivating and reactivating ``catalogue.write`` (admin,
operator), attributed to the signed-in person. Bulk changes: ``hub catalogue import``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.api.params import MAX_TEXT
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError, NotFoundError
from hub.services import catalogue, listings

router = APIRouter(prefix="/console/catalogue")

PAGE_SIZE = 50
UNMATCHED_SHOWN = 50
FORM_FIELDS = ("merchant_sku", "name", "product_code", "safety_stock", "components")


def sku_url(sku: str) -> str:
    return "/console/catalogue/" + quote(sku, safe="")


def _blank_form() -> dict[str, str]:
    return dict.fromkeys(FORM_FIELDS, "")


async def _list_page(request: Request, *, form: dict[str, str] | None = None, problems: dict[str, str] | None = None,
                     status: int = 200) -> Response:
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v for k, v in request.query_params.items() if k in ("q", "cursor", "inactive")}
    q, cursor = params.get("q", "").strip(), params.get("cursor", "")
    filter_problems: dict[str, str] = {}
    if len(q) > MAX_TEXT or len(cursor) > MAX_TEXT:
        filter_problems["q"] = t.t("catalogue.problem.too_long", max=MAX_TEXT)
    kept = {k: v for k, v in params.items() if k != "cursor" and v}
    skus: list[catalogue.SkuView] = []
    next_url = None
    async with hub.database().session() as db:
        if not filter_problems:
            filters = catalogue.SkuFilter(search=q or None, active=None if params.get("inactive") else True)
            skus, next_cursor = await catalogue.list_skus(db, filters, cursor=cursor or None, limit=PAGE_SIZE)
            if next_cursor:
                next_url = "/console/catalogue?" + urlencode({**kept, "cursor": next_cursor})
        unmatched, _ = await listings.list_unmatched(db, limit=UNMATCHED_SHOWN)
    return render(request, "catalogue.html", {
        "skus": skus, "params": params, "filter_problems": filter_problems, "next_url": next_url,
        "paged": bool(cursor), "first_url": "/console/catalogue?" + urlencode(kept), "sku_url": sku_url,
        "unmatched": unmatched, "form": form or _blank_form(), "problems": problems or {},
        "format_components": catalogue.format_components,
    }, status=422 if filter_problems else status)


@router.get("", include_in_schema=False)
async def catalogue_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    return await _list_page(request)


def _draft(t: Any, form: dict[str, str]) -> tuple[catalogue.SkuDraft | None, dict[str, str]]:
    """The add form as a checked draft, or the problems by form field (in the reader's language)."""
    raw: dict[str, Any] = {"merchant_sku": form["merchant_sku"], "name": form["name"],
                           "product_code": form["product_code"] or None}
    problems: dict[str, str] = {}
    if not form["merchant_sku"]:
        problems["merchant_sku"] = t.t("catalogue.problem.required")
    if form["safety_stock"]:
        try:
            raw["safety_stock"] = int(form["safety_stock"])
        except ValueError:
            problems["safety_stock"] = t.t("catalogue.problem.whole_number")
    try:
        if form["components"]:
            raw["components"] = catalogue.parse_components(form["components"])
    except BadInputError as exc:
        problems["components"] = str(exc)
    if problems:
        return None, problems
    try:
        return catalogue.check_draft(raw), {}
    except BadInputError as exc:
        return None, {exc.field if exc.field in FORM_FIELDS else "merchant_sku": str(exc)}


@router.post("", include_in_schema=False)
async def add_sku(request: Request) -> Response:
    """Add a SKU (or a bundle, with components); bad values give the form back (422), nothing added."""
    values, principal = await checked_form(request, Permission.CATALOGUE_WRITE)
    t = translator(request)
    form = {k: values.get(k, "").strip() for k in FORM_FIELDS}
    draft, problems = _draft(t, form)
    if draft is not None:
        try:
            await catalogue.create_sku(request.app.state.hub, draft, actor=principal.actor)
        except catalogue.CatalogueImportError as exc:
            problems = {p.field if p.field in FORM_FIELDS else "merchant_sku": p.message for p in exc.problems}
        except BadInputError as exc:
            problems = {exc.field if exc.field in FORM_FIELDS else "merchant_sku": str(exc)}
    if problems:
        return await _list_page(request, form=form, problems=problems, status=422)
    assert draft is not None
    return write_session(request, RedirectResponse(f"{sku_url(draft.merchant_sku)}?done=created", status_code=303))


@router.get("/{sku:path}", include_in_schema=False)
async def sku_page(request: Request, sku: str, done: str | None = None,
                   principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    if not sku:
        return RedirectResponse("/console/catalogue", status_code=307)
    hub: Hub = request.app.state.hub
    t = translator(request)
    async with hub.database().session() as db:
        try:
            view = await catalogue.get_sku(db, sku)
        except NotFoundError:
            return error_page(request, t.t("catalogue.missing", sku=sku), status=404)
        bindings, _ = await listings.list_bindings(db, listings.BindingFilter(merchant_sku=sku), limit=500)
    return render(request, "catalogue_sku.html", {
        "sku": view, "bindings": bindings, "done": done if done in ("created", "deactivated", "reactivated") else None,
        "format_components": catalogue.format_components, "stock_url": "/console/stock/" + quote(sku, safe=""),
        "active_url": sku_url(sku) + ("/deactivate" if view.active else "/reactivate"),
    })


async def _set_active(request: Request, sku: str, active: bool) -> Response:
    _, principal = await checked_form(request, Permission.CATALOGUE_WRITE)
    try:
        await catalogue.set_active(request.app.state.hub, sku, active, actor=principal.actor)
    except NotFoundError:
        return error_page(request, translator(request).t("catalogue.missing", sku=sku), status=404)
    done = "reactivated" if active else "deactivated"
    return write_session(request, RedirectResponse(f"{sku_url(sku)}?done={done}", status_code=303))


@router.post("/{sku:path}/deactivate", include_in_schema=False)
async def deactivate(request: Request, sku: str) -> Response:
    """Deactivate a SKU: kept for history and its listings, but no new listing or bundle uses it."""
    return await _set_active(request, sku, False)


@router.post("/{sku:path}/reactivate", include_in_schema=False)
async def reactivate(request: Request, sku: str) -> Response:
    return await _set_active(request, sku, True)
