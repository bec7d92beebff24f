"""AliExpress issues (disputes) → ``AfterSale``: the status table, type, deadline, version and
the values a write-back needs (``extra``). Pure; no I/O. Orders and the shared helpers (US Pacific
times, money, TOP-style lists) are in ``mapping.py``.

Facts: the official AliExpress IOP Java SDK classes ``AliexpressIssue*`` (request, response and
domain) and a public Top.Api C# SDK copy; a real detail answer is ``fixtures/issue_detail_get.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType, ChannelRef, Money, platform_id
from hub.plugin_api import BadInputError
from plugins.aliexpress.mapping import PLATFORM, listed, money, parse_pacific

#
# An AliExpress issue (``aliexpress.issue.detail.get``, JIOP/CST SDK classes) carries two
# statuses: ``issue_status`` (processing | canceled_issue | finish) and, while processing,
# ``reverse_detail_status`` saying whose move it is. The case type comes from the solution: the
# buyer's default one, or the one reached. [U] marks a mapping the public docs do not spell out.

ISSUE_PROCESSING = "processing"
ISSUE_CANCELED = "canceled_issue"
ISSUE_FINISH = "finish"
#: Solution statuses after which the solution is the outcome (``perform``: being carried out).
REACHED_SOLUTION = frozenset({"reached", "perform"})
SOLUTION_TYPES: dict[str, AfterSaleType] = {
    "refund": AfterSaleType.REFUND_ONLY,
    "return_and_refund": AfterSaleType.RETURN_AND_REFUND,
}

#: ``reverse_detail_status`` of a ``processing`` issue → canonical status. ``None``: decided by
#: the seller's latest solution (see ``_answered_status``). The table, with what is [U]:
#:
#: ===================================== ================== ======================================
#: reverse_detail_status                 status             why
#: ===================================== ================== ======================================
#: wait_for_seller_response              requested          the buyer's solution waits for us
#: wait_for_your_response / _evidence    requested [U]      AE asks the seller ("your") to answer
#: wait_for_buyer_response               approved/rejected  our counter-proposal: >0 / 0 refund [U]
#: wait_for_service_provider_response,   rejected [U]       no agreement: in the platform's
#: wait_for_AE_feedback, wait_ae_final_                     hands (mediation), may still refund
#: feedback, wait_for_final_solution
#: wait_for_seller_set_return_address    awaiting_return    a return agreed (by the platform) [U]
#: wait_for_buyer_return                 awaiting_return    the buyer is to send the goods
#: wait_for_seller_confirmation,         returned           the goods came back / are checked
#: wait_for_warehouse_confirmation,
#: wait_for_warehouse_quality_check
#: return_success                        refunding [U]      the reverse flow succeeded; the real
#:                                                          finished sample has it on a refund-
#:                                                          only issue, so it says no return
#: refund_success                        refunded
#: refund_reject                         closed             ended with 0 refund
#: ae_feedback_finish                    per solution [U]   as for ``finish``
#: ===================================== ================== ======================================
REVERSE_STATUS_MAP: dict[str, AfterSaleStatus | None] = {
    "wait_for_seller_response": AfterSaleStatus.REQUESTED,
    "wait_for_your_response": AfterSaleStatus.REQUESTED,
    "wait_for_your_evidence": AfterSaleStatus.REQUESTED,
    "wait_for_buyer_response": None,
    "wait_for_service_provider_response": AfterSaleStatus.REJECTED,
    "wait_for_AE_feedback": AfterSaleStatus.REJECTED,
    "wait_ae_final_feedback": AfterSaleStatus.REJECTED,
    "wait_for_final_solution": AfterSaleStatus.REJECTED,
    "wait_for_seller_set_return_address": AfterSaleStatus.AWAITING_RETURN,
    "wait_for_buyer_return": AfterSaleStatus.AWAITING_RETURN,
    "wait_for_seller_confirmation": AfterSaleStatus.RETURNED,
    "wait_for_warehouse_confirmation": AfterSaleStatus.RETURNED,
    "wait_for_warehouse_quality_check": AfterSaleStatus.RETURNED,
    "return_success": AfterSaleStatus.REFUNDING,
    "refund_success": AfterSaleStatus.REFUNDED,
    "refund_reject": AfterSaleStatus.CLOSED,
    "ae_feedback_finish": None,
}
#: Reverse statuses in which the goods are (being) sent back: the case is a return whatever the
#: solution list says; from ``wait_for_seller_confirmation`` on the goods are back.
RETURN_FLOW = frozenset({"wait_for_seller_set_return_address", "wait_for_buyer_return",
                         "wait_for_seller_confirmation", "wait_for_warehouse_confirmation",
                         "wait_for_warehouse_quality_check"})
GOODS_BACK = RETURN_FLOW - {"wait_for_seller_set_return_address", "wait_for_buyer_return"}


def solutions(issue: Mapping[str, Any], owner: str) -> list[Mapping[str, Any]]:
    """The ``<owner>_solution_list`` (buyer | seller | platform) rows of a detail, as a list."""
    return [row for row in listed(issue.get(f"{owner}_solution_list")) if isinstance(row, Mapping)]


def buyer_solution(issue: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The buyer's solution the seller answers: the default one, else the first."""
    rows = solutions(issue, "buyer")
    return next((r for r in rows if r.get("is_default") in (True, "true")), rows[0] if rows else None)


