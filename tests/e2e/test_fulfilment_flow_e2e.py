"""The whole fulfilment flow end to end, for every channel and both warehouse kinds, on SQLite (with
the in-process queue) and PostgreSQL (with the real Redis): a paid order made in the channel's
sandbox reaches the hub (TMC for Taobao, Tmall and AliExpress, a signed push for Douyin), the
review approves it, routing sends it to the warehouse of the case, and then

- own warehouse: the channel's waybill provider issues its waybill (Cainiao over the TOP sandbox,
  the Douyin e-waybill), or — AliExpress, whose buyers are abroad — the parcel waits for the number
  of a label bought elsewhere, which the test enters over the API; then the test picks, packs and
  ships it over the hub's API;
- Qimen WMS: the delivery order arrives at the WMS sandbox, which ships it and sends the signed
  ``deliveryorder.confirm`` callback to the hub's webhook;

after which the shipment is confirmed to the channel (its sandbox shows the order shipped with
that waybill), the parcel is subscribed at the Kuaidi100 sandbox, the sandbox's signed callbacks
carry it to signed-for, and the order is ``delivered``. One more case: the review holds an order
with a named reason and nothing leaves until a person approves it.

Everything runs on real HTTP servers and real workers; the test waits by polling the hub's
database and API with generous deadlines.

Run on PostgreSQL with Redis, as in production: the embedded default (SQLite, in-process queue)
runs the same flow end to end in the demo test (tests/e2e/test_demo_flows.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.asgi_server import serve_in_thread
from hub.context import Hub
from hub.pipeline.fulfilment_actors import fulfilment_jobs
from hub.services.fulfilment.waybills import WAITING_REASON
from hub.testing.fulfilment_world import (
    BOUGHT_ELSEWHERE,
    OWN,
    PROVIDER_OF,
    WMS,
    Channel,
    WarehouseKind,
    delivery_orders,
    flow_config,
    history,
    open_exceptions,
    open_holds,
    order_by_id,
    order_row,
    parcels,
    stock_at,
    stock_in,
    tracking_states,
)
from plugins.logistics.sandbox import Kuaidi100Sandbox
from plugins.warehouse.sandbox import QimenWmsSandbox
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    dead_letters,
    e2e_hub,
    eventually,
    hub_api,
    pumping,
    served_sandboxes,
)

__all__ = ["backend"]
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

CHANNELS = ["taobao", "tmall", "douyin", "aliexpress"]
KINDS: list[WarehouseKind] = ["own", "qimen"]
DEADLINE_S = 90.0
AE_FULFIL = "aliexpress.solution.order.fulfill"
#: The Douyin shop API's company code of a hub courier code (what ``order.logisticsAdd`` is sent).
DOUYIN_COMPANY = {"zto": "zhongtong", "yto": "yuantong"}


@dataclass
class Partners:
    """The WMS and Kuaidi100 sandboxes of one test (their own per test: each test's database
    counts delivery order codes and the channel sandboxes count waybill numbers from 1 again)."""

    wms: QimenWmsSandbox
    wms_url: str
    k100: Kuaidi100Sandbox
    k100_url: str


@pytest.fixture
def partners() -> Iterator[Partners]:
    wms, k100 = QimenWmsSandbox(), Kuaidi100Sandbox()
    with serve_in_thread(wms.app) as wms_url, serve_in_thread(k100.app) as k100_url:
        yield Partners(wms, wms_url, k100, k100_url)


def _sku() -> str:
    return f"E2E-FLOW-{secrets.token_hex(3).upper()}"


@dataclass
class Case:
    hub: Hub
    client: httpx.AsyncClient
    api_url: str
    channel: Channel
    kind: WarehouseKind
    partners: Partners
    sku: str


@asynccontextmanager
async def _case(backend: Backend, partners: Partners, platform: str, kind: WarehouseKind,
                **options: Any) -> AsyncIterator[Case]:
    """The channel's sandbox and shop, the hub with its workers, its API on a real server (the WMS
    and tracking webhooks), and the channel's intake running (TMC consumed and polled, or Douyin
    pushing to the webhook)."""
    with served_sandboxes([platform]) as served:
        item = served[platform]
        channel = Channel(platform, item.shop, item.sandbox, item.base_url)
        config = flow_config(backend.database_url, backend.redis_url, channel, kind,
                             wms_settings=partners.wms.warehouse_settings(partners.wms_url),
                             k100_settings=partners.k100.courier_settings(partners.k100_url),
                             k100_label_settings=partners.k100.label_settings(partners.k100_url), **options)
        with e2e_hub(config) as hub:
            try:
                async with hub_api(hub) as (client, api_url):
                    hub.config.fulfilment.tracking.callback_base_url = api_url
                    if platform == "douyin":
                        item.sandbox.set_push_target(item.shop, f"{api_url}/webhooks/douyin/{item.shop}")
                    pulled = [item.shop] if platform != "douyin" else []
                    async with pumping(hub, consume=pulled, poll=pulled):
                        sku = _sku()
                        await stock_in(hub, OWN if kind == "own" else WMS, sku, 10)
                        partners.wms.set_stock(sku, 10)
                        yield Case(hub, client, api_url, channel, kind, partners, sku)
                hub.runtime.join(60_000)  # type: ignore[union-attr]
                assert await dead_letters(hub) == []
            finally:
                await close_test_loop(hub)


def _create_paid_order(case: Case, *, buyer_message: str | None = None) -> str:
    box, shop = case.channel.sandbox, case.channel.shop
    if buyer_message is not None:
        return str(box.create_order(shop, case.sku, 2, buyer_message=buyer_message))
    return str(box.create_order(shop, case.sku, 2))


async def _ingested(case: Case, external_id: str) -> int:
    async def paid() -> int:
        row = await order_row(case.hub, case.channel.shop, external_id)
        return row.id if row is not None and row.status == "paid" else 0

    return await eventually(paid, timeout_s=DEADLINE_S, what="the channel's paid order in the hub")


async def _reviewed(case: Case, order_id: int) -> str:
    async def status() -> str:
        return (await order_by_id(case.hub, order_id)).review_status or ""

    return await eventually(status, timeout_s=DEADLINE_S, what="the order reviewed")


async def _routed(case: Case, order_id: int) -> Any:
    async def found() -> list[Any]:
        rows = await delivery_orders(case.hub, order_id)
        return rows if rows and rows[0].status == "sent" else []

    [do] = await eventually(found, timeout_s=DEADLINE_S, what="the delivery order sent to its warehouse")
    assert (do.warehouse, do.kind) == ((OWN, "own") if case.kind == "own" else (WMS, "wms")), do.data
    return do


async def _ship_own(case: Case, order_id: int, do: Any) -> str:
    """The provider of the channel issues the waybill; the test picks, packs and ships over the API."""
    provider, courier_code = PROVIDER_OF[case.channel.platform]
    if provider == BOUGHT_ELSEWHERE:
        await _enter_bought_elsewhere(case, order_id)

    async def issued() -> list[Any]:
        rows = await parcels(case.hub, order_id)
        return rows if rows and all(p.status == "issued" for p in rows) else []

    [parcel] = await eventually(issued, timeout_s=DEADLINE_S, what=f"the waybill issued by {provider}")
    assert (parcel.courier_account, parcel.courier_code, parcel.delivery_order_id) == (provider, courier_code, do.id)
    number = str(parcel.waybill_number)
    box = case.channel.sandbox
    if case.channel.platform in ("taobao", "tmall"):
        [issued] = box.cainiao.issued()
        assert issued.waybill_code == number
        # TOP masks the receiver ("闫**"): the waybill goes with the trade's oaid, from which Cainiao
        # finds the real recipient (the sandbox refuses a masked recipient without one).
        external_id = (await order_by_id(case.hub, order_id)).external_id
        recipient = issued.request["trade_order_info_dtos"][0]["recipient"]
        assert (recipient["name"], recipient["oaid"], recipient["tid"]) == (
            "闫**", box.oaid_of(external_id), external_id)
    elif case.channel.platform == "douyin":
        assert box.waybill_status(case.channel.shop, number) == "issued"
    else:  # typed in; no provider was asked
        assert number.startswith("EA") and case.partners.k100.label.issued() == 0

    client = case.client
    label = await client.get(f"/api/v1/parcels/{parcel.id}/label.pdf")  # printed before packing
    assert label.status_code == 200 and label.content.startswith(b"%PDF"), label.text
    pick_list = await client.get("/api/v1/warehouse/pick-list")
    assert pick_list.status_code == 200 and number in pick_list.text, pick_list.text
    picked = await client.post("/api/v1/warehouse/pick", json={"delivery_order_ids": [do.id]})
    assert picked.status_code == 200, picked.text
    packed = await client.post(f"/api/v1/delivery-orders/{do.id}/pack", json={"parcels": [{"weight_grams": 850}]})
    assert packed.status_code == 200, packed.text
    shipped = await client.post(f"/api/v1/delivery-orders/{do.id}/ship")
    assert shipped.status_code == 200, shipped.text
    again = await client.post(f"/api/v1/delivery-orders/{do.id}/ship")  # a double click
    assert again.status_code == 200 and again.json().get("repeated") is True, again.text
    return number


async def _enter_bought_elsewhere(case: Case, order_id: int) -> None:
    """The parcel waits for a person (no hold, no attempt spent); the test enters the number of an
    EMS label bought at the post office over the API, twice (a double click changes nothing)."""
    async def waiting() -> list[Any]:
        rows = await parcels(case.hub, order_id)
        return rows if rows and rows[0].last_error == WAITING_REASON else []

    [parcel] = await eventually(waiting, timeout_s=DEADLINE_S, what="the parcel waiting for its number")
    assert (parcel.status, parcel.attempts, parcel.waybill_number) == ("pending", 0, None)
    assert await open_holds(case.hub, order_id) == {}
    number = f"EA{secrets.randbelow(10**9):09d}CN"
    for _ in range(2):
        entered = await case.client.post(f"/api/v1/parcels/{parcel.id}/waybill",
                                         json={"waybill_number": number, "courier_code": "EMS"})
        assert entered.status_code == 200, entered.text
        assert (entered.json()["status"], entered.json()["waybill_number"]) == ("issued", number)


async def _ship_at_wms(case: Case, order_id: int, do: Any) -> str:
    """The delivery order is at the WMS sandbox; it ships it and sends the signed confirmation."""
    wms = case.partners.wms
    assert do.code in wms.orders and [item for _, item, _ in wms.orders[do.code].lines] == [case.sku]
    receiver = wms.orders[do.code].receiver
    if case.channel.platform == "douyin":  # stored as ciphertext: revealed for the WMS, for the call only
        assert receiver["name"] == "张三" and not receiver["detailAddress"].startswith("#"), receiver
    # ⚠️ [U] Taobao/Tmall: TOP masks the receiver ("闫**"). The hub keeps the trade's oaid and sends it
    # with e-waybills, but Qimen's deliveryorder.create receiverInfo documents no oaid field, so the WMS
    # gets the masked values (the sandbox accepts them; a real WMS would need the oaid some other way).
    number = f"YT{secrets.randbelow(10**12):012d}"
    callback = wms.ship(do.code, number, "YTO")
    for _ in range(2):  # the WMS sends it again (its answer was lost): recorded once
        reply = await wms.send_callback(f"{case.api_url}/webhooks/warehouse/{WMS}", callback)
        assert reply.status_code == 200 and "<flag>success</flag>" in reply.text, reply.text
    return number


async def _confirmed_to_channel(case: Case, order_id: int, number: str, courier_code: str) -> None:
    async def confirmed() -> dict[str, Any]:
        detail: dict[str, Any] = (await case.client.get(f"/api/v1/orders/{order_id}")).json()
        shipments = detail.get("shipments") or []
        return detail if shipments and all(s["status"] == "confirmed" for s in shipments) else {}

    detail = await eventually(confirmed, timeout_s=DEADLINE_S, what="the shipment confirmed to the channel")
    assert detail["fulfilment_status"] == "shipped"
    box, shop, external_id = case.channel.sandbox, case.channel.shop, detail["external_id"]
    platform = case.channel.platform
    if platform in ("taobao", "tmall"):
        with box.lock:
            trade = dict(box.shop(shop).trades[external_id])
        assert trade["status"] == "WAIT_BUYER_CONFIRM_GOODS"
        assert [(line["invoice_no"], line["logistics_company"]) for line in trade["orders"]["order"]] == [
            (number, courier_code.upper())]
    elif platform == "douyin":
        emulated = box.book.order(shop, external_id)
        assert emulated.status == "3"
        assert [(p["tracking_no"], p["company"]) for p in emulated.logistics] == [
            (number, DOUYIN_COMPANY[courier_code])]
    else:
        order = box.shops[shop].orders[external_id]
        assert order.status in ("SELLER_PART_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS"), order.status
        assert [t["logistics_no"] for t in order.tracking] == [number]


async def _delivered(case: Case, order_id: int, number: str) -> None:
    """The parcel is subscribed at Kuaidi100; its signed callbacks carry it to signed for."""
    k100 = case.partners.k100

    async def subscribed() -> tuple[str, ...]:  # (Kuaidi100 company, number), or () while not yet
        return next((key for key in list(k100.subscriptions) if key[1] == number), ())

    company, _ = await eventually(subscribed, timeout_s=DEADLINE_S, what="the parcel subscribed at Kuaidi100")
    assert k100.subscriptions[(company, number)].callback_url == f"{case.api_url}/webhooks/tracking/k100"
    for _ in range(5):
        k100.advance(company, number)
        for _ in range(2):  # Kuaidi100 pushes again: nothing doubled
            reply = await k100.send_callback(company, number)
            assert reply.status_code == 200, reply.text

    async def delivered() -> bool:
        return (await order_by_id(case.hub, order_id)).status == "delivered"

    await eventually(delivered, timeout_s=DEADLINE_S, what="the order delivered")
    # One parcel all along: the tracking step found the waybill's (or the WMS's) parcel, made no other.
    [parcel] = await parcels(case.hub, order_id)
    assert (parcel.waybill_number, parcel.status, parcel.tracking_state) == (number, "shipped", "delivered")
    assert parcel.delivered_at is not None and parcel.shipment_id is not None


async def _flow_from_review(case: Case, order_id: int) -> None:
    do = await _routed(case, order_id)
    number = await (_ship_own(case, order_id, do) if case.kind == "own" else _ship_at_wms(case, order_id, do))
    courier_code = PROVIDER_OF[case.channel.platform][1] if case.kind == "own" else "yto"
    await _confirmed_to_channel(case, order_id, number, courier_code)
    await _delivered(case, order_id, number)

    hub = case.hub
    [shipped] = await delivery_orders(hub, order_id)
    assert (shipped.id, shipped.status) == (do.id, "shipped")
    warehouse = OWN if case.kind == "own" else WMS
    await eventually(lambda: _stock_is(hub, warehouse, case.sku, (8, 0)), timeout_s=DEADLINE_S,
                     what="the shipped units consumed once in the warehouse that shipped them")
    kinds = await history(hub, order_id)
    for kind in ("reviewed", "routed", "status_changed"):
        assert kind in kinds, kinds
    if case.kind == "own":
        entered = PROVIDER_OF[case.channel.platform][0] == BOUGHT_ELSEWHERE
        for kind in ("waybill_entered" if entered else "waybill_issued", "warehouse_picking", "warehouse_packed",
                     "warehouse_shipped"):
            assert kinds.count(kind) == 1, kinds
    assert await open_exceptions(hub, order_id) == []
    assert len(await tracking_states(hub, number)) == 5
    # The steps' periodic jobs (what the leader scheduler sends) find nothing left to do.
    for _, _, actor, args in fulfilment_jobs(hub):
        hub.send(actor, *args)
    hub.runtime.join(60_000)  # type: ignore[union-attr]
    assert [d.id for d in await delivery_orders(hub, order_id)] == [do.id]
    assert len(await parcels(hub, order_id)) == 1 and await open_exceptions(hub, order_id) == []
    assert (await order_by_id(hub, order_id)).status == "delivered"
    assert _channel_confirmations(case) == 1
    assert len(case.partners.k100.subscriptions) == 1


def _channel_confirmations(case: Case) -> int:
    box = case.channel.sandbox
    if case.channel.platform in ("taobao", "tmall"):
        return int(box.gateway.calls.count("taobao.logistics.offline.send"))
    if case.channel.platform == "douyin":
        return int(box.calls.count("order.logisticsAdd"))
    return int(box.calls.count(AE_FULFIL))


async def _stock_is(hub: Hub, warehouse: str, sku: str, expected: tuple[int, int]) -> bool:
    return await stock_at(hub, warehouse, sku) == expected


#: AliExpress orders go abroad (the sandbox's buyer is in the US) and the providers issue domestic
#: waybills only: from the own warehouse its parcel waits for the number of a label bought elsewhere
#: (``_enter_bought_elsewhere``). A WMS chooses its own courier.
FLOWS = [(platform, kind) for platform in CHANNELS for kind in KINDS]


@pytest.mark.parametrize(("platform", "kind"), FLOWS)
async def test_a_paid_order_flows_from_the_channel_to_delivered(
    backend: Backend, partners: Partners, platform: str, kind: WarehouseKind
) -> None:
    async with _case(backend, partners, platform, kind) as case:
        order_id = await _ingested(case, _create_paid_order(case))
        assert await _reviewed(case, order_id) == "approved"
        await _flow_from_review(case, order_id)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_order_the_review_holds_waits_for_a_person_then_flows(
    backend: Backend, partners: Partners, kind: WarehouseKind
) -> None:
    async with _case(backend, partners, "tmall", kind, hold_on_buyer_remark=True) as case:
        order_id = await _ingested(case, _create_paid_order(case, buyer_message="请周末送"))
        assert await _reviewed(case, order_id) == "held"
        holds = await open_holds(case.hub, order_id)
        assert list(holds) == ["review_remark"] and "buyer remark" in holds["review_remark"], holds
        assert "请周末送" not in holds["review_remark"]  # a reason names no personal data
        review = await case.client.get(f"/api/v1/orders/{order_id}/review")
        assert review.status_code == 200 and "review_remark" in review.text, review.text

        # Nothing leaves while it is held: no delivery order, no waybill, nothing at the WMS.
        hub = case.hub
        hub.send("fulfil_orders", [order_id])  # even a stray hand-over routes nothing
        hub.runtime.join(30_000)  # type: ignore[union-attr]
        assert await delivery_orders(hub, order_id) == [] and await parcels(hub, order_id) == []
        assert case.channel.sandbox.cainiao.issued() == [] and case.partners.wms.orders == {}
        assert (await order_by_id(hub, order_id)).fulfilment_status == "unfulfilled"

        approved = await case.client.post(f"/api/v1/orders/{order_id}/approve")
        assert approved.status_code == 200, approved.text
        assert await _reviewed(case, order_id) == "approved"
        assert await open_holds(hub, order_id) == {}
        await _flow_from_review(case, order_id)
        kinds = await history(hub, order_id)  # held by the review, released and approved by the person
        assert kinds.count("reviewed") == 2 and kinds.count("hold_released") == 1, kinds
        assert kinds.index("hold_released") < kinds.index("routed"), kinds


@pytest.mark.parametrize("platform", ["taobao", "douyin"])
async def test_an_order_packed_in_two_parcels_is_delivered_once_both_are_signed_for(
    backend: Backend, partners: Partners, platform: str
) -> None:
    """The own warehouse packs the order's two units in two parcels: the second parcel's waybill is
    issued by the same provider, both waybills reach the channel, and the order is delivered only
    once the second parcel is signed for."""
    async with _case(backend, partners, platform, "own") as case:
        order_id = await _ingested(case, _create_paid_order(case))
        assert await _reviewed(case, order_id) == "approved"
        do = await _routed(case, order_id)
        hub, client = case.hub, case.client

        async def issued(count: int) -> list[Any]:
            rows = [p for p in await parcels(hub, order_id) if p.status != "cancelled"]
            return rows if len(rows) == count and all(p.status == "issued" for p in rows) else []

        await eventually(lambda: issued(1), timeout_s=DEADLINE_S, what="the planned parcel's waybill")
        external_line = (await order_by_id(hub, order_id)).data["lines"][0]["external_id"]
        assert (await client.post("/api/v1/warehouse/pick", json={"delivery_order_ids": [do.id]})).status_code == 200
        two = [{"weight_grams": 400, "items": [{"line_external_id": external_line, "quantity": 1}]}] * 2
        packed = await client.post(f"/api/v1/delivery-orders/{do.id}/pack", json={"parcels": two})
        assert packed.status_code == 200, packed.text
        both = await eventually(lambda: issued(2), timeout_s=DEADLINE_S, what="the second parcel's waybill")
        numbers = [str(p.waybill_number) for p in both]
        assert len(set(numbers)) == 2 and {p.courier_account for p in both} == {PROVIDER_OF[platform][0]}
        shipped = await client.post(f"/api/v1/delivery-orders/{do.id}/ship")
        assert shipped.status_code == 200, shipped.text

        async def confirmed() -> dict[str, Any]:
            detail: dict[str, Any] = (await client.get(f"/api/v1/orders/{order_id}")).json()
            shipments = detail.get("shipments") or []
            return detail if shipments and all(s["status"] == "confirmed" for s in shipments) else {}

        await eventually(confirmed, timeout_s=DEADLINE_S, what="the shipment confirmed to the channel")
        box, shop = case.channel.sandbox, case.channel.shop
        external_id = (await order_by_id(hub, order_id)).external_id
        if platform == "taobao":
            with box.lock:
                trade = dict(box.shop(shop).trades[external_id])
            assert trade["status"] == "WAIT_BUYER_CONFIRM_GOODS"
            told = {line["invoice_no"] for line in trade["orders"]["order"]}
        else:
            emulated = box.book.order(shop, external_id)
            assert emulated.status == "3"
            told = {p["tracking_no"] for p in emulated.logistics}
        # Douyin takes every package; TOP's offline.send takes one waybill per trade line (one line here).
        assert told == set(numbers) if platform == "douyin" else (len(told) == 1 and told < set(numbers)), told

        k100 = case.partners.k100

        async def subscribed() -> list[tuple[str, str]]:
            keys = [key for key in list(k100.subscriptions) if key[1] in numbers]
            return keys if len(keys) == 2 else []

        first, second = await eventually(subscribed, timeout_s=DEADLINE_S, what="both parcels subscribed")
        for _ in range(5):
            k100.advance(*first)
            assert (await k100.send_callback(*first)).status_code == 200
        hub.runtime.join(60_000)  # type: ignore[union-attr]
        assert (await order_by_id(hub, order_id)).status != "delivered"  # one parcel still on its way
        for _ in range(5):
            k100.advance(*second)
            assert (await k100.send_callback(*second)).status_code == 200

        async def delivered() -> bool:
            return (await order_by_id(hub, order_id)).status == "delivered"

        await eventually(delivered, timeout_s=DEADLINE_S, what="the order delivered")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refund_before_shipping_stops_the_delivery_at_the_warehouse(
    backend: Backend, partners: Partners, kind: WarehouseKind
) -> None:
    """The buyer asks for a refund once the delivery order is at the warehouse: the hub holds the
    order and cancels it there (the WMS, or the own warehouse with its waybill given back)."""
    async with _case(backend, partners, "taobao", kind) as case:
        tid = _create_paid_order(case)
        order_id = await _ingested(case, tid)
        do = await _routed(case, order_id)
        hub = case.hub
        if kind == "own":
            async def issued() -> list[Any]:
                rows = await parcels(hub, order_id)
                return rows if rows and rows[0].status == "issued" else []

            await eventually(issued, timeout_s=DEADLINE_S, what="the waybill issued")
        case.channel.sandbox.create_refund(case.channel.shop, tid)

        async def cancelled() -> list[Any]:
            rows = await delivery_orders(hub, order_id)
            return rows if rows and rows[0].status == "cancelled" else []

        await eventually(cancelled, timeout_s=DEADLINE_S, what="the delivery order cancelled")
        assert "refund_requested" in await open_holds(hub, order_id)
        if kind == "qimen":
            assert case.partners.wms.orders[do.code].status == "CANCELED"
        else:
            async def given_back() -> list[Any]:
                rows = await parcels(hub, order_id)
                return rows if rows and rows[0].status == "cancelled" else []

            [parcel] = await eventually(given_back, timeout_s=DEADLINE_S, what="the waybill cancelled")
            assert [w.waybill_code for w in case.channel.sandbox.cainiao.cancelled()] == [parcel.waybill_number]
        hub.runtime.join(60_000)  # type: ignore[union-attr]
        with case.channel.sandbox.lock:
            assert case.channel.sandbox.shop(case.channel.shop).trades[tid]["status"] == "WAIT_SELLER_SEND_GOODS"
        assert await open_exceptions(hub, order_id) == []
