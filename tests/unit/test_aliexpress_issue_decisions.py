"""AliExpress issue decisions against a scripted platform (no HTTP): what is sent for each decision,
what is refused before sending, and a write refused after the issue moved becoming stale."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from contracts import AfterSaleAction, AfterSaleDecision, AfterSaleStatus, Money, Proof
from hub.errors import BadInputError, PermanentError, StaleAfterSaleError
from plugins.aliexpress.issue_decisions import IssueDecision
from plugins.aliexpress.issue_mapping import map_issue


def detail(kind: str = "refund", **more: Any) -> dict[str, Any]:
    buyer = {"id": 501, "solution_owner": "buyer", "solution_type": kind, "status": "wait_seller_accept",
             "is_default": True, "refund_money_post": "20.00", "refund_money_post_currency": "USD", "version": 1,
             "gmt_create": "2024-05-01 10:00:00"}
    return {"id": 9001, "order_id": 12, "parent_order_id": 11, "issue_status": "processing",
            "reverse_detail_status": "wait_for_seller_response", "buyer_login_id": "us-buyer-1",
            "gmt_create": "2024-05-01 10:00:00", "refund_money_max": "25.00", "refund_money_max_currency": "USD",
            "buyer_solution_list": {"solution_api_dto": [buyer]}, **more}


class ScriptedPlatform:
    """Answers detail.get with ``details`` in turn (the last one repeats); writes as scripted."""

    def __init__(self, *details: dict[str, Any], write_error: Exception | None = None) -> None:
        self.details = list(details)
        self.write_error = write_error
        self.sent: list[tuple[str, dict[str, Any], Mapping[str, Any] | None]] = []

    async def __call__(self, method: str, params: Mapping[str, Any] | None = None, *, retry: bool = True,
                       files: Mapping[str, tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        if method == "aliexpress.issue.detail.get":
            current = self.details[0] if len(self.details) == 1 else self.details.pop(0)
            return {"result_object": copy.deepcopy(current)}
        self.sent.append((method, dict(params or {}), files))
        if self.write_error is not None:
            raise self.write_error
        return {"result_object": True}


async def decide(platform: ScriptedPlatform, action: AfterSaleAction, **more: Any) -> Any:
    case = map_issue(platform.details[0], "s", issue_id="9001")
    return await IssueDecision(platform, "s", case, AfterSaleDecision(action=action, key="k", **more)).run()


async def test_a_partial_refund_sends_a_seller_refund_solution() -> None:
    platform = ScriptedPlatform(detail())
    await decide(platform, AfterSaleAction.APPROVE_REFUND, refund_amount=Money(amount="7.5", currency="USD"),
                 remark="Partial")
    [(method, params, _)] = platform.sent
    assert method == "aliexpress.issue.solution.save"
    assert json.loads(params["param_dto"]) == {
        "issue_id": 9001, "buyer_login_id": "us-buyer-1", "add_seller_solution": True, "buyer_solution_id": 501,
        "add_solution_type": "refund", "refund_amount": "7.50", "refund_amount_currency": "USD",
        "solution_context": "Partial"}


async def test_a_full_refund_agrees_to_the_buyers_solution() -> None:
    platform = ScriptedPlatform(detail())
    await decide(platform, AfterSaleAction.APPROVE_REFUND, refund_amount=Money(amount="20", currency="USD"))
    assert platform.sent == [("aliexpress.issue.solution.agree",
                              {"issue_id": "9001", "solution_id": "501", "buyer_login_id": "us-buyer-1"}, None)]


async def test_a_refusal_uploads_each_proof_as_multipart_after_the_counter_proposal() -> None:
    platform = ScriptedPlatform(detail())
    proofs = [Proof(filename="a.png", content_type="image/png", content=b"png"),
              Proof(filename="scan", content_type="image/jpeg", content=b"jpg")]
    await decide(platform, AfterSaleAction.REFUSE, reason_text="Signed for", proof=proofs)
    assert [m for m, _, _ in platform.sent] == ["aliexpress.issue.solution.save", "aliexpress.issue.image.upload",
                                                "aliexpress.issue.image.upload"]
    assert json.loads(platform.sent[0][1]["param_dto"])["refund_amount"] == "0.00"
    assert [p["extension"] for _, p, _ in platform.sent[1:]] == ["png", "jpg"]
    assert platform.sent[2][2] == {"image_bytes": ("scan", b"jpg", "image/jpeg")}


@pytest.mark.parametrize(("action", "kind", "more", "field"), [
    (AfterSaleAction.APPROVE_REFUND, "return_and_refund", {}, "action"),
    (AfterSaleAction.AGREE_RETURN, "refund", {}, "action"),
    (AfterSaleAction.REFUSE, "refund", {}, "reason_text"),
    (AfterSaleAction.REFUSE, "return_and_refund", {"reason_text": "No"}, "return_address"),
    (AfterSaleAction.APPROVE_REFUND, "refund", {"refund_amount": Money(amount="5", currency="EUR")}, "refund_amount"),
    (AfterSaleAction.APPROVE_REFUND, "refund", {"refund_amount": Money(amount="26", currency="USD")}, "refund_amount"),
])
async def test_what_aliexpress_cannot_take_is_refused_by_field_before_sending(
        action: AfterSaleAction, kind: str, more: dict[str, Any], field: str) -> None:
    platform = ScriptedPlatform(detail(kind))
    with pytest.raises(BadInputError) as refused:
        await decide(platform, action, **more)
    assert refused.value.field == field and platform.sent == []


@pytest.mark.parametrize("action", [AfterSaleAction.CONFIRM_RETURN, AfterSaleAction.AGREE_EXCHANGE,
                                    AfterSaleAction.REISSUE])
async def test_steps_without_an_aliexpress_api_are_not_written_back(action: AfterSaleAction) -> None:
    platform = ScriptedPlatform(detail("return_and_refund"))
    result = await decide(platform, action)
    assert not result.written_back and result.note and platform.sent == []


async def test_a_write_refused_after_the_issue_moved_is_stale_with_the_current_case() -> None:
    moved = detail()
    moved["issue_status"], moved["reverse_detail_status"] = "canceled_issue", ""
    platform = ScriptedPlatform(detail(), moved, write_error=PermanentError("refused", code="isv.issue-status-error"))
    with pytest.raises(StaleAfterSaleError) as stale:
        await decide(platform, AfterSaleAction.APPROVE_REFUND)
    assert stale.value.current.status == AfterSaleStatus.CLOSED


async def test_a_write_refused_on_an_unmoved_issue_stays_a_refusal() -> None:
    platform = ScriptedPlatform(detail(), write_error=PermanentError("refused", code="isv.other"))
    with pytest.raises(PermanentError) as refused:
        await decide(platform, AfterSaleAction.APPROVE_REFUND)
    assert not isinstance(refused.value, StaleAfterSaleError)
