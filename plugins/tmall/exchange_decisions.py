"""A merchant's decisions on Tmall exchanges (换货), written back with the ``tmall.exchange.*`` APIs.

``ExchangeDesk`` reads an exchange (``tmall.exchange.get``), lists the refuse reasons
(``tmall.exchange.refusereason.get``) and takes the five exchange decisions:

- agree_exchange → ``tmall.exchange.agree`` (``address_id`` = the return address id);
- refuse → ``tmall.exchange.refuse`` (``seller_refuse_reason_id``; a picture as
  ``leave_message_pics``, multipart);
- receive_exchange → ``tmall.exchange.returngoods.agree`` (卖家确认收货);
- refuse_return → ``tmall.exchange.returngoods.refuse`` (拒绝确认收货, reason and picture);
- ship_exchange → ``tmall.exchange.consigngoods`` (``logistics_type`` 200 快递, the courier's company
  NAME), or ``tmall.exchange.confirm.consign`` (receive and ship in one call) when the exchange
  still waits for the seller's receipt (3) but the hub recorded the goods back.

TOP keeps no idempotency key and no exchange write takes a version (TOP API docs), so each
decision reads the exchange first: already in the state it leads to → done, nothing sent again;
a status that no longer allows it, or a ``modified`` other than the one the hub saw →
``StaleAfterSaleError`` with the current case. After writing it reads again and returns the case.
A refusal the platform answers (``result.success`` false, or an ``isv`` error) is read back the
same way, so a write whose answer was lost and is sent again reports done. Refund cases are not
here (``plugins.taobao``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    RefuseReason,
)
from hub.plugin_api import AuthorizationError, BadInputError, PermanentError, StaleAfterSaleError
from plugins.taobao.client import TopClient
from plugins.taobao.signing import TopFile
from plugins.tmall import mapping

#: What every exchange write asks back (its doc: "当前支持的有 dispute_id, bizorder_id, modified, status").
WRITE_FIELDS = "dispute_id,bizorder_id,modified,status"
#: What ``tmall.exchange.get`` is asked for: the documented ``fields`` plus the answer's fields the
#: list leaves out (``desc``, ``time_out``, ``refund_version``, ``refund_phase``...) [U: whether
#: those must be named to come back].
DETAIL_FIELDS = ("dispute_id,bizorder_id,num,buyer_nick,status,created,modified,reason,desc,title,buyer_logistic_no,"
                 "seller_logistic_no,bought_sku,exchange_sku,buyer_logistic_name,seller_logistic_name,alipay_no,"
                 "time_out,refund_version,refund_phase,good_status,price,advance_status,cs_status")
#: ``logistics_type`` of the replacement: 200 快递 (100 is 平邮).
EXPRESS = 200
#: TOP param → the decision field it comes from, to name the culprit of an ``isv.invalid-parameter``.
PARAM_FIELDS = {"seller_refuse_reason_id": "reason_id", "address_id": "return_address",
                "logistics_no": "tracking_number", "logistics_company_name": "courier_code",
                "leave_message_pics": "proof", "leave_message": "reason_text"}


@dataclass(frozen=True)
class Step:
    """Where a decision applies and where it leads, in exchange status codes."""

    allowed: frozenset[str]
    done: frozenset[str]


STEPS: dict[AfterSaleAction, Step] = {
    AfterSaleAction.AGREE_EXCHANGE: Step(frozenset({"1"}), frozenset({"2", "3", "12", "13", "5"})),
    # A refusal leaves the exchange 待买家修改 (6) [U: see mapping.EXCHANGE_STATUS].
    AfterSaleAction.REFUSE: Step(frozenset({"1"}), frozenset({"6"})),
    AfterSaleAction.RECEIVE_EXCHANGE: Step(frozenset({"3"}), frozenset({"12", "13", "5"})),
    AfterSaleAction.REFUSE_RETURN: Step(frozenset({"3"}), frozenset({"6"})),
    AfterSaleAction.SHIP_EXCHANGE: Step(frozenset({"3", "12"}), frozenset({"13", "5"})),
}
EXCHANGE_ACTIONS = frozenset(STEPS)


def _result(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``result`` object every ``tmall.exchange.*`` answer wraps (``ExchangeBaseResponse``)."""
    result = body.get("result")
    return dict(result) if isinstance(result, dict) else {}


