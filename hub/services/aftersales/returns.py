"""Returned goods back into stock, through the ledger: units that came back good go on hand in
the warehouse the order shipped from, damaged units to the defective location
(``[aftersales] defective_warehouse``): the ``defective_stock`` table, apart from the sellable
``stock``, so damaged units are never reserved or pushed. Once per case: a
case whose goods were received is not received again. Not for the decision itself (``decisions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db.tables import (
    AfterSaleLineRow,
    AfterSaleRow,
    DefectiveStockRow,
    DeliveryLineRow,
    DeliveryOrderRow,
    ShipmentRow,
    SkuRow,
    StockLedgerRow,
)
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError
from hub.services.aftersales.case_records import CaseLineRef, LineQuality, add_event, case_lines, load_case, store_lines
from hub.services.stock import scheduling
from hub.services.stock.adjustments import Adjustment, apply_adjustment
from hub.services.stock.skus import components_of

GOOD, DAMAGED = "good", "damaged"


async def shipped_from(session: AsyncSession, config: Any, order_id: int | None) -> str:
    """The warehouse the order's goods left from: its shipped delivery order, else its shipment's
    warehouse, else the first configured warehouse (where returns go when the hub cannot tell)."""
    from hub.services.fulfilment.routing import enabled_warehouses

    if order_id is not None:
        shipped = await session.scalar(
            select(DeliveryOrderRow.warehouse)
            .join(DeliveryLineRow, DeliveryLineRow.delivery_order_id == DeliveryOrderRow.id)
            .where(DeliveryLineRow.order_id == order_id, DeliveryOrderRow.status == "shipped")
            .order_by(DeliveryOrderRow.id).limit(1))
        if shipped:
            return str(shipped)
        recorded = await session.scalar(select(ShipmentRow.warehouse).where(
            ShipmentRow.order_id == order_id, ShipmentRow.warehouse.is_not(None)).order_by(ShipmentRow.id).limit(1))
        if recorded:
            return str(recorded)
    return enabled_warehouses(config)[0]


async def stock_units(session: AsyncSession, sku: str | None, quantity: int) -> list[tuple[str, int]] | None:
    """The stocked SKUs and units ``quantity`` of ``sku`` stand for: itself, or a bundle's
    components (stock is kept per component); None when the catalogue does not know the SKU."""
    if not sku:
        return None
    known = await session.scalar(select(SkuRow.is_bundle).where(SkuRow.merchant_sku == sku))
    if known is None:
        return None
    if not known:
        return [(sku, quantity)]
    components = (await components_of(session, [sku])).get(sku, {})
    return [(component, per * quantity) for component, per in sorted(components.items())] or None


def _quality_by_line(lines: list[CaseLineRef], quality: Sequence[LineQuality]) -> dict[int, tuple[int, int]]:
    """(good, damaged) per line position; a line not listed came back whole and good."""
    positions = {line.position: line for line in lines}
    out = {line.position: (line.quantity, 0) for line in lines}
    seen: set[int] = set()
    for i, q in enumerate(quality):
        where = f"quality[{i}]"
        line = positions.get(q.position)
        if line is None:
            raise BadInputError(f"{where}: the case has no line {q.position}; lines: "
                                f"{', '.join(str(p) for p in sorted(positions)) or 'none'}", field=f"{where}.position")
        if q.position in seen:
            raise BadInputError(f"{where}: line {q.position} is listed twice", field=f"{where}.position")
        seen.add(q.position)
        if q.good < 0 or q.damaged < 0:
            raise BadInputError(f"{where}: good and damaged cannot be negative", field=f"{where}.good")
        if q.good + q.damaged > line.quantity:
            raise BadInputError(f"{where}: {q.good} good + {q.damaged} damaged is more than the {line.quantity} "
                                f"unit(s) of line {q.position}", field=f"{where}.damaged")
        out[q.position] = (q.good, q.damaged)
    return out


async def _to_defective(session: AsyncSession, location: str, sku: str, count: int, *, reference: str,
                        actor: str | None, note: str) -> None:
    """Put ``count`` damaged units of ``sku`` in the defective location (``defective_stock``, never
    sellable) with their ledger row."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    now = datetime.now(UTC)
    await session.execute(insert_ignore(DefectiveStockRow, dialect).values(
        location=location, merchant_sku=sku, quantity=0, updated_at=now))
    await session.execute(update(DefectiveStockRow).where(
        DefectiveStockRow.location == location, DefectiveStockRow.merchant_sku == sku)
        .values(quantity=DefectiveStockRow.quantity + count, updated_at=now)
        .execution_options(synchronize_session=False))
    session.add(StockLedgerRow(at=now, warehouse=location, merchant_sku=sku, on_hand_delta=count, reserved_delta=0,
                               cause=StockChangeCause.RETURN.value, reference=reference, actor=actor, note=note))


async def receive_goods(session: AsyncSession, config: Any, case_id: int, quality: Sequence[LineQuality], *,
                        actor: str | None) -> list[dict[str, Any]]:
    """Record the goods of ``case_id`` as back (``quality`` per line; empty: all good) and move
    the stock, in the caller's transaction; returns the stock movements
    (``{"sku", "warehouse", "quantity", "condition"}``). Marks the SKUs' shops dirty."""
    row = await load_case(session, case_id, lock=True)
    if row.received:
        return []  # once per case: the goods came back once
    lines = await case_lines(session, row)
    per_line = _quality_by_line(lines, quality)
    await store_lines(session, case_id, lines)
    home = await shipped_from(session, config, row.order_id)
    defective = config.aftersales.defective_warehouse
    reference = f"aftersale:{case_id}"
    movements: list[dict[str, Any]] = []
    unmapped: list[int] = []
    for line in lines:
        good, damaged = per_line[line.position]
        await session.execute(update(AfterSaleLineRow).where(
            AfterSaleLineRow.aftersale_id == case_id, AfterSaleLineRow.position == line.position)
            .values(received_good=good, received_damaged=damaged).execution_options(synchronize_session=False))
        for quantity, warehouse, condition in ((good, home, GOOD), (damaged, defective, DAMAGED)):
            if quantity <= 0:
                continue
            units = await stock_units(session, line.merchant_sku, quantity)
            if units is None:  # no SKU the catalogue knows: nothing to put on a shelf the hub counts
                unmapped.append(line.position)
                continue
            for sku, count in units:
                note = f"after-sale case {case_id} line {line.position}: came back {condition}"
                if condition == DAMAGED:
                    await _to_defective(session, warehouse, sku, count, reference=reference, actor=actor, note=note)
                else:
                    await apply_adjustment(session, Adjustment(warehouse=warehouse, merchant_sku=sku, delta=count,
                                                               note=note),
                                           cause=StockChangeCause.RETURN, reference=reference, actor=actor,
                                           label=f"case {case_id} return")
                movements.append({"sku": sku, "warehouse": warehouse, "quantity": count, "condition": condition,
                                  "position": line.position})
    conditions = {m["condition"] for m in movements}
    resolution = ("restocked" if conditions == {GOOD} else "defective" if conditions == {DAMAGED}
                  else "restocked_partly_defective" if conditions else "received_nothing_restocked")
    await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == case_id).values(
        received=True, resolution=resolution).execution_options(synchronize_session=False))
    row.received = True
    add_event(session, case_id, "restocked", cause="decision", actor=actor, movements=movements,
              lines_without_known_sku=sorted(set(unmapped)))
    await scheduling.mark_dirty(session, {str(m["sku"]) for m in movements})
    return movements
