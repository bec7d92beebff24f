"""The demo's sandboxes number their orders so that an order id names one order: no two demo shops
share an id in one run (the Taobao and Tmall sandboxes once did, which hid one shop's orders behind
the other's), and a restarted demo issues ids above every id of the run before."""

from __future__ import annotations

import time

from hub.demo import DEMO_PLATFORMS, new_sandboxes
from hub.plugins import build_plugin_manager
from hub.sandbox_ids import sandbox_ids


def _orders(boxes: dict[str, object], count: int) -> dict[str, list[str]]:
    return {platform: [box.create_order(f"demo-{platform}", "DEMO-MUG", 1)  # type: ignore[attr-defined]
                       for _ in range(count)]
            for platform, box in boxes.items()}


def test_no_two_demo_shops_are_given_the_same_order_id() -> None:
    boxes = new_sandboxes(build_plugin_manager())
    assert set(boxes) == set(DEMO_PLATFORMS)

    owner: dict[str, str] = {}
    for platform, ids in _orders(boxes, 5).items():
        for order_id in ids:
            assert owner.setdefault(order_id, platform) == platform, (
                f"order id {order_id} issued by both the {owner[order_id]} and the {platform} sandbox")
    assert len(owner) == 5 * len(boxes)


def test_a_restarted_demo_numbers_orders_above_the_earlier_run() -> None:
    plugins = build_plugin_manager()
    started = time.time()
    earlier = _orders(new_sandboxes(plugins, started_at=started), 30)  # a busy minute, then a restart
    later = _orders(new_sandboxes(plugins, started_at=started + 60), 3)

    for platform in DEMO_PLATFORMS:
        assert min(map(int, later[platform])) > max(map(int, earlier[platform])), platform


def test_sandboxes_built_outside_the_demo_keep_their_documented_first_ids() -> None:
    new_sandboxes(build_plugin_manager())
    assert next(sandbox_ids(1)) == 1
