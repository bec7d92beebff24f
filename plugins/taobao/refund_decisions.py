"""Writing a merchant's decision on a TOP refund back to Taobao or Tmall, safe to repeat.

TOP keeps no idempotency key for refund writes, so every decision reads the refund first
(``taobao.refund.get``): already in the state the decision leads to → done, nothing sent; status
or ``refund_version`` moved on → ``StaleAfterSaleError`` with the refund as it is now. The write is
sent once (``retry=False``); after a timeout or a refusal the refund is read again to tell "it
landed" from "it moved on" from "refused". After a write the refund is read again and returned.
Which method and params: ``refund_writes``; the connector (``TaobaoChannel``) owns the instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import structlog

from contracts import AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleDecisionResult, RefuseReason
from hub.plugin_api import (
    AuthorizationError,
    BadInputError,
    PermanentError,
    RetryableError,
    StaleAfterSaleError,
    ThrottledError,
)
from plugins.taobao import mapping
from plugins.taobao import refund_writes as writes
from plugins.taobao.client import TopClient, unwrap_list

log = structlog.get_logger(__name__)

REFUSE_REASON_FIELDS = "reason_id,reason_text,reason_tips"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class TopRefundDecisions:
    """Decisions and refuse reasons for one shop's refunds (see the module docstring)."""

    def __init__(self, client: TopClient, shop: str, platform: str, refund_fields: str,
                 max_refund_field: str = "payment") -> None:
        self.client = client
        self.shop = shop
        self.platform = platform
        self.refund_fields = refund_fields
        self.max_refund_field = max_refund_field

    # -- reading -------------------------------------------------------------------------------

    async def read(self, refund_id: str) -> dict[str, Any]:
        body = await self.client.call("taobao.refund.get", {"fields": self.refund_fields, "refund_id": refund_id})
        refund = body.get("refund")
        if not isinstance(refund, dict):
            raise PermanentError(f"shop '{self.shop}': refund.get for {refund_id} returned no refund")
        return refund

    def case(self, refund: Mapping[str, Any]) -> AfterSale:
        return mapping.aftersale_from_refund(refund, self.shop, self.platform, self.max_refund_field)

    async def refuse_reasons(self, refund_id: str, phase: str | None = None) -> list[RefuseReason]:
        """``taobao.refund.refusereason.get`` (``refund_phase`` required: the case's, else read).
        Tmall's refusals need an image (``proof_required``)."""
        if phase is None:
            phase = str((await self.read(refund_id)).get("refund_phase") or "")
        body = await self.client.call("taobao.refund.refusereason.get", {
            "refund_id": refund_id, "refund_phase": phase, "fields": REFUSE_REASON_FIELDS})
        return [RefuseReason(id=str(r["reason_id"]), text=str(r.get("reason_text") or r["reason_id"]),
                             proof_required=self.platform == "tmall", hint=r.get("reason_tips") or None)
                for r in unwrap_list(body.get("reasons")) if isinstance(r, dict) and r.get("reason_id") is not None]

    # -- deciding ------------------------------------------------------------------------------

    async def decide(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        step = writes.STEPS[decision.action]
        refund_id = case.ref.external_id
        before = await self.read(refund_id)
        status = str(before.get("status") or "")
        if status in step.done_in:
            log.info("aftersale.decision_repeated", shop=self.shop, refund_id=refund_id, action=decision.action.value,
                     status=status)
            return AfterSaleDecisionResult(written_back=True, case=self.case(before),
                                           note=f"the refund is {status} at TOP already; nothing was sent again")
        if status in step.not_yet:
            raise PermanentError(f"shop '{self.shop}': refund {refund_id} is {status}: the buyer has not entered the "
                                 f"return shipment at TOP yet, so {decision.action.value} cannot be sent; try again "
                                 "once it shows WAIT_SELLER_CONFIRM_GOODS", code=status)
        version = None if before.get("refund_version") in (None, "") else str(before["refund_version"])
        if status not in step.starts_from:
            raise StaleAfterSaleError(f"shop '{self.shop}': refund {refund_id} is {status} at TOP; "
                                      f"{decision.action.value} no longer applies", current=self.case(before),
                                      code=status)
        if decision.version is not None and version is not None and decision.version != version:
            raise StaleAfterSaleError(f"shop '{self.shop}': refund {refund_id} changed at TOP (refund_version "
                                      f"{version}, the decision was made on {decision.version}); look again",
                                      current=self.case(before), code="refund_version")
        params = await self._params(decision, before)
        try:
            body = await self.client.call(step.method, params, retry=False)
        except (ThrottledError, AuthorizationError):
            raise
        except (RetryableError, httpx.TransportError):
            after = await self.read(refund_id)
            if str(after.get("status") or "") in step.done_in:
                return AfterSaleDecisionResult(written_back=True, case=self.case(after))
            raise
        except PermanentError as exc:
            after = await self.read(refund_id)
            self._raise_refused(step, before, after, str(exc), decision)
            return AfterSaleDecisionResult(written_back=True, case=self.case(after))
        refusal = self._refusal(step.method, body, refund_id)
        after = await self.read(refund_id)
        if refusal is not None:
            self._raise_refused(step, before, after, refusal, decision)
        log.info("aftersale.decided", shop=self.shop, refund_id=refund_id, action=decision.action.value,
                 status=after.get("status"))
        return AfterSaleDecisionResult(written_back=True, case=self.case(after))

    def _raise_refused(self, step: writes.RefundStep, before: Mapping[str, Any], after: Mapping[str, Any],
                       why: str, decision: AfterSaleDecision) -> None:
        """TOP refused the write: fine if it had landed anyway (returns), stale if the refund moved
        between the read and the write, else a permanent refusal naming TOP's words."""
        status = str(after.get("status") or "")
        if status in step.done_in:
            return
        refund_id = writes.refund_id_of(after)
        if status != before.get("status") or str(after.get("refund_version")) != str(before.get("refund_version")):
            raise StaleAfterSaleError(f"shop '{self.shop}': refund {refund_id} changed at TOP while "
                                      f"{decision.action.value} was sent ({why})", current=self.case(after),
                                      code=status)
        raise PermanentError(f"shop '{self.shop}': TOP refused {step.method} on refund {refund_id}: {why}",
                             partner_message=why)

    @staticmethod
    def _refusal(method: str, body: Mapping[str, Any], refund_id: str) -> str | None:
        """None when TOP took the write, else its message. ``rp.refunds.agree`` answers per refund
        (``results[]{refund_id, succ, message}``, ``msg_code`` OP_SUCC / SOME_OP_SUCC / OP_FAILURE_UE)."""
        if method == "taobao.rp.refunds.agree":
            for result in unwrap_list(body.get("results")):
                if isinstance(result, dict) and str(result.get("refund_id")) == refund_id:
                    return None if _truthy(result.get("succ")) else str(result.get("message") or "refused")
            return None if _truthy(body.get("succ")) else str(body.get("message") or body.get("msg_code") or "refused")
        taken = body.get("result") if method == "taobao.rp.returngoods.refuse" else body.get("is_success")
        return None if _truthy(taken) else f"{method} answered without success"

    async def _params(self, decision: AfterSaleDecision, refund: Mapping[str, Any]) -> dict[str, Any]:
        action = decision.action
        if action in (AfterSaleAction.APPROVE_REFUND, AfterSaleAction.CONFIRM_RETURN):
            cents = writes.checked_amount(decision.refund_amount, refund, self.max_refund_field)
            return writes.agree_params(refund, cents, self.platform)
        if action is AfterSaleAction.AGREE_RETURN:
            return writes.returngoods_agree_params(refund, decision.return_address, decision.remark, self.platform)
        if action is AfterSaleAction.REFUSE_RETURN:
            await self._known_reason(decision, refund)
            return writes.returngoods_refuse_params(refund, decision.reason_id, decision.proof)
        text = await self._known_reason(decision, refund)
        return writes.refuse_params(refund, writes.refuse_message(decision.reason_text or text), decision.reason_id,
                                    decision.proof, self.platform)

    async def _known_reason(self, decision: AfterSaleDecision, refund: Mapping[str, Any]) -> str | None:
        """The text of ``decision.reason_id`` from TOP's list for this refund; a reason not in the
        list → ``BadInputError``. None without a reason id."""
        if decision.reason_id is None:
            return None
        writes.reason_number(decision.reason_id)
        reasons = await self.refuse_reasons(writes.refund_id_of(refund), str(refund.get("refund_phase") or ""))
        for reason in reasons:
            if reason.id == decision.reason_id:
                return reason.text
        raise BadInputError(f"reason {decision.reason_id} is not among TOP's refuse reasons for refund "
                            f"{writes.refund_id_of(refund)}", field="reason_id")
