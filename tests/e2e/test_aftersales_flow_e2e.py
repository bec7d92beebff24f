"""After-sales end to end, for every channel on SQLite (with the in-process queue) and PostgreSQL
(with the real Redis): three paid orders made in the channel's sandbox reach the hub and are routed
to the own warehouse; two are shipped over the API (waybill, pick, pack, ship) and confirmed to the
channel. Then, side by side:

- **refund only** on the unshipped order: the buyer applies in the sandbox, the case reaches the hub
  (TMC, Douyin's signed push, or — AliExpress, which pushes no issues — its after-sales poll), is
  listed for the order with its reply deadline, the order is held and its delivery stopped, a person
  approves it over the API, the sandbox shows the refund and closes the order (every line refunded
  before shipment), the case is ``refunded``, and the hub's order ends closed through normal order
  sync with its reservation given back once and its holds lifted;
- **return and refund** on a shipped order: agree_return (the configured return address), the buyer
  sends the goods back in the sandbox, the hub sees them on their way back, confirm_return with one
  good unit: refunded at the platform (AliExpress: recorded only, the platform refunds once the
  parcel is delivered), the case ``refunded`` and the unit back on hand where it shipped from;
- **exchange** on a shipped order: Tmall and Douyin through the platform (agree, the buyer returns,
  receive, ship the replacement), Taobao recorded only (TOP has no C-shop exchange write API; the
  buyer closes the case at the platform), AliExpress opened in the hub (no exchange at the
  platform); the replacement always ships through fulfilment like an order, its waybill is written
  back where the platform takes it, and stock shows the returned unit back and the replacement's out.

Everything runs on real HTTP servers with real signatures and real workers (the fulfilment e2e
harness); the test waits by polling the hub's API and database with generous deadlines.

Run on PostgreSQL with Redis, as in production: the embedded default (SQLite, in-process queue)
runs after-sales end to end in the demo test (tests/e2e/test_demo_flows.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.testing.fulfilment_world import (
    OWN,
    PROVIDER_OF,
    delivery_orders,
    open_holds,
    order_by_id,
    stock_at,
    stock_in,
)
from tests.e2e.aftersales_e2e_support import (
    DEADLINE_S,
    RETURN_ADDRESS,
    allowed,
    case_of_order,
    case_reaches,
    decide,
    decisions_of,
    ledger,
    parcels_of,
    platform_order_status,
    ship_own,
)
from tests.e2e.hub_e2e_support import Backend, backend, eventually
from tests.e2e.test_fulfilment_flow_e2e import (
    CHANNELS,
    Case,
    Partners,
    _case,
    _confirmed_to_channel,
    _ingested,
    _routed,
    _sku,
    partners,
)

__all__ = ["backend", "partners"]
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


def platform_status(case: Case, case_id: str) -> str:
    """The case's status as the platform holds it now (``aftersale_raw``)."""
    raw: dict[str, Any] = case.channel.sandbox.aftersale_raw(case.channel.shop, case_id)
    platform = case.channel.platform
    if platform == "douyin":
        return str(raw["process_info"]["after_sale_info"]["after_sale_status"])
    if platform == "aliexpress":
        return f"{raw['issue_status']}/{raw['reverse_detail_status']}"
    return str(raw["status"])


#: The platform's status of a refund or return at each step: refunded; return agreed; goods on
#: their way back (TOP refund statuses, Douyin after_sale_status codes, AliExpress
#: issue_status/reverse_detail_status).
REFUNDED = {"taobao": "SUCCESS", "tmall": "SUCCESS", "douyin": "12", "aliexpress": "finish/refund_success"}
RETURN_AGREED = {"taobao": "WAIT_BUYER_RETURN_GOODS", "tmall": "WAIT_BUYER_RETURN_GOODS", "douyin": "7",
                 "aliexpress": "processing/wait_for_buyer_return"}