def seller_solution(issue: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The seller's latest solution (its counter-proposal), if any."""
    rows = solutions(issue, "seller")
    return max(rows, key=lambda r: str(r.get("gmt_modified") or r.get("gmt_create") or "")) if rows else None


def reached_solution(issue: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The solution both sides (or the platform) settled on, whoever proposed it."""
    rows = [*solutions(issue, "buyer"), *solutions(issue, "seller"), *solutions(issue, "platform")]
    return next((r for r in rows if r.get("status") in REACHED_SOLUTION), None)


def solution_refund(solution: Mapping[str, Any] | None) -> Money | None:
    """What a solution refunds: ``refund_money_post`` (the order's currency, USD in the public
    sample) when given, else the buyer's local ``refund_money`` [U which one AE pays out]."""
    if not solution:
        return None
    for key in ("refund_money_post", "refund_money"):
        if solution.get(key) not in (None, "") and solution.get(f"{key}_currency"):
            return Money(amount=str(solution[key]), currency=str(solution[f"{key}_currency"]))
    return None


def _settled_status(issue: Mapping[str, Any]) -> AfterSaleStatus:
    """``finish`` (and ``ae_feedback_finish``): refunded when the reached solution pays something
    (no reached solution: refunded, per the doc's "dispute done, refund processed"), closed when
    it pays nothing or the reverse status says ``refund_reject``."""
    if issue.get("reverse_detail_status") == "refund_reject":
        return AfterSaleStatus.CLOSED
    refund = solution_refund(reached_solution(issue))
    return AfterSaleStatus.CLOSED if refund is not None and refund.amount == 0 else AfterSaleStatus.REFUNDED


def _answered_status(issue: Mapping[str, Any]) -> AfterSaleStatus:
    """``wait_for_buyer_response``: the seller counter-proposed. A proposal refunding nothing is a
    refusal (``rejected``); one refunding something is an approval of less or of another kind
    (``approved``), which the buyer still has to accept [U]."""
    refund = solution_refund(seller_solution(issue))
    return AfterSaleStatus.REJECTED if refund is None or refund.amount == 0 else AfterSaleStatus.APPROVED


def issue_status(issue: Mapping[str, Any]) -> AfterSaleStatus:
    """The canonical status of an issue row or detail (the table above); unknown values are
    refused by name so a new AliExpress status is noticed, not guessed."""
    raw = str(issue.get("issue_status") or "")
    reverse = str(issue.get("reverse_detail_status") or "")
    if raw == ISSUE_CANCELED:
        return AfterSaleStatus.CLOSED
    if raw == ISSUE_FINISH:
        return _settled_status(issue)
    if raw != ISSUE_PROCESSING:
        raise BadInputError(f"AliExpress issue status {raw!r} is unknown to the hub", field="issue_status")
    if not reverse:  # a list row: the detail says more
        return AfterSaleStatus.REQUESTED
    if reverse not in REVERSE_STATUS_MAP:
        raise BadInputError(f"AliExpress reverse_detail_status {reverse!r} is unknown to the hub; add it to "
                            "REVERSE_STATUS_MAP", field="reverse_detail_status")
    mapped = REVERSE_STATUS_MAP[reverse]
    if mapped is not None:
        return mapped
    return _answered_status(issue) if reverse == "wait_for_buyer_response" else _settled_status(issue)


def issue_type(issue: Mapping[str, Any]) -> AfterSaleType:
    """From the reached solution, else the buyer's; a return flow makes it a return whatever the
    list says; with no solution (a list row) a refund [U]."""
    if str(issue.get("reverse_detail_status") or "") in RETURN_FLOW:
        return AfterSaleType.RETURN_AND_REFUND
    solution = reached_solution(issue) or buyer_solution(issue)
    return SOLUTION_TYPES.get(str((solution or {}).get("solution_type") or ""), AfterSaleType.REFUND_ONLY)


def _pacific_utc(text: Any) -> datetime | None:
    moment = parse_pacific(text)
    return moment.astimezone(UTC) if moment is not None else None


def _latest_change(issue: Mapping[str, Any], created: datetime) -> datetime:
    """The list row's ``gmt_modified``; the detail has none, so the latest time of its solutions
    and process steps stands in."""
    if issue.get("gmt_modified") not in (None, ""):
        return _pacific_utc(issue["gmt_modified"]) or created
    stamps = [created]
    rows = [*solutions(issue, "buyer"), *solutions(issue, "seller"), *solutions(issue, "platform"),
            *(r for r in listed(issue.get("process_dto_list")) if isinstance(r, Mapping))]
    for row in rows:
        for key in ("gmt_modified", "gmt_create"):
            moment = _pacific_utc(row.get(key))
            if moment is not None:
                stamps.append(moment)
    return max(stamps)


def _buyer_evidence(issue: Mapping[str, Any]) -> list[str]:
    """Image paths the buyer attached to the issue's process steps (owner ``buyer`` [U])."""
    found: list[str] = []
    for step in listed(issue.get("process_dto_list")):
        if not isinstance(step, Mapping) or step.get("submit_member_type") not in (None, "buyer"):
            continue
        for attachment in listed(step.get("attachments")):
            if isinstance(attachment, Mapping) and attachment.get("file_path") \
                    and attachment.get("owner") in (None, "", "buyer"):
                found.append(str(attachment["file_path"]))
    return found


def _description(issue: Mapping[str, Any]) -> str | None:
    """What the buyer wrote when opening the issue (the ``initiate`` step's content)."""
    for step in listed(issue.get("process_dto_list")):
        if isinstance(step, Mapping) and step.get("action_type") == "initiate" and step.get("content"):
            return str(step["content"])
    return None


def _issue_extra(issue: Mapping[str, Any]) -> dict[str, str]:
    """What a write-back needs: the buyer (every ``issue.solution.*`` call names them), the buyer
    solution to agree to or answer, the seller solution to modify, and where the case stands."""
    pairs = {"buyer_login_id": issue.get("buyer_login_id"),
             "buyer_solution_id": (buyer_solution(issue) or {}).get("id"),
             "buyer_solution_type": (buyer_solution(issue) or {}).get("solution_type"),
             "buyer_solution_status": (buyer_solution(issue) or {}).get("status"),
             "seller_solution_id": (seller_solution(issue) or {}).get("id"),
             "reverse_detail_status": issue.get("reverse_detail_status"),
             "timeout_type": issue.get("timeout_type")}
    return {k: platform_id(v) if isinstance(v, int) else str(v) for k, v in pairs.items() if v not in (None, "")}


def map_issue(issue: Mapping[str, Any], shop: str, issue_id: str | None = None) -> AfterSale:
    """An issue row (issuelist ``issue_api_issue_dto``) or detail (``result_object``) → ``AfterSale``.

    ``order_ref`` is the main order (``parent_order_id``; the issue's ``order_id`` is the sub-order,
    as in the public detail sample). Times are US Pacific (``timeout_trigger_time`` per the SDK;
    the others read the same way [U]) and come out in UTC. The refund is the reached solution's,
    else the buyer's (see ``solution_refund``); ``version`` is the buyer solution's ``version``,
    ``max_refund`` is ``refund_money_max``. A list row carries no solutions: its type and status
    are provisional until the detail is read."""
    ident = issue_id or issue.get("issue_id") or issue.get("id")
    if ident in (None, ""):
        raise BadInputError("AliExpress issue without issue_id", field="issue_id")
    raw = str(issue.get("issue_status") or "")
    status = issue_status(issue)
    sub_order = issue.get("order_id")
    main_order = issue.get("parent_order_id") or sub_order
    if main_order in (None, ""):
        raise BadInputError(f"AliExpress issue {ident} names no order", field="parent_order_id")
    created = _pacific_utc(issue.get("gmt_create"))
    if created is None:
        raise BadInputError(f"AliExpress issue {ident} has no gmt_create", field="gmt_create")
    reverse = str(issue.get("reverse_detail_status") or "")
    buyer = buyer_solution(issue)
    case_type = issue_type(issue)
    tracking = issue.get("buyer_return_no") or issue.get("buyer_return_logistics_lp_no")
    return AfterSale(
        ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=platform_id(ident)),
        order_ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=platform_id(main_order)),
        type=case_type,
        status=status,
        raw_status=f"{raw}/{reverse}" if reverse else raw,
        refund_amount=solution_refund(reached_solution(issue) or buyer),
        reason=issue.get("reason_english") or issue.get("issue_reason") or (buyer or {}).get("content") or None,
        lines=[AfterSaleLine(line_external_id=platform_id(sub_order))] if sub_order not in (None, "") else [],
        goods_returned=reverse in GOODS_BACK or (case_type is AfterSaleType.RETURN_AND_REFUND and bool(tracking)
                                                 and status is AfterSaleStatus.REFUNDED),
        return_tracking_number=str(tracking) if tracking else None,
        return_courier=issue.get("buyer_return_logistics_company") or None,
        created_at=created,
        updated_at=_latest_change(issue, created),
        deadline=_pacific_utc(issue.get("timeout_trigger_time")) if raw == ISSUE_PROCESSING else None,
        version=str(buyer["version"]) if buyer and buyer.get("version") not in (None, "") else None,
        max_refund=money(issue.get("refund_money_max"), issue.get("refund_money_max_currency"))
        if issue.get("refund_money_max_currency") else None,
        description=_description(issue),
        evidence=_buyer_evidence(issue),
        extra=_issue_extra(issue),
    )
