"""Many stock adjustments at once, set-based: the rows of a stock file checked against the stock
there is, and applied a batch at a time in a handful of statements (not a few per row).

A file's rows apply in order, so two rows for one warehouse and SKU compose (a count, then a
delta on top). ``plan_rows`` is that arithmetic, pure; ``check_rows`` runs it against the stock
now (nothing written) to name every row that would leave on hand below what orders have
reserved; ``apply_batch`` locks the batch's stock rows (in id order, so two batches never
deadlock), plans again on the locked values, and writes the new on-hand values in one UPDATE
and the ledger in one INSERT, inside the caller's transaction. Not for single adjustments
(``adjustments.adjust_stock``) nor for the import job (``import_jobs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db.tables import MAX_QUANTITY, StockLedgerRow, StockRow
from hub.db.upsert import insert_ignore
from hub.services.stock.adjustments import Adjustment
from hub.services.stock.csv_file import ImportProblem, StockImportError

Key = tuple[str, str]  # (warehouse, merchant SKU)

#: SKUs per ``IN`` list when reading stock for a whole file.
READ_CHUNK = 1000


@dataclass(frozen=True)
class Level:
    """One stock row: its id (None before it exists), on hand and reserved."""

    id: int | None
    on_hand: int
    reserved: int


@dataclass
class Plan:
    """What a run of rows does: each row's on-hand change, the final on hand per key, the problems."""

    deltas: list[int] = field(default_factory=list)
    final: dict[Key, int] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)


def plan_rows(levels: dict[Key, Level], adjustments: Sequence[Adjustment], rows: Sequence[int]) -> Plan:
    """Walk the rows in order from ``levels``; a row that would leave on hand below what is reserved
    (or above ``MAX_QUANTITY``) is a problem (named by its row number ``rows[i]``) and changes nothing."""
    plan = Plan()
    for adj, row in zip(adjustments, rows, strict=True):
        key = (adj.warehouse, adj.merchant_sku)
        level = levels.get(key, Level(None, 0, 0))
        current = plan.final.get(key, level.on_hand)
        new = current + adj.delta if adj.delta is not None else (adj.on_hand or 0)
        if new < level.reserved or new > MAX_QUANTITY:
            column = "delta" if adj.delta is not None else "on_hand"
            why = (f"above the most the hub keeps ({MAX_QUANTITY:,})" if new > MAX_QUANTITY else
                   f"below the {level.reserved} reserved for orders (on hand then {current}); release or ship those "
                   f"orders first" if level.reserved else f"below 0 (on hand then {current})")
            plan.problems.append(ImportProblem(row, column, (
                f"{adj.merchant_sku!r} in {adj.warehouse!r} would have {new} on hand, {why}")))
            plan.deltas.append(0)
            continue
        plan.final[key] = new
        plan.deltas.append(new - current)
    return plan


async def read_levels(session: AsyncSession, keys: Iterable[Key], *, lock: bool = False) -> dict[Key, Level]:
    """The stock rows of ``keys`` that exist; with ``lock``, locked until the transaction ends."""
    wanted = set(keys)
    skus = sorted({sku for _, sku in wanted})
    warehouses = sorted({wh for wh, _ in wanted})
    out: dict[Key, Level] = {}
    for start in range(0, len(skus), READ_CHUNK):
        stmt = (select(StockRow.id, StockRow.warehouse, StockRow.merchant_sku, StockRow.on_hand, StockRow.reserved)
                .where(StockRow.merchant_sku.in_(skus[start:start + READ_CHUNK]), StockRow.warehouse.in_(warehouses))
                .order_by(StockRow.id))
        if lock:
            stmt = stmt.with_for_update()
        for row_id, wh, sku, on_hand, reserved in await session.execute(stmt):
            if (wh, sku) in wanted:
                out[(wh, sku)] = Level(int(row_id), int(on_hand), int(reserved))
    return out


async def check_rows(session: AsyncSession, adjustments: Sequence[Adjustment],
                     rows: Sequence[int]) -> list[ImportProblem]:
    """Every row that would leave on hand below what is reserved, were the rows applied now."""
    levels = await read_levels(session, ((a.warehouse, a.merchant_sku) for a in adjustments))
    return plan_rows(levels, adjustments, rows).problems


@dataclass
class BatchResult:
    on_hand_delta: int = 0
    skus: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


async def apply_batch(
    session: AsyncSession, adjustments: Sequence[Adjustment], rows: Sequence[int], *,
    cause: StockChangeCause, reference: str | None, actor: str | None,
) -> BatchResult:
    """Apply validated rows (known warehouses and plain SKUs) in the caller's transaction, set-based.

    Raises ``StockImportError`` naming the rows that would leave on hand below what is reserved
    (the caller's transaction must roll back: nothing of the batch stays)."""
    if not adjustments:
        return BatchResult()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    now = _now()
    keys = sorted({(a.warehouse, a.merchant_sku) for a in adjustments})
    await session.execute(insert_ignore(StockRow, dialect).values([
        {"warehouse": wh, "merchant_sku": sku, "on_hand": 0, "reserved": 0, "updated_at": now} for wh, sku in keys]))
    levels = await read_levels(session, keys, lock=True)
    plan = plan_rows(levels, adjustments, rows)
    if plan.problems:
        raise StockImportError(plan.problems)
    changed = {levels[key].id: new for key, new in plan.final.items() if new != levels[key].on_hand}
    if changed:
        new_on_hand = case(changed, value=StockRow.id)
        result = await session.execute(
            update(StockRow).where(StockRow.id.in_(list(changed)), StockRow.reserved <= new_on_hand)
            .values(on_hand=new_on_hand, updated_at=now).execution_options(synchronize_session=False))
        if int(getattr(result, "rowcount", 0) or 0) != len(changed):  # the rows are locked: cannot happen
            raise RuntimeError("stock rows changed under a lock while importing; nothing of this batch was applied")
    ledger = [
        {"at": now, "warehouse": adj.warehouse, "merchant_sku": adj.merchant_sku, "on_hand_delta": delta,
         "reserved_delta": 0, "cause": cause.value, "reference": reference, "actor": actor, "note": adj.note}
        for adj, delta in zip(adjustments, plan.deltas, strict=True) if delta
    ]
    if ledger:
        await session.execute(insert(StockLedgerRow), ledger)
    return BatchResult(on_hand_delta=sum(plan.deltas),
                       skus={key[1] for key, new in plan.final.items() if new != levels[key].on_hand})
