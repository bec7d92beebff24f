"""What ``hub run --demo`` shows a newcomer, with no person: one demo started once for the module
(each start costs most of a CI minute's share), asserted over the hub's API and its database while
it runs at a quickened pace (``HUB_DEMO_PACE_S``); each wait ends as soon as what it waits for is there.

- Fulfilment: paid → reviewed → routed → a delivery order at the 3PL's WMS (the Qimen sandbox) or the
  own warehouse → waybill → shipped → confirmed to the channel → tracked (the Kuaidi100 sandbox's
  signed callbacks) → delivered; a few held by the review for a named reason.
- After-sales: the buyers open refunds, returns and exchanges on several demo shops, the rule
  approves a small refund by itself, and a case waiting for a person is decided through the API.
- Service orders: the Tmall sandbox's installation work cards reach the hub for Tmall orders, each
  goes to a seeded installer of the card's region, the demo's technicians complete some, and the one
  back-dated card (and only it) is overdue.
- Operations: held orders tagged VIP and first in the queue, a gift note written back to Taobao, a
  price change waiting for approval that an admin approves, and notifications delivered.

The tests share the demo, so they run on one xdist worker (``pytestmark``) and none of them stops it.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from hub.asgi_server import free_port
from hub.db.tables import ServiceOrderRow, TechnicianRow
from hub.demo_fulfilment import DEMO_3PL, DEMO_OWN, DEMO_PACKER, PACE_VAR
from hub.demo_service_orders import DEMO_TECHNICIANS, INSTALLABLE_SKUS
from hub.services.aftersales.rules import AUTO_APPROVE_ACTOR
from hub.services.aftersales.settings import AfterSalesSection
from hub.services.service_orders.settings import ServiceOrdersSection
from tests.e2e.test_demo_restart import Demo

pytestmark = pytest.mark.xdist_group("demo_flows")

#: Each test's own deadline from its start: generous for a shared machine; typically each is done
#: in well under a minute. The timeouts add the demo's start (in the first test) and its stop.
DEADLINE_S = 150.0
TIMEOUT_S = DEADLINE_S + 120
#: Not quicker: the courier sandbox stamps its scans to the second, and two scans of one parcel in
#: the same second leave its tracking state to the order they happen to sort in.
PACE_S = "1"
REVIEW_CODES = {"high_value", "review_remark"}
#: What a person decides first on a case waiting for them, by the actions the hub allows.
FIRST_DECISIONS = ("approve_refund", "agree_return", "agree_exchange")
SHOPS = {"demo-taobao", "demo-tmall", "demo-douyin", "demo-aliexpress"}


class Api:
    def __init__(self, demo: Demo, key: str) -> None:
        self.demo = demo
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.demo.base}/api/v1/{path}", params=params, headers=self.headers, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.demo.base}/api/v1/{path}", json=body, headers=self.headers, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    started = Demo(tmp_path_factory.mktemp("demo"), free_port(), 1, env={PACE_VAR: PACE_S})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def api(demo: Demo) -> Api:
    return Api(demo, demo.admin_key())


def _deadline() -> float:
    return time.monotonic() + DEADLINE_S


# ---------------------------------------------------------------------------------------------- fulfilment


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


@pytest.mark.timeout(TIMEOUT_S)
def test_the_demo_fulfils_orders_from_both_warehouses_to_delivered_and_holds_a_few_by_name(
    demo: Demo, api: Api
) -> None:
    deadline = _deadline()
    own = demo.wait_for("order delivered from the own warehouse", lambda: _delivered_from(api, DEMO_OWN),
                        deadline=deadline, every_s=1.0)
    wms = demo.wait_for("order delivered from the 3PL", lambda: _delivered_from(api, DEMO_3PL),
                        deadline=deadline, every_s=1.0)
    held = demo.wait_for("order held by the review", lambda: _held_by_review(api), deadline=deadline, every_s=1.0)

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


# ---------------------------------------------------------------------------------------------- after-sales


def _cases(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("aftersales", limit="200", sort="applied")["items"]
    return items


def _varied(api: Api) -> list[dict[str, Any]] | None:
    """The cases, once they are of two kinds or more from three demo platforms or more."""
    cases = _cases(api)
    kinds, platforms = {c["type"] for c in cases}, {c["platform"] for c in cases}
    return cases if len(kinds) >= 2 and len(platforms) >= 3 else None


def _auto_approved(api: Api) -> dict[str, Any] | None:
    """A refund-only case the rule decided (its decision taken by the rule's actor) and the platform
    moved on (its write-back may still be on its way when the decision is first listed)."""
    for case in _cases(api):
        if case["type"] != "refund_only":
            continue
        detail = api.get(f"aftersales/{case['id']}")
        if any(d["actor"] == AUTO_APPROVE_ACTOR for d in detail["decisions"]) and detail["status"] != "requested":
            return dict(detail)
    return None


def _waiting_for_a_person(api: Api) -> tuple[dict[str, Any], str] | None:
    """A requested case (the rule left it) and the first decision the hub allows on it."""
    for case in api.get("aftersales", status="requested", limit="50")["items"]:
        detail = api.get(f"aftersales/{case['id']}")
        allowed = [a["action"] for a in detail["allowed"]]
        action = next((a for a in FIRST_DECISIONS if a in allowed), None)
        if action is not None and not any(d["actor"] == AUTO_APPROVE_ACTOR for d in detail["decisions"]):
            return dict(detail), action
    return None


@pytest.mark.timeout(TIMEOUT_S)
def test_the_demo_opens_cases_of_several_kinds_approves_a_small_refund_and_a_person_decides_one(
    demo: Demo, api: Api
) -> None:
    deadline = _deadline()
    cases = demo.wait_for("cases of several kinds and platforms", lambda: _varied(api), deadline=deadline,
                          every_s=0.5)
    approved = demo.wait_for("a small refund approved by the rule", lambda: _auto_approved(api),
                             deadline=deadline, every_s=0.5)
    waiting, action = demo.wait_for("a case waiting for a person", lambda: _waiting_for_a_person(api),
                                    deadline=deadline, every_s=0.5)
    answer = httpx.post(f"{demo.base}/api/v1/aftersales/{waiting['id']}/decisions", json={"action": action},
                        headers={**api.headers, "Idempotency-Key": f"demo-test-{waiting['id']}"}, timeout=30)
    decided = api.get(f"aftersales/{waiting['id']}")

    assert {c["shop"] for c in cases} <= SHOPS
    assert all(c["order_id"] for c in cases), "every demo case is on an order the hub knows"
    # The rule: a refund-only case below [aftersales] auto_approve_refund_below, nothing shipped.
    assert approved["type"] == "refund_only" and approved["refund_amount"] is not None
    assert float(approved["refund_amount"]["amount"]) < 30
    assert approved["status"] in ("approved", "refunding", "refunded"), approved["status"]
    # A person's decision through the API, written back to the demo shop's sandbox.
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == action and body["state"] in ("done", "recorded"), body
    assert body["status"] != "requested" and decided["status"] == body["status"]
    assert any(d["action"] == action and d["actor"] for d in decided["decisions"]), decided["decisions"]
    # hub-demo.toml carries the section, so `hub --config hub-demo.toml aftersales ...` decides alike.
    written = tomllib.loads((demo.directory / "hub-demo.toml").read_text())
    section = AfterSalesSection.model_validate(written["aftersales"])
    assert section.auto_approve_refund_below is not None and section.deadline_alert_hours > 48
    assert set(section.return_addresses) >= {c["shop"] for c in cases}
    assert all(address.address_id for address in section.return_addresses.values())


# ---------------------------------------------------------------------------------------------- service orders


class Board:
    """The demo's service orders and technicians, read from its database (SQLite, read only)."""

    def __init__(self, demo: Demo) -> None:
        self.engine = create_engine(f"sqlite:///file:{demo.directory / 'hub.db'}?mode=ro&uri=true")

    def orders(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(ServiceOrderRow.__table__)).all())

    def technicians(self) -> dict[int, Any]:
        with self.engine.connect() as connection:
            return {row.id: row for row in connection.execute(select(TechnicianRow.__table__))}


