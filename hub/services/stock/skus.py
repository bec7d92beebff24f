"""The catalogue as stock sees it: SKUs, bundles and their components, and whole-number quantities.

The lowest layer of ``hub.services.stock``: what a SKU is made of and whether it exists, read
and written inside the caller's transaction. The merchant-facing catalogue (edits, CSV, who
changed what) is ``hub.services.catalogue``; not for stock counts (``levels``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import MAX_QUANTITY, BundleComponentRow, SkuRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _now() -> datetime:
    return datetime.now(UTC)


def check_quantity(value: Any, field_name: str, *, allow_negative: bool = False, allow_zero: bool = True) -> int:
    """An int quantity or ``BadInputError`` naming the field (bools, floats and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInputError(f"{field_name} must be a whole number, got {value!r}", field=field_name)
    if value < 0 and not allow_negative:
        raise BadInputError(f"{field_name} must not be negative, got {value}", field=field_name)
    if value == 0 and not allow_zero:
        raise BadInputError(f"{field_name} must not be zero", field=field_name)
    if abs(value) > MAX_QUANTITY:
        raise BadInputError(f"{field_name} must be at most {MAX_QUANTITY} in size, got {value}", field=field_name)
    return value


async def define_sku(
    session: AsyncSession,
    merchant_sku: str,
    *,
    name: str = "",
    product_code: str | None = None,
    stock_group: str | None = None,
    safety_stock: int = 0,
    low_stock_threshold: int | None = None,
    components: Mapping[str, int] | None = None,
) -> None:
    """Create or update a catalogue SKU; ``components`` (SKU → quantity) makes it a bundle."""
    if not merchant_sku.strip():
        raise BadInputError("merchant SKU must not be empty", field="merchant_sku")
    check_quantity(safety_stock, "safety_stock")
    if low_stock_threshold is not None:
        check_quantity(low_stock_threshold, "low_stock_threshold")
    values = {"name": name, "product_code": product_code, "stock_group": stock_group,
              "safety_stock": safety_stock, "low_stock_threshold": low_stock_threshold,
              "is_bundle": bool(components)}
    inserted = await session.execute(
        insert_ignore(SkuRow, _dialect(session)).values(merchant_sku=merchant_sku, created_at=_now(), **values)
        .returning(SkuRow.merchant_sku)
    )
    if inserted.scalar_one_or_none() is None:
        await session.execute(update(SkuRow).where(SkuRow.merchant_sku == merchant_sku).values(**values))
    if components:
        for component, qty in components.items():
            check_quantity(qty, f"components.{component}", allow_zero=False)
        known = set((await session.execute(
            select(SkuRow.merchant_sku).where(SkuRow.merchant_sku.in_(list(components)))
        )).scalars())
        unknown = sorted(set(components) - known)
        if unknown:
            raise BadInputError(f"bundle {merchant_sku!r}: unknown component SKU(s) {unknown}", field="components")
        for component, qty in components.items():
            added = await session.execute(
                insert_ignore(BundleComponentRow, _dialect(session))
                .values(bundle_sku=merchant_sku, component_sku=component, quantity=qty)
                .returning(BundleComponentRow.id)
            )
            if added.scalar_one_or_none() is None:
                await session.execute(update(BundleComponentRow).where(
                    BundleComponentRow.bundle_sku == merchant_sku, BundleComponentRow.component_sku == component
                ).values(quantity=qty))


async def require_skus(session: AsyncSession, skus: Iterable[str], field_name: str) -> None:
    wanted = set(skus)
    known = set((await session.execute(select(SkuRow.merchant_sku).where(SkuRow.merchant_sku.in_(wanted)))).scalars())
    missing = sorted(wanted - known)
    if missing:
        raise BadInputError(f"unknown SKU {missing[0]!r}; add it to the catalogue first", field=field_name)


async def bundles_containing(session: AsyncSession, skus: Iterable[str]) -> set[str]:
    """The bundle SKUs with any of ``skus`` as a component."""
    rows = await session.execute(
        select(BundleComponentRow.bundle_sku).where(BundleComponentRow.component_sku.in_(set(skus)))
    )
    return set(rows.scalars())


async def components_of(session: AsyncSession, skus: Iterable[str]) -> dict[str, dict[str, int]]:
    """Bundle SKU → {component SKU: quantity per bundle}, for the bundles among ``skus``."""
    rows = await session.execute(
        select(BundleComponentRow.bundle_sku, BundleComponentRow.component_sku, BundleComponentRow.quantity)
        .where(BundleComponentRow.bundle_sku.in_(set(skus)))
    )
    out: dict[str, dict[str, int]] = {}
    for bundle, component, qty in rows:
        out.setdefault(bundle, {})[component] = qty
    return out