def dispute_type(case: AfterSale) -> int:
    """``refusereason.get`` ``dispute_type`` from the exchange's ``refund_phase``: 1 售中, 2 售后, 0 any."""
    phase = case.extra.get("refund_phase", "")
    if "onsale" in phase or "售中" in phase:
        return 1
    if "aftersale" in phase or "售后" in phase:
        return 2
    return 0


class ExchangeDesk:
    """Reads and decides one shop's exchanges (see the module docstring)."""

    def __init__(self, client: TopClient, shop: str, platform: str, courier_names: Mapping[str, str]) -> None:
        self.client = client
        self.shop = shop
        self.platform = platform
        self.courier_names = dict(courier_names)

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, dispute_id: str) -> dict[str, Any] | None:
        """The exchange as ``tmall.exchange.get`` answers it, or None when it answers without one
        (``result.success`` false: no such exchange)."""
        body = await self.client.call("tmall.exchange.get", {"dispute_id": dispute_id, "fields": DETAIL_FIELDS})
        result = _result(body)
        exchange = result.get("exchange")
        if result.get("success") is False or not isinstance(exchange, dict):
            return None
        return dict(exchange)

    async def case(self, dispute_id: str) -> AfterSale:
        exchange = await self.read(dispute_id)
        if exchange is None:
            raise PermanentError(f"shop '{self.shop}': tmall.exchange.get knows no exchange {dispute_id}")
        return mapping.aftersale_from_exchange(exchange, self.shop, self.platform)

    async def refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        body = await self.client.call("tmall.exchange.refusereason.get", {
            "dispute_id": case.ref.external_id, "fields": "reason_id,reason_text",
            "dispute_type": dispute_type(case)})
        return mapping.refuse_reasons_from_exchange(body)

    # -- decisions -----------------------------------------------------------------------------

    async def decide(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        step = STEPS.get(decision.action)
        if step is None:
            raise BadInputError(f"shop '{self.shop}': a Tmall exchange takes {sorted(a.value for a in STEPS)}, "
                                f"not {decision.action.value!r}", field="action")
        dispute_id = case.ref.external_id
        params, files, note = self._write(dispute_id, decision)
        current = await self.case(dispute_id)
        if current.raw_status in step.done:
            return AfterSaleDecisionResult(written_back=True, case=current,
                                           note=f"already done at Tmall (exchange status {current.raw_status})")
        self._check_applies(current, step, decision.version or case.version, decision)
        method = self._method(decision.action, current.raw_status)
        try:
            body = await self.client.call(method, {**params, **files}, retry=False)
        except AuthorizationError:
            raise
        except PermanentError as exc:
            return await self._after_refusal(dispute_id, step, decision, method, exc)
        result = _result(body)
        if result.get("success") is False:
            refusal = PermanentError(
                f"shop '{self.shop}': {method} refused exchange {dispute_id}: {result.get('message') or '?'} "
                f"({result.get('msg_code') or 'no code'})", code=str(result.get("msg_code") or ""),
                partner_message=str(result.get("message") or ""))
            return await self._after_refusal(dispute_id, step, decision, method, refusal)
        return AfterSaleDecisionResult(written_back=True, case=await self.case(dispute_id), note=note)

    def _check_applies(self, current: AfterSale, step: Step, seen: str | None, decision: AfterSaleDecision) -> None:
        if current.raw_status not in step.allowed:
            raise StaleAfterSaleError(
                f"shop '{self.shop}': exchange {current.ref.external_id} is now {current.status.value} (Tmall "
                f"status {current.raw_status}); {decision.action.value} no longer applies", current=current)
        if seen is not None and current.version is not None and seen != current.version:
            raise StaleAfterSaleError(
                f"shop '{self.shop}': exchange {current.ref.external_id} changed at Tmall since it was read "
                f"(modified {current.updated_at.isoformat()}); look at it again before deciding", current=current)

    async def _after_refusal(self, dispute_id: str, step: Step, decision: AfterSaleDecision, method: str,
                             exc: PermanentError) -> AfterSaleDecisionResult:
        """A write the platform refused: done after all (an earlier attempt took it), moved on
        (stale), or refused for a value (``BadInputError`` naming the decision's field)."""
        current = await self.case(dispute_id)
        if current.raw_status in step.done:
            return AfterSaleDecisionResult(written_back=True, case=current,
                                           note=f"already done at Tmall (exchange status {current.raw_status})")
        if current.raw_status not in step.allowed:
            raise StaleAfterSaleError(f"shop '{self.shop}': exchange {dispute_id} moved on to Tmall status "
                                      f"{current.raw_status}; {decision.action.value} no longer applies",
                                      current=current, code=exc.code, partner_message=exc.partner_message) from exc
        text = exc.partner_message or ""
        for param, field in PARAM_FIELDS.items():
            if f"isv.invalid-parameter:{param}" in text or f"isv.missing-parameter:{param}" in text:
                raise BadInputError(f"shop '{self.shop}': {method} refused {field} for exchange {dispute_id}: "
                                    f"{text}", field=field, code=exc.code) from exc
        raise exc

    # -- the write for each decision -----------------------------------------------------------

    @staticmethod
    def _method(action: AfterSaleAction, status: str) -> str:
        if action is AfterSaleAction.AGREE_EXCHANGE:
            return "tmall.exchange.agree"
        if action is AfterSaleAction.REFUSE:
            return "tmall.exchange.refuse"
        if action is AfterSaleAction.RECEIVE_EXCHANGE:
            return "tmall.exchange.returngoods.agree"
        if action is AfterSaleAction.REFUSE_RETURN:
            return "tmall.exchange.returngoods.refuse"
        return "tmall.exchange.confirm.consign" if status == "3" else "tmall.exchange.consigngoods"

    def _write(self, dispute_id: str, decision: AfterSaleDecision
               ) -> tuple[dict[str, Any], dict[str, TopFile], str | None]:
        """The params, files and a note for ``decision``; checks its inputs before anything is
        read or sent (``BadInputError`` naming the field)."""
        action = decision.action
        params: dict[str, Any] = {"dispute_id": dispute_id}
        files: dict[str, TopFile] = {}
        note = None
        if action in (AfterSaleAction.REFUSE, AfterSaleAction.REFUSE_RETURN, AfterSaleAction.AGREE_EXCHANGE):
            message = decision.reason_text or decision.remark
            if message:
                params["leave_message"] = message
            if decision.proof:
                # leave_message_pics is one byte[]: the first picture goes, the rest is said.
                first = decision.proof[0]
                files["leave_message_pics"] = TopFile(first.filename, first.content_type, first.content)
                if len(decision.proof) > 1:
                    note = f"Tmall takes one picture here: sent {decision.proof[0].filename}, not the other " \
                           f"{len(decision.proof) - 1}"
        if action in (AfterSaleAction.REFUSE, AfterSaleAction.REFUSE_RETURN):
            if not decision.reason_id:
                raise BadInputError("a Tmall exchange refusal needs a reason from its list (reason_id)",
                                    field="reason_id")
            params["seller_refuse_reason_id"] = decision.reason_id
        if action is AfterSaleAction.AGREE_EXCHANGE:
            address = decision.return_address
            if address is None or not address.address_id:
                raise BadInputError("agreeing to a Tmall exchange needs the return address id (the seller "
                                    "address's contact_id)", field="return_address")
            params["address_id"] = address.address_id
            params["post"], params["mobile"] = address.zip_code, address.phone
            parts = [address.province, address.city, address.district, address.detail]
            params["complete_address"] = "".join(p for p in parts if p) or None
        if action is AfterSaleAction.SHIP_EXCHANGE:
            if not decision.tracking_number:
                raise BadInputError("shipping a Tmall replacement needs its tracking number",
                                    field="tracking_number")
            if not decision.courier_code:
                raise BadInputError("shipping a Tmall replacement needs its courier", field="courier_code")
            params.update(logistics_no=decision.tracking_number, logistics_type=EXPRESS,
                          logistics_company_name=mapping.courier_name(decision.courier_code, self.courier_names))
        if action is not AfterSaleAction.REFUSE_RETURN:  # returngoods.refuse takes no fields (its doc)
            params["fields"] = WRITE_FIELDS
        return params, files, note
