"""AliExpress disputes end to end: the connector decides issues against the sandbox over real HTTP
(uvicorn), on both gateways — agree, counter-propose, refuse with an image (multipart), a return
through to the refund, stale solutions, repeats, and the platform's refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
from hub.asgi_server import serve_in_thread
from hub.errors import BadInputError, PermanentError, StaleAfterSaleError
from hub.testing.context import make_context
from plugins.aliexpress.connector import AliExpressChannel
from plugins.aliexpress.sandbox import AliExpressSandbox

pytestmark = pytest.mark.e2e
SHOP = "ae-issues"
JPEG = b"\xff\xd8\xff\xe0" + b"sandbox-image" * 10


@pytest.fixture(params=["iop", "top"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[AliExpressSandbox, str]]:
    box = AliExpressSandbox(protocol=request.param)
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
def box(served: tuple[AliExpressSandbox, str]) -> AliExpressSandbox:
    return served[0]


@pytest.fixture
async def channel(served: tuple[AliExpressSandbox, str]) -> AsyncIterator[AliExpressChannel]:
    sandbox, base_url = served
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, sandbox.shop_settings(SHOP, base_url)))
    yield connector
    await connector.aclose()


async def opened(box: AliExpressSandbox, channel: AliExpressChannel, kind: str = "refund_only") -> AfterSale:
    """A paid order of 2 × 12.50 USD with an issue of ``kind`` asking the whole 25.00, as the hub reads it."""
    order_id = box.create_order(SHOP, "AE-ISSUE-SKU", 2)
    issue_id = box.create_aftersale(SHOP, order_id, kind)
    return await channel.get_aftersale(issue_id)


def decision(action: AfterSaleAction, key: str = "k-1", **more: object) -> AfterSaleDecision:
    return AfterSaleDecision(action=action, key=key, **more)


def usd(amount: str) -> Money:
    return Money(amount=amount, currency="USD")


async def test_a_new_issue_is_polled_with_its_deadline_version_and_ids(box: AliExpressSandbox,
                                                                       channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    now = datetime.now(UTC)
    found = await channel.fetch_aftersales(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert found == [case]
    assert case.status == AfterSaleStatus.REQUESTED and case.type == AfterSaleType.REFUND_ONLY
    assert case.raw_status == "processing/wait_for_seller_response" and case.version == "1"
    assert case.deadline is not None and timedelta(days=4) < case.deadline - now <= timedelta(days=5)
    assert case.max_refund == usd("25.00") and case.refund_amount == usd("25.00")
    assert case.extra["buyer_login_id"] == "us-buyer-1" and case.extra["buyer_solution_id"]


async def test_agreeing_to_a_refund_refunds_it(box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    result = await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND))
    assert result.written_back and result.case is not None
    assert result.case.status == AfterSaleStatus.REFUNDED and result.case.refund_amount == usd("25.00")
    raw = box.aftersale_raw(SHOP, case.ref.external_id)
    assert (raw["issue_status"], raw["reverse_detail_status"]) == ("finish", "refund_success")
    assert raw["buyer_solution_list"]["solution_api_dto"][0]["reached_type"] == "negotiation_consensus"


async def test_a_partial_refund_is_a_counter_proposal_the_buyer_accepts(box: AliExpressSandbox,
                                                                         channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    result = await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND,
                                                           refund_amount=usd("8.00"), remark="Half the set"))
    assert result.case is not None and result.case.status == AfterSaleStatus.APPROVED
    raw = box.aftersale_raw(SHOP, case.ref.external_id)
    seller = raw["seller_solution_list"]["solution_api_dto"][0]
    assert raw["reverse_detail_status"] == "wait_for_buyer_response"
    assert (seller["solution_type"], seller["refund_money_post"], seller["content"]) == ("refund", "8.00",
                                                                                         "Half the set")
    box.buyer_answers_seller(SHOP, case.ref.external_id, accept=True)
    after = await channel.get_aftersale(case.ref.external_id)
    assert after.status == AfterSaleStatus.REFUNDED and after.refund_amount == usd("8.00")


async def test_an_agreed_return_is_refunded_when_the_parcel_comes_back(box: AliExpressSandbox,
                                                                         channel: AliExpressChannel) -> None:
    case = await opened(box, channel, "return_and_refund")
    assert case.type == AfterSaleType.RETURN_AND_REFUND
    with pytest.raises(BadInputError) as no_address:
        await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN))
    assert no_address.value.field == "return_address"
    agreed = await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN,
                                                           return_address=ReturnAddress(address_id="RA-77")))
    assert agreed.case is not None and agreed.case.status == AfterSaleStatus.AWAITING_RETURN
    box.buyer_returns_goods(SHOP, case.ref.external_id, tracking_number="SF1234", company="SF")
    back = await channel.get_aftersale(case.ref.external_id)
    assert back.status == AfterSaleStatus.RETURNED and back.goods_returned
    assert (back.return_tracking_number, back.return_courier) == ("SF1234", "SF")
    assert back.deadline is not None  # the seller's time to receive it
    confirmed = await channel.decide_aftersale(back, decision(AfterSaleAction.CONFIRM_RETURN, "k-2"))
    assert not confirmed.written_back and "no seller API" in (confirmed.note or "")
    box.return_delivered(SHOP, case.ref.external_id)
    assert (await channel.get_aftersale(case.ref.external_id)).status == AfterSaleStatus.REFUNDED


async def test_a_refusal_is_a_zero_counter_proposal_with_its_image_uploaded(box: AliExpressSandbox,
                                                                           channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    proof = Proof(filename="tracking.jpg", content_type="image/jpeg", content=JPEG)
    refuse = decision(AfterSaleAction.REFUSE, reason_text="Delivered on May 3, signed by the buyer", proof=[proof])
    result = await channel.decide_aftersale(case, refuse)
    assert result.case is not None and result.case.status == AfterSaleStatus.REJECTED
    assert [(u["filename"], u["extension"], u["content"]) for u in box.issue_desk.uploads] == [
        ("tracking.jpg", "jpg", JPEG)]
    raw = box.aftersale_raw(SHOP, case.ref.external_id)
    seller = raw["seller_solution_list"]["solution_api_dto"][0]
    assert (seller["refund_money_post"], seller["content"]) == ("0.00", "Delivered on May 3, signed by the buyer")
    attachments = [a for step in raw["process_dto_list"]["api_issue_process_dto"]
                   for a in step["attachments"]["api_attachment_dto"]]
    assert [a["owner"] for a in attachments] == ["seller"]
    # Sent again with the same key: nothing more is saved or uploaded.
    again = await channel.decide_aftersale(case, refuse)
    assert again.written_back and "already" in (again.note or "")
    assert len(box.issue_desk.uploads) == 1 and box.calls.count("aliexpress.issue.solution.save") == 1


async def test_a_solution_the_buyer_changed_is_stale(box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    box.buyer_modifies_solution(SHOP, case.ref.external_id, "20.00")
    with pytest.raises(StaleAfterSaleError) as stale:
        await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND))
    assert stale.value.current is not None and stale.value.current.version == "2"
    assert stale.value.current.refund_amount == usd("20.00")
    assert "aliexpress.issue.solution.agree" not in box.calls


async def test_a_closed_issue_is_stale(box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    box.buyer_cancels_issue(SHOP, case.ref.external_id)
    with pytest.raises(StaleAfterSaleError) as stale:
        await channel.decide_aftersale(case, decision(AfterSaleAction.REFUSE, reason_text="No"))
    assert stale.value.current.status == AfterSaleStatus.CLOSED


async def test_the_same_approval_twice_is_agreed_once(box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    first = await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND))
    second = await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND))
    assert first.case == second.case and second.note == "already agreed at AliExpress"
    assert box.calls.count("aliexpress.issue.solution.agree") == 1


async def test_a_refund_above_what_was_paid_is_refused_by_field(box: AliExpressSandbox,
                                                                channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    with pytest.raises(BadInputError) as too_much:
        await channel.decide_aftersale(case, decision(AfterSaleAction.APPROVE_REFUND, refund_amount=usd("25.01")))
    assert too_much.value.field == "refund_amount"
    assert "aliexpress.issue.solution.save" not in box.calls


async def test_the_sandbox_refuses_what_the_platform_refuses(box: AliExpressSandbox,
                                                             channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    dto = {"issue_id": int(case.ref.external_id), "buyer_login_id": "us-buyer-1", "add_seller_solution": True,
           "add_solution_type": "refund", "buyer_solution_id": int(case.extra["buyer_solution_id"]),
           "refund_amount": "30.00", "refund_amount_currency": "USD"}
    with pytest.raises(PermanentError, match="refund_money_max"):
        await channel.client.call("aliexpress.issue.solution.save", {"param_dto": json.dumps(dto)}, retry=False)
    ret = await opened(box, channel, "return_and_refund")
    with pytest.raises(PermanentError, match="return_address_id"):
        await channel.client.call("aliexpress.issue.solution.agree", {
            "issue_id": ret.ref.external_id, "buyer_login_id": "us-buyer-1",
            "solution_id": ret.extra["buyer_solution_id"]}, retry=False)
    with pytest.raises(PermanentError, match="extension"):
        await channel.client.call("aliexpress.issue.image.upload", {
            "issue_id": case.ref.external_id, "buyer_login_id": "us-buyer-1", "extension": "exe"},
            files={"image_bytes": ("x.exe", b"MZ", "application/octet-stream")}, retry=False)


async def test_a_missed_deadline_lets_the_platform_refund(box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel)
    assert case.deadline is not None
    passed = case.deadline + timedelta(seconds=1)
    box.issue_clock = lambda: passed
    after = await channel.get_aftersale(case.ref.external_id)
    assert after.status == AfterSaleStatus.REFUNDED and after.deadline is None
    raw = box.aftersale_raw(SHOP, case.ref.external_id)
    assert raw["buyer_solution_list"]["solution_api_dto"][0]["reached_type"] == "seller_reponse_timeout"


async def test_a_refused_counter_proposal_goes_to_mediation_and_a_missed_receipt_refunds(
        box: AliExpressSandbox, channel: AliExpressChannel) -> None:
    case = await opened(box, channel, "return_and_refund")
    await channel.decide_aftersale(case, decision(AfterSaleAction.AGREE_RETURN, refund_amount=usd("20.00"),
                                                  return_address=ReturnAddress(address_id="RA-77")))
    box.buyer_answers_seller(SHOP, case.ref.external_id, accept=False)
    mediated = await channel.get_aftersale(case.ref.external_id)
    assert (mediated.status, mediated.raw_status) == (AfterSaleStatus.REJECTED, "processing/wait_for_AE_feedback")
    other = await opened(box, channel, "return_and_refund")
    await channel.decide_aftersale(other, decision(AfterSaleAction.AGREE_RETURN, "k-3",
                                                   return_address=ReturnAddress(address_id="RA-77")))
    box.buyer_returns_goods(SHOP, other.ref.external_id)
    back = await channel.get_aftersale(other.ref.external_id)
    assert back.deadline is not None and back.extra["timeout_type"] == "WAIT_RECEIVE_ITEM_TIMEOUT"
    passed = back.deadline + timedelta(seconds=1)
    box.issue_clock = lambda: passed
    assert (await channel.get_aftersale(other.ref.external_id)).status == AfterSaleStatus.REFUNDED


def test_aliexpress_has_no_exchange(box: AliExpressSandbox) -> None:
    order_id = box.create_order(SHOP, "AE-ISSUE-SKU", 1)
    with pytest.raises(ValueError, match="no exchange"):
        box.create_aftersale(SHOP, order_id, "exchange")
    with pytest.raises(ValueError, match="at most"):
        box.create_aftersale(SHOP, order_id, "refund_only", amount=Decimal("99"))
    assert AfterSaleAction.AGREE_EXCHANGE not in AliExpressChannel.aftersale_actions
