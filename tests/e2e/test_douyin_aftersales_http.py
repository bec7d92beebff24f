"""Douyin after-sale decisions end to end: the connector against its sandbox over real HTTP (signed
gateway calls, signed pushes): refund-only, return-and-refund and exchange paths, refusals with
the platform's reasons, the update_time lock, and a decision sent twice applied once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleStatus,
    Money,
    Proof,
    ReturnAddress,
)
from hub.errors import BadInputError, PermanentError, StaleAfterSaleError
from hub.testing.context import make_context
from plugins.douyin.client import DouyinRefusal
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox, running

SHOP = "dy-aftersales"
pytestmark = pytest.mark.e2e
ADDRESS = ReturnAddress(address_id="1001")


@pytest.fixture
def sandbox() -> Iterator[tuple[DouyinSandbox, str]]:
    box = DouyinSandbox(auto_deliver=False, seed=3)
    with running(box) as base_url:
        box.set_push_target(SHOP, "http://127.0.0.1:9/unused")  # queue pushes; tests take them
        yield box, base_url


@pytest.fixture
async def connector(sandbox: tuple[DouyinSandbox, str]) -> AsyncIterator[DouyinChannel]:
    box, base_url = sandbox
    channel = DouyinChannel(make_context(DouyinChannel, SHOP, box.shop_settings(SHOP, base_url)))
    yield channel
    await channel.aclose()


def decision(action: AfterSaleAction, key: str, **fields: object) -> AfterSaleDecision:
    return AfterSaleDecision(action=action, key=key, **fields)  # type: ignore[arg-type]


def shipped_order(box: DouyinSandbox, sku: str = "TEE-M") -> str:
    order_id = box.create_order(SHOP, sku, 1)
    box.advance_order(SHOP, order_id)  # 2 → 3: shipped
    return order_id


def pushed_tags(box: DouyinSandbox, channel: DouyinChannel) -> list[str]:
    """The after-sale tags queued since the last call, verified and parsed by the connector."""
    signed = box.take_signed_push(SHOP)
    if signed is None:
        return []
    receipt = channel.parse_push(*signed)
    assert not receipt.rejected
    return [m.topic for m in receipt.messages if m.topic.startswith("2")]


def operate_calls(box: DouyinSandbox) -> int:
    return box.calls.count("afterSale.operate")


async def test_refund_only_approved_is_refunded_with_pushes(sandbox: tuple[DouyinSandbox, str],
                                                            connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, box.create_order(SHOP, "TEE-M", 1), "refund_only")
    case = await connector.get_aftersale(case_id)
    assert case.status == AfterSaleStatus.REQUESTED and case.version and case.deadline is not None
    assert case.max_refund == Money(amount="19.90") and case.extra["aftersale_type"] == "2"
    result = await connector.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND, "k-refund-1"))
    assert result.written_back and result.case is not None
    assert result.case.status == AfterSaleStatus.REFUNDED and result.case.version != case.version
    info = box.aftersale_raw(SHOP, case_id)["process_info"]["after_sale_info"]
    assert (info["after_sale_status"], info["refund_status"], info["real_refund_amount"]) == (12, 3, 1990)
    assert pushed_tags(box, connector) == ["200", "201", "206"]


async def test_return_agreed_returned_and_confirmed_is_refunded(sandbox: tuple[DouyinSandbox, str],
                                                                connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "return_and_refund", reason="质量问题")
    case = await connector.get_aftersale(case_id)
    with pytest.raises(BadInputError) as missing:
        await connector.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN, "k-ret-0"))
    assert missing.value.field == "return_address" and operate_calls(box) == 0
    agreed = await connector.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN, "k-ret-1",
                                                             return_address=ADDRESS))
    assert agreed.case is not None and agreed.case.status == AfterSaleStatus.AWAITING_RETURN
    assert agreed.case.extra["return_address_id"] == "1001"
    box.buyer_returns_goods(SHOP, case_id, tracking_number="SF1000000001", company="SF")
    returned = await connector.get_aftersale(case_id)
    assert returned.status == AfterSaleStatus.RETURNED and returned.goods_returned
    assert (returned.return_tracking_number, returned.return_courier) == ("SF1000000001", "shunfeng")
    confirmed = await connector.decide_aftersale(returned, decision(AfterSaleAction.CONFIRM_RETURN, "k-ret-2"))
    assert confirmed.case is not None and confirmed.case.status == AfterSaleStatus.REFUNDED
    assert box.aftersale_raw(SHOP, case_id)["process_info"]["after_sale_info"]["after_sale_status"] == 12
    assert pushed_tags(box, connector) == ["200", "202", "203", "201", "206"]


async def test_exchange_agreed_returned_reshipped_and_received_is_completed(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box, "TEE-L"), "exchange")
    case = await connector.get_aftersale(case_id)
    assert case.exchange_sku == "TEE-L" and case.refund_amount == Money(amount="0")
    agreed = await connector.decide_aftersale(case, decision(AfterSaleAction.AGREE_EXCHANGE, "k-ex-1",
                                                             return_address=ADDRESS))
    assert agreed.case is not None and agreed.case.status == AfterSaleStatus.AWAITING_RETURN
    box.buyer_returns_goods(SHOP, case_id, tracking_number="YT3000000001", company="YTO")
    returned = await connector.get_aftersale(case_id)
    assert returned.status == AfterSaleStatus.RETURNED
    received = await connector.decide_aftersale(returned, decision(AfterSaleAction.RECEIVE_EXCHANGE, "k-ex-2"))
    assert not received.written_back and received.note is not None and "311" in received.note
    assert AfterSaleAction.RECEIVE_EXCHANGE not in connector.aftersale_actions and operate_calls(box) == 1
    shipped = await connector.decide_aftersale(returned, decision(AfterSaleAction.SHIP_EXCHANGE, "k-ex-3",
                                                                  courier_code="SF", tracking_number="SF2000000001"))
    assert shipped.case is not None and shipped.case.status == AfterSaleStatus.REPLACEMENT_SHIPPED
    assert shipped.case.extra["exchange_tracking_number"] == "SF2000000001"
    assert shipped.case.extra["exchange_courier"] == "shunfeng"
    box.buyer_receives_replacement(SHOP, case_id)
    assert (await connector.get_aftersale(case_id)).status == AfterSaleStatus.COMPLETED
    assert pushed_tags(box, connector) == ["200", "202", "203", "211", "206"]


async def test_refusal_takes_a_listed_reason_and_url_evidence(sandbox: tuple[DouyinSandbox, str],
                                                              connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "return_and_refund")
    case = await connector.get_aftersale(case_id)
    reasons = {r.id: r for r in await connector.aftersale_refuse_reasons(case)}
    assert reasons["1001"].proof_required and not reasons["1002"].proof_required
    assert "1004" not in reasons  # for a buyer without the goods; this buyer has them
    with pytest.raises(BadInputError) as no_proof:
        await connector.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "k-no-1", reason_id="1001"))
    assert no_proof.value.field == "proof"
    photo = Proof(filename="sign.jpg", content_type="image/jpeg", content=b"\xff\xd8\xff")
    with pytest.raises(BadInputError, match="URLs") as a_file:
        await connector.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "k-no-2", reason_id="1001",
                                                        proof=[photo]))
    assert a_file.value.field == "proof"
    with pytest.raises(BadInputError) as unknown:
        await connector.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "k-no-3", reason_id="77"))
    assert unknown.value.field == "reason_id" and operate_calls(box) == 0
    link = Proof(filename="sign.url", content_type="text/uri-list", content=b"https://img.example.com/sign.jpg")
    refused = await connector.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "k-no-4", reason_id="1001",
                                                              proof=[link], remark="物流显示已签收"))
    assert refused.case is not None and refused.case.status == AfterSaleStatus.REJECTED
    refusal = box.aftersale_raw(SHOP, case_id)["refusal"]
    assert refusal["reject_reason_code"] == 1001 and refusal["remark"] == "物流显示已签收"
    assert refusal["evidence"] == [{"type": 1, "url": "https://img.example.com/sign.jpg", "desc": ""}]
    assert pushed_tags(box, connector)[-1] == "205"


async def test_stale_update_time_raises_with_the_current_case(sandbox: tuple[DouyinSandbox, str],
                                                              connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "refund_only")
    seen = await connector.get_aftersale(case_id)
    box.buyer_modifies_aftersale(SHOP, case_id, amount="9.90")
    with pytest.raises(StaleAfterSaleError) as stale:
        await connector.decide_aftersale(seen, decision(AfterSaleAction.APPROVE_REFUND, "k-stale"))
    current = stale.value.current
    assert isinstance(current, AfterSale) and current.version != seen.version
    assert current.refund_amount == Money(amount="9.90") and current.status == AfterSaleStatus.REQUESTED
    assert box.aftersale_raw(SHOP, case_id)["process_info"]["after_sale_info"]["after_sale_status"] == 6
    # Decided again on what the platform shows now, it goes through.
    done = await connector.decide_aftersale(current, decision(AfterSaleAction.APPROVE_REFUND, "k-fresh"))
    assert done.case is not None and done.case.status == AfterSaleStatus.REFUNDED


async def test_wrong_status_is_stale_with_the_current_case(sandbox: tuple[DouyinSandbox, str],
                                                           connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "return_and_refund")
    case = await connector.get_aftersale(case_id)
    agreed = await connector.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN, "k-w-1",
                                                             return_address=ADDRESS))
    assert agreed.case is not None
    with pytest.raises(StaleAfterSaleError) as early:  # the goods are not back yet (20309541)
        await connector.decide_aftersale(agreed.case, decision(AfterSaleAction.CONFIRM_RETURN, "k-w-2"))
    assert early.value.current.status == AfterSaleStatus.AWAITING_RETURN


async def test_decision_sent_twice_is_applied_once(sandbox: tuple[DouyinSandbox, str],
                                                   connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "return_and_refund")
    case = await connector.get_aftersale(case_id)
    agree = decision(AfterSaleAction.AGREE_RETURN, "k-twice", return_address=ADDRESS, version=case.version)
    first = await connector.decide_aftersale(case, agree)
    again = await connector.decide_aftersale(case, agree)  # a retry after a lost answer: old version
    assert first.written_back and again.written_back and again.note is not None and "already" in again.note
    assert again.case is not None and again.case.status == AfterSaleStatus.AWAITING_RETURN
    assert operate_calls(box) == 1
    assert pushed_tags(box, connector).count("202") == 1


async def test_partial_amount_and_backend_only_cases_are_refused_with_reasons(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, shipped_order(box), "refund_only")
    case = await connector.get_aftersale(case_id)
    with pytest.raises(BadInputError, match="modify") as partial:
        await connector.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND, "k-p-1",
                                                        refund_amount=Money(amount="5.00")))
    assert partial.value.field == "refund_amount" and operate_calls(box) == 0
    box.require_backend(SHOP, case_id)
    with pytest.raises(PermanentError, match="back office"):
        await connector.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND, "k-p-2",
                                                        refund_amount=Money(amount="19.90")))
    assert box.aftersale_raw(SHOP, case_id)["process_info"]["after_sale_info"]["after_sale_status"] == 6


async def test_refund_before_shipping_has_no_refusal_through_the_api(sandbox: tuple[DouyinSandbox, str],
                                                                     connector: DouyinChannel) -> None:
    box, _ = sandbox
    case_id = box.create_aftersale(SHOP, box.create_order(SHOP, "MUG", 1), "refund_only")
    case = await connector.get_aftersale(case_id)
    assert await connector.aftersale_refuse_reasons(case) == []
    with pytest.raises(BadInputError, match="is_refund_reject") as refused:
        await connector.decide_aftersale(case, decision(AfterSaleAction.REFUSE, "k-pre", reason_id="1002"))
    assert refused.value.field == "action"


async def test_one_failing_item_fails_the_whole_operate_call(sandbox: tuple[DouyinSandbox, str],
                                                             connector: DouyinChannel) -> None:
    box, _ = sandbox
    good = box.create_aftersale(SHOP, shipped_order(box), "refund_only")
    returned = box.create_aftersale(SHOP, shipped_order(box, "TEE-L"), "return_and_refund")
    with pytest.raises(DouyinRefusal) as refused:
        await connector.client.call("afterSale.operate", {"type": 201, "items": [
            {"aftersale_id": good}, {"aftersale_id": returned}]}, retry=False)
    assert refused.value.sub_code == "isv.business-failed:11005"
    assert box.aftersale_raw(SHOP, good)["process_info"]["after_sale_info"]["after_sale_status"] == 6


async def test_control_endpoints_drive_a_case_from_another_process(sandbox: tuple[DouyinSandbox, str],
                                                                   connector: DouyinChannel) -> None:
    box, base_url = sandbox
    order_id = shipped_order(box)
    async with httpx.AsyncClient(base_url=base_url) as http:
        opened = await http.post("/_sandbox/aftersales", json={"shop": SHOP, "order_id": order_id,
                                                               "kind": "exchange"})
        case_id = opened.json()["aftersale_id"]
        early = await http.post("/_sandbox/aftersales/return", json={"shop": SHOP, "case_id": case_id})
        assert early.status_code == 409  # the seller has not agreed yet
        case = await connector.get_aftersale(case_id)
        await connector.decide_aftersale(case, decision(AfterSaleAction.AGREE_EXCHANGE, "k-c-1",
                                                        return_address=ADDRESS))
        moved = await http.post("/_sandbox/aftersales/return", json={"shop": SHOP, "case_id": case_id})
        assert moved.json()["process_info"]["after_sale_info"]["after_sale_status"] == 11
        raw = await http.get("/_sandbox/aftersales/raw", params={"shop": SHOP, "case_id": case_id})
        assert raw.json()["process_info"]["logistics_info"]["return"]["tracking_no"] == "SF1000000001"
