"""Cases a person opens in the hub: an exchange or reissue agreed with the buyer by chat, or a
return on a channel with no after-sales API. Such a case belongs to an order of any shop (its
platform and shop are the order's), has the external id ``hub-<n>`` and ``data.extra.local =
"true"`` (so nothing about it is written back to the platform), starts ``requested`` and is then
worked like any other case (``decisions``). Not for cases platforms report (``intake``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from contracts.aftersales import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from contracts.refs import ChannelRef
from hub.db import bindings, outbox
from hub.db.tables import AfterSaleRow, OrderLineRow, OrderRow
from hub.errors import BadInputError, NotFoundError
from hub.services.aftersales import intake

#: The prefix of a local case's external id (``hub-<case id>``): never a platform's id.
LOCAL_PREFIX = "hub-"
#: The raw status a local case starts with (the hub's word, not a platform's).
LOCAL_RAW_STATUS = "hub_requested"
MAX_REASON = 500


async def open_case(hub: Any, order_id: int, *, type: str, lines: Sequence[tuple[int, int]], reason: str | None,
                    actor: str, cause: str = "api") -> int:
    """Open a case on order ``order_id`` for ``lines`` (order line id, quantity); returns its id.

    ``NotFoundError`` for an unknown order; ``BadInputError`` naming the field for an unknown type,
    no lines, a line of another order (``lines[i].order_line_id``) or a quantity outside 1 to what
    the line holds (``lines[i].quantity``). One transaction: the case, its lines, its binding, one
    history row (kind ``opened``, the actor) and the ``aftersale_changed`` follow-up."""
    case_type = _case_type(type)
    reason = " ".join((reason or "").split())[:MAX_REASON] or None
    if not lines:
        raise BadInputError("a case needs at least one line of the order", field="lines")
    async with hub.database().transaction() as session:
        order = (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one_or_none()
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        order_lines = {int(r.id): r for r in (await session.execute(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id))).scalars().all()}
        case_lines = [_line(i, order_id, order_lines, line_id, quantity) for i, (line_id, quantity) in enumerate(lines)]
        now = datetime.now(UTC)
        placeholder = f"{LOCAL_PREFIX}new-{secrets.token_hex(8)}"  # replaced by hub-<id> below
        case = AfterSale(
            ref=ChannelRef(platform=order.platform, shop=order.shop, external_id=placeholder),
            order_ref=ChannelRef(platform=order.platform, shop=order.shop, external_id=order.external_id),
            type=case_type, status=AfterSaleStatus.REQUESTED, raw_status=LOCAL_RAW_STATUS, reason=reason,
            lines=case_lines, created_at=now, updated_at=now, extra={"local": "true", "opened_by": actor[:100]},
        )
        values = intake.case_values(case)
        case_id = int((await session.execute(
            insert(AfterSaleRow).values(**values, order_id=order_id).returning(AfterSaleRow.id)
        )).scalar_one())
        external_id = f"{LOCAL_PREFIX}{case_id}"
        case = case.model_copy(update={"ref": case.ref.model_copy(update={"external_id": external_id})})
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == case_id).values(
            external_id=external_id, data=case.model_dump(mode="json")))
        await bindings.bind(session, "aftersale", order.platform, order.shop, external_id, case_id)
        await intake.store_lines(session, case_id, order_id, case_lines)
        intake.add_event(session, case_id, "opened", old=None, new=AfterSaleStatus.REQUESTED.value, cause=cause,
                         actor=actor, detail={"local": True, "type": case_type.value, "reason": reason})
        outbox.add(session, "aftersale_changed", case_id, order_id, AfterSaleStatus.REQUESTED.value, cause)
    return case_id


def _case_type(value: str) -> AfterSaleType:
    try:
        return AfterSaleType(value)
    except ValueError:
        choices = ", ".join(t.value for t in AfterSaleType)
        raise BadInputError(f"type {value!r} is not one of {choices}", field="type") from None


def _line(index: int, order_id: int, order_lines: dict[int, Any], line_id: int, quantity: int) -> AfterSaleLine:
    found = order_lines.get(line_id)
    if found is None:
        raise BadInputError(f"line {line_id} is not a line of order {order_id}", field=f"lines[{index}].order_line_id")
    if not 1 <= quantity <= found.quantity:
        raise BadInputError(f"quantity {quantity} of line {line_id} must be 1 to {found.quantity} (what was ordered)",
                            field=f"lines[{index}].quantity")
    return AfterSaleLine(line_external_id=found.external_id, merchant_sku=found.merchant_sku, quantity=quantity)
