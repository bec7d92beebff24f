"""Edit forms on the order page and the approval queue at ``/console/approvals``.

The order page loads the edits panel (``/console/orders/{id}/panel/edits``: the order's edits with
who, why and their write-back, masked for roles without ``orders.read_pii``, and a link to the
forms). ``/console/orders/{id}/edits`` holds one form per kind (address, notes, flag, price and
quantity, cancellation), each posting with the page's ``version`` to the same service as the API
(``hub.services.order_edits.request``) under the signed-in person's name (cause ``console``).
``/console/approvals`` lists the money changes waiting, with approve and reject forms for roles
with ``orders.approve``. No SQL and no rules here: the services decide.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from contracts.order_edits import LineChange, OrderEditKind, OrderEditValues, SellerFlag
from contracts.orders import Address
from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, with_notice, write_session
from hub.context import Hub
from hub.db.tables import OrderEditRow
from hub.errors import BadInputError, ConflictError, NotFoundError
from hub.services.order_edits import approvals, records, stale
from hub.services.order_edits.request import EditAsk, request_edit
from hub.services.orders import stored_order

router = APIRouter(include_in_schema=False)

KINDS = ("address", "seller_note", "buyer_note", "flag", "price", "quantity", "cancel")
FLAGS = tuple(f.name.lower() for f in SellerFlag)
ADDRESS_FIELDS = ("name", "phone", "province", "city", "district", "street", "postcode")


def values_from_form(kind: str, form: dict[str, str]) -> OrderEditValues:
    """The form as the service's values; ``BadInputError`` naming the field when malformed."""
    if kind == "address":
        try:
            return OrderEditValues(address=Address(**{f: form.get(f, "").strip() or None for f in ADDRESS_FIELDS}))
        except ValidationError as exc:
            raise BadInputError(f"address: {exc.errors()[0]['msg']}", field="address") from None
    if kind in ("seller_note", "buyer_note"):
        return OrderEditValues(note=form.get("note", ""))
    if kind == "flag":
        if form.get("flag") not in FLAGS:
            raise BadInputError(f"flag: one of {', '.join(FLAGS)}", field="flag")
        return OrderEditValues(flag=SellerFlag[form["flag"].upper()])
    if kind == "cancel":
        return OrderEditValues(reason=form.get("reason", ""))
    lines = []
    for name, value in form.items():
        if not name.startswith("line:") or not value.strip():
            continue
        try:
            lines.append(LineChange(line=name[5:], unit_price=Decimal(value)) if kind == "price"
                         else LineChange(line=name[5:], quantity=int(value)))
        except (InvalidOperation, ValueError, ValidationError):
            raise BadInputError(f"lines: {value!r} is not a valid {kind}", field="lines") from None
    return OrderEditValues(lines=lines)


async def _edit_page(request: Request, principal: ConsolePrincipal, order_id: int, *, problem: str | None = None,
                     kind: str | None = None, status: int = 200) -> Response:
    hub: Hub = request.app.state.hub
    t = translator(request)
    async with hub.database().session() as db:
        try:
            row = await records.load_order(db, order_id, principal)
        except NotFoundError:
            return error_page(request, t.t("order.missing", id=order_id), status=404)
        edits = (await db.execute(select(OrderEditRow).where(OrderEditRow.order_id == order_id)
                                  .order_by(OrderEditRow.id.desc()))).scalars().all()
    pii = principal.may(Permission.ORDERS_READ_PII)
    order = stored_order(row)
    return render(request, "order_edits/edit.html", {
        "row": row, "order": order if pii else order.masked(), "edits": [records.view(e, pii=pii) for e in edits],
        "kinds": KINDS, "flags": FLAGS, "problem": problem, "problem_kind": kind,
        "may_edit": principal.may(Permission.ORDERS_EDIT),
        "notice": request.query_params.get("done"), "state": request.query_params.get("state"),
        "system_notes": stale.NOTE_WORDS}, status=status)


@router.get("/console/orders/{order_id}/panel/edits")
async def edits_panel(request: Request, order_id: int,
                      principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        try:
            await records.load_order(db, order_id, principal)
        except NotFoundError:
            return error_page(request, translator(request).t("order.missing", id=order_id), status=404)
        edits = (await db.execute(select(OrderEditRow).where(OrderEditRow.order_id == order_id)
                                  .order_by(OrderEditRow.id.desc()).limit(20))).scalars().all()
    pii = principal.may(Permission.ORDERS_READ_PII)
    return render(request, "order_edits/panel.html", {
        "order_id": order_id, "edits": [records.view(e, pii=pii) for e in edits]})


@router.get("/console/orders/{order_id}/edits")
async def edit_page(request: Request, order_id: int,
                    principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    return await _edit_page(request, principal, order_id)


@router.post("/console/orders/{order_id}/edits")
async def edit_from_form(request: Request, order_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_EDIT)
    hub: Hub = request.app.state.hub
    kind = form.get("kind", "")
    try:
        if kind not in KINDS:
            raise BadInputError("kind: choose what to change", field="kind")
        version = form.get("version", "")
        if not version.isdigit():
            raise BadInputError("version: reload the page", field="version")
        ask = EditAsk(kind=OrderEditKind(kind), values=values_from_form(kind, form),
                      reason=form.get("reason", "")[:500], version=int(version))
        view = await request_edit(hub, order_id, ask, actor=principal.actor, principal=principal, cause="console")
    except NotFoundError:
        return error_page(request, translator(request).t("order.missing", id=order_id), status=404)
    except BadInputError as exc:
        return await _edit_page(request, principal, order_id, problem=str(exc), kind=kind, status=422)
    except ConflictError as exc:
        return await _edit_page(request, principal, order_id, problem=str(exc), kind=kind, status=409)
    target = with_notice(f"/console/orders/{order_id}/edits", done=view.status, state=view.writeback)
    return write_session(request, RedirectResponse(target, status_code=303))


@router.get("/console/approvals")
async def approvals_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.ORDERS_READ)
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        rows = await approvals.queue(db, principal)
    return render(request, "order_edits/approvals.html", {
        "edits": [records.view(r, pii=False) for r in rows], "flags": FLAGS,
        "may_decide": principal.may(Permission.ORDERS_APPROVE),
        "notice": request.query_params.get("done"), "problem": request.query_params.get("problem")})


@router.post("/console/approvals/{edit_id}")
async def decide_from_form(request: Request, edit_id: int) -> Response:
    form, principal = await checked_form(request, Permission.ORDERS_APPROVE)
    hub: Hub = request.app.state.hub
    approve = form.get("decision") == "approve"
    note = form.get("note", "").strip()[:approvals.NOTE_MAX] or None
    extra: dict[str, Any]
    try:
        outcome = (await approvals.decide(hub, [edit_id], approve=approve, actor=principal.actor, note=note,
                                          principal=principal))[edit_id]
        extra = {"done": outcome.message} if outcome.ok else {"problem": outcome.message}
    except BadInputError as exc:
        extra = {"problem": str(exc)}
    return write_session(request, RedirectResponse(with_notice("/console/approvals", **extra), status_code=303))
