"""What an edit changes, worked out on the canonical order without I/O: whether the order's state
allows it (409 naming the status otherwise), whether the new values are good (422 naming the
field), the record's before/after, and the order as it is after the edit. Not for storing it
(``apply``) or sending it (``writeback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts.order_edits import OrderEditKind, OrderEditValues
from contracts.orders import Address, FulfilmentStatus, Order, OrderStatus
from hub.errors import BadInputError, ConflictError

#: Statuses in which nothing has left and the order still goes out: address and cancel allowed.
UNSHIPPED = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID})
#: Fulfilment steps after which the goods are on their way.
GOODS_OUT = frozenset({FulfilmentStatus.PARTIALLY_SHIPPED.value, FulfilmentStatus.SHIPPED.value})
ADDRESS_LIMITS = {"name": 50, "phone": 30, "province": 50, "city": 50, "district": 50, "town": 50,
                  "street": 200, "postcode": 12}
ADDRESS_REQUIRED = ("name", "phone", "province", "city", "street")
#: Kinds that change money and only apply while the order waits for payment (``stale`` withdraws
#: the ones still waiting for approval once it is paid).
BEFORE_PAYMENT_KINDS = frozenset({OrderEditKind.PRICE, OrderEditKind.QUANTITY})
REASON_MAX = 500


@dataclass(frozen=True)
class Change:
    """The record of one edit and the order after it (``flag``: the seller flag after, if it changes)."""

    before: dict[str, Any]
    after: dict[str, Any]
    order: Order
    flag: int | None = None


def _check_state(order: Order, fulfilment: str, kind: OrderEditKind) -> None:
    status = order.status
    if kind in BEFORE_PAYMENT_KINDS and status is not OrderStatus.PENDING_PAYMENT:
        raise ConflictError(f"order {order.ref.external_id} is {status.value}: prices and quantities change only "
                            "while it waits for payment")
    if kind in (OrderEditKind.ADDRESS, OrderEditKind.CANCEL) and (status not in UNSHIPPED or fulfilment in GOODS_OUT):
        shown = status.value if status not in UNSHIPPED else f"{status.value}, {fulfilment}"
        what = "cancelled" if kind is OrderEditKind.CANCEL else "re-addressed"
        raise ConflictError(f"order {order.ref.external_id} is {shown}: only an order not shipped (and not "
                            f"cancelled or closed) can be {what}")


def _address(values: OrderEditValues) -> dict[str, Any]:
    if values.address is None:
        raise BadInputError("address: the new address is required", field="address")
    data = values.address.model_dump(mode="json")
    for name in ADDRESS_REQUIRED:
        if not str(data.get(name) or "").strip():
            raise BadInputError(f"address.{name}: required", field=f"address.{name}")
    for name, limit in ADDRESS_LIMITS.items():
        if data.get(name) and len(str(data[name])) > limit:
            raise BadInputError(f"address.{name}: at most {limit} characters", field=f"address.{name}")
    phone = str(data["phone"]).replace("-", "").replace(" ", "").lstrip("+")
    if not phone.isdigit():
        raise BadInputError("address.phone: digits only (with - or a leading +)", field="address.phone")
    data["encrypted"] = False
    return data


def _lines(order: Order, values: OrderEditValues, kind: OrderEditKind) -> Change:
    if not values.lines:
        raise BadInputError("lines: name at least one line and its new value", field="lines")
    by_id = {line.external_id: line for line in order.lines}
    wanted: dict[str, Any] = {}
    for change in values.lines:
        if change.line not in by_id:
            raise BadInputError(f"lines: order {order.ref.external_id} has no line {change.line!r}", field="lines")
        value = change.unit_price if kind is OrderEditKind.PRICE else change.quantity
        if value is None:
            raise BadInputError(f"lines: line {change.line} needs a new {kind.value}", field="lines")
        wanted[change.line] = value
    field = "unit_price" if kind is OrderEditKind.PRICE else "quantity"
    delta = Decimal(0)
    new_lines = []
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for line in order.lines:
        if line.external_id not in wanted:
            new_lines.append(line)
            continue
        value = wanted[line.external_id]
        if kind is OrderEditKind.PRICE:
            price = Decimal(value).quantize(Decimal("0.01"))
            new = line.model_copy(update={"unit_price": line.unit_price.model_copy(update={"amount": price})})
            before.append({"line": line.external_id, field: str(line.unit_price.amount)})
            after.append({"line": line.external_id, field: str(price)})
        else:
            new = line.model_copy(update={"quantity": int(value)})
            before.append({"line": line.external_id, field: line.quantity})
            after.append({"line": line.external_id, field: int(value)})
        delta += new.unit_price.amount * new.quantity - line.unit_price.amount * line.quantity
        new_lines.append(new)
    total = order.total.amount + delta
    if total < 0:
        raise BadInputError("lines: the order's total would be below zero", field="lines")
    edited = order.model_copy(update={"lines": new_lines, "total": order.total.model_copy(update={"amount": total})})
    return Change(before={"lines": before, "total": str(order.total.amount)},
                  after={"lines": after, "total": str(total)}, order=edited)


def work_out(order: Order, fulfilment: str, flag: int | None, kind: OrderEditKind, values: OrderEditValues, *,
             note_max: int) -> Change:
    """The edit's record and the order after it; ``ConflictError`` when the order's state refuses the
    kind, ``BadInputError`` naming the field for a bad value."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED) and kind is not OrderEditKind.SELLER_NOTE:
        raise ConflictError(f"order {order.ref.external_id} is {order.status.value}: nothing of it can change "
                            "but the seller's note")
    _check_state(order, fulfilment, kind)
    if kind is OrderEditKind.ADDRESS:
        data = _address(values)
        old = order.shipping_address.model_dump(mode="json") if order.shipping_address else None
        edited = order.model_copy(update={"shipping_address": Address.model_validate(data)})
        return Change(before={"address": old}, after={"address": data}, order=edited)
    if kind in (OrderEditKind.SELLER_NOTE, OrderEditKind.BUYER_NOTE):
        note = (values.note or "").strip()
        if len(note) > note_max:
            raise BadInputError(f"note: at most {note_max} characters", field="note")
        name = kind.value
        return Change(before={"note": getattr(order, name)}, after={"note": note},
                      order=order.model_copy(update={name: note or None}))
    if kind is OrderEditKind.FLAG:
        if values.flag is None:
            raise BadInputError("flag: a flag colour is required", field="flag")
        return Change(before={"flag": flag}, after={"flag": int(values.flag)}, order=order, flag=int(values.flag))
    if kind is OrderEditKind.CANCEL:
        reason = (values.reason or "").strip()
        if not reason:
            raise BadInputError("reason: say why the order is cancelled", field="reason")
        return Change(before={"status": order.status.value}, after={"status": OrderStatus.CANCELLED.value},
                      order=order.model_copy(update={"status": OrderStatus.CANCELLED}))
    return _lines(order, values, kind)
