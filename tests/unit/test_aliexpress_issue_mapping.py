"""AliExpress issues → after-sales: the status table (issue_status × reverse_detail_status), the
type from the solution, the deadline in UTC from US Pacific, version, max refund, extra, evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import AfterSaleStatus, AfterSaleType, Money
from hub.errors import BadInputError
from plugins.aliexpress.issue_mapping import REVERSE_STATUS_MAP, map_issue

FIXTURES = Path(__file__).resolve().parents[2] / "plugins" / "aliexpress" / "fixtures"


def fixture_detail() -> dict[str, Any]:
    data = json.loads((FIXTURES / "issue_detail_get.json").read_text())
    return dict(data["aliexpress_issue_detail_get_response"]["result_object"])


def solution(owner: str, kind: str = "refund", *, amount: str = "20.00", status: str = "wait_seller_accept",
             ident: int = 501, version: int = 1, **more: Any) -> dict[str, Any]:
    return {"id": ident, "solution_owner": owner, "solution_type": kind, "status": status, "is_default": True,
            "refund_money_post": amount, "refund_money_post_currency": "USD", "version": version,
            "gmt_create": "2024-05-01 10:00:00", "gmt_modified": "2024-05-01 10:00:00", **more}


def detail(reverse: str = "wait_for_seller_response", status: str = "processing", *,
           buyer: dict[str, Any] | None = None, seller: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {"id": 9001, "order_id": 12, "parent_order_id": 11, "issue_status": status,
            "reverse_detail_status": reverse, "buyer_login_id": "us-buyer-1", "gmt_create": "2024-05-01 10:00:00",
            "timeout_type": "WAIT_SOLUTION_TIMEOUT", "timeout_trigger_time": "2024-05-06 10:00:00",
            "refund_money_max": "25.00", "refund_money_max_currency": "USD", "issue_reason": "Item not received",
            "buyer_solution_list": {"solution_api_dto": [buyer or solution("buyer")]},
            "seller_solution_list": {"solution_api_dto": [seller] if seller else []}, **more}


# -- the status table --------------------------------------------------------------------------

@pytest.mark.parametrize(("reverse", "status"), [
    ("wait_for_seller_response", AfterSaleStatus.REQUESTED),
    ("wait_for_your_response", AfterSaleStatus.REQUESTED),
    ("wait_for_your_evidence", AfterSaleStatus.REQUESTED),
    ("wait_for_AE_feedback", AfterSaleStatus.REJECTED),
    ("wait_for_service_provider_response", AfterSaleStatus.REJECTED),
    ("wait_ae_final_feedback", AfterSaleStatus.REJECTED),
    ("wait_for_final_solution", AfterSaleStatus.REJECTED),
    ("wait_for_seller_set_return_address", AfterSaleStatus.AWAITING_RETURN),
    ("wait_for_buyer_return", AfterSaleStatus.AWAITING_RETURN),
    ("wait_for_seller_confirmation", AfterSaleStatus.RETURNED),
    ("wait_for_warehouse_confirmation", AfterSaleStatus.RETURNED),
    ("wait_for_warehouse_quality_check", AfterSaleStatus.RETURNED),
    ("return_success", AfterSaleStatus.REFUNDING),
    ("refund_success", AfterSaleStatus.REFUNDED),
    ("refund_reject", AfterSaleStatus.CLOSED),
])
def test_processing_issue_status_follows_the_reverse_detail_status(reverse: str, status: AfterSaleStatus) -> None:
    case = map_issue(detail(reverse), "s")
    assert case.status == status
    assert case.raw_status == f"processing/{reverse}"


def test_every_documented_reverse_status_is_in_the_table() -> None:
    documented = {"wait_for_seller_response", "wait_for_buyer_response", "wait_for_service_provider_response",
                  "wait_for_AE_feedback", "wait_for_your_response", "wait_for_your_evidence",
                  "wait_for_final_solution", "wait_for_seller_set_return_address", "wait_for_buyer_return",
                  "wait_for_seller_confirmation", "wait_for_warehouse_confirmation",
                  "wait_for_warehouse_quality_check", "wait_ae_final_feedback", "return_success", "refund_success",
                  "refund_reject", "ae_feedback_finish"}
    assert set(REVERSE_STATUS_MAP) == documented


@pytest.mark.parametrize(("offer", "status"), [("0", AfterSaleStatus.REJECTED), ("8.00", AfterSaleStatus.APPROVED)])
def test_waiting_for_the_buyer_is_a_refusal_or_an_approval_by_the_sellers_offer(offer: str,
                                                                               status: AfterSaleStatus) -> None:
    seller = solution("seller", amount=offer, status="wait_buyer_accept", ident=777)
    case = map_issue(detail("wait_for_buyer_response", seller=seller), "s")
    assert case.status == status
    assert case.extra["seller_solution_id"] == "777"


@pytest.mark.parametrize(("reached", "status"), [("12.00", AfterSaleStatus.REFUNDED), ("0", AfterSaleStatus.CLOSED)])
def test_a_finished_issue_is_refunded_or_closed_by_the_reached_solution(reached: str,
                                                                       status: AfterSaleStatus) -> None:
    seller = solution("seller", amount=reached, status="reached", ident=777)
    case = map_issue(detail("", "finish", seller=seller), "s")
    assert case.status == status and case.deadline is None
    assert case.refund_amount == Money(amount=reached, currency="USD")


def test_a_cancelled_issue_is_closed() -> None:
    assert map_issue(detail("", "canceled_issue"), "s").status == AfterSaleStatus.CLOSED


def test_unknown_statuses_are_refused_by_name() -> None:
    with pytest.raises(BadInputError, match="wait_for_martians") as caught:
        map_issue(detail("wait_for_martians"), "s")
    assert caught.value.field == "reverse_detail_status"
    with pytest.raises(BadInputError, match="paused"):
        map_issue(detail("", "paused"), "s")


# -- type, amounts, deadline, version, extra ------------------------------------------------------

@pytest.mark.parametrize(("kind", "case_type"), [("refund", AfterSaleType.REFUND_ONLY),
                                                 ("return_and_refund", AfterSaleType.RETURN_AND_REFUND)])
def test_the_type_is_the_buyers_solution_type(kind: str, case_type: AfterSaleType) -> None:
    assert map_issue(detail(buyer=solution("buyer", kind)), "s").type == case_type


def test_a_return_flow_is_a_return_whatever_the_buyer_asked() -> None:
    case = map_issue(detail("wait_for_buyer_return", buyer=solution("buyer", "refund")), "s")
    assert case.type == AfterSaleType.RETURN_AND_REFUND and not case.goods_returned


def test_a_reached_solution_decides_type_and_amount() -> None:
    buyer = solution("buyer", "return_and_refund", amount="20.00")
    seller = solution("seller", "refund", amount="8.00", status="reached", ident=777)
    case = map_issue(detail("", "finish", buyer=buyer, seller=seller), "s")
    assert case.type == AfterSaleType.REFUND_ONLY and case.refund_amount == Money(amount="8.00", currency="USD")


def test_the_deadline_is_the_pacific_timeout_in_utc_across_daylight_saving() -> None:
    summer = map_issue(detail(timeout_trigger_time="2024-05-06 10:00:00"), "s")
    winter = map_issue(detail(timeout_trigger_time="2024-12-06 10:00:00"), "s")
    assert summer.deadline == datetime(2024, 5, 6, 17, 0, tzinfo=UTC)  # PDT, UTC-7
    assert winter.deadline == datetime(2024, 12, 6, 18, 0, tzinfo=UTC)  # PST, UTC-8
    assert summer.deadline is not None and summer.deadline.utcoffset() is not None


def test_version_max_refund_and_extra_carry_what_a_write_back_needs() -> None:
    case = map_issue(detail(buyer=solution("buyer", ident=501, version=3)), "s")
    assert case.version == "3"
    assert case.max_refund == Money(amount="25.00", currency="USD")
    assert case.refund_amount == Money(amount="20.00", currency="USD")
    assert case.extra["buyer_login_id"] == "us-buyer-1" and case.extra["buyer_solution_id"] == "501"
    assert case.extra["buyer_solution_type"] == "refund" and "seller_solution_id" not in case.extra
    assert case.reason == "Item not received"


def test_return_tracking_courier_and_buyer_evidence_are_mapped() -> None:
    steps = {"api_issue_process_dto": [
        {"action_type": "initiate", "submit_member_type": "buyer", "content": "Broken on arrival",
         "gmt_create": "2024-05-01 10:00:00",
         "attachments": {"api_attachment_dto": [{"file_path": "https://ae.example/b1.jpg", "owner": "buyer"}]}},
        {"action_type": "seller_create_solution", "submit_member_type": "seller", "gmt_create": "2024-05-02 09:00:00",
         "attachments": {"api_attachment_dto": [{"file_path": "https://ae.example/s1.jpg", "owner": "seller"}]}}]}
    case = map_issue(detail("wait_for_seller_confirmation", buyer=solution("buyer", "return_and_refund"),
                            buyer_return_no="LP00123", buyer_return_logistics_company="CAINIAO",
                            process_dto_list=steps), "s")
    assert case.return_tracking_number == "LP00123" and case.return_courier == "CAINIAO"
    assert case.goods_returned and case.status == AfterSaleStatus.RETURNED
    assert case.evidence == ["https://ae.example/b1.jpg"] and case.description == "Broken on arrival"
    assert case.updated_at == datetime(2024, 5, 2, 16, 0, tzinfo=UTC)  # the latest step, Pacific → UTC


# -- real answers and list rows -----------------------------------------------------------------

def test_the_real_issue_detail_maps_to_a_refunded_refund() -> None:
    issue = map_issue(fixture_detail(), "ae-shop", issue_id="6346213853171470")
    assert issue.ref.external_id == "6346213853171470"
    assert issue.order_ref.external_id == "8194715118451470"  # the main order, not the sub-order
    assert issue.lines[0].line_external_id == "8194715118461470"
    assert issue.status == AfterSaleStatus.REFUNDED and issue.raw_status == "finish/return_success"
    # The buyer asked a refund ("not receive good"): no goods to come back.
    assert issue.type == AfterSaleType.REFUND_ONLY
    assert issue.refund_amount == Money(amount="66.65", currency="USD")
    assert issue.reason == "not receive good" and issue.description == "not receive good"
    assert issue.extra["buyer_solution_id"] == "6010915445171470" and issue.deadline is None


@pytest.mark.parametrize(("raw", "status"), [("processing", AfterSaleStatus.REQUESTED),
                                             ("canceled_issue", AfterSaleStatus.CLOSED),
                                             ("finish", AfterSaleStatus.REFUNDED)])
def test_issue_list_rows_map_by_status(raw: str, status: AfterSaleStatus) -> None:
    row = {"issue_id": 1, "order_id": 12, "parent_order_id": 11, "issue_status": raw, "reason_english": "Not received",
           "gmt_create": "2024-05-01 10:00:00", "gmt_modified": "2024-05-02 10:00:00", "buyer_login_id": "b"}
    issue = map_issue(row, "s")
    assert issue.status == status and issue.type == AfterSaleType.REFUND_ONLY
    assert issue.updated_at == datetime(2024, 5, 2, 17, 0, tzinfo=UTC)
    assert issue.extra == {"buyer_login_id": "b"}
