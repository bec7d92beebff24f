"""Allocation maths: which policy level wins, what the hook may change, and why a partitioned
group can never show more than is available, whatever the policies, the hook, or the order in
which shops are pushed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.inventory import AllocationMode, AllocationRequest, StockPolicy
from hub.services.stock.allocation import MoveKind, ShopShare, allocate, effective_policy, plan_partitioned, scale_down

policies = st.builds(
    StockPolicy,
    off=st.one_of(st.none(), st.booleans()),
    fixed=st.one_of(st.none(), st.integers(0, 500)),
    share_percent=st.one_of(st.none(), st.integers(0, 100)),
    cap=st.one_of(st.none(), st.integers(0, 500)),
    floor_qty=st.one_of(st.none(), st.integers(0, 500)),
    safety_stock=st.one_of(st.none(), st.integers(0, 50)),
)


def test_listing_beats_sku_beats_product_beats_shop() -> None:
    shop = StockPolicy(share_percent=50, cap=100, safety_stock=2)
    policy = effective_policy(shop, "SKU-1", product_code="P-1", products={"P-1": StockPolicy(share_percent=80)},
                              skus={"SKU-1": StockPolicy(cap=10)}, listing_policy={"fixed": 3})
    assert (policy.share_percent, policy.cap, policy.safety_stock, policy.fixed) == (80, 10, 2, 3)
    other = effective_policy(shop, "SKU-2", product_code="P-9", products={"P-1": StockPolicy(share_percent=80)})
    assert (other.share_percent, other.cap) == (50, 100)


def test_shared_mode_shows_each_shop_its_policy_of_the_whole_available() -> None:
    shares = [ShopShare("a", "taobao", StockPolicy()), ShopShare("b", "douyin", StockPolicy(share_percent=30)),
              ShopShare("c", "tmall", StockPolicy(off=True)), ShopShare("d", "aliexpress", StockPolicy(fixed=999))]
    assert allocate("S", 99, shares, AllocationMode.SHARED) == {"a": 99, "b": 29, "c": 0, "d": 999}


def test_partitioned_mode_scales_proposals_down_rounding_down() -> None:
    shares = [ShopShare(s, "taobao", StockPolicy()) for s in ("a", "b", "c")]
    assert allocate("S", 10, shares, AllocationMode.PARTITIONED) == {"a": 3, "b": 3, "c": 3}
    halves = [ShopShare("a", "taobao", StockPolicy(share_percent=60)),
              ShopShare("b", "tmall", StockPolicy(share_percent=40))]
    assert allocate("S", 10, halves, AllocationMode.PARTITIONED) == {"a": 6, "b": 4}


def test_hook_overrides_a_share_but_cannot_oversell_a_partitioned_group() -> None:
    seen: list[AllocationRequest] = []

    def greedy(request: AllocationRequest) -> int | None:
        seen.append(request)
        return 1_000 if request.shop == "a" else None

    shares = [ShopShare("a", "taobao", StockPolicy()), ShopShare("b", "taobao", StockPolicy(share_percent=50))]
    assert allocate("S", 100, shares, AllocationMode.SHARED, greedy) == {"a": 1_000, "b": 50}
    partitioned = allocate("S", 100, shares, AllocationMode.PARTITIONED, greedy)
    assert sum(partitioned.values()) <= 100 and partitioned["a"] > partitioned["b"]
    assert seen[0].proposed == 100 and seen[1].proposed == 50 and seen[0].available == 100


@pytest.mark.parametrize("bad", [-1, 2.5, "7", True])
def test_hook_returning_nonsense_fails_loudly_naming_shop_and_sku(bad: object) -> None:
    shares = [ShopShare("a", "taobao", StockPolicy())]
    with pytest.raises(ValueError, match="shop 'a', SKU 'S'"):
        allocate("S", 10, shares, AllocationMode.SHARED, lambda _r: bad)


@given(st.integers(-5, 10_000), st.lists(policies, min_size=1, max_size=6),
       st.lists(st.one_of(st.none(), st.integers(0, 20_000)), min_size=6, max_size=6))
def test_partitioned_shares_never_add_up_to_more_than_available(available: int, pols: list[StockPolicy],
                                                                hook_values: list[int | None]) -> None:
    shares = [ShopShare(f"s{i}", "taobao", p) for i, p in enumerate(pols)]
    by_shop = {f"s{i}": v for i, v in enumerate(hook_values)}
    result = allocate("S", available, shares, AllocationMode.PARTITIONED, lambda r: by_shop[r.shop])
    assert sum(result.values()) <= max(0, available)
    assert all(v >= 0 for v in result.values())


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 1_000), max_size=8), st.integers(0, 2_000))
def test_scale_down_keeps_proposals_that_fit_and_shrinks_those_that_do_not(proposals: dict[str, int],
                                                                           available: int) -> None:
    result = scale_down(proposals, available)
    if sum(proposals.values()) <= available:
        assert result == proposals
    else:
        assert sum(result.values()) <= available and all(result[s] <= proposals[s] for s in proposals)


@given(target=st.integers(0, 100), exposure=st.none() | st.integers(0, 100), free=st.integers(-50, 100),
       adjustable=st.booleans(), shows_at_most=st.none() | st.integers(0, 100))
def test_a_partitioned_move_never_grants_more_than_is_free(
    target: int, exposure: int | None, free: int, adjustable: bool, shows_at_most: int | None
) -> None:
    """Whatever the state, a move takes at most the free units; an absolute value is granted in
    full (it may overwrite stock the shop still shows); a decrement grants nothing and is never
    larger than the excess, nor than what the shop can show; only adjustable shops get changes."""
    move = plan_partitioned(target, exposure, free, adjustable=adjustable, shows_at_most=shows_at_most)
    assert 0 <= move.grant <= max(0, free)
    if move.kind is MoveKind.SET:
        assert move.grant == move.amount and move.amount <= target
    if move.kind is MoveKind.RAISE:
        assert adjustable and move.grant == move.amount > 0 and exposure is not None
        assert exposure + move.amount <= target
    if move.kind is MoveKind.LOWER:
        assert adjustable and move.grant == 0 and exposure is not None and 0 < move.amount <= exposure - target
        assert shows_at_most is None or move.amount <= shows_at_most


@given(st.data())
def test_adjustable_shops_reach_their_targets_and_never_exceed_available(data: st.DataObject) -> None:
    """Shops with exact bookkeeping (every sale seen, every change confirmed) and moves in any
    order: at every step the exposures add up to no more than available, and pushing every shop
    twice reaches the targets."""
    n = data.draw(st.integers(2, 4))
    available = data.draw(st.integers(0, 200))
    exposure = scale_down({i: data.draw(st.integers(0, 200)) for i in range(n)}, available)
    targets = scale_down({i: data.draw(st.integers(0, 200)) for i in range(n)}, available)

    def step(shop: int) -> None:
        free = available - sum(exposure.values())
        move = plan_partitioned(targets[shop], exposure[shop], free, adjustable=True, shows_at_most=exposure[shop])
        exposure[shop] += move.amount if move.kind is MoveKind.RAISE else -move.amount if \
            move.kind is MoveKind.LOWER else 0
        assert sum(exposure.values()) <= available

    for _ in range(3 * n):
        step(data.draw(st.integers(0, n - 1)))
    for _ in range(2):
        for shop in range(n):
            step(shop)
    assert exposure == targets