def _read(probe: Any) -> Any:
    """``probe()``, or nothing yet while the hub holds the database's write lock."""
    try:
        return probe()
    except OperationalError:
        return None


def _tmall_installations(board: Board) -> list[Any] | None:
    """The Tmall work cards once two or more are assigned and one is completed."""
    cards = [row for row in board.orders() if row.shop == "demo-tmall" and row.origin == "channel"]
    assigned = [row for row in cards if row.technician_id is not None]
    completed = [row for row in cards if row.status == "completed"]
    return cards if len(assigned) >= 2 and completed else None


def _overdue(api: Api) -> list[dict[str, Any]] | None:
    """The API's list of open service orders past their next deadline, once it lists one."""
    listed: list[dict[str, Any]] = api.get("service-orders", overdue="true", limit="50")["service_orders"]
    return listed or None


@pytest.mark.timeout(TIMEOUT_S)
def test_the_demo_issues_tmall_work_cards_assigns_them_by_skill_and_region_completes_some_and_one_is_overdue(
    demo: Demo, api: Api
) -> None:
    board = Board(demo)
    deadline = _deadline()
    cards = demo.wait_for("Tmall work cards assigned and one completed", lambda: _read(
        lambda: _tmall_installations(board)), deadline=deadline, every_s=1.0)
    listed = demo.wait_for("an overdue service order", lambda: _overdue(api), deadline=deadline, every_s=1.0)
    technicians = _read(board.technicians)
    orders = _read(board.orders)

    # The seeded registry: two installers, a repair technician, one who left.
    assert {t.code for t in technicians.values()} >= {t.code for t in DEMO_TECHNICIANS}
    # Every Tmall card is an installation of the goods sold, for an order the hub knows.
    assert all(c.type == "installation" and c.merchant_sku in INSTALLABLE_SKUS and c.order_id for c in cards)
    # Assigned by skill and region: an active installer who serves the card's city or district.
    for card in cards:
        if card.technician_id is None:
            continue
        technician = technicians[card.technician_id]
        assert technician.active and "installation" in technician.skills, technician.code
        assert {card.region_city, card.region_district} & set(technician.regions), (card.region_city, technician.code)
    completed = [c for c in cards if c.status == "completed"]
    assert all(c.rating and c.closed_at for c in completed)
    # Exactly one is overdue: the card the platform issued two days back, which nobody booked (the
    # SLA scan, once a minute, may have flagged it already; it flags no other).
    backdated = [o for o in orders if o.created_at < datetime.now(UTC) - timedelta(days=1)]
    assert len(backdated) == 1 and backdated[0].shop == "demo-tmall", [(o.id, o.created_at) for o in orders]
    assert backdated[0].booked_at is None and backdated[0].status in ("new", "assigned")
    assert [item["id"] for item in listed] == [backdated[0].id], listed
    assert {o.id for o in orders if o.sla_state == "overdue"} <= {backdated[0].id}
    # hub-demo.toml carries the section with the Douyin shop's rule.
    section = ServiceOrdersSection.model_validate(
        tomllib.loads((demo.directory / "hub-demo.toml").read_text())["service_orders"])
    assert [(r.shops, r.type.value) for r in section.rules] == [(["demo-douyin"], "installation")]


