"""The review (审单) screens: the queue at ``/console/fulfilment`` (orders held by review or waiting
for a person, every reason, approve and release buttons; the landing page of the fulfilment
screens), the fulfilment sub-navigation's numbers (``/console/fulfilment/subnav``: the shared nav
of ``fulfilment/_subnav.html`` with what waits on each screen, swapped in by htmx) and the review
panel of the order page (``/console/orders/{id}/panel/review``: status, reasons, hold and approve forms).

Every action is a form with the session's token; it calls the API's own route functions with the
signed-in person as the principal (so checks, attribution and errors are the API's), then goes
back to the page it came from with a notice. A release that lifts the last review hold approves
the order at once (``review.after_release``; the release's follow-up would do it a moment later).
Not for the review's rules (``hub.services.fulfilment.review``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.queries.fulfilment_counts import fulfilment_counts
from hub.api.routes.fulfilment_review import HoldIn, approve_order, hold_order
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import api_error_page, error_page, render, translator, with_notice, write_session
from hub.console.routes.orders import release_from_form
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError, NotFoundError
from hub.services.access.owners import sees_order
from hub.services.fulfilment import review

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/fulfilment"
PAGE_SIZE = 50
_PARAMS = ("code", "shop", "cursor")


def _url(values: dict[str, Any]) -> str:
    present = {k: v for k, v in values.items() if v}
    return BASE + (f"?{urlencode(present)}" if present else "")


def _back(target: str | None, order_id: int) -> str:
    """Where an action returns: the queue or an order's page (never another site)."""
    if target and not target.startswith("//") and "\\" not in target and (
            target.startswith(BASE) or target.startswith(f"/console/orders/{order_id}")):
        return target
    return BASE


def _notice(request: Request) -> str | None:
    t = translator(request)
    q = request.query_params
    done, order = q.get("review_done"), q.get("review_order", "")
    if done in ("approved", "held", "released", "held_already") and order.isdigit():
        return t.t(f"review.done_{done}", order=order, code=q.get("review_code", ""))
    return None


@router.get("/fulfilment")
async def review_queue_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    t = translator(request)
    params = {k: v for k, v in request.query_params.items() if k in _PARAMS and v}
    problems: dict[str, str] = {}
    page = review.QueuePage([], None)
    async with hub.database().session() as db:
        try:
            page = await review.queue(db, code=params.get("code"), shop=params.get("shop"), limit=PAGE_SIZE,
                                      cursor=params.get("cursor"), shops=principal.shops)
        except BadInputError:
            problems["cursor"] = t.t("review.problem_cursor")
    kept = {k: v for k, v in params.items() if k != "cursor"}
    return render(request, "fulfilment/review_queue.html", {
        "page": page, "params": params, "problems": problems, "here": _url(params),
        "next_url": _url({**kept, "cursor": page.next_cursor}) if page.next_cursor else None,
        "first_url": _url(kept) if params.get("cursor") else None,
        "shops": sorted(hub.config.shops), "codes": sorted(review.REVIEW_CODES), "notice": _notice(request),
        "auto": hub.config.fulfilment.review.auto, "now": utcnow(),
    }, status=422 if problems else 200)


@router.get("/fulfilment/subnav")
async def fulfilment_subnav(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    """The fulfilment sub-navigation with its numbers (an htmx fragment); ``current`` is the page
    it sits on, for ``aria-current`` (only compared with the nav's own addresses)."""
    require_right(principal, Permission.ORDERS_READ)
    hub: Hub = request.app.state.hub
    current = request.query_params.get("current", "")
    async with hub.database().session() as db:
        counts = await fulfilment_counts(db)
    return render(request, "fulfilment/_subnav.html", {
        "counts": asdict(counts), "subnav_path": current if current.startswith(BASE) else ""})


@router.get("/orders/{order_id}/panel/review")
async def review_panel(request: Request, order_id: int,
                       principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    if not await sees_order(request.app.state.hub, principal, order_id):
        return Response("", status_code=404, media_type="text/html")
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        try:
            found = await review.state(db, order_id)
        except NotFoundError:
            return error_page(request, translator(request).t("order.missing", id=order_id), status=404)
    last = found.last_event
    return render(request, "fulfilment/review_panel.html", {
        "state": found, "reviewed_by": (last.detail or {}).get("reviewed_by") if last is not None else None,
        "review_codes": review.REVIEW_CODES | {str(r.get("code")) for r in (last.detail or {}).get("reasons", [])}
        if last is not None else review.REVIEW_CODES,
        "open": found.status in review.REVIEWABLE and found.order.fulfilment_status != "shipped",
        "here": f"/console/orders/{order_id}", "max_reason": review.MAX_REASON,
    })


@router.post("/fulfilment/{order_id}/approve")
async def approve_from_form(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    try:
        await approve_order(request, order_id, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    target = with_notice(_back(form.get("next"), order_id), review_done="approved", review_order=order_id)
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/fulfilment/{order_id}/hold")
async def hold_from_form(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_WRITE)
    try:
        body = HoldIn(reason=form.get("reason", ""))
    except ValidationError:
        return error_page(request, translator(request).t("review.problem_reason", most=review.MAX_REASON),
                          status=422)
    try:
        before = await hold_order(request, order_id, body, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    manual = next((h for h in before.holds if h.code == review.MANUAL), None)
    done = "held" if manual is not None and manual.reason == body.reason else "held_already"
    target = with_notice(_back(form.get("next"), order_id), review_done=done, review_order=order_id)
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/fulfilment/{order_id}/holds/{code}/release")
async def release_review_hold(request: Request, order_id: int, code: str) -> Response:
    form, refused = await release_from_form(request, order_id, code)
    if refused is not None:
        return refused
    hub: Hub = request.app.state.hub
    await review.after_release(hub, order_id)  # the last review hold gone: approved now, not a moment later
    target = with_notice(_back(form.get("next"), order_id), review_done="released", review_order=order_id,
                          review_code=code)
    return write_session(request, RedirectResponse(target, status_code=303))
