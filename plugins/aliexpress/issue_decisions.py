"""A merchant's decision on an AliExpress issue, written back with ``aliexpress.issue.*``.

- agree to the buyer's solution (a refund, or a return with ``return_address_id``):
  ``aliexpress.issue.solution.agree``;
- a different amount (a partial refund) or a refusal: a seller solution (a counter-proposal) with
  ``aliexpress.issue.solution.save`` — a refusal is a counter-proposal refunding 0 with the reason
  as ``solution_context`` [U: from a third-party summary of AE doc 708]; its proof images follow
  with ``aliexpress.issue.image.upload`` (multipart ``image_bytes``).

AliExpress keeps no idempotency key, so every decision reads the detail first: a decision whose
outcome is already there ("reached", the same seller solution, the images uploaded) is done, a
buyer solution that changed (``version``, id) or an issue no longer answerable raises
``StaleAfterSaleError`` with the current case. Facts: the official AliExpress IOP Java SDK classes
``AliexpressIssueSolutionAgreeRequest``, ``…SolutionSaveRequest``, ``…ImageUploadRequest``.
Not for mapping (``issue_mapping.py``) nor for reading lists (``connector.py``).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Awaitable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    Money,
    Proof,
)
from hub.plugin_api import BadInputError, NotFoundError, PermanentError, StaleAfterSaleError
from plugins.aliexpress.issue_mapping import (
    ISSUE_PROCESSING,
    REACHED_SOLUTION,
    buyer_solution,
    map_issue,
    seller_solution,
    solution_refund,
)
from plugins.aliexpress.mapping import listed

#: What this platform has a write API for; the hub records the others itself.
ISSUE_ACTIONS = frozenset({AfterSaleAction.APPROVE_REFUND, AfterSaleAction.AGREE_RETURN, AfterSaleAction.REFUSE})
#: Reverse statuses in which the seller may still agree to or answer the buyer's solution [U: the
#: SDK does not say when the seller calls are accepted; these are the "waiting for someone to
#: answer" ones before any return or platform decision].
ANSWERABLE = frozenset({"wait_for_seller_response", "wait_for_buyer_response", "wait_for_your_response",
                        "wait_for_your_evidence"})
#: A seller solution in one of these still stands (waits for the buyer, or was taken).
STANDING = frozenset({"wait_buyer_accept", "wait_buyer_and_seller_accept"}) | REACHED_SOLUTION
#: Buyer solution statuses the seller can still agree to.
AGREEABLE = frozenset({"wait_seller_accept", "wait_buyer_and_seller_accept"})
_NO_RETURN_API = ("AliExpress has no seller API for returned goods (aliexpress.issue.* offers agree, save and "
                  "image upload only): AliExpress refunds the buyer when the return is received or its receive "
                  "timeout passes [U]; recorded in the hub only")
_NO_EXCHANGE = ("AliExpress issues have no exchange or reissue solution (solution types: refund, "
                "return_and_refund); recorded in the hub only")
NOT_WRITTEN: dict[AfterSaleAction, str] = {
    AfterSaleAction.CONFIRM_RETURN: _NO_RETURN_API,
    AfterSaleAction.REFUSE_RETURN: _NO_RETURN_API,
    AfterSaleAction.AGREE_EXCHANGE: _NO_EXCHANGE,
    AfterSaleAction.RECEIVE_EXCHANGE: _NO_EXCHANGE,
    AfterSaleAction.SHIP_EXCHANGE: _NO_EXCHANGE,
    AfterSaleAction.REISSUE: _NO_EXCHANGE,
}


class IssueCall(Protocol):
    """``AliExpressClient.call`` as this module uses it."""

    def __call__(self, method: str, params: Mapping[str, Any] | None = None, *, retry: bool = True,
                 files: Mapping[str, tuple[str, bytes, str]] | None = None) -> Awaitable[dict[str, Any]]: ...


async def read_issue(call: IssueCall, shop: str, issue_id: str, buyer_login_id: str | None) -> dict[str, Any]:
    """``aliexpress.issue.detail.get`` → its ``result_object``; ``NotFoundError`` when absent."""
    params: dict[str, Any] = {"issue_id": issue_id}
    if buyer_login_id:
        params["buyer_login_id"] = buyer_login_id
    body = await call("aliexpress.issue.detail.get", params)
    detail = body.get("result_object")
    if not isinstance(detail, dict):
        raise NotFoundError(f"shop {shop!r}: AliExpress issue {issue_id} not found")
    return detail


class IssueDecision:
    """One decision on one issue: read, check, write, read again."""

    def __init__(self, call: IssueCall, shop: str, case: AfterSale, decision: AfterSaleDecision) -> None:
        self.call, self.shop, self.case, self.decision = call, shop, case, decision
        self.issue_id = case.ref.external_id
        self.where = f"shop {shop!r}: AliExpress issue {self.issue_id}"

    async def run(self) -> AfterSaleDecisionResult:
        action = self.decision.action
        if action not in ISSUE_ACTIONS:
            return AfterSaleDecisionResult(written_back=False, note=NOT_WRITTEN.get(action, _NO_EXCHANGE))
        detail = await self._read()
        writes = {AfterSaleAction.APPROVE_REFUND: self._approve_refund, AfterSaleAction.AGREE_RETURN:
                  self._agree_return, AfterSaleAction.REFUSE: self._refuse}[action]
        note = await writes(detail)
        return AfterSaleDecisionResult(written_back=True, case=self._map(await self._read()), note=note)

    # -- the three decisions ---------------------------------------------------------------------

    async def _approve_refund(self, detail: dict[str, Any]) -> str | None:
        buyer = self._buyer(detail)
        if buyer.get("solution_type") != "refund":
            self._check_answerable(detail, buyer, agreeing=False)  # a changed solution is stale, not bad input
            raise BadInputError(f"{self.where}: the buyer asks {buyer.get('solution_type')}; agree to the return "
                                "(agree_return) or refuse — AliExpress changes a solution's type only for an item "
                                "not as described", field="action")
        amount = self._amount(detail)
        if amount is None or amount == solution_refund(buyer):
            return await self._agree(detail, buyer, None)
        return await self._counter(detail, buyer, "refund", amount, context=self.decision.remark)

    async def _agree_return(self, detail: dict[str, Any]) -> str | None:
        buyer = self._buyer(detail)
        if buyer.get("solution_type") != "return_and_refund":
            self._check_answerable(detail, buyer, agreeing=False)
            raise BadInputError(f"{self.where}: the buyer asks a refund without return; approve or refuse it "
                                "(AliExpress changes a solution's type only for an item not as described)",
                                field="action")
        address = self._address_id(required=True)
        amount = self._amount(detail)
        if amount is None or amount == solution_refund(buyer):
            return await self._agree(detail, buyer, address)
        return await self._counter(detail, buyer, "return_and_refund", amount, context=self.decision.remark,
                                   address=address)

    async def _refuse(self, detail: dict[str, Any]) -> str | None:
        buyer = self._buyer(detail)
        reason = (self.decision.reason_text or self.decision.remark or "").strip()
        if not reason:
            raise BadInputError(f"{self.where}: a refusal needs a reason (sent as solution_context)",
                                field="reason_text")
        kind = str(buyer.get("solution_type") or "refund")
        # A return counter-proposal names the return address (solution.save); refusing a return
        # still goes as one, since the type changes only for "not as described" [U].
        address = self._address_id(required=kind == "return_and_refund")
        zero = Money(amount=Decimal("0"), currency=self._currency(detail, buyer))
        note = await self._counter(detail, buyer, kind, zero, context=reason, address=address)
        if self.decision.proof:
            await self._upload_proof(await self._read() if note is None else detail)
        return note

    # -- the platform calls ------------------------------------------------------------------------

    async def _agree(self, detail: dict[str, Any], buyer: Mapping[str, Any], address: str | None) -> str | None:
        if buyer.get("status") in REACHED_SOLUTION:
            return "already agreed at AliExpress"
        self._check_answerable(detail, buyer, agreeing=True)
        params: dict[str, Any] = {"issue_id": self.issue_id, "solution_id": str(buyer.get("id")),
                                  "buyer_login_id": self._buyer_login(detail)}
        if address is not None:
            params["return_address_id"] = address
        await self._write("aliexpress.issue.solution.agree", params, detail)
        return None

    async def _counter(self, detail: dict[str, Any], buyer: Mapping[str, Any], kind: str, amount: Money, *,
                       context: str | None, address: str | None = None) -> str | None:
        """Add (or change) the seller's solution; done when one with this type and amount is there."""
        mine = seller_solution(detail)
        if mine is not None and mine.get("solution_type") == kind and _same(solution_refund(mine), amount) \
                and mine.get("status") in STANDING:
            return "this counter-proposal is already at AliExpress"
        self._check_answerable(detail, buyer, agreeing=False)
        dto: dict[str, Any] = {"issue_id": int(self.issue_id) if self.issue_id.isdigit() else self.issue_id,
                               "buyer_login_id": self._buyer_login(detail), "add_solution_type": kind,
                               "refund_amount": f"{amount.amount:.2f}", "refund_amount_currency": amount.currency,
                               "solution_context": context or None, "return_good_address_id": address}
        if mine is None:
            dto.update(add_seller_solution=True, buyer_solution_id=buyer.get("id"))
        else:
            dto.update(add_seller_solution=False, modify_seller_solution_id=mine.get("id"))
        payload = {k: v for k, v in dto.items() if v is not None}
        await self._write("aliexpress.issue.solution.save", {"param_dto": json.dumps(payload)}, detail)
        return None

    async def _upload_proof(self, detail: dict[str, Any]) -> None:
        """Upload the refusal's images not yet at AliExpress (counted as the seller's attachments,
        since the platform keeps no key: a retry uploads only what is missing)."""
        proofs = self.decision.proof
        already = _seller_attachments(detail)
        for proof in proofs[already:]:
            params = {"issue_id": self.issue_id, "buyer_login_id": self._buyer_login(detail),
                      "extension": _extension(proof)}
            await self._write("aliexpress.issue.image.upload", params, detail,
                              files={"image_bytes": (proof.filename, proof.content, proof.content_type)})

    async def _write(self, method: str, params: dict[str, Any], before: dict[str, Any], *,
                     files: Mapping[str, tuple[str, bytes, str]] | None = None) -> None:
        """One write, not retried blindly (the decision is retried whole, reading first). A refusal
        by the platform after the issue moved is reported as stale, with the current case."""
        try:
            body = await self.call(method, params, retry=False, files=files)
        except PermanentError as exc:
            if isinstance(exc, StaleAfterSaleError):
                raise
            now = await self._read()
            if _fingerprint(now) != _fingerprint(before):
                raise StaleAfterSaleError(f"{self.where} moved on at AliExpress: {exc}", current=self._map(now),
                                          code=exc.code, partner_message=exc.partner_message) from exc
            raise
        if body.get("result_object") in (False, "false"):
            raise PermanentError(f"{self.where}: AliExpress refused {method} ({body.get('error_message') or body})",
                                 code=str(body.get("error_code") or "result_object=false"))

    # -- checks ------------------------------------------------------------------------------------

    def _check_answerable(self, detail: dict[str, Any], buyer: Mapping[str, Any], *, agreeing: bool) -> None:
        """Stale when the issue is no longer open for the seller, the buyer changed the solution
        since the hub saw it (id or ``version``), or (agreeing) it is no longer waiting for us."""
        current = self._map(detail)
        why = None
        expected_version = self.decision.version or self.case.version
        expected_id = self.case.extra.get("buyer_solution_id")
        if detail.get("issue_status") != ISSUE_PROCESSING:
            why = f"is {detail.get('issue_status')}"
        elif str(detail.get("reverse_detail_status") or "") not in ANSWERABLE:
            why = f"waits for {detail.get('reverse_detail_status')}"
        elif expected_id and str(buyer.get("id")) != expected_id:
            why = f"has a new buyer solution {buyer.get('id')} (the hub saw {expected_id})"
        elif expected_version and str(buyer.get("version") or "") != expected_version:
            why = f"buyer solution is at version {buyer.get('version')} (the hub saw {expected_version})"
        elif agreeing and buyer.get("status") not in AGREEABLE:
            why = f"buyer solution is {buyer.get('status')}"
        if why:
            raise StaleAfterSaleError(f"{self.where} {why}; read it again before deciding", current=current)

    def _amount(self, detail: dict[str, Any]) -> Money | None:
        amount = self.decision.refund_amount
        if amount is None:
            return None
        most = self._map(detail).max_refund or self.case.max_refund
        if most is not None and amount.currency != most.currency:
            raise BadInputError(f"{self.where}: refund in {amount.currency}, the issue is in {most.currency}",
                                field="refund_amount")
        if amount.amount < 0 or (most is not None and amount.amount > most.amount):
            top = most.amount if most is not None else "?"
            raise BadInputError(f"{self.where}: refund {amount.amount} {amount.currency} is outside 0..{top} "
                                "(refund_money_max)", field="refund_amount")
        return amount

    def _currency(self, detail: dict[str, Any], buyer: Mapping[str, Any]) -> str:
        asked = solution_refund(buyer)
        most = self._map(detail).max_refund
        return (asked or most or self.case.max_refund or Money.zero("USD")).currency

    def _address_id(self, *, required: bool) -> str | None:
        address = self.decision.return_address
        if address is not None and address.address_id:
            return address.address_id
        if required:
            raise BadInputError(f"{self.where}: a return needs the seller's AliExpress return address id "
                                "(return_address.address_id)", field="return_address")
        return None

    def _buyer(self, detail: dict[str, Any]) -> Mapping[str, Any]:
        buyer = buyer_solution(detail)
        if buyer is None:
            raise StaleAfterSaleError(f"{self.where} has no buyer solution to answer", current=self._map(detail))
        return buyer

    def _buyer_login(self, detail: dict[str, Any]) -> str:
        return str(detail.get("buyer_login_id") or self.case.extra.get("buyer_login_id") or "")

    async def _read(self) -> dict[str, Any]:
        return await read_issue(self.call, self.shop, self.issue_id, self.case.extra.get("buyer_login_id"))

    def _map(self, detail: dict[str, Any]) -> AfterSale:
        return map_issue(detail, self.shop, issue_id=self.issue_id)


def _same(left: Money | None, right: Money) -> bool:
    return left is not None and left.currency == right.currency and left.amount == right.amount


def _fingerprint(detail: Mapping[str, Any]) -> tuple[Any, ...]:
    """What says an issue moved: its statuses and every solution's status and version."""
    rows = [r for owner in ("buyer", "seller", "platform")
            for r in listed(detail.get(f"{owner}_solution_list")) if isinstance(r, Mapping)]
    return (detail.get("issue_status"), detail.get("reverse_detail_status"),
            tuple(sorted((str(r.get("id")), str(r.get("status")), str(r.get("version"))) for r in rows)))


def _seller_attachments(detail: Mapping[str, Any]) -> int:
    count = 0
    for step in listed(detail.get("process_dto_list")):
        if isinstance(step, Mapping):
            count += sum(1 for a in listed(step.get("attachments"))
                         if isinstance(a, Mapping) and a.get("owner") == "seller")
    return count


def _extension(proof: Proof) -> str:
    """``extension`` of ``issue.image.upload``: from the file name, else the content type."""
    if "." in proof.filename:
        return proof.filename.rsplit(".", 1)[1].lower()
    guessed = mimetypes.guess_extension(proof.content_type) or ".jpg"
    return guessed.lstrip(".")

