"""Allocation: how many units of a SKU each shop shows, given what is available (DESIGN §6).

Pure arithmetic, no I/O: the effective policy of a shop for a SKU (SKU beats product beats shop,
and a listing's own policy beats them all), the ``allocate_stock`` hook, the two modes (shared and
partitioned), and the push order that keeps a partitioned group safe while values move between
shops. Rounding is always down. Not for reading stock or pushing it (``hub.services.stock_sync``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.inventory import AllocationMode, AllocationRequest, StockPolicy, apply_policy

#: ``allocate_stock`` as the hub calls it: one request in, an int or None out.
AllocationHook = Callable[[AllocationRequest], Any]


@dataclass(frozen=True)
class ShopShare:
    """One shop's claim on a SKU: who it is and the policy it applies."""

    shop: str
    platform: str
    policy: StockPolicy


def effective_policy(
    shop_policy: StockPolicy,
    merchant_sku: str,
    *,
    product_code: str | None = None,
    products: Mapping[str, StockPolicy] | None = None,
    skus: Mapping[str, StockPolicy] | None = None,
    listing_policy: Mapping[str, Any] | None = None,
) -> StockPolicy:
    """The policy one shop applies to one SKU: listing > SKU > product > shop, field by field."""
    base = StockPolicy(**{k: v for k, v in shop_policy.model_dump().items() if k in StockPolicy.model_fields})
    if product_code is not None and products and product_code in products:
        base = products[product_code].merged_over(base)
    if skus and merchant_sku in skus:
        base = skus[merchant_sku].merged_over(base)
    if listing_policy:
        base = StockPolicy.model_validate(listing_policy).merged_over(base)
    return base


def _hook_value(result: Any, request: AllocationRequest) -> int:
    if result is None:
        return request.proposed
    if isinstance(result, bool) or not isinstance(result, int) or result < 0:
        raise ValueError(
            f"allocate_stock returned {result!r} for shop {request.shop!r}, SKU {request.merchant_sku!r}; "
            "a plugin must return an int >= 0 or None"
        )
    return result


def scale_down(proposals: Mapping[str, int], available: int) -> dict[str, int]:
    """Proportional shares that add up to at most ``available`` (each rounded down)."""
    total = sum(proposals.values())
    available = max(0, available)
    if total <= available:
        return dict(proposals)
    return {shop: qty * available // total for shop, qty in proposals.items()}


def allocate(
    merchant_sku: str,
    available: int,
    shares: Sequence[ShopShare],
    mode: AllocationMode,
    hook: AllocationHook | None = None,
) -> dict[str, int]:
    """The quantity each shop should show.

    ``shared``: each shop applies its policy to the whole available (a fixed virtual value may
    exceed it: the merchant asked for that). ``partitioned``: the same proposals, then scaled down
    proportionally whenever they add up to more than ``available`` — whatever the hook returned —
    so no interleaving of sales across shops can sell more than there is.
    """
    available = max(0, available)
    proposals: dict[str, int] = {}
    for share in shares:
        proposed = apply_policy(available, share.policy)
        if hook is not None:
            request = AllocationRequest(
                shop=share.shop, platform=share.platform, merchant_sku=merchant_sku, available=available,
                mode=mode, policy=share.policy, proposed=proposed,
            )
            proposed = _hook_value(hook(request), request)
        proposals[share.shop] = proposed
    if mode is AllocationMode.PARTITIONED:
        return scale_down(proposals, available)
    return proposals


def pushable(target: int, shown: int | None, available: int, others_committed: int) -> int:
    """The value one shop of a partitioned group may be pushed now.

    A decrease is always safe and goes at once. An increase is limited to what the other shops do
    not already show (``others_committed`` = what they show, or will show once pending pushes land),
    so a shop is topped up only after the others were pushed their lower values: at no moment may
    the shops together show more than is available.
    """
    if shown is not None and target <= shown:
        return target
    return min(target, max(0, available - others_committed))
