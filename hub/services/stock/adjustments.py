"""Stock adjustments asked for by a person, a client or a file: each checked, then applied with
its ledger row, all or nothing, at most once per idempotency key.

``apply_adjustment`` changes one warehouse's on hand inside the caller's transaction, never below
what orders have reserved; ``adjust_stock`` checks every adjustment first (warehouses, SKUs, no
bundles), applies them in one transaction, marks the shops dirty and, after commit, schedules
the pushes, notifies ``stock_changed`` and retries orders short of these SKUs. Not for stock
files applied as jobs (``import_jobs``, ``batches``) nor for reservations (``reservations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db import idempotency
from hub.db.tables import SkuRow, StockLedgerRow, StockRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError
from hub.services.stock import effects, scheduling
from hub.services.stock.levels import known_warehouses
from hub.services.stock.skus import check_quantity


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Adjustment:
    """One stock change asked for by a person or a file: ``delta`` (±) or an absolute ``on_hand``."""

    warehouse: str
    merchant_sku: str
    delta: int | None = None
    on_hand: int | None = None
    note: str | None = None


def parse_adjustment(raw: Mapping[str, Any], where: str = "") -> Adjustment:
    """Validate one adjustment given as a mapping; errors name ``where`` and the field."""
    prefix = f"{where}: " if where else ""

    def bad(msg: str, fld: str) -> BadInputError:
        return BadInputError(f"{prefix}{msg}", field=fld)

    warehouse = raw.get("warehouse")
    sku = raw.get("merchant_sku")
    if not isinstance(warehouse, str) or not warehouse.strip():
        raise bad("warehouse is required", "warehouse")
    if not isinstance(sku, str) or not sku.strip():
        raise bad("merchant_sku is required", "merchant_sku")
    delta, on_hand = raw.get("delta"), raw.get("on_hand")
    if (delta is None) == (on_hand is None):
        raise bad("give exactly one of delta or on_hand", "delta")
    try:
        if delta is not None:
            check_quantity(delta, "delta", allow_negative=True, allow_zero=False)
        if on_hand is not None:
            check_quantity(on_hand, "on_hand")
    except BadInputError as exc:
        raise bad(str(exc), exc.field or "quantity") from exc
    note = raw.get("note")
    return Adjustment(warehouse.strip(), sku.strip(), delta, on_hand, note if isinstance(note, str) else None)


async def adjustment_problems(
    session: AsyncSession, adjustments: Sequence[Adjustment], warehouses: set[str]
) -> list[tuple[int, str, str]]:
    """(index, field, message) for every adjustment naming an unknown warehouse or SKU, or a bundle."""
    wanted = sorted({a.merchant_sku for a in adjustments})
    catalogue: dict[str, bool] = {}
    for start in range(0, len(wanted), 1000):  # bounded IN lists, whatever the file's size
        catalogue.update((r.merchant_sku, r.is_bundle) for r in (await session.execute(
            select(SkuRow).where(SkuRow.merchant_sku.in_(wanted[start:start + 1000])))).scalars())
    problems: list[tuple[int, str, str]] = []
    for i, adj in enumerate(adjustments):
        if adj.warehouse not in warehouses:
            problems.append((i, "warehouse", f"unknown warehouse {adj.warehouse!r}; known: {sorted(warehouses)}"))
        if adj.merchant_sku not in catalogue:
            problems.append((i, "merchant_sku", f"unknown SKU {adj.merchant_sku!r}; add it to the catalogue first"))
        elif catalogue[adj.merchant_sku]:
            problems.append((i, "merchant_sku", f"{adj.merchant_sku!r} is a bundle; adjust its components"))
    return problems


async def validate_adjustments(
    session: AsyncSession, adjustments: Sequence[Adjustment], warehouses: set[str], labels: Sequence[str] | None = None
) -> None:
    """Check warehouses and SKUs of every adjustment before any is applied (bundles refused)."""
    problems = await adjustment_problems(session, adjustments, warehouses)
    if problems:
        i, field_name, message = problems[0]
        label = labels[i] if labels else f"adjustment {i + 1}"
        raise BadInputError(f"{label}: {message}", field=field_name)


async def apply_adjustment(
    session: AsyncSession,
    adj: Adjustment,
    *,
    cause: StockChangeCause = StockChangeCause.ADJUSTMENT,
    reference: str | None = None,
    actor: str | None = None,
    label: str = "adjustment",
) -> int:
    """Apply one validated adjustment; returns the on-hand delta. Never leaves on hand below what
    is reserved for orders (``BadInputError``: the caller's transaction must roll back)."""
    await session.execute(insert_ignore(StockRow, _dialect(session)).values(
        warehouse=adj.warehouse, merchant_sku=adj.merchant_sku, on_hand=0, reserved=0, updated_at=_now()))
    where = (StockRow.warehouse == adj.warehouse, StockRow.merchant_sku == adj.merchant_sku)
    if adj.delta is not None:
        delta = adj.delta
        result = await session.execute(
            update(StockRow).where(*where, StockRow.on_hand + delta >= StockRow.reserved)
            .values(on_hand=StockRow.on_hand + delta, updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        changed = _rowcount(result) == 1
    else:
        target = adj.on_hand if adj.on_hand is not None else 0
        current = await session.execute(select(StockRow.on_hand, StockRow.reserved).where(*where))
        old, _ = current.one()
        delta = target - old
        # Conditional on the value just read: a concurrent change makes this a no-op, reported below.
        result = await session.execute(
            update(StockRow).where(*where, StockRow.on_hand == old, StockRow.reserved <= target)
            .values(on_hand=target, updated_at=_now()).execution_options(synchronize_session=False)
        )
        changed = _rowcount(result) == 1
    if not changed:
        on_hand, reserved = (await session.execute(select(StockRow.on_hand, StockRow.reserved).where(*where))).one()
        raise BadInputError(
            f"{label}: {adj.merchant_sku!r} in {adj.warehouse!r} would have {on_hand + delta} on hand, below the "
            f"{reserved} reserved for orders (on hand now {on_hand}); release or ship those orders first",
            field="delta" if adj.delta is not None else "on_hand",
        )
    if delta:
        session.add(StockLedgerRow(at=_now(), warehouse=adj.warehouse, merchant_sku=adj.merchant_sku,
                                   on_hand_delta=delta, reserved_delta=0, cause=cause.value, reference=reference,
                                   actor=actor, note=adj.note))
    return delta


@dataclass
class AdjustReport:
    applied: int = 0
    on_hand_delta: int = 0
    skus: set[str] = field(default_factory=set)
    shops: set[str] = field(default_factory=set)
    #: True when the idempotency key was used before: nothing was applied, the figures are the first call's.
    repeated: bool = False

    def record(self) -> dict[str, Any]:
        return {"applied": self.applied, "on_hand_delta": self.on_hand_delta, "skus": sorted(self.skus),
                "shops": sorted(self.shops)}

    @classmethod
    def recalled(cls, record: Mapping[str, Any]) -> AdjustReport:
        return cls(applied=int(record.get("applied", 0)), on_hand_delta=int(record.get("on_hand_delta", 0)),
                   skus=set(record.get("skus", ())), shops=set(record.get("shops", ())), repeated=True)


async def adjust_stock(
    hub: Any,
    adjustments: Sequence[Adjustment],
    *,
    actor: str | None,
    cause: StockChangeCause = StockChangeCause.ADJUSTMENT,
    reference: str | None = None,
    labels: Sequence[str] | None = None,
    on_applied: Any = None,
    idempotency_key: str | None = None,
) -> AdjustReport:
    """Validate every adjustment, then apply them all in one transaction (all or nothing), mark
    the shops dirty and, after commit, schedule pushes and notify ``stock_changed``.

    With ``idempotency_key``, the key is claimed in the same transaction: a second call with it
    (a form sent twice, a client retrying) applies nothing and returns the first call's report
    marked ``repeated``; a call that failed (and so rolled back) leaves the key free."""
    report = AdjustReport()
    async with hub.database().transaction() as session:
        if idempotency_key is not None and not await idempotency.claim(session, idempotency_key):
            return AdjustReport.recalled(await idempotency.recall(session, idempotency_key) or {})
        await validate_adjustments(session, adjustments, known_warehouses(hub.config), labels)
        for i, adj in enumerate(adjustments):
            label = labels[i] if labels else f"adjustment {i + 1}"
            report.on_hand_delta += await apply_adjustment(session, adj, cause=cause, reference=reference,
                                                           actor=actor, label=label)
            report.applied += 1
            report.skus.add(adj.merchant_sku)
            if on_applied is not None:
                on_applied(i)
        report.shops = await scheduling.mark_dirty(session, report.skus)
        if idempotency_key is not None:
            await idempotency.remember(session, idempotency_key, report.record())
    await scheduling.schedule_push(hub, report.shops)
    await effects.notify_stock_changed(hub, report.skus)
    await effects.retry_short_orders(hub, report.skus)
    return report


class _Rehearsed(Exception):
    """Raised to roll a rehearsal back once every adjustment applied."""


async def rehearse_adjustments(hub: Any, adjustments: Sequence[Adjustment], *,
                               labels: Sequence[str] | None = None) -> int:
    """Run every check ``adjust_stock`` runs — warehouses, SKUs, bundles, and each row applied in
    turn against what is reserved — in a transaction that is then rolled back: the same errors,
    nothing written (``--dry-run``). Returns how many adjustments would apply."""
    try:
        async with hub.database().transaction() as session:
            await validate_adjustments(session, adjustments, known_warehouses(hub.config), labels)
            for i, adj in enumerate(adjustments):
                await apply_adjustment(session, adj, label=labels[i] if labels else f"adjustment {i + 1}")
            raise _Rehearsed
    except _Rehearsed:
        return len(adjustments)
