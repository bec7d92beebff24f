"""Reservations: what orders hold of the stock, each taken, released or consumed exactly once.

The reservation row (unique per order line and component: the exactly-once key) is inserted
first, ignored on conflict, so a repeat — or a cancel that came first and left a tombstone —
takes nothing. ``reserve_needs`` does it for a whole batch of orders: one ``INSERT … ON
CONFLICT DO NOTHING`` for every line, the batch's stock rows locked in one statement (in SKU
order, so concurrent batches never deadlock), then per SKU and warehouse ONE conditional
``UPDATE stock`` for the total granted there, each line served in turn — oldest order first — by
the first warehouse in priority order that still has its quantity, exactly as reserving the
orders one after the other would. ``reserve_line`` is the single-line form (one conditional
``UPDATE``, never read-then-write). Release and consume are conditional state transitions of the
row, so each happens exactly once whatever the order and repetition of events. Every movement
writes a ``stock_ledger`` row, inside the caller's transaction. Not for which orders to reserve
and the holds that follow (``effects``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db.returning import returning_many
from hub.db.tables import ReservationRow, SkuRow, StockLedgerRow, StockRow
from hub.db.upsert import insert_ignore
from hub.services.stock.levels import stock_of

#: Reservation states. ``short`` is a line that could not be reserved yet (the order is on a
#: "stock short" hold); it holds no stock and can still become active, released or consumed.
ACTIVE, RELEASED, CONSUMED, SHORT = "active", "released", "consumed", "short"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _now() -> datetime:
    return datetime.now(UTC)


class ReserveOutcome(StrEnum):
    RESERVED = "reserved"  # stock taken now
    ALREADY = "already"  # a repeat: the line was reserved, released or consumed before
    SHORT = "short"  # not enough stock in any one warehouse: the line waits


@dataclass(frozen=True)
class LineNeed:
    """What one order line needs from one stock SKU (a bundle line becomes one need per component)."""

    key: str  # the reservation's line key: the line id, or "line/component" for a bundle part
    merchant_sku: str
    quantity: int


@dataclass
class ReserveResult:
    outcome: ReserveOutcome
    warehouse: str | None = None
    first_time: bool = False  # this call created the reservation row (the platform just took stock)
    available: int = 0
    needed: int = 0
    touched: set[str] = field(default_factory=set)


def _ledger(sku: str, warehouse: str | None, on_hand: int, reserved: int, cause: StockChangeCause,
            order_id: int, note: str | None = None) -> StockLedgerRow:
    return StockLedgerRow(at=_now(), warehouse=warehouse, merchant_sku=sku, on_hand_delta=on_hand,
                          reserved_delta=reserved, cause=cause.value, reference=f"order:{order_id}", note=note)


async def _take(session: AsyncSession, sku: str, qty: int, warehouses: Sequence[str]) -> str | None:
    """The conditional UPDATE: reserve ``qty`` in the first warehouse that has it; its name or None."""
    for wh in warehouses:
        result = await session.execute(
            update(StockRow)
            .where(StockRow.warehouse == wh, StockRow.merchant_sku == sku, StockRow.on_hand - StockRow.reserved >= qty)
            .values(reserved=StockRow.reserved + qty, updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 1:
            return wh
    return None


async def _candidate_warehouses(session: AsyncSession, sku: str, priority: Mapping[str, int]) -> list[str]:
    names = (await session.execute(select(StockRow.warehouse).where(StockRow.merchant_sku == sku))).scalars()
    return sorted(names, key=lambda w: (priority.get(w, 1000), w))


async def reserve_line(
    session: AsyncSession, order_id: int, need: LineNeed, *, priority: Mapping[str, int] | None = None
) -> ReserveResult:
    """Reserve one line need exactly once: INSERT the reservation (ignored on conflict, so a
    repeat — or a cancel that came first and left a tombstone — is a no-op), then the conditional
    UPDATE on stock. A line without stock becomes ``short``; calling again retries it."""
    priority = priority or {}
    inserted = await session.execute(
        insert_ignore(ReservationRow, _dialect(session)).values(
            order_id=order_id, line_external_id=need.key, merchant_sku=need.merchant_sku, quantity=need.quantity,
            state=ACTIVE, created_at=_now(), updated_at=_now(),
        ).returning(ReservationRow.id)
    )
    res_id = inserted.scalar_one_or_none()
    first_time = res_id is not None
    if res_id is None:
        # Retry a short line: claim it (short → active), then take stock; undone in-transaction if none.
        existing = (await session.execute(select(ReservationRow.id).where(
            ReservationRow.order_id == order_id, ReservationRow.line_external_id == need.key,
            ReservationRow.state == SHORT))).scalar_one_or_none()
        if existing is None:
            return ReserveResult(ReserveOutcome.ALREADY)
        claimed = await session.execute(
            update(ReservationRow).where(ReservationRow.id == existing, ReservationRow.state == SHORT)
            .values(state=ACTIVE, updated_at=_now()).execution_options(synchronize_session=False))
        if _rowcount(claimed) != 1:
            return ReserveResult(ReserveOutcome.ALREADY)
        res_id = existing
    warehouse = await _take(session, need.merchant_sku, need.quantity,
                            await _candidate_warehouses(session, need.merchant_sku, priority))
    if warehouse is None:
        await session.execute(update(ReservationRow).where(ReservationRow.id == res_id)
                              .values(state=SHORT, updated_at=_now()).execution_options(synchronize_session=False))
        stock = await stock_of(session, [need.merchant_sku])
        available = stock[need.merchant_sku].available if need.merchant_sku in stock else 0
        return ReserveResult(ReserveOutcome.SHORT, first_time=first_time, available=available, needed=need.quantity)
    await session.execute(update(ReservationRow).where(ReservationRow.id == res_id)
                          .values(warehouse=warehouse).execution_options(synchronize_session=False))
    session.add(_ledger(need.merchant_sku, warehouse, 0, need.quantity, StockChangeCause.ORDER_RESERVED, order_id,
                        note=need.key))
    return ReserveResult(ReserveOutcome.RESERVED, warehouse, first_time, needed=need.quantity,
                         touched={need.merchant_sku})


#: A line need of one order in a batch: (order id, need).
OrderNeed = tuple[int, LineNeed]


@dataclass
class BatchReserve:
    """What ``reserve_needs`` did, per (order id, line key)."""

    reserved: dict[tuple[int, str], str] = field(default_factory=dict)  # → warehouse: stock taken now
    short: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)  # → (needed, available)
    first_time: set[tuple[int, str]] = field(default_factory=set)  # rows this call created
    touched: set[str] = field(default_factory=set)


async def _claim_short(session: AsyncSession, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Retry short lines: claim them (short → active) so no concurrent retry takes them too; undone
    in the same transaction for those still without stock."""
    if not pairs:
        return {}
    claimed = await session.execute(
        update(ReservationRow)
        .where(tuple_(ReservationRow.order_id, ReservationRow.line_external_id).in_(list(pairs)),
               ReservationRow.state == SHORT)
        .values(state=ACTIVE, updated_at=_now())
        .returning(ReservationRow.id, ReservationRow.order_id, ReservationRow.line_external_id)
        .execution_options(synchronize_session=False))
    return {(int(o), str(k)): int(i) for i, o, k in claimed}


