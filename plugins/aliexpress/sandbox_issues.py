"""The dispute (issue) side of the AliExpress sandbox: a buyer's issue moving through
``issue_status`` × ``reverse_detail_status`` as the seller and the buyer act, with solution
versions, seller deadlines (``timeout_trigger_time``, US Pacific) and what the platform does when
one passes, served as ``aliexpress.issue.issuelist.get`` / ``detail.get`` / ``solution.agree`` /
``solution.save`` / ``image.upload``. ``IssueDesk`` keeps the state machine and checks the
params; ``IssueControls`` is the control surface ``AliExpressSandbox`` offers (``create_aftersale``,
``buyer_returns_goods``, ``aftersale_raw``... ); the sandbox's gateways route the methods here.

The field names and enums are the official SDK's (``AliexpressIssue*`` classes). What the sandbox
chooses itself, the platform's public docs being silent [U]: the error codes (``isv.issue-*``,
rendered like the rest of the sandbox's ISV errors), the deadlines (5 days to answer or give a
return address, 15 days to receive a return), that the platform refunds when a seller deadline
passes and when the returned parcel is delivered (``return_delivered``: AliExpress has no seller
"received" API), that one seller solution per issue is added then modified, that a solution's type
changes only for an item "not as described", the accepted image extensions and size. No push is
sent for issues: no AliExpress issue topic is known, the hub polls. An issue ending
``refund_success`` is told to ``on_refunded`` (the sandbox then closes an order refunded in full
before shipping: ``AliExpressSandbox``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from plugins.aliexpress.mapping import format_pacific
from plugins.aliexpress.sandbox_errors import SandboxError

if TYPE_CHECKING:
    from plugins.aliexpress.sandbox import SbOrder, SbShop

KINDS = {"refund_only": "refund", "return_and_refund": "return_and_refund"}
ANSWER_DAYS = 5  # [U] the seller's time to answer a solution or give a return address
RECEIVE_DAYS = 15  # [U] the seller's time to receive a returned parcel before the platform refunds
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "bmp"})  # [U]
IMAGE_MAX_BYTES = 5 * 1024 * 1024  # [U]
ANSWERABLE = frozenset({"wait_for_seller_response", "wait_for_buyer_response"})
Upload = tuple[str, bytes, str]


def _refused(code: str, message: str) -> SandboxError:
    return SandboxError("ISV", f"isv.{code}", message, top_code=15, sub_code=f"isv.{code}")


def _missing(name: str) -> SandboxError:
    return SandboxError("ISV", "MissingParameter", f"missing {name}", top_code=40)


@dataclass
class SbIssue:
    """One issue as the platform holds it. Times are US Pacific text, as the API shows them."""

    issue_id: str
    shop: str
    order_id: str
    sub_order_id: str
    buyer_login_id: str
    reason: str
    currency: str
    max_refund: Decimal
    product_id: str
    product_name: str
    product_price: str
    created: str
    modified: str
    status: str = "processing"
    reverse: str = "wait_for_seller_response"
    timeout_type: str = ""
    timeout_at: datetime | None = None
    buyer_solutions: list[dict[str, Any]] = field(default_factory=list)
    seller_solutions: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    return_address_id: str = ""
    return_no: str = ""
    return_company: str = ""

    @property
    def buyer(self) -> dict[str, Any]:
        return self.buyer_solutions[0]

    @property
    def seller(self) -> dict[str, Any] | None:
        return self.seller_solutions[-1] if self.seller_solutions else None


class IssueDesk:
    """The issues of every sandbox shop: the buyer's moves, the seller's API calls, the deadlines."""

    def __init__(self, ids: Iterator[int], clock: Callable[[], datetime]) -> None:
        self._ids = ids
        self.clock = clock
        #: Every image uploaded, for asserts: issue id, extension, file name, content type, bytes.
        self.uploads: list[dict[str, Any]] = []
        #: Told of every issue that ends ``refund_success`` (the sandbox closes a fully refunded order).
        self.on_refunded: Callable[[SbIssue], None] | None = None

    # -- the buyer's moves (and the carrier's) ------------------------------------------------------

    def open(self, box: SbShop, order: SbOrder, kind: str, amount: Decimal | None, reason: str | None) -> str:
        if kind == "exchange":
            raise ValueError("AliExpress has no exchange: an issue asks a refund ('refund_only') or a return "
                             "and refund ('return_and_refund')")
        if kind not in KINDS:
            raise ValueError(f"kind must be 'refund_only' or 'return_and_refund', got {kind!r}")
        if order.paid is None:
            raise ValueError(f"order {order.order_id} is not paid: no issue can be opened on it")
        if any(i.order_id == order.order_id and i.status == "processing" for i in box.issues.values()):
            raise ValueError(f"order {order.order_id} already has an open issue")
        paid = sum((Decimal(line["price"]) * line["quantity"] for line in order.lines), Decimal("0"))
        asked = paid if amount is None else Decimal(str(amount))
        if not Decimal("0") < asked <= paid:
            raise ValueError(f"refund {asked} must be above 0 and at most the {paid} paid")
        now = self._now()
        line = order.lines[0]
        issue = SbIssue(issue_id=str(next(self._ids)), shop=box.name, order_id=order.order_id,
                        sub_order_id=str(line["id"]), buyer_login_id="us-buyer-1",
                        reason=reason or ("Item not received" if kind == "refund_only" else "Item not as described"),
                        currency=order.currency, max_refund=paid, product_id=str(line["product_id"]),
                        product_name=f"Sandbox {line['sku_code']}", product_price=str(line["price"]),
                        created=now, modified=now)
        issue.buyer_solutions.append(self._solution(issue, "buyer", KINDS[kind], asked, issue.reason,
                                                    status="wait_seller_accept", is_default=True))
        self._step(issue, "initiate", "buyer", issue.reason)
        self._set_deadline(issue, "WAIT_SOLUTION_TIMEOUT", ANSWER_DAYS)
        box.issues[issue.issue_id] = issue
        return issue.issue_id

    def buyer_modifies_solution(self, issue: SbIssue, amount: Decimal) -> None:
        """The buyer changes the amount asked: the solution's ``version`` goes up."""
        self._expire(issue)
        self._open_for(issue, {"wait_for_seller_response", "wait_for_buyer_response"})
        if not Decimal("0") < amount <= issue.max_refund:
            raise ValueError(f"refund {amount} must be above 0 and at most {issue.max_refund}")
        buyer = issue.buyer
        self._money(buyer, amount)
        buyer.update(version=int(buyer["version"]) + 1, gmt_modified=self._now(), status="wait_seller_accept")
        issue.reverse = "wait_for_seller_response"
        self._set_deadline(issue, "WAIT_SOLUTION_TIMEOUT", ANSWER_DAYS)
        self._step(issue, "buyer_modify_solution", "buyer", f"asks {amount} {issue.currency}")

    def buyer_answers_seller(self, issue: SbIssue, *, accept: bool) -> None:
        """The buyer accepts the seller's counter-proposal (it is reached) or refuses it (the
        platform mediates: ``wait_for_AE_feedback``)."""
        self._expire(issue)
        self._open_for(issue, {"wait_for_buyer_response"})
        seller = issue.seller
        assert seller is not None  # wait_for_buyer_response only follows a seller solution
        if not accept:
            seller.update(status="buyer_refused", gmt_modified=self._now())
            issue.reverse = "wait_for_AE_feedback"
            self._step(issue, "buyer_refuse", "buyer", "refuses the seller's solution")
            self._touch(issue)
            return
        self._reach(issue, seller, "negotiation_consensus")
        self._step(issue, "buyer_accept", "buyer", "accepts the seller's solution")

    def buyer_cancels(self, issue: SbIssue) -> None:
        self._expire(issue)
        self._open_for(issue, None)
        issue.status, issue.timeout_type, issue.timeout_at = "canceled_issue", "", None
        self._step(issue, "cancel", "buyer", "cancels the issue")

    def buyer_returns_goods(self, issue: SbIssue, tracking_number: str, company: str) -> None:
        self._expire(issue)
        if issue.status != "processing" or issue.reverse != "wait_for_buyer_return":
            raise ValueError(f"issue {issue.issue_id} is {issue.status}/{issue.reverse}: the buyer sends goods "
                             "back only after the seller agreed to a return")
        issue.return_no, issue.return_company = tracking_number, company
        issue.reverse = "wait_for_seller_confirmation"
        self._set_deadline(issue, "WAIT_RECEIVE_ITEM_TIMEOUT", RECEIVE_DAYS)
        self._step(issue, "buyer_return_goods", "buyer", f"{company} {tracking_number}")

    def return_delivered(self, issue: SbIssue) -> None:
        """The returned parcel reached the seller: the platform refunds the agreed solution [U]."""
        self._expire(issue)
        if issue.status != "processing" or issue.reverse != "wait_for_seller_confirmation":
            raise ValueError(f"issue {issue.issue_id} is {issue.status}/{issue.reverse}: no return on its way")
        self._finish(issue, "refund_success")
        self._step(issue, "system_refund", "system", "return received; refunded")

    # -- the API ------------------------------------------------------------------------------------

    def issue_list(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        query = json.loads(form.get("query_dto") or "{}")
        size, page = int(query.get("page_size") or 20), int(query.get("current_page") or 1)
        if not 1 <= size <= 50 or page < 1:
            raise SandboxError("ISV", "isv.invalid-parameter", "page_size 1..50, current_page from 1",
                               top_code=41, sub_code="isv.invalid-parameter")
        rows = []
        for issue in box.issues.values():
            self._expire(issue)
            if query.get("issue_status") and issue.status != query["issue_status"]:
                continue
            if query.get("order_no") and str(query["order_no"]) not in (issue.order_id, issue.sub_order_id):
                continue
            if query.get("buyer_login_id") and query["buyer_login_id"] != issue.buyer_login_id:
                continue
            rows.append({"issue_id": int(issue.issue_id), "order_id": int(issue.sub_order_id),
                         "parent_order_id": int(issue.order_id), "issue_status": issue.status,
                         "buyer_login_id": issue.buyer_login_id, "gmt_create": issue.created,
                         "gmt_modified": issue.modified, "reason_chinese": issue.reason,
                         "reason_english": issue.reason})
        chunk = rows[(page - 1) * size: page * size]
        return {"current_page": page, "page_size": size, "total_item": len(rows),
                "data_list": {"issue_api_issue_dto": chunk}}

    def issue_detail(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        issue = self._issue(box, form)
        return {"result_object": self.detail(issue)}

    def solution_agree(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        issue = self._issue(box, form, need_buyer=True)
        if not form.get("solution_id"):
            raise _missing("solution_id")
        solution = issue.buyer
        if form["solution_id"] != str(solution["id"]):
            raise _refused("issue-solution-not-found", f"solution {form['solution_id']} is not a buyer solution "
                           f"of issue {issue.issue_id}")
        self._answerable(issue)
        if solution["status"] != "wait_seller_accept":
            raise _refused("issue-solution-status-error", f"solution {solution['id']} is {solution['status']}")
        if solution["solution_type"] == "return_and_refund":
            if not form.get("return_address_id"):
                raise _refused("issue-return-address-required", "return_address_id is required to agree to a "
                               "return")
            issue.return_address_id = form["return_address_id"]
        solution["seller_accept_time"] = self._now()
        self._step(issue, "seller_accept", "seller", f"accepts solution {solution['id']}")
        self._reach(issue, solution, "negotiation_consensus")
        return {"result_object": True}

    def solution_save(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        if not form.get("param_dto"):
            raise _missing("param_dto")
        try:
            dto = json.loads(form["param_dto"])
        except ValueError as exc:
            raise _refused("invalid-parameter", "param_dto is not JSON") from exc
        issue = self._issue(box, {k: str(v) for k, v in dto.items() if k in ("issue_id", "buyer_login_id")},
                            need_buyer=True)
        self._answerable(issue)
        adding = dto.get("add_seller_solution")
        if adding not in (True, False):
            raise _missing("add_seller_solution")
        kind = str(dto.get("add_solution_type") or "")
        if kind not in KINDS.values():
            raise _refused("invalid-parameter", f"add_solution_type {kind!r} is not refund or return_and_refund")
        if kind != issue.buyer["solution_type"] and "not as described" not in issue.reason.lower():
            raise _refused("issue-solution-type-error", "the solution type may change only for an item not as "
                           "described")
        amount = self._refund_amount(issue, dto)
        address = str(dto.get("return_good_address_id") or "")
        if kind == "return_and_refund" and not address:
            raise _refused("issue-return-address-required", "return_good_address_id is required for a return")
        context = str(dto.get("solution_context") or "")
        if adding:
            if str(dto.get("buyer_solution_id") or "") != str(issue.buyer["id"]):
                raise _refused("issue-solution-not-found", "buyer_solution_id must name the buyer's solution")
            if issue.seller is not None:
                raise _refused("issue-seller-solution-exists", "the seller already proposed a solution: modify it")
            issue.seller_solutions.append(self._solution(issue, "seller", kind, amount, context,
                                                         status="wait_buyer_accept", is_default=False))
            self._step(issue, "seller_create_solution", "seller", context)
        else:
            seller = issue.seller
            if seller is None or str(dto.get("modify_seller_solution_id") or "") != str(seller["id"]):
                raise _refused("issue-solution-not-found", "modify_seller_solution_id must name the seller's "
                               "solution")
            self._money(seller, amount)
            seller.update(solution_type=kind, content=context, status="wait_buyer_accept",
                          version=int(seller["version"]) + 1, gmt_modified=self._now())
            self._step(issue, "seller_modify_solution", "seller", context)
        issue.return_address_id = address or issue.return_address_id
        issue.reverse, issue.timeout_type, issue.timeout_at = "wait_for_buyer_response", "", None
        return {"result_object": True}

    def image_upload(self, box: SbShop, form: dict[str, str], files: dict[str, Upload]) -> dict[str, Any]:
        issue = self._issue(box, form, need_buyer=True)
        extension = (form.get("extension") or "").lower().lstrip(".")
        if not extension:
            raise _missing("extension")
        if extension not in IMAGE_EXTENSIONS:
            raise _refused("issue-image-type-error", f"extension {extension!r} is not an image type")
        upload = files.get("image_bytes")
        if upload is None or not upload[1]:
            raise _missing("image_bytes")
        if len(upload[1]) > IMAGE_MAX_BYTES:
            raise _refused("issue-image-too-large", f"image over {IMAGE_MAX_BYTES} bytes")
        if issue.status != "processing":
            raise _refused("issue-status-error", f"issue {issue.issue_id} is {issue.status}")
        path = f"https://ae-sandbox.example/issue/{issue.issue_id}/{len(self.uploads) + 1}.{extension}"
        step = issue.processes[-1]
        step["attachments"]["api_attachment_dto"].append(
            {"file_path": path, "owner": "seller", "gmt_create": self._now(), "issue_id": int(issue.issue_id),
             "issue_process_id": step["id"]})
        self.uploads.append({"issue_id": issue.issue_id, "extension": extension, "filename": upload[0],
                             "content_type": upload[2], "content": upload[1]})
        self._touch(issue)
        return {"result_object": True}

    # -- what the API shows -----------------------------------------------------------------------

    def detail(self, issue: SbIssue) -> dict[str, Any]:
        self._expire(issue)
        return {
            "id": int(issue.issue_id), "order_id": int(issue.sub_order_id), "parent_order_id": int(issue.order_id),
            "issue_status": issue.status, "issue_reason_id": 1, "issue_reason": issue.reason,
            "reverse_detail_status": issue.reverse, "timeout_type": issue.timeout_type,
            "timeout_trigger_time": format_pacific(issue.timeout_at) if issue.timeout_at else "",
            "after_sale_warranty": False, "buyer_login_id": issue.buyer_login_id, "product_id": issue.product_id,
            "product_name": issue.product_name, "product_price": issue.product_price,
            "product_price_currency": issue.currency, "refund_money_max": f"{issue.max_refund:.2f}",
            "refund_money_max_currency": issue.currency, "refund_money_max_local": f"{issue.max_refund:.2f}",
            "refund_money_max_local_currency": issue.currency, "buyer_return_no": issue.return_no,
            "buyer_return_logistics_company": issue.return_company, "buyer_return_logistics_lp_no": "",
            "gmt_create": issue.created,
            "buyer_solution_list": {"solution_api_dto": [dict(s) for s in issue.buyer_solutions]},
            "seller_solution_list": {"solution_api_dto": [dict(s) for s in issue.seller_solutions]},
            "platform_solution_list": {"solution_api_dto": []},
            "process_dto_list": {"api_issue_process_dto": [
                {**p, "attachments": {"api_attachment_dto": list(p["attachments"]["api_attachment_dto"])}}
                for p in issue.processes]},
        }

    # -- the state machine ------------------------------------------------------------------------

    def _expire(self, issue: SbIssue) -> None:
        """A seller deadline that passed: the platform acts for the buyer [U]."""
        if issue.status != "processing" or issue.timeout_at is None or self.clock() < issue.timeout_at:
            return
        kind, issue.timeout_type, issue.timeout_at = issue.timeout_type, "", None
        if kind == "WAIT_SOLUTION_TIMEOUT":
            self._step(issue, "system_timeout", "system", "the seller did not answer in time")
            self._reach(issue, issue.buyer, "seller_reponse_timeout")  # (sic) the SDK's spelling
        elif kind == "WAIT_SELLER_FILL_ADDRESS_TIMEOUT":
            self._step(issue, "system_timeout", "system", "no return address in time: refunded without return")
            self._finish(issue, "refund_success")
        elif kind == "WAIT_RECEIVE_ITEM_TIMEOUT":
            self._step(issue, "system_timeout", "system", "the return was not confirmed in time: refunded")
            self._finish(issue, "refund_success")

    def _reach(self, issue: SbIssue, solution: dict[str, Any], how: str) -> None:
        now = self._now()
        solution.update(status="reached", reached_type=how, reached_time=now, gmt_modified=now)
        for other in (*issue.buyer_solutions, *issue.seller_solutions):
            if other is not solution and str(other["status"]).startswith("wait_"):
                other.update(status="reach_cancle", gmt_modified=now)  # (sic) the SDK's spelling
        if solution["solution_type"] == "return_and_refund":
            if issue.return_address_id:
                issue.reverse, issue.timeout_type, issue.timeout_at = "wait_for_buyer_return", "", None
            else:
                issue.reverse = "wait_for_seller_set_return_address"
                self._set_deadline(issue, "WAIT_SELLER_FILL_ADDRESS_TIMEOUT", ANSWER_DAYS)
            self._touch(issue)
            return
        self._finish(issue, "refund_success" if Decimal(solution["refund_money_post"]) > 0 else "refund_reject")

    def _finish(self, issue: SbIssue, reverse: str) -> None:
        issue.status, issue.reverse, issue.timeout_type, issue.timeout_at = "finish", reverse, "", None
        self._touch(issue)
        if reverse == "refund_success" and self.on_refunded is not None:
            self.on_refunded(issue)

    @staticmethod
    def refunded(issue: SbIssue) -> Decimal:
        """What a ``refund_success`` issue paid back: its reached solution's, else the buyer's ask."""
        reached = [s for s in (*issue.buyer_solutions, *issue.seller_solutions) if s["status"] == "reached"]
        return Decimal(str((reached[-1] if reached else issue.buyer)["refund_money_post"]))

    def _set_deadline(self, issue: SbIssue, kind: str, days: int) -> None:
        issue.timeout_type, issue.timeout_at = kind, self.clock() + timedelta(days=days)
        self._touch(issue)

    def _step(self, issue: SbIssue, action: str, who: str, content: str) -> None:
        issue.processes.append({"id": next(self._ids), "action_type": action, "submit_member_type": who,
                                "content": content, "gmt_create": self._now(), "receive_goods": False,
                                "has_buyer_video": False, "has_seller_video": False, "issue_id": int(issue.issue_id),
                                "attachments": {"api_attachment_dto": []}})
        self._touch(issue)

    def _solution(self, issue: SbIssue, owner: str, kind: str, amount: Decimal, content: str, *, status: str,
                  is_default: bool) -> dict[str, Any]:
        now = self._now()
        solution: dict[str, Any] = {
            "id": next(self._ids), "issue_id": int(issue.issue_id), "order_id": int(issue.sub_order_id),
            "solution_type": kind, "solution_owner": owner, "status": status, "is_default": is_default,
            "content": content, "logistics_fee_amount": 0, "logistics_fee_amount_currency": issue.currency,
            "logistics_fee_bear_role": "seller", "reached_type": "", "reached_time": "", "buyer_accept_time": "",
            "seller_accept_time": "", "gmt_create": now, "gmt_modified": now, "version": 1}
        self._money(solution, amount, issue.currency)
        return solution

    @staticmethod
    def _money(solution: dict[str, Any], amount: Decimal, currency: str | None = None) -> None:
        code = currency or solution["refund_money_post_currency"]
        solution.update(refund_money=f"{amount:.2f}", refund_money_currency=code,
                        refund_money_post=f"{amount:.2f}", refund_money_post_currency=code)

    def _touch(self, issue: SbIssue) -> None:
        issue.modified = self._now()

    def _now(self) -> str:
        return format_pacific(self.clock())

    # -- checks -------------------------------------------------------------------------------------

    def _issue(self, box: SbShop, form: dict[str, str], *, need_buyer: bool = False) -> SbIssue:
        if not form.get("issue_id"):
            raise _missing("issue_id")
        issue = box.issues.get(form["issue_id"])
        if issue is None:
            raise _refused("issue-not-found", f"issue {form['issue_id']} not found")
        buyer = form.get("buyer_login_id")
        if need_buyer and not buyer:
            raise _missing("buyer_login_id")
        if buyer and buyer != issue.buyer_login_id:
            raise _refused("issue-buyer-mismatch", f"buyer {buyer} is not the buyer of issue {issue.issue_id}")
        self._expire(issue)
        return issue

    @staticmethod
    def _answerable(issue: SbIssue) -> None:
        if issue.status != "processing" or issue.reverse not in ANSWERABLE:
            raise _refused("issue-status-error", f"issue {issue.issue_id} is {issue.status}/{issue.reverse}: the "
                           "seller cannot answer it now")

    @staticmethod
    def _open_for(issue: SbIssue, reverse: set[str] | None) -> None:
        if issue.status != "processing" or (reverse is not None and issue.reverse not in reverse):
            raise ValueError(f"issue {issue.issue_id} is {issue.status}/{issue.reverse}")

    @staticmethod
    def _refund_amount(issue: SbIssue, dto: dict[str, Any]) -> Decimal:
        if dto.get("refund_amount") in (None, ""):
            raise _missing("refund_amount")
        if not dto.get("refund_amount_currency"):
            raise _missing("refund_amount_currency")
        if dto["refund_amount_currency"] != issue.currency:
            raise _refused("issue-currency-error", f"refund_amount_currency must be {issue.currency}")
        try:
            amount = Decimal(str(dto["refund_amount"]))
        except InvalidOperation as exc:
            raise _refused("invalid-parameter", f"refund_amount {dto['refund_amount']!r} is not an amount") from exc
        if amount < 0 or amount > issue.max_refund:
            raise _refused("issue-refund-amount-error", f"refund_amount {amount} is outside 0..{issue.max_refund} "
                           "(refund_money_max)")
        return amount


class IssueControls:
    """The sandbox's after-sale control surface (the names every channel sandbox offers, plus
    AliExpress's own buyer moves), mixed into ``AliExpressSandbox``: each takes its lock and hands
    the move to its ``IssueDesk``."""

    issue_desk: IssueDesk
    _lock: Any

    def _shop(self, shop: str) -> SbShop:
        raise NotImplementedError

    def create_aftersale(self, shop: str, order_id: str, kind: str, *, amount: Decimal | str | None = None,
                         reason: str | None = None) -> str:
        """The buyer opens an issue on a paid order: ``refund_only`` or ``return_and_refund``
        (``exchange`` raises ``ValueError``: AliExpress has none). No push: no issue topic is known."""
        with self._lock:
            order = self._shop(shop).orders[order_id]
            return self.issue_desk.open(self._shop(shop), order, kind, None if amount is None else Decimal(str(amount)),
                                        reason)

    def open_issue(self, shop: str, order_id: str, reason: str = "Item not received") -> str:
        """A refund-only issue for the whole order (kept for the older tests and the demo)."""
        return self.create_aftersale(shop, order_id, "refund_only", reason=reason)

    def buyer_returns_goods(self, shop: str, case_id: str, *, tracking_number: str = "SF1000000001",
                            company: str = "SF") -> None:
        with self._lock:
            self.issue_desk.buyer_returns_goods(self._issue(shop, case_id), tracking_number, company)

    def buyer_receives_replacement(self, shop: str, case_id: str) -> None:
        raise ValueError("AliExpress has no exchange: there is no replacement to receive")

    def aftersale_raw(self, shop: str, case_id: str) -> dict[str, Any]:
        """The issue as ``aliexpress.issue.detail.get`` shows it now."""
        with self._lock:
            return self.issue_desk.detail(self._issue(shop, case_id))

    def return_delivered(self, shop: str, case_id: str) -> None:
        """The returned parcel reached the seller: AliExpress refunds (it has no seller "received" API) [U]."""
        with self._lock:
            self.issue_desk.return_delivered(self._issue(shop, case_id))

    def buyer_modifies_solution(self, shop: str, case_id: str, amount: Decimal | str) -> None:
        with self._lock:
            self.issue_desk.buyer_modifies_solution(self._issue(shop, case_id), Decimal(str(amount)))

    def buyer_answers_seller(self, shop: str, case_id: str, *, accept: bool = True) -> None:
        with self._lock:
            self.issue_desk.buyer_answers_seller(self._issue(shop, case_id), accept=accept)

    def buyer_cancels_issue(self, shop: str, case_id: str) -> None:
        with self._lock:
            self.issue_desk.buyer_cancels(self._issue(shop, case_id))

    def _issue(self, shop: str, case_id: str) -> SbIssue:
        issue = self._shop(shop).issues.get(case_id)
        if issue is None:
            raise KeyError(f"shop {shop!r} has no issue {case_id!r}")
        return issue
