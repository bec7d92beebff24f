"""How much stock there is: on hand and reserved per warehouse, and what is available to sell.

available(sku) = Σ on hand − Σ reserved − the SKU's safety stock, never below 0; a bundle's is
the minimum over its components of available // quantity (docs/architecture.md §6). Read-only,
inside the caller's session. Not for changing stock (``adjustments``, ``reservations``) nor for
what a shop should show (``targets``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import SkuRow, StockRow
from hub.services.stock.skus import components_of


def known_warehouses(config: Any) -> set[str]:
    """The configured warehouses; with none configured, the embedded default's single ``default``."""
    return set(config.warehouses) or {"default"}


@dataclass(frozen=True)
class SkuStock:
    """One SKU's stock across warehouses, as the API and allocation see it."""

    merchant_sku: str
    on_hand: dict[str, int]
    reserved: dict[str, int]
    safety_stock: int
    available: int
    low_stock_threshold: int | None
    is_bundle: bool = False
    product_code: str | None = None
    stock_group: str | None = None

    @property
    def low(self) -> bool:
        return self.low_stock_threshold is not None and self.available <= self.low_stock_threshold


async def stock_of(
    session: AsyncSession, skus: Iterable[str], *, default_low_threshold: int | None = None
) -> dict[str, SkuStock]:
    """Stock of each known SKU among ``skus``: available = Σ on hand − Σ reserved − safety stock
    (never below 0); a bundle's is the minimum over components of available // quantity."""
    wanted = set(skus)
    catalogue = {r.merchant_sku: r for r in (await session.execute(
        select(SkuRow).where(SkuRow.merchant_sku.in_(wanted))
    )).scalars()}
    components = await components_of(session, [s for s, r in catalogue.items() if r.is_bundle])
    needed = wanted | {c for comps in components.values() for c in comps}
    extra = needed - set(catalogue)
    if extra:
        for component in (await session.execute(select(SkuRow).where(SkuRow.merchant_sku.in_(extra)))).scalars():
            catalogue[component.merchant_sku] = component
    per_wh: dict[str, tuple[dict[str, int], dict[str, int]]] = {s: ({}, {}) for s in needed}
    for sku, wh, on_hand, reserved in await session.execute(
        select(StockRow.merchant_sku, StockRow.warehouse, StockRow.on_hand, StockRow.reserved)
        .where(StockRow.merchant_sku.in_(needed))
    ):
        per_wh[sku][0][wh] = on_hand
        per_wh[sku][1][wh] = reserved

    def plain_available(sku: str) -> int:
        entry = catalogue.get(sku)
        on, res = per_wh.get(sku, ({}, {}))
        return max(0, sum(on.values()) - sum(res.values()) - (entry.safety_stock if entry else 0))

    out: dict[str, SkuStock] = {}
    for sku in wanted:
        row = catalogue.get(sku)
        if row is None:
            continue
        if row.is_bundle:
            comps = components.get(sku, {})
            raw = min((plain_available(c) // q for c, q in comps.items()), default=0)
            available = max(0, raw - row.safety_stock)
        else:
            available = plain_available(sku)
        threshold = row.low_stock_threshold if row.low_stock_threshold is not None else default_low_threshold
        on, res = per_wh.get(sku, ({}, {}))
        out[sku] = SkuStock(sku, dict(on), dict(res), row.safety_stock, available, threshold, row.is_bundle,
                            row.product_code, row.stock_group)
    return out