async def reserve_needs(
    session: AsyncSession, needs: Sequence[OrderNeed], *, priority: Mapping[str, int] | None = None
) -> BatchReserve:
    """Reserve the line needs of a batch of orders, each exactly once, in a number of statements
    that does not grow with the batch: ``needs`` in the order they are served (oldest order
    first). A need goes to the first warehouse, in priority order, that still has its whole
    quantity after the needs before it; one without stock becomes ``short`` (with what was needed
    and the SKU's available then); repeats take nothing; short lines are retried."""
    priority = priority or {}
    out = BatchReserve()
    wanted: dict[tuple[int, str], LineNeed] = {}
    for order_id, need in needs:
        wanted.setdefault((order_id, need.key), need)
    if not wanted:
        return out
    now = _now()
    table = ReservationRow.__table__
    statement = insert_ignore(table, _dialect(session)).returning(table.c.id, table.c.order_id,
                                                                  table.c.line_external_id)
    inserted = await returning_many(
        session, statement,
        [{"order_id": o, "line_external_id": key, "merchant_sku": need.merchant_sku, "quantity": need.quantity,
          "state": ACTIVE, "created_at": now, "updated_at": now} for (o, key), need in wanted.items()])
    ids = {(int(o), str(k)): int(i) for i, o, k in inserted}
    out.first_time = set(ids)
    ids.update(await _claim_short(session, [pair for pair in wanted if pair not in ids]))
    if not ids:
        return out  # every line was reserved, released or consumed before
    candidates = [pair for pair in wanted if pair in ids]  # in serving order
    skus = sorted({wanted[pair].merchant_sku for pair in candidates})
    # Lock the batch's stock rows, SKU by SKU (SQLite: BEGIN IMMEDIATE already serialises writers);
    # under the lock the grants below are decided from values nobody else can change.
    free: dict[str, dict[str, list[int]]] = {sku: {} for sku in skus}  # sku → warehouse → [row id, free]
    for row_id, sku, wh, on_hand, reserved in await session.execute(
        select(StockRow.id, StockRow.merchant_sku, StockRow.warehouse, StockRow.on_hand, StockRow.reserved)
        .where(StockRow.merchant_sku.in_(skus)).order_by(StockRow.merchant_sku, StockRow.id).with_for_update()
    ):
        free[sku][wh] = [int(row_id), int(on_hand) - int(reserved)]
    granted: dict[tuple[str, str], int] = {}  # (sku, warehouse) → units taken
    short: dict[tuple[int, str], int] = {}  # → Σ (on hand − reserved) when it was found short
    for pair in candidates:
        need = wanted[pair]
        stock = free[need.merchant_sku]
        warehouse = next((wh for wh in sorted(stock, key=lambda w: (priority.get(w, 1000), w))
                          if stock[wh][1] >= need.quantity), None)
        if warehouse is None:
            short[pair] = sum(f for _, f in stock.values())
            continue
        stock[warehouse][1] -= need.quantity
        granted[(need.merchant_sku, warehouse)] = granted.get((need.merchant_sku, warehouse), 0) + need.quantity
        out.reserved[pair] = warehouse
    for (sku, wh), units in sorted(granted.items()):
        taken = await session.execute(
            update(StockRow)
            .where(StockRow.id == free[sku][wh][0], StockRow.on_hand - StockRow.reserved >= units)
            .values(reserved=StockRow.reserved + units, updated_at=now)
            .execution_options(synchronize_session=False))
        if _rowcount(taken) != 1:  # cannot happen under the lock; never record stock not taken
            raise RuntimeError(f"stock of {sku!r} in {wh!r} moved under its lock")
        out.touched.add(sku)
    by_warehouse: dict[str, list[int]] = {}
    for pair, wh in out.reserved.items():
        by_warehouse.setdefault(wh, []).append(ids[pair])
    for wh, res_ids in sorted(by_warehouse.items()):
        await session.execute(update(ReservationRow).where(ReservationRow.id.in_(res_ids))
                              .values(warehouse=wh).execution_options(synchronize_session=False))
    if out.reserved:
        await session.execute(insert(StockLedgerRow), [
            {"at": now, "warehouse": wh, "merchant_sku": wanted[pair].merchant_sku, "on_hand_delta": 0,
             "reserved_delta": wanted[pair].quantity, "cause": StockChangeCause.ORDER_RESERVED.value,
             "reference": f"order:{pair[0]}", "actor": None, "note": pair[1]}
            for pair, wh in out.reserved.items()])
    if short:
        await session.execute(update(ReservationRow).where(ReservationRow.id.in_([ids[p] for p in short]))
                              .values(state=SHORT, updated_at=now).execution_options(synchronize_session=False))
        safety: dict[str, int] = {sku: int(n or 0) for sku, n in await session.execute(
            select(SkuRow.merchant_sku, SkuRow.safety_stock).where(
                SkuRow.merchant_sku.in_({wanted[p].merchant_sku for p in short})))}
        for pair, left in short.items():
            # What ``stock_of`` said at that point: available, net of the safety stock.
            sku = wanted[pair].merchant_sku
            out.short[pair] = (wanted[pair].quantity, max(0, left - safety[sku]) if sku in safety else 0)
    return out


