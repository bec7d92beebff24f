"""Refund decisions of Taobao and Tmall shops, connector ↔ sandbox over real HTTP with real
signatures: approve, refuse with an image proof (multipart), a return from agreement to refund,
a stale case, the same decision twice, an amount above what was paid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleStatus,
    AfterSaleType,
    Money,
    Proof,
    ReturnAddress,
)
from hub.errors import BadInputError, PermanentError, StaleAfterSaleError
from hub.testing.context import make_context
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.sandbox import TaobaoSandbox, serve_in_thread
from plugins.tmall.connector import TmallChannel
from plugins.tmall.sandbox import TmallSandbox

pytestmark = pytest.mark.e2e
SHOP = "as-e2e"
PNG = Proof(filename="goods.png", content_type="image/png", content=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
ADDRESS = ReturnAddress(address_id="8800", name="退货仓", phone="13800000000", province="浙江省", city="杭州市",
                        district="余杭区", detail="文一西路1号", zip_code="311100")
PLATFORMS = {"taobao": (TaobaoSandbox, TaobaoChannel), "tmall": (TmallSandbox, TmallChannel)}


@pytest.fixture(params=["taobao", "tmall"])
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(platform: str) -> Iterator[tuple[TaobaoSandbox, str]]:
    box = PLATFORMS[platform][0]()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
async def channel(served: tuple[TaobaoSandbox, str], platform: str) -> AsyncIterator[TaobaoChannel]:
    box, base_url = served
    cls = PLATFORMS[platform][1]
    connector = cls(make_context(cls, SHOP, box.shop_settings(SHOP, base_url)))
    yield connector
    await connector.aclose()


def _shipped_order(box: TaobaoSandbox) -> str:
    tid = box.create_order(SHOP, "TEE-M", 1)  # 38.00 paid
    box.advance_order(SHOP, tid)
    return tid


def _decision(action: AfterSaleAction, key: str = "k1", **fields: Any) -> AfterSaleDecision:
    return AfterSaleDecision(action=action, key=key, **fields)


async def test_a_refund_only_is_approved_for_part_of_what_was_paid(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await channel.get_aftersale(refund_id)
    assert case.status is AfterSaleStatus.REQUESTED and case.deadline is not None and case.version
    assert case.max_refund == Money(amount=Decimal("38.00"))
    result = await channel.decide_aftersale(case, _decision(AfterSaleAction.APPROVE_REFUND, version=case.version,
                                                            refund_amount=Money(amount="20.50")))
    assert result.written_back and result.case is not None
    assert result.case.status is AfterSaleStatus.REFUNDED and result.case.refund_amount == Money(amount="20.50")
    assert box.aftersale_raw(SHOP, refund_id)["status"] == "SUCCESS"
    assert box.aftersale_raw(SHOP, refund_id)["refund_fee"] == "20.50"


async def test_tmall_refusal_sends_its_image_proof_as_multipart(served: tuple[TaobaoSandbox, str],
                                                               channel: TaobaoChannel, platform: str) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "refund_only")
    case = await channel.get_aftersale(refund_id)
    reasons = await channel.aftersale_refuse_reasons(case)
    assert reasons and all(r.proof_required is (platform == "tmall") for r in reasons)
    if platform == "tmall":
        with pytest.raises(BadInputError) as caught:
            await channel.decide_aftersale(case, _decision(AfterSaleAction.REFUSE, reason_id=reasons[0].id))
        assert caught.value.field == "proof" and "taobao.refund.refuse" not in box.gateway.calls
    result = await channel.decide_aftersale(case, _decision(AfterSaleAction.REFUSE, reason_id=reasons[0].id,
                                                            proof=[PNG]))
    assert result.written_back and result.case is not None and result.case.status is AfterSaleStatus.REJECTED
    proofs = box.refunds.proofs[(SHOP, refund_id)]
    assert [(p.filename, p.content_type, p.content) for p in proofs] == [(PNG.filename, "image/png", PNG.content)]


async def test_a_return_is_agreed_shipped_back_and_confirmed_into_a_refund(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "return_and_refund")
    case = await channel.get_aftersale(refund_id)
    assert case.type is AfterSaleType.RETURN_AND_REFUND
    agreed = await channel.decide_aftersale(case, _decision(AfterSaleAction.AGREE_RETURN, return_address=ADDRESS))
    assert agreed.case is not None and agreed.case.status is AfterSaleStatus.AWAITING_RETURN
    box.buyer_returns_goods(SHOP, refund_id, tracking_number="SF2000000002", company="顺丰速运")
    back = await channel.get_aftersale(refund_id)
    assert back.status is AfterSaleStatus.RETURNED and back.goods_returned
    assert (back.return_tracking_number, back.return_courier) == ("SF2000000002", "顺丰速运")
    done = await channel.decide_aftersale(back, _decision(AfterSaleAction.CONFIRM_RETURN, key="k2",
                                                          version=back.version))
    assert done.case is not None and done.case.status is AfterSaleStatus.REFUNDED
    assert box.aftersale_raw(SHOP, refund_id)["status"] == "SUCCESS"


async def test_a_case_the_platform_moved_on_is_stale_with_its_current_state(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await channel.get_aftersale(refund_id)
    with pytest.raises(StaleAfterSaleError) as old_version:
        await channel.decide_aftersale(case, _decision(AfterSaleAction.APPROVE_REFUND, version="1"))
    assert isinstance(old_version.value.current, AfterSale) and old_version.value.current.version == case.version
    box.buyer_closes_aftersale(SHOP, refund_id)
    with pytest.raises(StaleAfterSaleError) as closed:
        await channel.decide_aftersale(case, _decision(AfterSaleAction.APPROVE_REFUND, version=case.version))
    assert closed.value.current.status is AfterSaleStatus.CLOSED
    assert "taobao.rp.refunds.agree" not in box.gateway.calls


async def test_the_same_decision_twice_is_applied_once(served: tuple[TaobaoSandbox, str],
                                                       channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await channel.get_aftersale(refund_id)
    decision = _decision(AfterSaleAction.APPROVE_REFUND, version=case.version, refund_amount=Money(amount="10.00"))
    first = await channel.decide_aftersale(case, decision)
    again = await channel.decide_aftersale(case, decision)
    assert first.case == again.case and again.written_back and again.note
    assert box.gateway.calls.count("taobao.rp.refunds.agree") == 1
    assert box.aftersale_raw(SHOP, refund_id)["refund_fee"] == "10.00"


async def test_a_lost_answer_is_settled_by_reading_the_refund_again(served: tuple[TaobaoSandbox, str],
                                                                    channel: TaobaoChannel) -> None:
    """The write lands but its answer never arrives: the connector reads the refund, sees SUCCESS and
    reports done; the write is not sent again."""
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await channel.get_aftersale(refund_id)
    await channel.aclose()
    channel.client.timeout = 1.0  # the next HTTP client is made with it
    read_refund = box.gateway.handlers["taobao.refund.get"][0]

    def read_and_lose_the_next_answer(call: Any) -> dict[str, Any]:
        if "taobao.rp.refunds.agree" not in box.gateway.calls:
            box.gateway.faults.append(("lost_answer", 30.0))  # taken by the next request: the write
        return read_refund(call)

    box.gateway.register("taobao.refund.get", read_and_lose_the_next_answer)
    result = await channel.decide_aftersale(case, _decision(AfterSaleAction.APPROVE_REFUND, version=case.version))
    assert result.written_back and result.case is not None and result.case.status is AfterSaleStatus.REFUNDED
    assert box.gateway.calls.count("taobao.rp.refunds.agree") == 1


async def test_an_amount_above_what_was_paid_is_refused_before_writing(served: tuple[TaobaoSandbox, str],
                                                                      channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only", amount="30.00")
    case = await channel.get_aftersale(refund_id)
    with pytest.raises(BadInputError) as caught:
        await channel.decide_aftersale(case, _decision(AfterSaleAction.APPROVE_REFUND,
                                                       refund_amount=Money(amount="38.01")))
    assert caught.value.field == "refund_amount" and "taobao.rp.refunds.agree" not in box.gateway.calls
    assert box.aftersale_raw(SHOP, refund_id)["status"] == "WAIT_SELLER_AGREE"


async def test_top_refuses_a_refusal_before_the_goods_shipped(served: tuple[TaobaoSandbox, str],
                                                             channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await channel.get_aftersale(refund_id)
    with pytest.raises(PermanentError, match="not shipped") as caught:
        await channel.decide_aftersale(case, _decision(AfterSaleAction.REFUSE, reason_text="买家已收到货", proof=[PNG]))
    assert not isinstance(caught.value, StaleAfterSaleError)


async def test_tmc_tells_each_step_of_a_return(served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    await channel.open_message_channel()
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "return_and_refund")
    case = await channel.get_aftersale(refund_id)
    await channel.decide_aftersale(case, _decision(AfterSaleAction.AGREE_RETURN, return_address=ADDRESS))
    box.buyer_returns_goods(SHOP, refund_id)
    topics = [m.topic for m in await channel.consume_messages(200) if m.external_id == refund_id]
    assert topics == ["taobao_refund_RefundCreated", "taobao_refund_RefundSellerAgreeAgreement",
                      "taobao_refund_RefundBuyerReturnGoods"]


async def test_taobao_has_no_write_for_exchanges_or_refused_returns(served: tuple[TaobaoSandbox, str],
                                                                   channel: TaobaoChannel, platform: str) -> None:
    if platform != "taobao":
        pytest.skip("Tmall exchanges are the Tmall connector's")
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "exchange")
    case = await channel.get_aftersale(refund_id)
    assert case.type is AfterSaleType.EXCHANGE
    result = await channel.decide_aftersale(case, _decision(AfterSaleAction.AGREE_EXCHANGE, return_address=ADDRESS))
    assert not result.written_back and result.note and "no write API" in result.note
    assert await channel.aftersale_refuse_reasons(case) == []
    refused = await channel.decide_aftersale(case.model_copy(update={"type": AfterSaleType.RETURN_AND_REFUND}),
                                             _decision(AfterSaleAction.REFUSE_RETURN, proof=[PNG]))
    assert not refused.written_back and "Tmall only" in (refused.note or "")


@pytest.mark.parametrize("action", [AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE])
async def test_a_case_that_moves_between_the_read_and_the_write_is_stale(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel, action: AfterSaleAction) -> None:
    """The buyer withdraws while the decision is on its way: TOP refuses the write (per refund for
    rp.refunds.agree, as an error for refund.refuse) and the connector reports the closed case."""
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "refund_only")
    case = await channel.get_aftersale(refund_id)
    method = "taobao.rp.refunds.agree" if action is AfterSaleAction.APPROVE_REFUND else "taobao.refund.refuse"
    write = box.gateway.handlers[method][0]

    def buyer_withdraws_first(call: Any) -> dict[str, Any]:
        box.buyer_closes_aftersale(SHOP, refund_id)
        return write(call)

    box.gateway.register(method, buyer_withdraws_first)
    with pytest.raises(StaleAfterSaleError) as caught:
        await channel.decide_aftersale(case, _decision(action, reason_text="买家已签收", proof=[PNG]))
    assert caught.value.current.status is AfterSaleStatus.CLOSED


async def test_tmall_refuses_returned_goods_with_proof(served: tuple[TaobaoSandbox, str], channel: TaobaoChannel,
                                                       platform: str) -> None:
    if platform != "tmall":
        pytest.skip("taobao.rp.returngoods.refuse is Tmall only")
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "return_and_refund")
    case = await channel.get_aftersale(refund_id)
    await channel.decide_aftersale(case, _decision(AfterSaleAction.AGREE_RETURN, return_address=ADDRESS))
    waiting = await channel.get_aftersale(refund_id)
    with pytest.raises(PermanentError, match="not entered the return shipment"):
        await channel.decide_aftersale(waiting, _decision(AfterSaleAction.REFUSE_RETURN, key="k2", proof=[PNG]))
    box.buyer_returns_goods(SHOP, refund_id)
    back = await channel.get_aftersale(refund_id)
    reasons = await channel.aftersale_refuse_reasons(back)
    result = await channel.decide_aftersale(back, _decision(AfterSaleAction.REFUSE_RETURN, key="k3",
                                                            reason_id=reasons[0].id, proof=[PNG]))
    assert result.case is not None and result.case.status is AfterSaleStatus.REJECTED
    assert len(box.refunds.proofs[(SHOP, refund_id)]) == 1


async def test_a_reason_not_in_tops_list_is_refused_before_writing(served: tuple[TaobaoSandbox, str],
                                                                  channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, _shipped_order(box), "refund_only")
    case = await channel.get_aftersale(refund_id)
    with pytest.raises(BadInputError) as caught:
        await channel.decide_aftersale(case, _decision(AfterSaleAction.REFUSE, reason_id="999", proof=[PNG]))
    assert caught.value.field == "reason_id" and "taobao.refund.refuse" not in box.gateway.calls


async def test_cases_are_listed_in_their_window_and_the_detail_carries_the_deadline(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    refund_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only", reason="拍错了")
    now = datetime.now(UTC)
    listed = await channel.fetch_aftersales(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert [(c.ref.external_id, c.reason) for c in listed] == [(refund_id, "拍错了")]
    assert listed[0].deadline is None  # refunds.receive.get does not return refund_remind_timeout
    detail = await channel.get_aftersale(refund_id)
    assert detail.deadline is not None and timedelta(days=1) < detail.deadline - now <= timedelta(days=2)
    assert await channel.fetch_aftersales(now + timedelta(minutes=2), now + timedelta(minutes=10)) == []


async def test_the_control_surface_drives_cases_over_http(served: tuple[TaobaoSandbox, str],
                                                          channel: TaobaoChannel) -> None:
    box, base_url = served
    tid = _shipped_order(box)
    async with httpx.AsyncClient(base_url=base_url) as http:
        made = await http.post("/_sandbox/aftersales", json={"shop": SHOP, "order_id": tid,
                                                               "kind": "return_and_refund", "amount": "12.00"})
        case_id = made.json()["case_id"]
        early = await http.post(f"/_sandbox/aftersales/{case_id}/return", json={"shop": SHOP})
        case = await channel.get_aftersale(case_id)
        await channel.decide_aftersale(case, _decision(AfterSaleAction.AGREE_RETURN, return_address=ADDRESS))
        shipped = await http.post(f"/_sandbox/aftersales/{case_id}/return", json={"shop": SHOP})
        raw = (await http.get(f"/_sandbox/aftersales/{case_id}", params={"shop": SHOP})).json()
    assert early.status_code == 409 and shipped.status_code == 200
    assert (raw["status"], raw["refund_fee"], raw["sid"]) == ("WAIT_SELLER_CONFIRM_GOODS", "12.00", "SF1000000001")
