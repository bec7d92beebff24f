"""Triage forms on one order's page: attach and detach a user tag, set the priority, hold the order
by hand with a reason. The search box itself is part of the orders list (``hub.console.routes.orders``
with ``hub.api.queries.order_form``).

Each form is checked (session, token, the person's right ``orders.triage``) and carried out by the
API's own route function with the signed-in person as the principal, so checks, shop limits (another
shop's order is "not found") and errors are exactly the API's; then back to the order page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from hub.api.auth import Permission
from hub.api.routes.fulfilment_review import HoldIn, hold_order
from hub.api.routes.order_search import PriorityIn, post_priority
from hub.api.routes.tags import OrderTagIn, delete_order_tag, post_order_tag
from hub.console.auth import checked_form
from hub.console.pages import write_session
from hub.errors import BadInputError

router = APIRouter(prefix="/console/orders", include_in_schema=False)


def _back(request: Request, order_id: int, notice: str) -> Response:
    return write_session(request, RedirectResponse(f"/console/orders/{order_id}?triaged={notice}", status_code=303))


def _refused(exc: ValidationError) -> BadInputError:
    first = exc.errors()[0]
    return BadInputError(str(first["msg"]), field=".".join(str(p) for p in first["loc"]) or "form")


@router.post("/{order_id}/tags")
async def attach_tag(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_TRIAGE)
    try:
        body = OrderTagIn(tag=form.get("tag", ""))
    except ValidationError as exc:
        raise _refused(exc) from None
    await post_order_tag(request, order_id, body, principal)
    return _back(request, order_id, "tagged")


@router.post("/{order_id}/tags/{name}/delete")
async def detach_tag(request: Request, order_id: int, name: str) -> Response:
    _, principal = await checked_form(request, Permission.ORDERS_TRIAGE)
    await delete_order_tag(request, order_id, name, principal)
    return _back(request, order_id, "untagged")


@router.post("/{order_id}/priority")
async def set_priority(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_TRIAGE)
    try:
        body = PriorityIn(priority=form.get("priority", ""), reason=form.get("reason") or None)
    except ValidationError as exc:
        raise _refused(exc) from None
    await post_priority(request, order_id, body, principal)
    return _back(request, order_id, "priority")


@router.post("/{order_id}/hold")
async def hold(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_TRIAGE)
    try:
        body = HoldIn(reason=form.get("reason", "").strip())
    except ValidationError as exc:
        raise _refused(exc) from None
    await hold_order(request, order_id, body, principal)
    return _back(request, order_id, "held")
