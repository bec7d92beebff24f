"""The fulfilment issue's "Done when", in ``hub run --demo``: orders flow with no person — paid →
reviewed → routed → a delivery order at the 3PL's WMS (the Qimen sandbox) or the own warehouse →
waybill → shipped → confirmed to the channel → tracked (the Kuaidi100 sandbox's signed callbacks)
→ delivered — and a few are held by the review for a named reason. Everything is asserted over the
hub's API while the demo runs; the demo's pace is quickened (``HUB_DEMO_PACE_S``), and each wait
ends as soon as what it waits for is there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.asgi_server import free_port
from hub.demo_fulfilment import DEMO_3PL, DEMO_OWN, DEMO_PACKER, PACE_VAR
from tests.e2e.test_demo_restart import Demo

DEADLINE_S = 150.0  # generous for a shared machine; typically done in well under a minute
WAIT_EVERY_S = 1.0  # each look reads several orders, parcels and their tracking: not too often
REVIEW_CODES = {"high_value", "review_remark"}


class Api:
    def __init__(self, demo: Demo, key: str) -> None:
        self.demo = demo
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.demo.base}/api/v1/{path}", params=params, headers=self.headers, timeout=10)
        answer.raise_for_status()
        return answer.json()


def _delivered_from(api: Api, warehouse: str) -> dict[str, Any] | None:
    """The first order shipped from ``warehouse`` that is delivered with its shipments confirmed to
    the channel: its detail, delivery order, parcels and their tracking."""
    shipped = api.get("delivery-orders", warehouse=warehouse, status="shipped", limit="20")["items"]
    for delivery in reversed(shipped):  # oldest first: the likeliest to be delivered
        order = api.get(f"orders/{delivery['order_id']}")
        if order["status"] != "delivered" or not order["shipments"]:
            continue
        if any(shipment["status"] != "confirmed" for shipment in order["shipments"]):
            continue
        parcels = api.get("parcels", order_id=str(order["id"]))["items"]
        tracking = [api.get(f"parcels/{parcel['id']}/tracking") for parcel in parcels]
        return {"order": order, "delivery": delivery, "parcels": parcels, "tracking": tracking}
    return None


def _held_by_review(api: Api) -> dict[str, Any] | None:
    for code in sorted(REVIEW_CODES):
        items = api.get("fulfilment/review", code=code, limit="5")["items"]
        if items:
            return dict(items[0])
    return None


@pytest.mark.timeout(DEADLINE_S + 120)
def test_the_demo_fulfils_orders_from_both_warehouses_to_delivered_and_holds_a_few_by_name(tmp_path: Path) -> None:
    demo = Demo(tmp_path, free_port(), 1, env={PACE_VAR: "1"})
    try:
        api = Api(demo, demo.admin_key())
        deadline = time.monotonic() + DEADLINE_S
        own = demo.wait_for("order delivered from the own warehouse", lambda: _delivered_from(api, DEMO_OWN),
                            deadline=deadline, every_s=WAIT_EVERY_S)
        wms = demo.wait_for("order delivered from the 3PL", lambda: _delivered_from(api, DEMO_3PL),
                            deadline=deadline, every_s=WAIT_EVERY_S)
        held = demo.wait_for("order held by the review", lambda: _held_by_review(api),
                             deadline=deadline, every_s=WAIT_EVERY_S)
    finally:
        demo.stop()

    for found, kind in ((own, "own"), (wms, "wms")):
        order, delivery = found["order"], found["delivery"]
        assert delivery["kind"] == kind and order["fulfilment_status"] == "shipped"
        kinds = [event["kind"] for event in order["history"]]
        assert kinds.index("reviewed") < kinds.index("routed"), kinds
        assert order["holds"] == [] or all(h["released_at"] for h in order["holds"])
        assert found["parcels"] and all(p["status"] == "shipped" and p["waybill_number"] for p in found["parcels"])
        for timeline in found["tracking"]:  # the courier's scans, from collected to delivered
            states = [event["state"] for event in timeline["events"]]
            assert timeline["tracking_state"] == "delivered" and states[0] == "collected", timeline
            assert timeline["delivered_at"] is not None
        tracking_numbers = {p["waybill_number"] for p in found["parcels"]}
        shipped = {parcel["tracking_number"] for s in order["shipments"] for parcel in s["parcels"]}
        assert shipped == tracking_numbers, order["shipments"]

    # The own warehouse: the waybill came from the courier account the rules chose, and the demo's
    # packer picked, packed and shipped it through the hub's services.
    own_order = own["order"]
    assert all(p["courier_account"] for p in own["parcels"])
    packer_steps = [e["kind"] for e in own_order["history"] if e["actor"] == DEMO_PACKER]
    assert [k for k in packer_steps if k.startswith("warehouse_")] == [
        "warehouse_picking", "warehouse_packed", "warehouse_shipped"], own_order["history"]
    assert "shipment_recorded" in packer_steps
    # The 3PL: its signed deliveryorder.confirm recorded the shipment, attributed to the WMS.
    assert wms["delivery"]["warehouse_order_id"]
    assert {s["created_by"] for s in wms["order"]["shipments"]} == {f"wms:{DEMO_3PL}"}, wms["order"]["shipments"]

    assert held["review_status"] == "held"
    assert {hold["code"] for hold in held["holds"]} & REVIEW_CODES
    assert all(hold["reason"] for hold in held["holds"])
