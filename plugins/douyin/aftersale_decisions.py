"""A merchant's after-sale decision written back to Douyin: ``afterSale.operate`` (one item per
call), ``afterSale.fillLogistics`` for a reissue's (补寄) parcel, ``afterSale.rejectReasonCodeList``
for refusal reasons, ``afterSale.Detail`` before and after.

Douyin keeps no idempotency key, so every decision reads the case first and a case already in
the state the decision leads to is reported done without a second write. The write carries the
case's ``update_time`` (the platform's optimistic lock); a status error (``20309541``) is answered
by reading the case again and raising ``StaleAfterSaleError`` with it. Not for listing or mapping
cases (``connector`` / ``mapping``). Facts: afterSale.operate and its errors from the official
doudian SDKs and the platform's per-API error table; the type table (101…312) from a third-party
copy of the official page op.jinritemai.com/docs/question-docs/93/2752, 201/202 confirmed
independently [U where only that copy says it].
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    Proof,
    RefuseReason,
)
from hub.plugin_api import BadInputError, PermanentError, RetryableError, StaleAfterSaleError
from plugins.douyin import mapping
from plugins.douyin.client import DouyinClient, DouyinRefusal

log = structlog.get_logger(__name__)

OPERATE = "afterSale.operate"
STATUS_ERROR = "20309541"  # isv.business-failed:20309541 售后状态错误 → re-read, no retry
BACKEND_ONLY = "11001"  # isv.business-failed:11001 不支持通过OPEN处理 → the 抖店 back office
EMPTY_ANSWER = "10002"  # isp.service-error:10002 → retry
PARAMETER_INVALID = "isv.parameter-invalid"

#: The decisions ``afterSale.operate`` takes. ``receive_exchange`` is not one: Douyin's 311 confirms
#: the exchanged goods came back *and* ships the replacement in one call, sent at ``ship_exchange``.
#: ``reissue`` is ``afterSale.fillLogistics`` with ``send_type`` 1 (补寄, the seller ships), sent with
#: the parcel once it left (see ``REISSUE_AGREE_NOTE``).
ACTIONS: frozenset[AfterSaleAction] = frozenset({
    AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE, AfterSaleAction.AGREE_RETURN,
    AfterSaleAction.CONFIRM_RETURN, AfterSaleAction.REFUSE_RETURN, AfterSaleAction.AGREE_EXCHANGE,
    AfterSaleAction.SHIP_EXCHANGE, AfterSaleAction.REISSUE,
})
FILL_LOGISTICS = "afterSale.fillLogistics"
#: ``send_type`` 1 = 补寄, the seller ships (official SDK field notes; 3 and 4 are the buyer's return
#: and a repair's). ``pick_up_type`` is left out: the parcel goes with a courier, with a number.
RESEND_SEND_TYPE = 1
#: Douyin ``aftersale_type`` 7 = 补寄 (resend).
RESEND_TYPE = "7"
#: Statuses at which a 补寄 waits for the seller's parcel: 8 (awaiting seller shipment) and 6
#: (awaiting the seller) [U: the facts name no API that agrees a 补寄 — afterSale.operate's type
#: table has none — so the parcel itself is taken as the seller's answer; push 227 同意补寄 exists].
RESEND_WAITING = frozenset({"6", "8"})
REISSUE_AGREE_NOTE = (
    "Douyin has no API to agree a 补寄 (afterSale.operate's types name none): the reissue is recorded in the hub, "
    "and Douyin is told its parcel (afterSale.fillLogistics, send_type 1) when it ships.")
RECEIVE_EXCHANGE_NOTE = (
    "Douyin has no separate 'goods received' step for an exchange: afterSale.operate type 311 confirms "
    "the returned goods and ships the replacement in one call, made when the replacement ships "
    "(ship_exchange, with its tracking number). Recorded in the hub only.")

#: (action, Douyin aftersale_type) → operate ``type``. Refund-only is 1 (shipped) or 2 (not yet).
OPERATIONS: dict[tuple[AfterSaleAction, str], int] = {
    (AfterSaleAction.APPROVE_REFUND, "1"): 201, (AfterSaleAction.APPROVE_REFUND, "2"): 201,
    (AfterSaleAction.REFUSE, "1"): 202,
    (AfterSaleAction.AGREE_RETURN, "0"): 101, (AfterSaleAction.REFUSE, "0"): 102,
    (AfterSaleAction.CONFIRM_RETURN, "0"): 111, (AfterSaleAction.REFUSE_RETURN, "0"): 112,
    (AfterSaleAction.AGREE_EXCHANGE, "3"): 301, (AfterSaleAction.REFUSE, "3"): 302,
    (AfterSaleAction.SHIP_EXCHANGE, "3"): 311, (AfterSaleAction.REFUSE_RETURN, "3"): 312,
}
REFUSALS = frozenset({202, 102, 112, 302, 312})
#: The raw statuses a decision leads to (§5 status table): a case found there is already decided.
DONE_STATUSES: dict[AfterSaleAction, frozenset[str]] = {
    AfterSaleAction.APPROVE_REFUND: frozenset({"12", "53"}),
    AfterSaleAction.REFUSE: frozenset({"27"}),
    AfterSaleAction.AGREE_RETURN: frozenset({"7", "11", "12"}),
    AfterSaleAction.CONFIRM_RETURN: frozenset({"12", "53"}),
    AfterSaleAction.REFUSE_RETURN: frozenset({"29"}),
    AfterSaleAction.AGREE_EXCHANGE: frozenset({"7", "8", "11", "13", "14"}),
    AfterSaleAction.SHIP_EXCHANGE: frozenset({"13", "14"}),
    AfterSaleAction.REISSUE: frozenset({"13", "14"}),  # resend shipped, awaiting buyer receipt / done
}
#: Evidence ``type``: 1 image, 2 video, 3 audio, 4 text (official SDK field notes), guessed from the URL's extension.
_EVIDENCE_TYPES = {".mp4": 2, ".mov": 2, ".m4v": 2, ".mp3": 3, ".m4a": 3, ".wav": 3, ".aac": 3}


def already_done(action: AfterSaleAction, case: AfterSale) -> bool:
    """True when ``case`` is where ``action`` would take it (or past it, money moving for a refund)."""
    if case.raw_status in DONE_STATUSES.get(action, frozenset()):
        return True
    refunding = case.extra.get("refund_status") in ("2", "3")
    return action in (AfterSaleAction.APPROVE_REFUND, AfterSaleAction.CONFIRM_RETURN) and refunding


def proof_url(proof: Proof) -> str | None:
    """The URL a ``Proof`` carries (``text/uri-list``, or content that is one http(s) URL); None
    for a file. Douyin takes evidence as URLs only (``evidence[].url``): the facts name no upload
    API for after-sale evidence [U], so a file cannot be sent."""
    try:
        content = proof.content.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in content.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) == 1 and lines[0].startswith(("https://", "http://")) and " " not in lines[0]:
        return lines[0]
    return None


def evidence_items(proofs: list[Proof], desc: str | None) -> list[dict[str, Any]]:
    """``evidence[]`` for ``afterSale.operate``; a proof that is a file, not a URL, is bad input."""
    items: list[dict[str, Any]] = []
    for proof in proofs:
        url = proof_url(proof)
        if url is None:
            raise BadInputError(
                f"Douyin takes refusal evidence as URLs (afterSale.operate evidence[].url), not files: "
                f"{proof.filename!r} is a file; put it where the platform can fetch it and give its URL "
                "(a proof of type text/uri-list)", field="proof")
        name = url.split("?", 1)[0].rsplit("/", 1)[-1]
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        items.append({"type": _EVIDENCE_TYPES.get(suffix, 1), "url": url, "desc": desc or ""})
    return items


def map_reasons(data: Any, got_pkg: str | None) -> list[RefuseReason]:
    """``rejectReasonCodeList`` items → ``RefuseReason``; ``evidence_need=Y`` → ``proof_required``.
    Reasons for the other side of "the buyer has the goods" (``pkg`` vs the case's ``got_pkg``)
    are left out when the case says which side it is on [U: the doc gives pkg's values only]."""
    reasons: list[RefuseReason] = []
    for item in (data or {}).get("items") or []:
        pkg = mapping.text(item.get("pkg"))
        if got_pkg in ("0", "1") and pkg not in ("", "-1", got_pkg):
            continue
        reasons.append(RefuseReason(
            id=mapping.text(item.get("reject_reason_code")), text=mapping.text(item.get("reason")),
            proof_required=mapping.text(item.get("evidence_need")).upper() == "Y",
            hint=mapping.text(item.get("evidence_description")) or None))
    return reasons


def lock_value(version: str | None) -> int | None:
    """``update_time`` for the write (None: not checked by the platform)."""
    return int(version) if version and version.isdigit() else None


class AfterSaleDecisions:
    """Decisions on one shop's cases. ``company_code`` turns a hub courier code into Douyin's."""

    def __init__(self, client: DouyinClient, shop: str, company_code: Callable[[str], Awaitable[str]]) -> None:
        self.client = client
        self.shop = shop
        self.company_code = company_code

    async def read(self, external_id: str) -> AfterSale:
        data = await self.client.call("afterSale.Detail", {"after_sale_id": str(external_id),
                                                           "need_operation_record": False})
        if not isinstance(data, dict):
            raise PermanentError(f"shop {self.shop!r}: Douyin after-sale {external_id} answered without data")
        return mapping.map_aftersale_detail(data, self.shop)

    async def refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """``afterSale.rejectReasonCodeList`` (empty before the order shipped: such a refund is
        refused by shipping, ``order.logisticsAdd`` with ``is_refund_reject``)."""
        data = await self.client.call("afterSale.rejectReasonCodeList",
                                      {"aftersale_id": int(case.ref.external_id)})
        return map_reasons(data, case.extra.get("got_pkg"))

    async def decide(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """See ``contracts.ChannelConnector.decide_aftersale``."""
        action = decision.action
        if action == AfterSaleAction.RECEIVE_EXCHANGE:
            return AfterSaleDecisionResult(written_back=False, note=RECEIVE_EXCHANGE_NOTE)
        if action not in ACTIONS:
            raise BadInputError(f"Douyin has no API for after-sale decision {action.value!r}; the hub records it",
                                field="action")
        case_id = case.ref.external_id
        if action == AfterSaleAction.REISSUE:
            return await self._reissue(case_id, decision)
        current = await self.read(case_id)
        if already_done(action, current):
            log.info("aftersale.decision_already_applied", platform="douyin", shop=self.shop, case=case_id,
                     action=action.value, key=decision.key, status=current.raw_status)
            return AfterSaleDecisionResult(written_back=True, case=current,
                                           note=f"already done on Douyin (status {current.raw_status})")
        operation = self._operation(action, current)
        item = await self._item(operation, current, decision)
        lock = lock_value(decision.version or case.version)
        if lock is not None:
            item["update_time"] = lock
        try:
            # Sent once: operate keeps no key; the next attempt reads the case first.
            data = await self.client.call(OPERATE, {"type": operation, "items": [item]}, retry=False)
        except DouyinRefusal as exc:
            return await self._refused(exc, action, operation, case_id)
        self._check_items(data, case_id, operation)
        log.info("aftersale.decided", platform="douyin", shop=self.shop, case=case_id, action=action.value,
                 operation=operation, key=decision.key)
        return AfterSaleDecisionResult(written_back=True, case=await self.read(case_id))

    # -- a reissue (补寄) ------------------------------------------------------------------------

    async def _reissue(self, case_id: str, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """``reissue``: with the parcel, ``afterSale.fillLogistics`` (``send_type`` 1) on a 补寄
        waiting for it, then the case read again (13: sent, awaiting the buyer); without, nothing
        to send yet (``REISSUE_AGREE_NOTE``) once the case is found waiting."""
        current = await self.read(case_id)
        raw_type = current.extra.get("aftersale_type", "")
        if raw_type != RESEND_TYPE:
            raise BadInputError(f"Douyin after-sale {case_id} is of type {raw_type} ({current.type.value}), not a "
                                "补寄 (7): 'reissue' does not apply to it", field="action")
        if already_done(AfterSaleAction.REISSUE, current):
            sent = current.extra.get("resend_tracking_number")
            return AfterSaleDecisionResult(written_back=True, case=current,
                                           note=f"already done on Douyin (status {current.raw_status}"
                                                f"{', parcel ' + sent if sent else ''})")
        if current.raw_status not in RESEND_WAITING:
            raise StaleAfterSaleError(
                f"shop {self.shop!r}: Douyin after-sale {case_id} no longer waits for a 补寄 (status "
                f"{current.raw_status}); nothing was sent: review the case", current=current)
        if not decision.tracking_number:
            return AfterSaleDecisionResult(written_back=False, note=REISSUE_AGREE_NOTE)
        if not decision.courier_code:
            raise BadInputError("Douyin takes a 补寄 parcel with its courier (afterSale.fillLogistics company_code); "
                                "give courier_code", field="courier_code")
        params = {"aftersale_id": int(case_id), "send_type": RESEND_SEND_TYPE,
                  "company_code": await self.company_code(decision.courier_code),
                  "tracking_no": decision.tracking_number}
        try:
            # Sent once: fillLogistics keeps no key; the next attempt reads the case first.
            await self.client.call(FILL_LOGISTICS, params, retry=False)
        except DouyinRefusal as exc:
            return await self._refused(exc, AfterSaleAction.REISSUE, None, case_id)
        log.info("aftersale.decided", platform="douyin", shop=self.shop, case=case_id, action="reissue",
                 method=FILL_LOGISTICS, key=decision.key)
        return AfterSaleDecisionResult(written_back=True, case=await self.read(case_id))

    # -- building the item ---------------------------------------------------------------------

    def _operation(self, action: AfterSaleAction, case: AfterSale) -> int:
        raw_type = case.extra.get("aftersale_type", "")
        if action == AfterSaleAction.REFUSE and raw_type == "2":
            raise BadInputError(
                f"Douyin after-sale {case.ref.external_id} asks for a refund before shipping: Douyin refuses it "
                "by shipping the order (order.logisticsAdd with is_refund_reject), not with afterSale.operate",
                field="action")
        operation = OPERATIONS.get((action, raw_type))
        if operation is None:
            raise BadInputError(f"Douyin after-sale {case.ref.external_id} is of type {raw_type} "
                                f"({case.type.value}): {action.value!r} does not apply to it", field="action")
        return operation

    async def _item(self, operation: int, case: AfterSale, decision: AfterSaleDecision) -> dict[str, Any]:
        item: dict[str, Any] = {"aftersale_id": case.ref.external_id}
        if operation in (201, 111):
            self._check_amount(case, decision)
        if operation in (101, 301):
            item["logistics"] = {"receiver_address_id": self._address_id(decision)}
        if operation == 311:
            item["logistics"] = await self._reshipment(decision)
        if operation in REFUSALS:
            item.update(await self._refusal(case, decision))
        elif decision.remark:
            item["remark"] = decision.remark
        return item

    @staticmethod
    def _check_amount(case: AfterSale, decision: AfterSaleDecision) -> None:
        asked = decision.refund_amount
        if asked is None or case.refund_amount is None:
            return
        if asked.currency != case.refund_amount.currency or asked.amount != case.refund_amount.amount:
            raise BadInputError(
                f"Douyin refunds what the buyer asked ({case.refund_amount.amount} {case.refund_amount.currency}) "
                f"and afterSale.operate takes no amount, so {asked.amount} {asked.currency} cannot be sent: the "
                "buyer must modify the request (or refuse it with a reason)", field="refund_amount")

    @staticmethod
    def _address_id(decision: AfterSaleDecision) -> int:
        # The text address (after_sale_address_detail) was retired on 2023-08-31 (official SDK field notes): an id from
        # /address/list is the only way to say where the goods go.
        address_id = decision.return_address.address_id if decision.return_address else None
        if not address_id or not address_id.isdigit():
            raise BadInputError("Douyin needs the return address as a shop address id (receiver_address_id, "
                                "from the 抖店 address list); give return_address.address_id", field="return_address")
        return int(address_id)

    async def _reshipment(self, decision: AfterSaleDecision) -> dict[str, Any]:
        if not decision.courier_code:
            raise BadInputError("Douyin ships an exchange's replacement with its courier (type 311 company_code); "
                                "give courier_code", field="courier_code")
        if not decision.tracking_number:
            raise BadInputError("Douyin ships an exchange's replacement with its tracking number (type 311 "
                                "logistics_code); give tracking_number", field="tracking_number")
        logistics: dict[str, Any] = {"company_code": await self.company_code(decision.courier_code),
                                     "logistics_code": decision.tracking_number}
        if decision.return_address and decision.return_address.address_id:
            logistics["receiver_address_id"] = self._address_id(decision)
        return logistics

    async def _refusal(self, case: AfterSale, decision: AfterSaleDecision) -> dict[str, Any]:
        """``reject_reason_code`` from the platform's list, ``reason`` and ``remark`` (both required;
        the remark is shown to the buyer) and ``evidence`` (required when the reason says so)."""
        if not decision.reason_id:
            raise BadInputError("Douyin refuses with a reason from its list (afterSale.rejectReasonCodeList); "
                                "give reason_id", field="reason_id")
        reasons = await self.refuse_reasons(case)
        reason = next((r for r in reasons if r.id == decision.reason_id), None)
        if reason is None or not reason.id.lstrip("-").isdigit():
            offered = ", ".join(f"{r.id} {r.text}" for r in reasons) or "none"
            raise BadInputError(f"reason {decision.reason_id!r} is not one Douyin offers for after-sale "
                                f"{case.ref.external_id} now; offered: {offered}", field="reason_id")
        evidence = evidence_items(list(decision.proof), decision.reason_text)
        if reason.proof_required and not evidence:
            raise BadInputError(f"Douyin wants evidence with reason {reason.id} ({reason.hint or reason.text}); "
                                "give its URL as proof", field="proof")
        words = decision.reason_text or reason.text
        refusal: dict[str, Any] = {"reject_reason_code": int(reason.id), "reason": words,
                                   "remark": decision.remark or words}
        if evidence:
            refusal["evidence"] = evidence
        return refusal

    # -- the answer ----------------------------------------------------------------------------

    def _check_items(self, data: Any, case_id: str, operation: int) -> None:
        """One item was sent, so a failed item fails the whole call; a per-item ``status_code``
        other than 0 is read as a failure all the same [U: 0 = success is not documented]."""
        for row in (data or {}).get("items") or []:
            code = mapping.text(row.get("status_code"))
            if code not in ("", "0"):
                raise PermanentError(f"shop {self.shop!r}: Douyin afterSale.operate {operation} on after-sale "
                                     f"{case_id} failed ({code} {mapping.text(row.get('status_msg'))})", code=code,
                                     partner_message=mapping.text(row.get("status_msg")))

    async def _refused(self, exc: DouyinRefusal, action: AfterSaleAction, operation: int | None,
                       case_id: str) -> AfterSaleDecisionResult:
        """Translate a refusal of operate (``operation``; None: fillLogistics) by the platform's
        per-API error table; returns only for "already done". [U] fillLogistics has no published
        table: operate's codes are read the same way."""
        method = f"afterSale.operate {operation}" if operation is not None else FILL_LOGISTICS
        sub = exc.sub_code
        said = exc.partner_message or str(exc)
        if sub.endswith(":" + STATUS_ERROR):
            current = await self.read(case_id)
            if already_done(action, current):  # another attempt got there first
                return AfterSaleDecisionResult(written_back=True, case=current,
                                               note=f"already done on Douyin (status {current.raw_status})")
            raise StaleAfterSaleError(
                f"shop {self.shop!r}: Douyin after-sale {case_id} moved on (now status {current.raw_status}, "
                f"update_time {current.version}); nothing was applied: review the case and decide again",
                current=current, code=exc.code, partner_message=said) from exc
        if sub.endswith(":" + BACKEND_ONLY):
            raise PermanentError(
                f"shop {self.shop!r}: Douyin will not take decisions on after-sale {case_id} through the API "
                "(11001 不支持通过OPEN处理); decide it in the 抖店 back office (fxg.jinritemai.com)",
                code=exc.code, partner_message=said) from exc
        if sub.endswith(":" + EMPTY_ANSWER):
            raise RetryableError(f"shop {self.shop!r}: Douyin {method} answered empty (10002) for "
                                 f"after-sale {case_id}; will retry", code=exc.code, partner_message=said) from exc
        if sub.startswith(PARAMETER_INVALID):
            field = ("reason_id" if operation in REFUSALS else "return_address" if operation in (101, 301)
                     else "tracking_number" if operation in (311, None) else None)
            raise BadInputError(f"shop {self.shop!r}: Douyin refused {method} on after-sale "
                                f"{case_id}: {said}", field=field, code=exc.code) from exc
        raise exc
