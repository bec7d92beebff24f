"""Allocation arithmetic of one shop's policy: table tests and properties (rounding down)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import StockPolicy, apply_policy


@pytest.mark.parametrize(
    ("available", "policy", "expected"),
    [
        (100, StockPolicy(), 100),
        (100, StockPolicy(off=True), 0),
        (100, StockPolicy(fixed=999), 999),
        (99, StockPolicy(share_percent=50), 49),  # rounds down
        (100, StockPolicy(share_percent=50, cap=30), 30),
        (10, StockPolicy(share_percent=10, floor_qty=5), 5),
        (3, StockPolicy(share_percent=10, floor_qty=5), 3),  # a floor never exceeds available
        (100, StockPolicy(safety_stock=10), 90),
        (5, StockPolicy(safety_stock=10), 0),
        (0, StockPolicy(share_percent=100), 0),
    ],
)
def test_apply_policy_table(available: int, policy: StockPolicy, expected: int) -> None:
    assert apply_policy(available, policy) == expected


def test_sku_policy_beats_product_beats_shop() -> None:
    shop = StockPolicy(share_percent=50, cap=100)
    product = StockPolicy(share_percent=80)
    sku = StockPolicy(cap=10)
    effective = sku.merged_over(product.merged_over(shop))
    assert effective.share_percent == 80 and effective.cap == 10


@given(st.integers(0, 10_000), st.integers(0, 100), st.one_of(st.none(), st.integers(0, 500)),
       st.one_of(st.none(), st.integers(0, 500)), st.integers(0, 50))
def test_non_fixed_policy_never_shows_more_than_available(available: int, share: int, cap: int | None,
                                                        floor: int | None, safety: int) -> None:
    qty = apply_policy(available, StockPolicy(share_percent=share, cap=cap, floor_qty=floor, safety_stock=safety))
    assert 0 <= qty <= max(0, available - safety)
