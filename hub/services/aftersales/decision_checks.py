"""The checks a decision passes before anything is stored: the action is allowed for the case now,
an amount is within what the buyer may get back, a refusal has a reason, an agreement to take
goods back has the shop's return address; and the decision as the connector receives it.

Pure apart from reading the case's order lines. Every refusal is a ``BadInputError`` naming the
field. Not for the write-back (``writeback``) nor the bookkeeping (``decisions``).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleStatus,
    AfterSaleType,
    Proof,
    ReturnAddress,
    allowed_actions,
)
from contracts.money import Money
from hub.db.tables import AfterSaleRow, OrderLineRow, OrderRow
from hub.errors import BadInputError
from hub.services.aftersales.case_records import CaseLineRef
from hub.services.aftersales.queries import goods_received

if TYPE_CHECKING:
    from hub.services.aftersales.decisions import DecisionIn

#: Decisions that carry an amount (the refund the merchant grants).
WITH_AMOUNT = frozenset({AfterSaleAction.APPROVE_REFUND, AfterSaleAction.CONFIRM_RETURN})
#: Decisions that refuse: a reason from the platform's list or in words.
REFUSALS = frozenset({AfterSaleAction.REFUSE, AfterSaleAction.REFUSE_RETURN})
#: Decisions that tell the buyer where to send goods.
WITH_ADDRESS = frozenset({AfterSaleAction.AGREE_RETURN, AfterSaleAction.AGREE_EXCHANGE})
#: Decisions that record goods as back (quality per line).
RECEIVING = frozenset({AfterSaleAction.CONFIRM_RETURN, AfterSaleAction.RECEIVE_EXCHANGE})
#: Decisions that send goods again through fulfilment.
SENDING = frozenset({AfterSaleAction.SHIP_EXCHANGE, AfterSaleAction.REISSUE})


def parse_action(value: str) -> AfterSaleAction:
    try:
        return AfterSaleAction(value)
    except ValueError:
        raise BadInputError(f"unknown action {value!r}; actions: {', '.join(a.value for a in AfterSaleAction)}",
                            field="action") from None


def check_allowed(row: AfterSaleRow, action: AfterSaleAction) -> None:
    allowed = allowed_actions(AfterSaleType(row.type), AfterSaleStatus(row.status), received=goods_received(row))
    if action not in allowed:
        now = ", ".join(a.value for a in allowed) or "none (the case is not waiting for the merchant)"
        raise BadInputError(f"case {row.id} ({row.type}, {row.status}): {action.value} is not allowed now; "
                            f"allowed: {now}", field="action")


async def _paid_for(session: AsyncSession, row: AfterSaleRow, lines: list[CaseLineRef]) -> Money | None:
    """What the buyer paid for the case's lines (the whole order's lines when it names none)."""
    if row.order_id is None:
        return None
    order = (await session.execute(select(OrderRow).where(OrderRow.id == row.order_id))).scalar_one_or_none()
    if order is None:
        return None
    from hub.services import orders

    stored = orders.stored_order(order)
    by_external = {line.external_id: line for line in stored.lines}
    ids = {r.id: r.external_id for r in (await session.execute(
        select(OrderLineRow).where(OrderLineRow.order_id == row.order_id))).scalars()}
    total = Decimal("0")
    for line in lines:
        external = line.line_external_id or (ids.get(line.order_line_id) if line.order_line_id else None)
        found = by_external.get(external) if external else None
        if found is None:
            return None  # a line the order does not show: no bound from the order
        paid = found.paid.amount if found.paid is not None else (
            found.unit_price.amount * found.quantity - (found.discount.amount if found.discount else Decimal("0")))
        total += paid * min(line.quantity, found.quantity) / max(found.quantity, 1)
    return Money(amount=total.quantize(Decimal("0.01")), currency=stored.total.currency)


async def refund_money(session: AsyncSession, row: AfterSaleRow, case: AfterSale, lines: list[CaseLineRef],
                       amount: Decimal | None) -> Money | None:
    """The refund to grant: ``amount`` (default: what the buyer asked), checked against the most
    the buyer may get (the platform's ``max_refund``, else what they asked) and what was paid for
    the lines. ``BadInputError`` on field ``refund_amount``."""
    asked = case.refund_amount
    currency = (case.max_refund or asked or Money(amount=Decimal("0"))).currency
    if amount is None:
        return asked
    if amount <= 0:
        raise BadInputError(f"refund_amount must be above 0 (got {amount})", field="refund_amount")
    bounds: list[tuple[str, Money]] = []
    if case.max_refund is not None:
        bounds.append(("the most the platform allows for this case (max_refund)", case.max_refund))
    elif asked is not None:
        bounds.append(("what the buyer asked for (refund_amount)", asked))
    paid = await _paid_for(session, row, lines)
    if paid is not None:
        bounds.append(("what was paid for the case's lines", paid))
    for label, bound in bounds:
        if amount > bound.amount:
            raise BadInputError(f"case {row.id}: refund_amount {amount} {currency} is above {label}, "
                                f"{bound.amount} {bound.currency}", field="refund_amount")
    return Money(amount=amount, currency=currency)


def return_address(config: Any, shop: str) -> ReturnAddress:
    """The shop's return address from ``[aftersales]``; ``BadInputError`` naming the key if none."""
    section = config.aftersales
    found = section.return_addresses.get(shop) or section.default_return_address
    if found is None:
        raise BadInputError(f"shop {shop!r} has no return address: set [aftersales.return_addresses.{shop}] (or "
                            "[aftersales.default_return_address]) in the configuration",
                            field=f"aftersales.return_addresses.{shop}")
    return ReturnAddress(**found.model_dump())


def check_reason(action: AfterSaleAction, decision: DecisionIn) -> None:
    if action in REFUSALS and not (decision.reason_id or (decision.reason_text or "").strip()):
        raise BadInputError(f"{action.value} needs a reason: reason_id (from the refuse reasons) or reason_text",
                            field="reason_id")


def check_parcel(action: AfterSaleAction, decision: DecisionIn) -> None:
    """A parcel named by hand needs both its courier and its number."""
    if action in SENDING and bool(decision.courier_code) != bool(decision.tracking_number):
        missing = "tracking_number" if decision.courier_code else "courier_code"
        raise BadInputError(f"{action.value}: give both courier_code and tracking_number (or neither, to send "
                            "the goods through fulfilment)", field=missing)


def params_of(decision: DecisionIn, action: AfterSaleAction, version: str | None, refund: Money | None,
              address: ReturnAddress | None) -> dict[str, Any]:
    """The decision as stored in ``aftersale_actions.params`` (JSON): enough to send it again."""
    return {
        "action": action.value, "version": version,
        "refund_amount": refund.model_dump(mode="json") if refund is not None else None,
        "reason_id": decision.reason_id, "reason_text": decision.reason_text, "remark": decision.remark,
        "return_address": address.model_dump(mode="json") if address is not None else None,
        "courier_code": decision.courier_code, "tracking_number": decision.tracking_number,
        "warehouse": decision.warehouse,
        "quality": [{"position": q.position, "good": q.good, "damaged": q.damaged} for q in decision.quality],
        "proof": [{"filename": p.filename, "content_type": p.content_type,
                   "content": base64.b64encode(p.content).decode("ascii")} for p in decision.proof],
    }


def decision_of(params: dict[str, Any], key: str) -> AfterSaleDecision:
    """The connector's ``AfterSaleDecision`` from stored params (the same on every attempt)."""
    return AfterSaleDecision(
        action=AfterSaleAction(params["action"]), key=key, version=params.get("version"),
        refund_amount=Money.model_validate(params["refund_amount"]) if params.get("refund_amount") else None,
        reason_id=params.get("reason_id"), reason_text=params.get("reason_text"), remark=params.get("remark"),
        return_address=ReturnAddress.model_validate(params["return_address"]) if params.get("return_address")
        else None,
        courier_code=params.get("courier_code"), tracking_number=params.get("tracking_number"),
        proof=[Proof(filename=p["filename"], content_type=p["content_type"], content=base64.b64decode(p["content"]))
               for p in params.get("proof") or []])
