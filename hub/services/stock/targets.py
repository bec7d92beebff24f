"""Targets: what every shop listing a SKU should show now, from the stock at this moment.

One allocation per SKU over its enabled shops (``allocation``), with each shop's effective
policy and the SKU's mode (its stock group, else the default). Read-only. Not for sending the
values (``push``) nor, in partitioned groups, for how far a shop may move now (``exposure``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import AllocationMode, AllocationRequest
from hub.db.tables import ListingRow
from hub.services.stock import allocation
from hub.services.stock.levels import stock_of

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.context import Hub


def allocation_mode(config: HubConfig, merchant_sku: str, stock_group: str | None) -> AllocationMode:
    """The SKU's mode: a stock group listing it, else its catalogue group, else the default."""
    for group in config.stock_groups.values():
        if merchant_sku in group.skus:
            return group.mode
    if stock_group and stock_group in config.stock_groups:
        return config.stock_groups[stock_group].mode
    return config.rules.default_allocation_mode


@dataclass(frozen=True)
class SkuTargets:
    merchant_sku: str
    available: int
    mode: AllocationMode
    targets: dict[str, int]  # shop → quantity
    low: bool = False


async def compute_targets(hub: Hub, session: AsyncSession, skus: Iterable[str]) -> dict[str, SkuTargets]:
    """What every shop listing each SKU should show now (one allocation per SKU over its shops)."""
    wanted = set(skus)
    stock = await stock_of(session, wanted, default_low_threshold=hub.config.rules.low_stock_threshold)
    listed: dict[str, dict[str, dict[str, Any]]] = {}
    for shop, sku, policy in await session.execute(
        select(ListingRow.shop, ListingRow.merchant_sku, ListingRow.policy).where(ListingRow.merchant_sku.in_(wanted))
    ):
        listed.setdefault(sku, {}).setdefault(shop, policy or {})

    def hook(request: AllocationRequest) -> Any:
        return hub.plugins.hook.allocate_stock(request=request)

    out: dict[str, SkuTargets] = {}
    for sku in wanted:
        level = stock.get(sku)
        available = level.available if level else 0
        shares = []
        for shop, listing_policy in sorted(listed.get(sku, {}).items()):
            cfg = hub.config.shops.get(shop)
            if cfg is None or not cfg.enabled:
                continue
            policy = allocation.effective_policy(
                cfg.stock, sku, product_code=level.product_code if level else None, products=cfg.stock.products,
                skus=cfg.stock.skus, listing_policy=listing_policy)
            shares.append(allocation.ShopShare(shop, cfg.platform, policy))
        mode = allocation_mode(hub.config, sku, level.stock_group if level else None)
        targets = allocation.allocate(sku, available, shares, mode, hook)
        out[sku] = SkuTargets(sku, available, mode, targets, level.low if level else False)
    return out
