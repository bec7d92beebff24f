"""The fulfilment batch actions: release holds, approve orders waiting in review, ship from CSV rows,
print labels. Each reuses the service its one-order API route uses, so history, outbox and the
channel's confirmation happen exactly as one by one.

Not for running them (``hub.services.batch.runner``) nor for tags, priority and manual holds
(``hub.services.search.batch_actions``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.shipments import Parcel, canonical_courier_code
from hub.api.auth import Permission
from hub.db.tables import BatchFileRow, OrderRow, ParcelRow
from hub.errors import BadInputError, NotFoundError
from hub.services import orders
from hub.services.access.scope import shop_condition
from hub.services.batch.registry import ItemOutcome, batch_action
from hub.services.batch.scope import not_found, orders_in_sight
from hub.services.fulfilment import labels, review, shipments, waybills
from hub.services.fulfilment.courier_check import couriers_unknown_to_shop

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub


class ReleaseHoldsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=50, description="The hold code to release (manual, review_amount…).")


@batch_action("release_holds", Permission.ORDERS_WRITE, ReleaseHoldsParams,
              "Release one hold code on each order; an order proceeds once no other hold is open.")
async def release_holds(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                        principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, ReleaseHoldsParams)
    seen = await orders_in_sight(session, ids, principal)
    released = set(await orders.release_holds(session, params.code, sorted(seen), actor=principal.actor))
    out = not_found(ids, seen)
    for order_id in seen:
        out[order_id] = (ItemOutcome(True, f"hold {params.code!r} released") if order_id in released
                         else ItemOutcome(False, f"order {order_id} has no open hold {params.code!r}"))
    return out


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@batch_action("approve", Permission.ORDERS_WRITE, NoParams,
              "Approve orders held by review or waiting for a person (their review holds released).",
              own_transactions=True)
async def approve(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                  principal: Principal) -> dict[int, ItemOutcome]:
    seen = await orders_in_sight(session, ids, principal)
    out = not_found(ids, seen)
    for order_id, row in seen.items():
        if row.review_status == review.APPROVED:
            out[order_id] = ItemOutcome(False, f"order {order_id} is already approved")
            continue
        try:
            _state, released = await review.approve(hub, order_id, actor=principal.actor)
        except (NotFoundError, review.ReviewConflict) as exc:
            out[order_id] = ItemOutcome(False, str(exc))
            continue
        out[order_id] = ItemOutcome(True, "approved" + (f" (released {', '.join(released)})" if released else ""))
    return out


class ShipRow(BaseModel):
    """One CSV row: its line number in the file, the order (the platform's order number, or ``#``
    and the hub's id), the courier code and the tracking number; ``error`` when the row was unreadable."""

    row: int
    order_no: str = ""
    courier: str = ""
    tracking_no: str = ""
    error: str | None = None


class ShipParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: list[ShipRow] = Field(default_factory=list, description="The CSV's rows; the ids are their row numbers.")
    warehouse: str | None = Field(default=None, max_length=100, description="A configured warehouse name.")


async def _orders_by_number(session: AsyncSession, numbers: set[str],
                            principal: Principal) -> dict[str, list[int]]:
    """order number → the ids of the caller's orders with it (the channel's number, or ``#id``)."""
    ids = {int(n[1:]) for n in numbers if n.startswith("#") and n[1:].isdigit()}
    rows = (await session.execute(select(OrderRow.id, OrderRow.external_id).where(
        (OrderRow.external_id.in_(sorted(numbers))) | OrderRow.id.in_(sorted(ids)),
        shop_condition(OrderRow.shop, principal)))).all()
    found: dict[str, list[int]] = defaultdict(list)
    for order_id, external_id in rows:
        if external_id in numbers:
            found[external_id].append(order_id)
        if order_id in ids:
            found[f"#{order_id}"].append(order_id)
    return found


async def _ship_one(hub: Hub, order_id: int, row: ShipRow, warehouse: str | None, principal: Principal) -> ItemOutcome:
    courier = canonical_courier_code(row.courier)
    shop, unknown = await couriers_unknown_to_shop(hub, order_id, [courier])
    if unknown:
        return ItemOutcome(False, f"row {row.row}: shop {shop!r} has no mapping for courier {courier!r}; "
                                  "add it to the shop's courier map or use a mapped one")
    try:
        recorded = await shipments.record_shipment(
            hub, order_id, [Parcel(courier_code=courier, tracking_number=row.tracking_no)],
            warehouse=warehouse, actor=principal.actor)
    except (shipments.ShipmentRefused, BadInputError, NotFoundError) as exc:
        return ItemOutcome(False, f"row {row.row}: {exc}")
    if not recorded.created:
        return ItemOutcome(True, f"row {row.row}: already recorded as shipment {recorded.shipment.id}")
    return ItemOutcome(True, f"row {row.row}: order {order_id} shipment {recorded.shipment.id} recorded")


@batch_action("ship", Permission.SHIPMENTS_WRITE, ShipParams,
              "Record shipments from CSV rows (order_no, courier, tracking_no); the channels are told as one by one.",
              item="row", own_transactions=True, rows=True)
async def ship(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
               principal: Principal) -> dict[int, ItemOutcome]:
    """Each row once: posting the same tracking number for the same order again records nothing more."""
    assert isinstance(params, ShipParams)
    by_row = {r.row: r for r in params.rows}
    wanted = [by_row[i] for i in ids if i in by_row]
    numbers = await _orders_by_number(session, {r.order_no for r in wanted if r.error is None}, principal)
    out = {i: ItemOutcome(False, f"row {i}: not in the file") for i in ids if i not in by_row}
    for row in wanted:
        matches = numbers.get(row.order_no, [])
        if row.error is not None:
            out[row.row] = ItemOutcome(False, f"row {row.row}: {row.error}")
        elif not matches:
            out[row.row] = ItemOutcome(False, f"row {row.row}: order {row.order_no!r} does not exist")
        elif len(matches) > 1:
            out[row.row] = ItemOutcome(False, f"row {row.row}: order number {row.order_no!r} is in several shops; "
                                              f"write #<hub id> instead (ids {', '.join(map(str, sorted(matches)))})")
        else:
            out[row.row] = await _ship_one(hub, matches[0], row, params.warehouse, principal)
    return out


@batch_action("print_labels", Permission.SHIPMENTS_WRITE, NoParams,
              "Print the labels of each order's parcels that have a waybill, in one PDF per chunk.",
              own_transactions=True)
async def print_labels(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                       principal: Principal) -> dict[int, ItemOutcome]:
    """The PDF is kept as a batch file; each order's outcome names its parcels and the file's address."""
    seen = await orders_in_sight(session, ids, principal)
    out = not_found(ids, seen)
    parcels: dict[int, list[int]] = defaultdict(list)
    for parcel_id, order_id in (await session.execute(select(ParcelRow.id, ParcelRow.order_id).where(
            ParcelRow.order_id.in_(sorted(seen)), ParcelRow.status.in_(labels.PRINTABLE),
            ParcelRow.waybill_number.is_not(None)).order_by(ParcelRow.order_id, ParcelRow.seq, ParcelRow.id))).all():
        parcels[order_id].append(parcel_id)
    for order_id in seen:
        if not parcels.get(order_id):
            out[order_id] = ItemOutcome(False, f"order {order_id} has no parcel with a waybill to print")
    printable = [p for order_id in seen for p in parcels.get(order_id, [])]
    if not printable:
        return out
    try:
        pdf = await labels.print_labels(hub, printable, actor=principal.actor,
                                        reveal=principal.may(Permission.ORDERS_READ_PII))
    except (waybills.WaybillRefused, NotFoundError) as exc:
        out.update({o: ItemOutcome(False, f"labels not printed: {exc}") for o in parcels})
        return out
    async with hub.database().transaction() as write:
        file = BatchFileRow(name="labels.pdf", media_type="application/pdf", content=pdf, created_by=principal.actor)
        write.add(file)
        await write.flush()
        file_id = file.id
    for order_id, ids_of in parcels.items():
        out[order_id] = ItemOutcome(True, f"parcel(s) {', '.join(map(str, ids_of))} printed: "
                                          f"/api/v1/batch/files/{file_id}")
    return out
