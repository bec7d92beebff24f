"""Defective stock: the damaged units returns put apart (``defective_stock``, written by
``hub.services.aftersales.returns``), listed per location and SKU, and worked off by a person.

``dispose`` takes units out of a defective location for good (``scrap``, ``return_to_supplier``) or
moves them back to sellable on hand in a named warehouse (``repaired``, through
``adjustments.apply_adjustment``, so the shops are pushed after commit as ``adjust_stock`` does).
Each change has its ``stock_ledger`` row, a location never goes below 0 and a call runs once per
idempotency key. Not for receiving returns (``hub.services.aftersales.returns``) nor for sellable
stock (``adjustments``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db import idempotency
from hub.db.tables import DefectiveStockRow, SkuRow, StockLedgerRow
from hub.errors import BadInputError
from hub.services.stock import effects, scheduling
from hub.services.stock.adjustments import Adjustment, apply_adjustment, validate_adjustments
from hub.services.stock.levels import known_warehouses
from hub.services.stock.skus import check_quantity

#: The longest note kept with a disposition (the ledger's note).
NOTE_MAX = 500


class DefectiveAction(StrEnum):
    """What a person did with defective units."""

    SCRAP = "scrap"  # thrown away: out of the hub's count
    RETURN_TO_SUPPLIER = "return_to_supplier"  # sent back to the supplier: out of the hub's count
    REPAIRED = "repaired"  # fixed: back on hand, sellable, in a named warehouse


def reference_of(action: DefectiveAction) -> str:
    """The ledger reference of a disposition: ``defective:<action>``.

    The ledger cause is ``defective_disposal`` for units scrapped or returned to the supplier and
    ``adjustment`` for repaired ones (they move back on hand); the reference says which it was."""
    return f"defective:{action.value}"


@dataclass(frozen=True)
class DefectiveLine:
    """Units of one SKU at one defective location."""

    location: str
    merchant_sku: str
    name: str
    quantity: int
    updated_at: datetime


@dataclass(frozen=True)
class DefectiveStock:
    """Every location/SKU holding defective units, with the totals."""

    lines: list[DefectiveLine]
    per_location: dict[str, int]
    per_sku: dict[str, int]
    total: int


async def list_defective(session: AsyncSession, *, location: str | None = None,
                         merchant_sku: str | None = None) -> DefectiveStock:
    """The defective units per location and SKU (those at 0 left out), ordered by location then
    SKU, with totals per location, per SKU and overall."""
    stmt = (select(DefectiveStockRow, SkuRow.name)
            .outerjoin(SkuRow, SkuRow.merchant_sku == DefectiveStockRow.merchant_sku)
            .where(DefectiveStockRow.quantity > 0)
            .order_by(DefectiveStockRow.location, DefectiveStockRow.merchant_sku))
    if location:
        stmt = stmt.where(DefectiveStockRow.location == location)
    if merchant_sku:
        stmt = stmt.where(DefectiveStockRow.merchant_sku == merchant_sku)
    lines = [DefectiveLine(row.location, row.merchant_sku, name or "", int(row.quantity), row.updated_at)
             for row, name in (await session.execute(stmt)).all()]
    per_location: dict[str, int] = {}
    per_sku: dict[str, int] = {}
    for line in lines:
        per_location[line.location] = per_location.get(line.location, 0) + line.quantity
        per_sku[line.merchant_sku] = per_sku.get(line.merchant_sku, 0) + line.quantity
    return DefectiveStock(lines, per_location, dict(sorted(per_sku.items())), sum(per_location.values()))


@dataclass
class Disposition:
    """What ``dispose`` did: the units taken from ``location``, what is left there, and (repaired)
    the warehouse they went on hand in and the shops to push."""

    location: str
    merchant_sku: str
    quantity: int
    action: DefectiveAction
    warehouse: str | None = None
    remaining: int = 0
    shops: set[str] = field(default_factory=set)
    #: True when the idempotency key was used before: nothing was done now; the figures are the first call's.
    repeated: bool = False

    def record(self) -> dict[str, Any]:
        return {"location": self.location, "merchant_sku": self.merchant_sku, "quantity": self.quantity,
                "action": self.action.value, "warehouse": self.warehouse, "remaining": self.remaining,
                "shops": sorted(self.shops)}

    @classmethod
    def recalled(cls, record: Mapping[str, Any]) -> Disposition:
        return cls(location=str(record.get("location", "")), merchant_sku=str(record.get("merchant_sku", "")),
                   quantity=int(record.get("quantity", 0)),
                   action=DefectiveAction(record.get("action", DefectiveAction.SCRAP.value)),
                   warehouse=record.get("warehouse"), remaining=int(record.get("remaining", 0)),
                   shops=set(record.get("shops", ())), repeated=True)


def parse_action(value: object) -> DefectiveAction:
    """The action named by ``value``; ``BadInputError`` naming ``action`` and the choices otherwise."""
    try:
        return DefectiveAction(str(value))
    except ValueError:
        raise BadInputError(f"unknown action {value!r}; choose one of "
                            f"{', '.join(a.value for a in DefectiveAction)}", field="action") from None


def _check(location: str, sku: str, quantity: int, action: DefectiveAction, warehouse: str | None,
           note: str | None, warehouses: set[str]) -> None:
    """Refuse a disposition that cannot be right whatever the stock (each error names its field)."""
    if not location.strip():
        raise BadInputError("location is required", field="location")
    if not sku.strip():
        raise BadInputError("merchant_sku is required", field="merchant_sku")
    check_quantity(quantity, "quantity", allow_zero=False)
    if note is not None and len(note) > NOTE_MAX:
        raise BadInputError(f"note: at most {NOTE_MAX} characters", field="note")
    if action is DefectiveAction.REPAIRED:
        if not warehouse:
            raise BadInputError(f"repaired units go on hand in a warehouse: name one of {sorted(warehouses)}",
                                field="warehouse")
    elif warehouse:
        raise BadInputError(f"{action.value} takes the units out of stock: leave out the warehouse "
                            f"(only repaired units go to one)", field="warehouse")


async def _take_out(session: AsyncSession, location: str, sku: str, quantity: int, *, reference: str,
                    actor: str | None, note: str | None, cause: StockChangeCause) -> int:
    """Take ``quantity`` units of ``sku`` out of ``location`` with their ledger row; never below 0.
    Returns what is left there."""
    now = datetime.now(UTC)
    where = (DefectiveStockRow.location == location, DefectiveStockRow.merchant_sku == sku)
    # Conditional on there being enough: two people disposing at once cannot both take the last units.
    left = (await session.execute(
        update(DefectiveStockRow).where(*where, DefectiveStockRow.quantity >= quantity)
        .values(quantity=DefectiveStockRow.quantity - quantity, updated_at=now)
        .returning(DefectiveStockRow.quantity).execution_options(synchronize_session=False))).scalar_one_or_none()
    if left is None:
        held = await session.scalar(select(DefectiveStockRow.quantity).where(*where)) or 0
        raise BadInputError(f"{location!r} holds {held} defective unit(s) of {sku!r}, fewer than the {quantity} "
                            f"asked for; dispose of at most {held}", field="quantity")
    session.add(StockLedgerRow(at=now, warehouse=location, merchant_sku=sku, on_hand_delta=-quantity,
                               reserved_delta=0, cause=cause.value, reference=reference,
                               actor=actor, note=note))
    return int(left)


async def dispose(hub: Any, location: str, sku: str, quantity: int, *, action: DefectiveAction | str,
                  note: str | None, actor: str | None, idempotency_key: str | None,
                  warehouse: str | None = None) -> Disposition:
    """Take ``quantity`` defective units of ``sku`` out of ``location`` for ``action``; repaired
    units go on hand in ``warehouse`` (required then, refused otherwise), with their ledger row,
    the listings marked dirty and, after commit, the pushes scheduled, ``stock_changed`` told and
    orders short of the SKU tried again.

    All in one transaction: fewer units than asked for is a ``BadInputError`` naming ``quantity``
    and nothing changes. With ``idempotency_key`` the key is claimed in the same transaction: a
    second call with it does nothing and returns the first call's figures marked ``repeated``; a
    refused call leaves the key free."""
    chosen = parse_action(action)
    location, sku = location.strip(), sku.strip()
    note = (note.strip() or None) if note else None
    warehouse = (warehouse.strip() or None) if warehouse else None
    warehouses = known_warehouses(hub.config)
    _check(location, sku, quantity, chosen, warehouse, note, warehouses)
    reference = reference_of(chosen)
    done = Disposition(location=location, merchant_sku=sku, quantity=quantity, action=chosen, warehouse=warehouse)
    async with hub.database().transaction() as session:
        if idempotency_key is not None and not await idempotency.claim(session, idempotency_key):
            return Disposition.recalled(await idempotency.recall(session, idempotency_key) or {})
        back_on_hand = Adjustment(warehouse, sku, delta=quantity, note=note) if warehouse else None
        if back_on_hand is not None:
            await validate_adjustments(session, [back_on_hand], warehouses, [f"repaired {sku!r}"])
        # Repaired units move (the on-hand side is an adjustment); scrapped or returned ones leave.
        cause = StockChangeCause.ADJUSTMENT if back_on_hand is not None else StockChangeCause.DEFECTIVE_DISPOSAL
        done.remaining = await _take_out(session, location, sku, quantity, reference=reference, actor=actor,
                                         note=note, cause=cause)
        if back_on_hand is not None:
            await apply_adjustment(session, back_on_hand, reference=reference, actor=actor,
                                   label=f"repaired {sku!r}")
            done.shops = await scheduling.mark_dirty(session, {sku})
        if idempotency_key is not None:
            await idempotency.remember(session, idempotency_key, done.record())
    if back_on_hand is not None:
        await scheduling.schedule_push(hub, done.shops)
        await effects.notify_stock_changed(hub, {sku})
        await effects.retry_short_orders(hub, {sku})
    return done