GOODS_SENT_BACK = {"taobao": "WAIT_SELLER_CONFIRM_GOODS", "tmall": "WAIT_SELLER_CONFIRM_GOODS", "douyin": "11",
                   "aliexpress": "processing/wait_for_seller_confirmation"}
RECORDED_ONLY = "recorded in the hub only"
#: The order's status at the platform once every line was refunded before shipment (TOP trade status
#: TRADE_CLOSED, Douyin order_status 4 cancelled, AliExpress FINISH [U: the docs do not state it]),
#: and the hub's canonical status for it.
ORDER_CLOSED = {"taobao": "TRADE_CLOSED", "tmall": "TRADE_CLOSED", "douyin": "4", "aliexpress": "FINISH"}
HUB_CLOSED = {"taobao": "closed", "tmall": "closed", "douyin": "cancelled", "aliexpress": "closed"}


def steps(detail: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The history as a person reads it: (kind, the decision's action) of every entry but the
    platform's reports and the rules' notes (their number depends on how often the platform told)."""
    return [(e["kind"], e["detail"].get("action")) for e in detail["history"] if e["kind"] not in ("reported", "rule")]


def reported(detail: dict[str, Any]) -> list[str]:
    """The statuses the platform's reports moved the case to, in order."""
    return [e["new_status"] for e in detail["history"]
            if e["kind"] == "reported" and e["new_status"] != e["old_status"]]


def decided_by_person(detail: dict[str, Any]) -> set[str]:
    return {str(e["actor"]).split(":")[-1] for e in detail["history"] if e["kind"] == "decided"}


async def _stock_is(case: Case, sku: str, expected: tuple[int, int]) -> bool:
    return await stock_at(case.hub, OWN, sku) == expected


async def _refund_only(case: Case, order_id: int, external_id: str, sku: str) -> None:
    box, shop, platform = case.channel.sandbox, case.channel.shop, case.channel.platform
    await eventually(lambda: _stock_is(case, sku, (10, 1)), timeout_s=DEADLINE_S, what="the order's unit reserved")
    at_platform = box.create_aftersale(shop, external_id, "refund_only")
    listed = await case_of_order(case, order_id, "refund_only")
    assert (listed["external_id"], listed["status"]) == (at_platform, "requested"), listed
    assert listed["deadline"] is not None, listed
    detail = await case_reaches(case, listed["id"], "requested")
    assert allowed(detail)["approve_refund"] is True, detail["allowed"]

    async def stopped() -> bool:  # the delivery cancelled, its waybill given back (AliExpress's never had one)
        dos = await delivery_orders(case.hub, order_id)
        return ([d.status for d in dos] == ["cancelled"]
                and [p.status for p in await parcels_of(case, dos[0].id)] in ([], ["cancelled"]))

    # The request alone holds the order and stops its delivery at the warehouse; the person
    # approves once nothing is on its way.
    await eventually(stopped, timeout_s=DEADLINE_S, what="the delivery stopped at the warehouse")
    assert "refund_requested" in await open_holds(case.hub, order_id)
    out = await decide(case, listed["id"], "approve_refund")
    assert (out["state"], out["written_back"]) == ("done", True), out
    assert platform_status(case, at_platform) == REFUNDED[platform]
    # Every line refunded before shipment: the platform closes the order and says so.
    assert platform_order_status(case, external_id) == ORDER_CLOSED[platform]
    detail = await case_reaches(case, listed["id"], "refunded")
    assert steps(detail) == [("decided", "approve_refund"), ("written_back", "approve_refund")], detail["history"]
    assert reported(detail)[0] == "requested" and reported(detail)[-1] == "refunded", detail["history"]
    assert decisions_of(detail) == [("approve_refund", "done")] and decided_by_person(detail) == {"e2e"}
    assert detail["allowed"] == []

    # The hub follows through normal order sync: the order ends closed, its unit given back once
    # (whichever of the refund and the closing came first), no hold left blocking it.
    async def closed_in_the_hub() -> str:
        order = await order_by_id(case.hub, order_id)
        if order.status in ("cancelled", "closed"):
            return str(order.status)
        return "cancel_requested" if "cancel_requested" in await open_holds(case.hub, order_id) else ""

    outcome = await eventually(closed_in_the_hub, timeout_s=DEADLINE_S, what="the order closed in the hub")
    # Not a cancel_requested hold: every delivery was cancelled by the interception, nothing shipped.
    assert outcome == HUB_CLOSED[platform], outcome
    await eventually(lambda: _stock_is(case, sku, (10, 0)), timeout_s=DEADLINE_S, what="the reservation released")
    assert [row for row in await ledger(case, sku)] == [(OWN, 0, 1, "order_reserved"), (OWN, 0, -1, "order_released")]

    async def holds_lifted() -> bool:
        return not await open_holds(case.hub, order_id)

    await eventually(holds_lifted, timeout_s=DEADLINE_S, what="the refund's hold lifted")
    assert (await order_by_id(case.hub, order_id)).fulfilment_status not in ("shipped", "partially_shipped")


async def _return_and_refund(case: Case, order_id: int, external_id: str, sku: str) -> None:
    box, shop, platform = case.channel.sandbox, case.channel.shop, case.channel.platform
    await eventually(lambda: _stock_is(case, sku, (9, 0)), timeout_s=DEADLINE_S, what="the shipped unit consumed")
    at_platform = box.create_aftersale(shop, external_id, "return_and_refund")
    listed = await case_of_order(case, order_id, "return_and_refund")
    assert (listed["external_id"], listed["status"]) == (at_platform, "requested"), listed
    assert listed["deadline"] is not None, listed
    case_id = listed["id"]

    out = await decide(case, case_id, "agree_return")
    assert (out["state"], out["written_back"]) == ("done", True), out
    assert platform_status(case, at_platform) == RETURN_AGREED[platform]
    await case_reaches(case, case_id, "awaiting_return")
    box.buyer_returns_goods(shop, at_platform)
    assert platform_status(case, at_platform) == GOODS_SENT_BACK[platform]
    detail = await case_reaches(case, case_id, "returned")
    assert detail["return_tracking_number"] == "SF1000000001", detail
    assert [(line["position"], line["quantity"], line["merchant_sku"]) for line in detail["lines"]] == [(1, 1, sku)]

    out = await decide(case, case_id, "confirm_return", quality=[{"position": 1, "good": 1}])
    assert out["stock"] == [{"sku": sku, "warehouse": OWN, "quantity": 1, "condition": "good", "position": 1}], out
    if platform == "aliexpress":  # no seller "received" API: the platform refunds once the parcel is delivered
        assert (out["state"], out["written_back"]) == ("recorded", False) and RECORDED_ONLY in out["note"], out
        assert platform_status(case, at_platform) == GOODS_SENT_BACK[platform]
        box.return_delivered(shop, at_platform)
    else:
        assert (out["state"], out["written_back"]) == ("done", True), out
    assert platform_status(case, at_platform) == REFUNDED[platform]
    detail = await case_reaches(case, case_id, "refunded")
    assert await stock_at(case.hub, OWN, sku) == (10, 0)  # the unit back where it shipped from
    assert [row for row in await ledger(case, sku) if row[3] == "return"] == [(OWN, 1, 0, "return")]
    assert detail["received"] is True and detail["resolution"] == "restocked", detail
    assert [(line["received_good"], line["received_damaged"]) for line in detail["lines"]] == [(1, 0)]
    confirmed = "recorded_only" if platform == "aliexpress" else "written_back"
    assert steps(detail) == [("decided", "agree_return"), ("written_back", "agree_return"),
                             ("decided", "confirm_return"), ("restocked", None), (confirmed, "confirm_return")
                             ], detail["history"]
    assert reported(detail)[0] == "requested" and reported(detail)[-1] == "refunded", detail["history"]
    assert "returned" in reported(detail), detail["history"]
    assert decisions_of(detail) == [("agree_return", "done"),
                                    ("confirm_return", "recorded" if platform == "aliexpress" else "done")]
    assert decided_by_person(detail) == {"e2e"} and detail["allowed"] == []


async def _open_in_the_hub(case: Case, order_id: int) -> None:
    """AliExpress has no exchange: the person opens it in the hub (agreed with the buyer by chat)."""
    order = (await case.client.get(f"/api/v1/orders/{order_id}")).json()
    opened = await case.client.post("/api/v1/aftersales", json={
        "order_id": order_id, "type": "exchange", "reason": "wrong size, agreed by chat",
        "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]})
    assert opened.status_code == 201, opened.text
    assert opened.json()["local"] is True


async def _exchange(case: Case, order_id: int, external_id: str, sku: str) -> None:
    """Tmall and Douyin through the platform; Taobao recorded only (no C-shop exchange write API),
    closed by the buyer at the platform; AliExpress opened and completed in the hub."""
    box, shop, platform = case.channel.sandbox, case.channel.shop, case.channel.platform
    await eventually(lambda: _stock_is(case, sku, (9, 0)), timeout_s=DEADLINE_S, what="the shipped unit consumed")
    through_platform = platform in ("tmall", "douyin")
    at_platform: str | None = None
    if platform == "aliexpress":
        await _open_in_the_hub(case, order_id)
    else:
        at_platform = box.create_aftersale(shop, external_id, "exchange")
    listed = await case_of_order(case, order_id, "exchange")
    assert listed["status"] == "requested", listed
    assert listed["external_id"] == (at_platform or f"hub-{listed['id']}"), listed
    case_id = listed["id"]
    detail = await case_reaches(case, case_id, "requested")
    assert allowed(detail) == {"agree_exchange": through_platform, "refuse": through_platform or platform == "taobao"}

    async def taken(action: str, **fields: Any) -> dict[str, Any]:
        out = await decide(case, case_id, action, **fields)
        written = through_platform and not (platform == "douyin" and action == "receive_exchange")
        if written:  # Douyin: 311 confirms the receipt and ships in one call, so receiving is the hub's
            assert (out["state"], out["written_back"]) == ("done", True), out
        else:
            assert (out["state"], out["written_back"]) == ("recorded", False) and RECORDED_ONLY in out["note"], out
        return out

    await taken("agree_exchange")
    await case_reaches(case, case_id, "awaiting_return")
    if through_platform:
        assert at_platform is not None
        box.buyer_returns_goods(shop, at_platform)
        assert platform_status(case, at_platform) == {"tmall": "3", "douyin": "11"}[platform]  # the seller to receive
        await case_reaches(case, case_id, "returned")
    detail = await case_reaches(case, case_id, "returned", "awaiting_return")
    assert [(line["position"], line["quantity"], line["merchant_sku"]) for line in detail["lines"]] == [(1, 1, sku)]

    out = await taken("receive_exchange", quality=[{"position": 1, "good": 1}])
    assert out["stock"] == [{"sku": sku, "warehouse": OWN, "quantity": 1, "condition": "good", "position": 1}], out
    assert await stock_at(case.hub, OWN, sku) == (10, 0)  # the exchanged unit back on hand
    detail = await case_reaches(case, case_id, "returned")
    assert allowed(detail) == {"ship_exchange": through_platform}, detail["allowed"]

    # The replacement goes through fulfilment: a delivery order of the own warehouse, shipped over the API.
    out = await decide(case, case_id, "ship_exchange")
    assert out["state"] == "recorded" and out["delivery_order_id"], out
    parcel = await ship_own(case, int(out["delivery_order_id"]))
    [first, replacement] = await delivery_orders(case.hub, order_id)
    assert (replacement.id, replacement.status, replacement.warehouse) == (out["delivery_order_id"], "shipped", OWN)
    assert first.status == "shipped" and parcel.courier_code == PROVIDER_OF[platform][1]
    await eventually(lambda: _stock_is(case, sku, (9, 0)), timeout_s=DEADLINE_S, what="the replacement's unit out")

    if through_platform:
        assert at_platform is not None
        detail = await case_reaches(case, case_id, "replacement_shipped")
        raw = box.aftersale_raw(shop, at_platform)  # the platform shows the replacement's waybill
        told = (raw["seller_logistic_no"] if platform == "tmall"
                else raw["process_info"]["logistics_info"]["exchange"]["tracking_no"])
        assert (platform_status(case, at_platform), told) == ("13", parcel.waybill_number), raw  # 待买家收货
        box.buyer_receives_replacement(shop, at_platform)
        assert platform_status(case, at_platform) == {"tmall": "5", "douyin": "14"}[platform]  # both 换货成功
        detail = await case_reaches(case, case_id, "completed")
    elif platform == "taobao":
        assert at_platform is not None
        detail = await case_reaches(case, case_id, "replacement_shipped")
        assert platform_status(case, at_platform) == "WAIT_SELLER_AGREE"  # the platform was told nothing
        box.buyer_closes_aftersale(shop, at_platform)
        detail = await case_reaches(case, case_id, "closed")
    else:
        detail = await case_reaches(case, case_id, "completed")
    assert await stock_at(case.hub, OWN, sku) == (9, 0)
    assert [row[1:] for row in await ledger(case, sku)] == [
        (0, 1, "order_reserved"), (-1, -1, "order_shipped"), (1, 0, "return"), (-1, 0, "order_shipped")]
    shipped_back = "written_back" if through_platform else "recorded_only"
    received = "written_back" if platform == "tmall" else "recorded_only"
    assert steps(detail) == [
        *([("opened", None)] if platform == "aliexpress" else []),
        ("decided", "agree_exchange"), (shipped_back, "agree_exchange"),
        ("decided", "receive_exchange"), ("restocked", None), (received, "receive_exchange"),
        ("decided", "ship_exchange"), ("replacement", None), ("replacement_shipped", None),
        ("decided", "ship_exchange"), (shipped_back, "ship_exchange")], detail["history"]
    assert decisions_of(detail) == [
        ("agree_exchange", "done" if through_platform else "recorded"),
        ("receive_exchange", "done" if platform == "tmall" else "recorded"),
        ("ship_exchange", "recorded"),  # the person's: the replacement made
        ("ship_exchange", "done" if through_platform else "recorded")]  # its waybill, once shipped
    assert detail["received"] is True and detail["allowed"] == []


@pytest.mark.parametrize("platform", CHANNELS)
async def test_refund_return_and_exchange_from_request_to_closed(
    backend: Backend, partners: Partners, platform: str
) -> None:
    async with _case(backend, partners, platform, "own") as case:
        case.hub.config.aftersales.return_addresses[case.channel.shop] = RETURN_ADDRESS
        skus = {"refund": case.sku, "return": _sku(), "exchange": _sku()}
        for sku in (skus["return"], skus["exchange"]):
            await stock_in(case.hub, OWN, sku, 10)
        box, shop = case.channel.sandbox, case.channel.shop
        external = {name: str(box.create_order(shop, sku, 1)) for name, sku in skus.items()}
        order_ids = dict(zip(external, await asyncio.gather(*(_ingested(case, e) for e in external.values())),
                             strict=True))
        routed = dict(zip(external, await asyncio.gather(*(_routed(case, order_ids[n]) for n in external)),
                          strict=True))

        async def shipped(name: str) -> None:
            parcel = await ship_own(case, routed[name].id)
            await _confirmed_to_channel(case, order_ids[name], str(parcel.waybill_number), PROVIDER_OF[platform][1])

        await asyncio.gather(shipped("return"), shipped("exchange"))
        await asyncio.gather(
            _refund_only(case, order_ids["refund"], external["refund"], skus["refund"]),
            _return_and_refund(case, order_ids["return"], external["return"], skus["return"]),
            _exchange(case, order_ids["exchange"], external["exchange"], skus["exchange"]),
        )
