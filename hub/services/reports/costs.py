"""Cost price per SKU, for gross profit: set one, or import many from CSV (``merchant_sku,cost_price``;
all or nothing, in one transaction); either drops the rollups' state, as their
cost figures are stale (``refresh.invalidate``). Not for the rest of the catalogue (``hub.services.catalogue``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import SkuRow, utcnow
from hub.errors import BadInputError, NotFoundError
from hub.services.reports import refresh

MAX_COST = Decimal("1e13")
COLUMNS = ("merchant_sku", "cost_price")


@dataclass(frozen=True)
class CostImport:
    updated: int


def parse_cost(value: object, field: str = "cost_price") -> Decimal | None:
    """A cost price (≥ 0, at most 4 decimals), or None for "" / None (no cost known)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadInputError(f"{field} is not a number: {str(value)[:40]!r}", field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_COST or amount.as_tuple().exponent < -4:  # type: ignore[operator]
        raise BadInputError(f"{field} must be a number ≥ 0 with at most 4 decimals", field=field)
    return amount


async def set_cost(session: AsyncSession, sku: str, amount: Decimal | None, *, actor: str) -> None:
    """Set (or with None clear) ``sku``'s cost price; ``NotFoundError`` for an unknown SKU."""
    result = await session.execute(update(SkuRow).where(SkuRow.merchant_sku == sku)
                                   .values(cost_price=amount, updated_at=utcnow(), updated_by=actor[:100]))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"SKU {sku!r} does not exist")
    await refresh.invalidate(session)


def parse_costs_csv(text: str) -> dict[str, Decimal | None]:
    """SKU → cost from a CSV with a header naming ``merchant_sku`` and ``cost_price``; the first
    bad row is a ``BadInputError`` naming its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BadInputError(f"the CSV needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}",
                            field="file")
    costs: dict[str, Decimal | None] = {}
    for line, row in enumerate(reader, start=2):
        sku = (row.get("merchant_sku") or "").strip()
        if not sku:
            raise BadInputError(f"line {line}: merchant_sku is empty", field="merchant_sku")
        try:
            costs[sku] = parse_cost(row.get("cost_price"))
        except BadInputError as exc:
            raise BadInputError(f"line {line}: {exc}", field="cost_price") from None
    return costs


async def import_costs(session: AsyncSession, costs: dict[str, Decimal | None], *, actor: str) -> CostImport:
    """Set every SKU's cost at once; an unknown SKU refuses the whole file (``NotFoundError`` naming it)."""
    if not costs:
        return CostImport(updated=0)
    known = set((await session.execute(
        select(SkuRow.merchant_sku).where(SkuRow.merchant_sku.in_(sorted(costs))))).scalars())
    unknown = sorted(set(costs) - known)
    if unknown:
        raise NotFoundError(f"SKU {unknown[0]!r} does not exist ({len(unknown)} unknown in the file)")
    now = utcnow()
    await session.execute(update(SkuRow), [
        {"merchant_sku": sku, "cost_price": amount, "updated_at": now, "updated_by": actor[:100]}
        for sku, amount in costs.items()])
    await refresh.invalidate(session)
    return CostImport(updated=len(costs))
