"""The orders screen (filters, buyer/SKU search, cursor pages, saved views) and one order's page
(lines, history, holds with their release form, shipments, source messages).

The list uses the API's query (``hub.api.queries.orders``) with the form read by
``hub.api.queries.order_form``; saved views are ``hub.services.saved_views``, as in the API. The
order page and the release call the API's own route functions with the signed-in person as the
principal, so masking, checks and errors are exactly the API's. Bad filter values or a bad view
name give the same page again (422) with each bad field named next to it, values kept. The list's
filters travel with every link (next page, an order and back, a saved view), never in a cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.orders import OrderStatus
from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.queries.order_form import MAX_HOLD_CODE, SEARCH_FIELDS, form_problems, form_values, order_filters
from hub.api.queries.orders import list_orders
from hub.api.routes.order_views import view_owner, view_url
from hub.api.routes.orders import get_order, release_order_hold
from hub.builtin_rules import NO_SHIP_TAGS
from hub.console.auth import ConsolePrincipal, check_form, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError, NotFoundError
from hub.services import saved_views
from hub.services.saved_views import ViewNameError, ViewNotYours
from hub.services.search.hashing import key_for
from hub.services.search.sorting import SORTS
from hub.services.search.tags import TagView, list_tags, tags_of

router = APIRouter(prefix="/console/orders")
#: The notices a triage form may ask the order page to show (``hub.console.routes.ops_search``).
TRIAGE_NOTICES = ("tagged", "untagged", "priority", "held")
PAGE_SIZE = 50
#: Hold codes the hub itself sets, offered as suggestions (plugins may set others: the field is free text).
HOLD_CODES = ("high_value", "stock_short", "cancel_requested", *NO_SHIP_TAGS)


def _list_url(values: dict[str, str], **extra: str) -> str:
    query = urlencode({**values, **extra})
    return "/console/orders" + (f"?{query}" if query else "")


def _values_from_query(query: str | None) -> dict[str, str]:
    """The filter values carried in a ``back`` parameter (anything else in it is dropped)."""
    return form_values(dict(parse_qsl(query or "", keep_blank_values=False)))


async def _list_page(
    request: Request, principal: ConsolePrincipal, params: dict[str, str], *,
    name_problem: str | None = None, view_name: str = "", view_shared: bool = False,
) -> Response:
    """The orders page for ``params`` (form values and a cursor): 422 when anything is named bad."""
    hub: Hub = request.app.state.hub
    t = translator(request)
    values = form_values(params)
    problems = {field: t.t(f"orders.problem.{p.code}") for field, p in form_problems(values).items()}
    if name_problem:
        problems["name"] = t.t(f"orders.problem.name_{name_problem}", most=saved_views.MAX_NAME,
                               views=saved_views.MAX_VIEWS_PER_OWNER)
    cursor = params.get("cursor") or None
    rows: list[Any] = []
    next_url = None
    owner = view_owner(principal)
    user_tags: dict[int, list[TagView]] = {}
    async with hub.database().session() as db:
        if not set(problems) - {"name"}:
            try:
                filters = order_filters(values, ZoneInfo(hub.config.console.time_zone),
                                        key=key_for(hub.config)[0], shops=principal.shops)
                page = await list_orders(db, filters, limit=PAGE_SIZE, cursor=cursor, sort=values.get("sort"))
                rows = page.rows
                user_tags = await tags_of(db, [r.id for r in rows])
                if page.next_cursor:
                    next_url = _list_url(values, cursor=page.next_cursor)
            except BadInputError:
                problems["cursor"] = t.t("orders.problem.bad_cursor")
        views = await saved_views.views_for(db, owner)
        all_tags = await list_tags(db)
    here = view_url(values)
    shops = {name: shop.platform for name, shop in hub.config.shops.items()}
    return render(request, "orders.html", {
        "rows": rows, "params": values, "problems": problems, "next_url": next_url,
        "statuses": [s.value for s in OrderStatus], "shops": sorted(shops),
        "platforms": sorted(set(shops.values())), "paged": bool(cursor), "first_url": here,
        "list_query": urlencode(values), "hold_codes": HOLD_CODES, "max_hold_code": MAX_HOLD_CODE,
        "views": [{"row": v, "url": view_url(v.filters or {}), "mine": v.owner == owner,
                   "current": view_url(v.filters or {}) == here} for v in views],
        "list_problems": bool(set(problems) - {"name"}), "view_name": view_name, "view_shared": view_shared,
        "max_view_name": saved_views.MAX_NAME, "user_tags": user_tags, "all_tags": all_tags, "sorts": SORTS,
        "searching": any(values.get(f) for f in SEARCH_FIELDS),
        "saved": request.query_params.get("saved"), "deleted": request.query_params.get("deleted"),
    }, status=422 if problems else 200)


@router.get("", include_in_schema=False)
async def orders_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    return await _list_page(request, principal, dict(request.query_params))


@router.post("/views", include_in_schema=False)
async def save_view(request: Request) -> Response:
    """Save the filters shown under a name; a bad name or bad filters give the page again (422)."""
    form = await check_form(request)
    principal = await console_principal(request)
    values = form_values(form, search=False)
    name, shared = form.get("name", ""), bool(form.get("shared"))
    if shared:
        require_right(principal, Permission.VIEWS_SHARE)
    if form_problems(values):
        return await _list_page(request, principal, values, view_name=name, view_shared=shared)
    hub: Hub = request.app.state.hub
    try:
        async with hub.database().transaction() as db:
            row = await saved_views.save_view(db, owner=view_owner(principal), owner_name=principal.name,
                                              name=name, filters=values, shared=shared)
    except ViewNameError as exc:
        return await _list_page(request, principal, values, name_problem=exc.code, view_name=name[:200],
                                view_shared=shared)
    return write_session(request, RedirectResponse(_list_url(values, saved=row.name), status_code=303))


@router.post("/views/{view_id}/delete", include_in_schema=False)
async def delete_view(request: Request, view_id: int) -> Response:
    form = await check_form(request)
    principal = await console_principal(request)
    hub: Hub = request.app.state.hub
    try:
        async with hub.database().transaction() as db:
            row = await saved_views.delete_view(db, view_id, owner=view_owner(principal),
                                                may_manage_shared=principal.may(Permission.VIEWS_SHARE))
    except NotFoundError as exc:
        return api_error_page(request, ApiError(404, "not_found", str(exc)))
    except ViewNotYours:
        return error_page(request, translator(request).t("orders.views.not_yours"), status=403)
    target = _list_url(_values_from_query(form.get("back")), deleted=row.name)
    return write_session(request, RedirectResponse(target, status_code=303))


@router.get("/{order_id}", include_in_schema=False)
async def order_page(
    request: Request, order_id: int, released: str | None = None, back: str | None = None,
    triaged: str | None = None, principal: ConsolePrincipal = Depends(console_principal),
) -> Response:
    try:
        detail = await get_order(request, order_id, principal)
    except ApiError as exc:
        if exc.status == 404:
            return error_page(request, translator(request).t("order.missing", id=order_id), status=404)
        return api_error_page(request, exc)
    values = _values_from_query(back)
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        all_tags = await list_tags(db)
    return render(request, "order.html", {"order": detail, "released": released, "back_url": _list_url(values),
                                          "back_query": urlencode(values), "all_tags": all_tags,
                                          "triaged": triaged if triaged in TRIAGE_NOTICES else None})


async def release_from_form(request: Request, order_id: int, code: str) -> tuple[dict[str, str], Response | None]:
    """A release form (its token and the signed-in person's right checked) carried out with the API's
    own release: the form's values, and the error page when the API refused."""
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    try:
        await release_order_hold(request, order_id, code, principal)
    except ApiError as exc:
        return form, api_error_page(request, exc)
    return form, None


@router.post("/{order_id}/holds/{code}/release", include_in_schema=False)
async def release_hold(request: Request, order_id: int, code: str) -> Response:
    form, refused = await release_from_form(request, order_id, code)
    if refused is not None:
        return refused
    back = urlencode(_values_from_query(form.get("back")))
    query = urlencode({"released": code, **({"back": back} if back else {})})
    return write_session(request, RedirectResponse(f"/console/orders/{order_id}?{query}", status_code=303))