async def _finish(
    session: AsyncSession, order_id: int, needs: Sequence[LineNeed], to_state: str, moved: set[str] | None = None
) -> set[str]:
    """Move every active or short reservation of the order to ``to_state`` exactly once, adjusting
    stock for the active ones; lines never reserved get a tombstone so a later reserve is a no-op.
    ``moved`` collects the line keys this call moved (active or short ones: sales taken in)."""
    touched: set[str] = set()
    rows = (await session.execute(select(ReservationRow).where(
        ReservationRow.order_id == order_id, ReservationRow.state.in_([ACTIVE, SHORT])))).scalars().all()
    for row in rows:
        moved_now = await session.execute(
            update(ReservationRow).where(ReservationRow.id == row.id, ReservationRow.state == row.state)
            .values(state=to_state, updated_at=_now()).execution_options(synchronize_session=False))
        if _rowcount(moved_now) != 1:
            continue  # someone else moved it
        if moved is not None:
            moved.add(row.line_external_id)
        if row.state == SHORT or row.warehouse is None:
            continue  # it never held stock
        on_hand_delta = -row.quantity if to_state == CONSUMED else 0
        await session.execute(
            update(StockRow).where(StockRow.warehouse == row.warehouse, StockRow.merchant_sku == row.merchant_sku)
            .values(reserved=StockRow.reserved - row.quantity, on_hand=StockRow.on_hand + on_hand_delta,
                    updated_at=_now()).execution_options(synchronize_session=False))
        cause = StockChangeCause.ORDER_SHIPPED if to_state == CONSUMED else StockChangeCause.ORDER_RELEASED
        session.add(_ledger(row.merchant_sku, row.warehouse, on_hand_delta, -row.quantity, cause, order_id,
                            note=row.line_external_id))
        touched.add(row.merchant_sku)
    for need in needs:
        await session.execute(insert_ignore(ReservationRow, _dialect(session)).values(
            order_id=order_id, line_external_id=need.key, merchant_sku=need.merchant_sku, quantity=need.quantity,
            state=to_state, created_at=_now(), updated_at=_now()))
    return touched


async def release_reservations(session: AsyncSession, order_id: int, needs: Sequence[LineNeed],
                               moved: set[str] | None = None) -> set[str]:
    """Cancel/close: give back what the order holds, once. Returns the SKUs whose stock moved;
    ``moved`` collects the line keys released by this call."""
    return await _finish(session, order_id, needs, RELEASED, moved)


async def consume_reservations(session: AsyncSession, order_id: int, needs: Sequence[LineNeed]) -> set[str]:
    """Shipped: what the order holds leaves the warehouse (on hand and reserved both drop), once."""
    return await _finish(session, order_id, needs, CONSUMED)


async def count_reservations(session: AsyncSession, order_id: int) -> dict[str, int]:
    rows = await session.execute(select(ReservationRow.state, func.count()).where(
        ReservationRow.order_id == order_id).group_by(ReservationRow.state))
    return {state: int(n) for state, n in rows}
