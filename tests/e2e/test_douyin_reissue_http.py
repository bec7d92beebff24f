"""Douyin 补寄 (resend, aftersale_type 7) end to end: the connector against its sandbox over real
HTTP. A reissue without a parcel is recorded (no API agrees a 补寄); with its parcel it is
``afterSale.fillLogistics`` (send_type 1), which moves the case to 13 (sent, awaiting the buyer)
with pushes 227/226, once however often it is sent; cases that are not a waiting 补寄 are refused.
And the hub's part: a reissue decided in the hub goes out through the own warehouse and, once
shipped, Douyin is told its parcel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from contracts import AfterSaleAction, AfterSaleDecision, AfterSaleStatus, AfterSaleType
from hub.db.tables import ParcelRow
from hub.errors import BadInputError, StaleAfterSaleError
from hub.services import orders
from hub.services.aftersales import decisions, intake
from hub.services.aftersales.decisions import DecisionIn
from hub.services.fulfilment import own_warehouse
from hub.services.stock import adjustments, skus
from hub.testing import fulfilment_factories as ff
from hub.testing.context import make_context
from hub.testing.hub import hub_config, running_hub
from plugins.douyin.client import DouyinRefusal
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox, running
from tests.integration.aftersales_decisions_support import case_row

SHOP = "dy-reissue"
RESEND = 7
pytestmark = pytest.mark.e2e


@pytest.fixture
def served() -> Iterator[tuple[DouyinSandbox, str]]:
    box = DouyinSandbox(auto_deliver=False, seed=5)
    with running(box) as base_url:
        box.set_push_target(SHOP, "http://127.0.0.1:9/unused")  # queue pushes; tests take them
        yield box, base_url


@pytest.fixture
def sandbox(served: tuple[DouyinSandbox, str]) -> DouyinSandbox:
    return served[0]


@pytest.fixture
async def connector(served: tuple[DouyinSandbox, str]) -> AsyncIterator[DouyinChannel]:
    box, base_url = served
    channel = DouyinChannel(make_context(DouyinChannel, SHOP, box.shop_settings(SHOP, base_url)))
    yield channel
    await channel.aclose()


def reissue(key: str, **parcel: str) -> AfterSaleDecision:
    return AfterSaleDecision(action=AfterSaleAction.REISSUE, key=key, **parcel)  # type: ignore[arg-type]


def resend_case(box: DouyinSandbox) -> str:
    order_id = box.create_order(SHOP, "TEE-M", 1)
    box.advance_order(SHOP, order_id)  # shipped: the buyer says a part is missing
    return box.create_aftersale(SHOP, order_id, RESEND)


def fills(box: DouyinSandbox) -> int:
    return box.calls.count("afterSale.fillLogistics")


def pushed_tags(box: DouyinSandbox, channel: DouyinChannel) -> list[str]:
    signed = box.take_signed_push(SHOP)
    if signed is None:
        return []
    receipt = channel.parse_push(*signed)
    assert not receipt.rejected
    return [m.topic for m in receipt.messages if m.topic.startswith("2")]


async def test_a_reissue_parcel_is_filled_in_once_and_the_buyer_receives_it(sandbox: DouyinSandbox,
                                                                            connector: DouyinChannel) -> None:
    box = sandbox
    case_id = resend_case(box)
    case = await connector.get_aftersale(case_id)
    assert (case.type, case.status, case.extra["aftersale_type"]) == (AfterSaleType.REISSUE,
                                                                     AfterSaleStatus.REQUESTED, "7")
    agreed = await connector.decide_aftersale(case, reissue("k-re-1"))
    assert not agreed.written_back and agreed.note is not None and "fillLogistics" in agreed.note
    assert fills(box) == 0
    sent = await connector.decide_aftersale(case, reissue("k-re-2", courier_code="SF",
                                                          tracking_number="SF2100000001"))
    assert sent.written_back and sent.case is not None
    assert sent.case.status == AfterSaleStatus.REPLACEMENT_SHIPPED and sent.case.raw_status == "13"
    assert (sent.case.extra["resend_tracking_number"], sent.case.extra["resend_courier"]) == (
        "SF2100000001", "shunfeng")
    raw = box.aftersale_raw(SHOP, case_id)["process_info"]["logistics_info"]
    assert raw["resend"]["tracking_no"] == "SF2100000001" and raw["exchange"]["tracking_no"] == ""
    again = await connector.decide_aftersale(case, reissue("k-re-2", courier_code="SF",
                                                           tracking_number="SF2100000001"))
    assert again.written_back and again.note is not None and "already done" in again.note
    assert fills(box) == 1  # a resend after a lost answer finds the case sent: not filled in twice
    assert pushed_tags(box, connector) == ["200", "227", "226"]
    box.buyer_receives_replacement(SHOP, case_id)
    assert (await connector.get_aftersale(case_id)).status == AfterSaleStatus.COMPLETED


async def test_only_a_waiting_resend_takes_a_reissue(sandbox: DouyinSandbox, connector: DouyinChannel) -> None:
    box = sandbox
    order_id = box.create_order(SHOP, "TEE-L", 1)
    box.advance_order(SHOP, order_id)
    exchange = await connector.get_aftersale(box.create_aftersale(SHOP, order_id, "exchange"))
    with pytest.raises(BadInputError) as wrong_type:
        await connector.decide_aftersale(exchange, reissue("k-x", courier_code="SF", tracking_number="SF1"))
    assert wrong_type.value.field == "action"
    withdrawn_id = resend_case(box)
    withdrawn = await connector.get_aftersale(withdrawn_id)
    box.buyer_cancels_aftersale(SHOP, withdrawn_id)
    with pytest.raises(StaleAfterSaleError) as moved:
        await connector.decide_aftersale(withdrawn, reissue("k-w", courier_code="SF", tracking_number="SF2"))
    assert moved.value.current is not None and moved.value.current.status == AfterSaleStatus.CLOSED
    with pytest.raises(BadInputError) as no_courier:
        await connector.decide_aftersale(await connector.get_aftersale(resend_case(box)),
                                         reissue("k-c", tracking_number="SF3"))
    assert no_courier.value.field == "courier_code"
    assert fills(box) == 0


async def test_the_sandbox_checks_fill_logistics_as_the_platform_would(sandbox: DouyinSandbox,
                                                                       connector: DouyinChannel) -> None:
    box = sandbox
    case_id = resend_case(box)
    base = {"aftersale_id": int(case_id), "send_type": 1, "company_code": "shunfeng", "tracking_no": "SF9"}
    for wrong, sub_code in (({"send_type": 3}, "isv.parameter-invalid:11000"),
                            ({"aftersale_id": case_id}, "isv.parameter-invalid:11000"),  # int64, not a string
                            ({"company_code": "nobody"}, "isv.parameter-invalid:11000"),
                            ({"tracking_no": ""}, "isv.parameter-invalid:11000")):
        with pytest.raises(DouyinRefusal) as refused:
            await connector.client.call("afterSale.fillLogistics", {**base, **wrong}, retry=False)
        assert refused.value.sub_code == sub_code
    assert box.aftersale_raw(SHOP, case_id)["process_info"]["after_sale_info"]["after_sale_status"] == 6
    await connector.client.call("afterSale.fillLogistics", base, retry=False)
    with pytest.raises(DouyinRefusal) as twice:
        await connector.client.call("afterSale.fillLogistics", base, retry=False)
    assert twice.value.sub_code == "isv.business-failed:20309541"  # 13: no longer waiting for a parcel
    order_id = box.create_order(SHOP, "TEE-M", 1)
    box.advance_order(SHOP, order_id)
    refund = box.create_aftersale(SHOP, order_id, "return_and_refund")
    with pytest.raises(DouyinRefusal) as not_resend:
        await connector.client.call("afterSale.fillLogistics", {**base, "aftersale_id": int(refund)}, retry=False)
    assert not_resend.value.sub_code == "isv.business-failed:11005"


async def test_the_hub_sends_a_reissue_and_tells_douyin_its_parcel(served: tuple[DouyinSandbox, str],
                                                                   database_url: str) -> None:
    box, base_url = served
    config = hub_config(
        database_url, shops={SHOP: {"platform": "douyin", "settings": box.shop_settings(SHOP, base_url)}},
        warehouses={"main": {"platform": "manual", "priority": 1}},
        couriers={"post": {"platform": "manual", "courier_code": "sf"}},
        fulfilment={"couriers": {"rules": [{"courier": "post", "courier_code": "sf"}]}})
    with running_hub(config, start_workers=False, relay=False) as hub:
        connector = hub.accounts().channel(SHOP)
        order_ref = box.create_order(SHOP, "TEE-M", 1)
        box.advance_order(SHOP, order_ref)
        async with hub.database().transaction() as session:
            await skus.define_sku(session, "TEE-M", name="T 恤 M")
            await adjustments.apply_adjustment(session, adjustments.Adjustment("main", "TEE-M", delta=5))
            await orders.apply_order(session, await connector.get_order(order_ref), cause="test")
        external_id = box.create_aftersale(SHOP, order_ref, RESEND)
        async with hub.database().transaction() as session:
            case_id, _ = await intake.apply_aftersale(session, await connector.get_aftersale(external_id),
                                                      cause="test")
        decided = await decisions.decide(hub, case_id, DecisionIn(action="reissue"), actor="alice")
        assert decided.state == "recorded" and decided.note is not None and "fillLogistics" in decided.note
        assert decided.delivery_order_id is not None and fills(box) == 0
        async with hub.database().session() as session:
            parcel_id = (await session.execute(select(ParcelRow.id).where(
                ParcelRow.delivery_order_id == decided.delivery_order_id))).scalar_one()
        await ff.issue_waybill(hub, parcel_id, "SF2200000001")
        await own_warehouse.pick(hub, [decided.delivery_order_id], actor="packer")
        await own_warehouse.pack(hub, decided.delivery_order_id, [own_warehouse.PackedParcel(weight_grams=300)],
                                 actor="packer")
        await own_warehouse.ship(hub, decided.delivery_order_id, actor="packer")
        assert await decisions.replacement_shipped(hub, case_id, decided.delivery_order_id,
                                                   [("sf", "SF2200000001")], actor="packer")
        assert fills(box) == 1
        raw = box.aftersale_raw(SHOP, external_id)["process_info"]
        assert (raw["after_sale_info"]["after_sale_status"], raw["logistics_info"]["resend"]["tracking_no"]) == (
            13, "SF2200000001")
        assert (await case_row(hub, case_id)).status == "replacement_shipped"
        box.buyer_receives_replacement(SHOP, external_id)
        async with hub.database().transaction() as session:
            await intake.apply_aftersale(session, await connector.get_aftersale(external_id), cause="test")
        assert (await case_row(hub, case_id)).status == "completed"
