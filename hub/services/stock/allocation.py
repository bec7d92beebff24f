"""Allocation: how many units of a SKU each shop shows, given what is available (docs/architecture.md §6).

Pure arithmetic, no I/O: the effective policy of a shop for a SKU (SKU beats product beats shop,
and a listing's own policy beats them all), the ``allocate_stock`` hook, the two modes (shared and
partitioned), and the push order that keeps a partitioned group safe while values move between
shops. Rounding is always down. Not for reading stock (``targets``) or pushing it (``push``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
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


class MoveKind(StrEnum):
    NONE = "none"
    SET = "set"  # an absolute value
    RAISE = "raise"  # a change of +amount
    LOWER = "lower"  # a change of -amount


@dataclass(frozen=True)
class Move:
    """One shop's next push for one SKU of a partitioned group.

    ``amount``: the absolute value (``SET``) or the size of the change. ``grant``: the free units
    the move takes now — added to the shop's exposure *before* the call goes out. ``capped``: the
    shop wants more than can be granted until others are lowered (or units settle).
    """

    kind: MoveKind
    amount: int = 0
    grant: int = 0
    capped: bool = False


NO_MOVE = Move(MoveKind.NONE)


def plan_partitioned(target: int, exposure: int | None, free: int, *, adjustable: bool,
                     shows_at_most: int | None) -> Move:
    """The move that brings one shop towards ``target`` without the group ever being able to sell
    more than it has.

    :param target: what the allocation wants the shop to be able to sell.
    :param exposure: the shop's exposure (see ``exposure``): what it can still sell
        that the hub has not taken in, at most; None before its first push.
    :param free: available − Σ exposure over every shop of the SKU, this one included (negative
        when stock was taken away under the shops' feet: the group is over-committed).
    :param adjustable: the platform takes relative changes (``Capability.ADJUST_STOCK``).
    :param shows_at_most: an upper bound on what the shop shows now, or None.

    A raise takes only free units. An absolute value X may overwrite stock the shop still shows,
    so it is granted as X; a shop that takes only absolute values is therefore topped up only once
    it is down to half its target (or has none), and lowered only when far above it (by half) and
    there is room for the lower value, or to 0 when its target is 0 or the group is
    over-committed. A decrement frees units only once the platform confirmed it, so it grants
    nothing; it is never larger than what the shop can show (a larger one would be cut short at 0).
    """
    room_total = max(0, free)
    if exposure is None:
        value = min(target, room_total)
        return Move(MoveKind.SET, value, grant=value, capped=value < target)
    if exposure > target:
        if shows_at_most is not None and shows_at_most <= target:
            return NO_MOVE  # what it holds beyond the target are sales on their way to the hub
        if adjustable:
            cut = exposure - target if shows_at_most is None else min(exposure - target, shows_at_most)
            return Move(MoveKind.LOWER, cut)
        if target == 0 or free < 0:
            return Move(MoveKind.SET, 0)
        if exposure > target + target // 2 and room_total >= target:
            return Move(MoveKind.SET, target, grant=target)
        return NO_MOVE
    if exposure < target:
        want = target - exposure
        room = min(want, room_total)
        if adjustable:
            kind = MoveKind.RAISE
        elif exposure <= target // 2:
            kind = MoveKind.SET
        else:
            return NO_MOVE
        if room == 0:
            return Move(MoveKind.NONE, capped=True)
        return Move(kind, room, grant=room, capped=room < want)
    return NO_MOVE