# ---------------------------------------------------------------------------------------------- operations


def _vip(api: Api) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = api.get("orders", user_tag="VIP", sort="-priority", limit="5")["items"]
    return items or None


def _written_note(api: Api) -> dict[str, Any] | None:
    for order in api.get("orders", platform="taobao", limit="30")["items"]:
        for edit in api.get(f"orders/{order['id']}/edits"):
            if edit["kind"] == "seller_note" and edit["writeback"] == "sent":
                return dict(edit)
    return None


def _approve_one(api: Api) -> dict[str, Any] | None:
    """Approve a waiting price change, as finance; one whose order was paid meanwhile is refused
    (409: money changes only before payment) and rejected instead."""
    for edit in api.get("order-edits", status="pending_approval"):
        answer = httpx.post(f"{api.demo.base}/api/v1/order-edits/{edit['id']}/approve", json={"note": "agreed"},
                            headers=api.headers, timeout=10)
        if answer.status_code == 200:
            return dict(answer.json())
        assert answer.status_code == 409, answer.text
        api.post(f"order-edits/{edit['id']}/reject", {"note": "the buyer paid before the change was approved"})
    return None


def _sent(api: Api) -> list[dict[str, Any]] | None:
    sent: list[dict[str, Any]] = api.get("notifications/deliveries", status="sent", limit="50")
    return sent or None


@pytest.mark.timeout(TIMEOUT_S)
def test_the_demo_tags_and_prioritises_held_orders_writes_a_note_back_and_asks_finance_for_a_price_change(
    demo: Demo, api: Api
) -> None:
    deadline = _deadline()
    vip = demo.wait_for("held orders tagged VIP", lambda: _vip(api), deadline=deadline, every_s=1.0)
    assert all(o["priority"] == 5 for o in vip)  # held when tagged; a person may have released it since
    assert {t["name"] for t in vip[0]["user_tags"]} >= {"VIP"}
    note = demo.wait_for("a gift note written back to Taobao", lambda: _written_note(api), deadline=deadline,
                         every_s=1.0)
    assert note["after"] and note["requested_by"] == "demo:operator"
    approved = demo.wait_for("a price change approved", lambda: _approve_one(api), deadline=deadline, every_s=1.0)
    assert approved["status"] == "approved" and approved["decided_by"].startswith("apikey:")
    sent = demo.wait_for("notifications delivered", lambda: _sent(api), deadline=deadline, every_s=1.0)
    kinds = {d["kind"] for d in sent}
    assert kinds & {"order_held", "refund_requested"}
