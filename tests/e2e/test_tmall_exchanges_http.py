"""Tmall exchanges (换货) end to end: the Tmall connector deciding exchanges against its sandbox over
real HTTP — agree, the buyer's return, receipt, the replacement's shipment and the buyer's
confirmation; a refusal with its reason and picture (multipart); a case that moved on; a decision
sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleStatus,
    MessageKind,
    Proof,
    ReturnAddress,
)
from hub.errors import BadInputError, StaleAfterSaleError
from hub.testing.context import make_context
from plugins.taobao.sandbox import serve_in_thread
from plugins.tmall.connector import TmallChannel
from plugins.tmall.sandbox import TmallSandbox

pytestmark = pytest.mark.e2e
SHOP = "tm-exchange"
#: The smallest PNG there is (1×1, transparent): a picture of the goods as the refusal's proof.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
ADDRESS = ReturnAddress(address_id="10001", name="退货仓", phone="13800000000", province="浙江省",
                        city="杭州市", district="余杭区", detail="文一西路 1 号", zip_code="311100")


@pytest.fixture
def served() -> Iterator[tuple[TmallSandbox, str]]:
    box = TmallSandbox()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
async def channel(served: tuple[TmallSandbox, str]) -> AsyncIterator[TmallChannel]:
    box, base_url = served
    connector = TmallChannel(make_context(TmallChannel, SHOP, box.shop_settings(SHOP, base_url)))
    await connector.open_message_channel()
    yield connector
    await connector.aclose()


def open_exchange(box: TmallSandbox) -> str:
    tid = box.create_order(SHOP, "TM-EX-1", 1)
    box.advance_order(SHOP, tid)  # shipped: the buyer has the goods to exchange
    return box.create_aftersale(SHOP, tid, "exchange", reason="尺码不合适")


def decision(action: AfterSaleAction, key: str, case: AfterSale, **fields: object) -> AfterSaleDecision:
    return AfterSaleDecision(action=action, key=key, version=case.version, **fields)


async def test_an_exchange_goes_from_agreement_to_the_buyer_confirming_the_replacement(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    dispute_id = open_exchange(box)
    case = await channel.get_aftersale(dispute_id)
    assert (case.status, case.exchange_sku) == (AfterSaleStatus.REQUESTED, "颜色:黑色")
    assert case.description == "买家说明：换黑色" and case.reason == "尺码不合适"
    assert case.deadline is not None and case.version is not None

    agreed = await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_EXCHANGE, "ag-1", case,
                                                           return_address=ADDRESS))
    assert agreed.written_back and agreed.case is not None
    assert agreed.case.status is AfterSaleStatus.AWAITING_RETURN and agreed.case.version != case.version
    assert box.aftersale_raw(SHOP, dispute_id)["address"] == "浙江省杭州市余杭区文一西路 1 号"

    box.buyer_returns_goods(SHOP, dispute_id, tracking_number="SF1000000001", company="顺丰")
    returned = await channel.get_aftersale(dispute_id)
    assert returned.status is AfterSaleStatus.RETURNED and returned.goods_returned
    assert (returned.return_courier, returned.return_tracking_number) == ("顺丰", "SF1000000001")

    received = await channel.decide_aftersale(returned, decision(AfterSaleAction.RECEIVE_EXCHANGE, "rc-1", returned))
    assert received.case is not None and received.case.raw_status == "12"
    assert received.case.status is AfterSaleStatus.RETURNED and received.case.extra["seller_received"] == "true"

    shipped = await channel.decide_aftersale(received.case, decision(
        AfterSaleAction.SHIP_EXCHANGE, "sh-1", received.case, courier_code="SF", tracking_number="SF2000000002"))
    assert shipped.case is not None and shipped.case.status is AfterSaleStatus.REPLACEMENT_SHIPPED
    raw = box.aftersale_raw(SHOP, dispute_id)
    assert (raw["seller_logistic_no"], raw["seller_logistic_name"]) == ("SF2000000002", "顺丰")

    box.buyer_receives_replacement(SHOP, dispute_id)
    assert (await channel.get_aftersale(dispute_id)).status is AfterSaleStatus.COMPLETED
    assert [c for c in box.gateway.calls if c.startswith("tmall.exchange.") and not c.endswith("get")] == [
        "tmall.exchange.agree", "tmall.exchange.returngoods.agree", "tmall.exchange.consigngoods"]

    messages = [m for m in await channel.consume_messages(100) if m.kind is MessageKind.AFTERSALE]
    topics = [m.topic for m in messages if m.external_id == dispute_id]
    assert topics[-5:] == ["taobao_dispute_ExchangeAgree", "taobao_dispute_ExchangeModified",
                           "taobao_dispute_ExchangeSellerConfirmed", "taobao_dispute_ExchangeSellerGoodsConsigned",
                           "taobao_dispute_ExchangeSuccess"]


async def test_a_refusal_carries_its_reason_and_picture_to_tmall(served: tuple[TmallSandbox, str],
                                                                channel: TmallChannel) -> None:
    box, _ = served
    case = await channel.get_aftersale(open_exchange(box))
    reasons = await channel.aftersale_refuse_reasons(case)
    assert reasons and all(r.id and r.text for r in reasons)
    proof = Proof(filename="goods.png", content_type="image/png", content=PNG)
    result = await channel.decide_aftersale(case, decision(
        AfterSaleAction.REFUSE, "rf-1", case, reason_id=reasons[0].id, reason_text="商品已拆封", proof=[proof]))
    assert result.case is not None and result.case.status is AfterSaleStatus.REJECTED
    assert box.aftersale_raw(SHOP, case.ref.external_id)["seller_messages"] == [{
        "method": "tmall.exchange.refuse", "content": "商品已拆封",
        "picture": {"filename": "goods.png", "content_type": "image/png", "size": len(PNG)}}]


async def test_a_refusal_without_a_listed_reason_is_refused_naming_the_field(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    case = await channel.get_aftersale(open_exchange(box))
    with pytest.raises(BadInputError) as missing:
        await channel.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "rf-2", case))
    with pytest.raises(BadInputError) as unknown:
        await channel.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "rf-3", case, reason_id="42"))
    assert missing.value.field == unknown.value.field == "reason_id"
    assert box.aftersale_raw(SHOP, case.ref.external_id)["status"] == "1"


async def test_a_decision_on_an_exchange_that_moved_on_is_stale_with_the_current_case(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    dispute_id = open_exchange(box)
    case = await channel.get_aftersale(dispute_id)
    with pytest.raises(StaleAfterSaleError) as changed:
        await channel.decide_aftersale(case, AfterSaleDecision(
            action=AfterSaleAction.AGREE_EXCHANGE, key="st-0", version="1", return_address=ADDRESS))
    assert changed.value.current is not None and changed.value.current.version == case.version
    box.buyer_closes_exchange(SHOP, dispute_id)
    with pytest.raises(StaleAfterSaleError) as closed:
        await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_EXCHANGE, "st-1", case,
                                                      return_address=ADDRESS))
    current = closed.value.current
    assert isinstance(current, AfterSale) and current.status is AfterSaleStatus.CLOSED
    assert "tmall.exchange.agree" not in box.gateway.calls


async def test_the_same_decision_sent_twice_is_applied_once(served: tuple[TmallSandbox, str],
                                                           channel: TmallChannel) -> None:
    box, _ = served
    case = await channel.get_aftersale(open_exchange(box))
    agree = decision(AfterSaleAction.AGREE_EXCHANGE, "tw-1", case, return_address=ADDRESS)
    first = await channel.decide_aftersale(case, agree)
    again = await channel.decide_aftersale(case, agree)  # a retry after a timeout: same key, same copy
    assert first.case is not None and again.case is not None
    assert again.case.status is first.case.status is AfterSaleStatus.AWAITING_RETURN
    assert again.case.version == first.case.version and again.note is not None and "already" in again.note
    assert box.gateway.calls.count("tmall.exchange.agree") == 1


async def test_a_replacement_shipped_before_the_receipt_was_confirmed_does_both_in_one_call(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    dispute_id = open_exchange(box)
    case = await channel.get_aftersale(dispute_id)
    await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_EXCHANGE, "cc-1", case,
                                                  return_address=ADDRESS))
    box.buyer_returns_goods(SHOP, dispute_id)
    returned = await channel.get_aftersale(dispute_id)
    shipped = await channel.decide_aftersale(returned, decision(
        AfterSaleAction.SHIP_EXCHANGE, "cc-2", returned, courier_code="zto", tracking_number="ZTO300"))
    assert shipped.case is not None and shipped.case.status is AfterSaleStatus.REPLACEMENT_SHIPPED
    assert "tmall.exchange.confirm.consign" in box.gateway.calls
    assert box.aftersale_raw(SHOP, dispute_id)["seller_logistic_name"] == "中通"
