"""The refunds of the Taobao (and Tmall) sandbox: the buyer's requests, the refund state machine
and the TOP methods that read and decide them, as strict as the TOP docs and no stricter.

States (``status``): a refund-only request goes WAIT_SELLER_AGREE → SUCCESS (``rp.refunds.agree``);
a return goes WAIT_SELLER_AGREE → WAIT_BUYER_RETURN_GOODS (``rp.returngoods.agree``) →
WAIT_SELLER_CONFIRM_GOODS (the buyer ships back) → SUCCESS (``rp.refunds.agree``); a refusal
(``refund.refuse``, or ``rp.returngoods.refuse`` on Tmall) → SELLER_REFUSE_BUYER; the buyer
withdrawing → CLOSED. Every change bumps ``refund_version`` (a millisecond timestamp, as TOP's),
moves ``modified`` and the sub-order's ``refund_status``, resets ``refund_remind_timeout`` and
publishes the TMC ``taobao_refund_*`` topic. Tmall shops (``sandbox.platform == "tmall"``) need
``refund_phase``/``refund_version`` on every write and an image (a multipart file) as proof of a
refusal. The deadlines' lengths, the refuse reasons, the error sub-codes and the TMC topic for a
refused return (RefundSellerRefuseAgreement) are the sandbox's own [U]: TOP publishes none of them.
When every sub-order of a trade not yet shipped has been refunded in full (SUCCESS), the trade
closes: TRADE_CLOSED ("refunded after payment", TOP trade status) with ``taobao_trade_TradeClose``;
one refunded sub-order of two, or part of a sub-order's payment, leaves the trade to ship [U: TOP
documents the status, not the rule; this is what sellers see].
``refunds.receive.get`` answers without ``refund_remind_timeout`` (its doc does not list it);
``refund.get`` with it. Not a place for hub logic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from plugins.taobao.client import GMT8, TOP_TIME_FORMAT
from plugins.taobao.top_gateway import TopApiError, TopCall, UploadedFile, invalid, missing

if TYPE_CHECKING:
    from plugins.taobao.sandbox import TaobaoSandbox

#: How long each side has before TOP decides for it (the sandbox's own numbers [U]).
TIMEOUTS = {"WAIT_SELLER_AGREE": timedelta(days=2), "WAIT_BUYER_RETURN_GOODS": timedelta(days=7),
            "WAIT_SELLER_CONFIRM_GOODS": timedelta(days=10), "SELLER_REFUSE_BUYER": timedelta(days=7)}
TOPICS = {"WAIT_BUYER_RETURN_GOODS": "taobao_refund_RefundSellerAgreeAgreement",
          "WAIT_SELLER_CONFIRM_GOODS": "taobao_refund_RefundBuyerReturnGoods",
          "SUCCESS": "taobao_refund_RefundSuccess", "SELLER_REFUSE_BUYER": "taobao_refund_RefundSellerRefuseAgreement",
          "CLOSED": "taobao_refund_RefundClosed"}
SHIPPED = frozenset({"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED", "SELLER_CONSIGNED_PART"})
#: Trade statuses in which nothing has shipped: a full refund of every sub-order closes the trade.
UNSHIPPED = frozenset({"WAIT_SELLER_SEND_GOODS", "PAID_FORBID_CONSIGN"})
#: The sandbox's refuse reasons per refund status (TOP's lists are per refund and unpublished).
REASONS = {
    "WAIT_SELLER_AGREE": [
        {"reason_id": 1001, "reason_text": "买家已签收商品，不同意仅退款", "reason_tips": "请上传物流签收凭证"},
        {"reason_id": 1002, "reason_text": "商品已影响二次销售", "reason_tips": "请上传商品照片"}],
    "WAIT_SELLER_CONFIRM_GOODS": [
        {"reason_id": 2001, "reason_text": "退回的商品与原商品不符", "reason_tips": "请上传收到商品的照片"},
        {"reason_id": 2002, "reason_text": "退回的商品已损坏", "reason_tips": "请上传商品照片"}],
}
IMAGE_TYPES = frozenset({"image/gif", "image/jpeg", "image/jpg", "image/png"})
REFUSE_PROOF_BYTES = 130_000
RETURN_PROOF_BYTES = 5 * 1024 * 1024
#: Largest amount one ``rp.refunds.agree`` call may refund, in fen (TOP doc: 6000 / 10000 yuan).
AGREE_LIMIT_FEN = {"taobao": 600_000, "tmall": 1_000_000}
AGREE_MAX_REFUNDS = {"taobao": 20, "tmall": 30}


def fen(text: Any) -> int:
    return int(Decimal(str(text)) * 100)


def yuan(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _business(sub_code: str, why: str) -> TopApiError:
    """A refusal for business reasons (code 15 with an ``isv.`` sub-code of the sandbox's own [U])."""
    return TopApiError(15, "Remote service error", sub_code, why)


class SandboxRefunds:
    """The refund desk of one sandbox (see the module docstring); state in ``SandboxShop.refunds``."""

    def __init__(self, sandbox: TaobaoSandbox, app_key: str) -> None:
        self.sandbox = sandbox
        self.app_key = app_key
        #: (shop, refund_id) → the proof files refusals carried (what reached the platform).
        self.proofs: dict[tuple[str, str], list[UploadedFile]] = {}

    @property
    def tmall(self) -> bool:
        return self.sandbox.platform == "tmall"

    # -- the buyer -----------------------------------------------------------------------------

    def open(self, shop: str, tid: str, *, dispute_type: str = "REFUND", status: str = "WAIT_SELLER_AGREE",
             amount: Any = None, reason: str | None = None, has_good_return: bool = False) -> str:
        """The buyer asks for a refund (``amount`` yuan, default what the line paid) on the trade's
        first sub-order; ``taobao_refund_RefundCreated`` is published."""
        box = self.sandbox
        with box.lock:
            trade = box.shop(shop).trades[tid]
            line = trade["orders"]["order"][0]
            paid = fen(line["payment"])
            asked = paid if amount is None else fen(amount)
            if not 0 < asked <= paid:
                raise ValueError(f"refund of {yuan(asked)} on a line that paid {line['payment']}")
            refund_id = str(next(box._ids))
            stamp = box.now_text()
            refund = {
                "refund_id": int(refund_id), "tid": trade["tid"], "oid": line["oid"], "status": status,
                "order_status": trade["status"], "has_good_return": has_good_return,
                "good_status": "BUYER_RECEIVED" if trade["status"] in SHIPPED else "BUYER_NOT_RECEIVED",
                "refund_fee": yuan(asked), "payment": line["payment"], "total_fee": line["total_fee"],
                "reason": reason or "不想要了", "desc": "买家的退款说明", "num": line["num"],
                "num_iid": line["num_iid"], "title": line["title"], "sku": line["sku_properties_name"],
                "outer_id": line["outer_sku_id"] or line["outer_iid"], "dispute_type": dispute_type,
                "buyer_nick": trade["buyer_nick"], "created": stamp, "modified": stamp,
                "refund_phase": "aftersale" if trade["status"] == "TRADE_FINISHED" else "onsale",
                "refund_version": self._next_version(None)}
            refund["refund_remind_timeout"] = self._timeout(status)
            box.shop(shop).refunds[refund_id] = refund
            self._touch_line(trade, refund)
            self._publish(shop, "taobao_refund_RefundCreated", refund)
            return refund_id

    def buyer_returns_goods(self, shop: str, refund_id: str, tracking_number: str, company: str) -> None:
        """The buyer ships the goods back (only after the seller agreed to the return)."""
        with self.sandbox.lock:
            refund = self._get(shop, refund_id)
            if refund["status"] != "WAIT_BUYER_RETURN_GOODS":
                raise ValueError(f"refund {refund_id} is {refund['status']}: the seller has not agreed to a return")
            refund.update(sid=tracking_number, company_name=company, good_status="BUYER_RETURNED_GOODS",
                          good_return_time=self.sandbox.now_text())
            self._move(shop, refund, "WAIT_SELLER_CONFIRM_GOODS")

    def buyer_closes(self, shop: str, refund_id: str) -> None:
        """The buyer withdraws the request (CLOSED)."""
        with self.sandbox.lock:
            refund = self._get(shop, refund_id)
            if refund["status"] in ("SUCCESS", "CLOSED"):
                raise ValueError(f"refund {refund_id} is {refund['status']} already")
            self._move(shop, refund, "CLOSED")

    def raw(self, shop: str, refund_id: str) -> dict[str, Any]:
        with self.sandbox.lock:
            return dict(self._get(shop, refund_id))

    # -- state ---------------------------------------------------------------------------------

    def _get(self, shop: str, refund_id: str) -> dict[str, Any]:
        refund = self.sandbox.shop(shop).refunds.get(str(refund_id))
        if refund is None:
            raise _business("isv.refund-not-exist", f"refund {refund_id} does not exist")
        return refund

    def _next_version(self, current: Any) -> int:
        now = int(self.sandbox.clock() * 1000)
        return now if current is None else max(now, int(current) + 1)

    def _timeout(self, status: str) -> dict[str, Any]:
        if status not in TIMEOUTS:
            return {"exist_timeout": False}
        moment = datetime.fromtimestamp(self.sandbox.clock(), UTC) + TIMEOUTS[status]
        return {"exist_timeout": True, "timeout": moment.astimezone(GMT8).strftime(TOP_TIME_FORMAT), "remind_type": 1}

    def _touch_line(self, trade: dict[str, Any], refund: dict[str, Any]) -> None:
        for line in trade["orders"]["order"]:
            if str(line["oid"]) == str(refund["oid"]):
                line["refund_status"], line["refund_id"] = refund["status"], str(refund["refund_id"])
        trade["modified"] = refund["modified"]  # a sub-order's refund status is part of the trade

    def _move(self, shop: str, refund: dict[str, Any], status: str) -> None:
        refund["status"] = status
        refund["modified"] = self.sandbox.now_text()
        refund["refund_version"] = self._next_version(refund["refund_version"])
        refund["refund_remind_timeout"] = self._timeout(status)
        trade = self.sandbox.shop(shop).trades[str(refund["tid"])]
        self._touch_line(trade, refund)
        self._publish(shop, TOPICS[status], refund)
        if status == "SUCCESS" and self._all_refunded(shop, trade):
            self.sandbox.close_refunded_trade(shop, trade)

    def _all_refunded(self, shop: str, trade: dict[str, Any]) -> bool:
        """Whether the unshipped trade's every sub-order got all it paid back (refunds SUCCESS)."""
        if trade["status"] not in UNSHIPPED:
            return False
        back: dict[str, int] = {}
        for refund in self.sandbox.shop(shop).refunds.values():
            if str(refund["tid"]) == str(trade["tid"]) and refund["status"] == "SUCCESS":
                back[str(refund["oid"])] = back.get(str(refund["oid"]), 0) + fen(refund["refund_fee"])
        return all(back.get(str(line["oid"]), 0) >= fen(line["payment"]) for line in trade["orders"]["order"])

    def _publish(self, shop: str, topic: str, refund: dict[str, Any]) -> None:
        trade = self.sandbox.shop(shop).trades[str(refund["tid"])]
        content = {"refund_id": refund["refund_id"], "tid": refund["tid"], "oid": refund["oid"],
                   "refund_fee": refund["refund_fee"], "refund_phase": refund["refund_phase"],
                   "bill_type": "return_bill" if refund["has_good_return"] else "refund_bill",
                   "modified": refund["modified"], "buyer_nick": trade["buyer_nick"],
                   "seller_nick": trade["seller_nick"], "buyer_open_uid": trade["buyer_open_uid"]}
        self.sandbox.gateway.tmc.publish(self.app_key, "default", topic, content,
                                         user_nick=self.sandbox.shop(shop).nick, pub_time=refund["modified"])

    # -- checks TOP makes ----------------------------------------------------------------------

    def _refund_for(self, call: TopCall) -> dict[str, Any]:
        refund_id = call.require("refund_id")
        if not refund_id.isdigit():
            raise invalid("refund_id", "refund_id is a number")
        return self._get(str(call.shop), refund_id)

    def _lock(self, call: TopCall, refund: dict[str, Any]) -> None:
        """Tmall writes carry ``refund_phase`` and ``refund_version``, which must be the refund's."""
        if not self.tmall:
            return
        phase, version = call.require("refund_phase"), call.require("refund_version")
        if phase != refund["refund_phase"]:
            raise invalid("refund_phase", f"the refund is {refund['refund_phase']}")
        if version != str(refund["refund_version"]):
            raise _business("isv.refund-version-expired", "refund_version is not the refund's current version; "
                            "read the refund again")

    @staticmethod
    def _status(refund: dict[str, Any], allowed: set[str], what: str) -> None:
        if refund["status"] not in allowed:
            raise _business("isv.refund-status-not-support", f"refund status {refund['status']} does not allow {what}")

    @staticmethod
    def _proof(call: TopCall, max_bytes: int, required: bool) -> UploadedFile | None:
        proof = call.files.get("refuse_proof")
        if proof is None:
            if required:
                raise missing("refuse_proof")
            return None
        if proof.content_type.lower() not in IMAGE_TYPES or len(proof.content) > max_bytes:
            raise invalid("refuse_proof", f"an image (GIF/JPG/PNG) of at most {max_bytes} bytes")
        return proof

    def _reason(self, call: TopCall, refund: dict[str, Any]) -> None:
        reason = call.params.get("refuse_reason_id")
        if reason and int(reason) not in {r["reason_id"] for r in REASONS.get(refund["status"], [])}:
            raise invalid("refuse_reason_id", "not a reason for this refund")

    # -- TOP methods ---------------------------------------------------------------------------

    def handlers(self) -> dict[str, Callable[[TopCall], dict[str, Any]]]:
        return {"taobao.rp.refunds.agree": self.agree, "taobao.refund.refuse": self.refuse,
                "taobao.rp.returngoods.agree": self.returngoods_agree,
                "taobao.rp.returngoods.refuse": self.returngoods_refuse,
                "taobao.refund.refusereason.get": self.refuse_reasons}

    def agree(self, call: TopCall) -> dict[str, Any]:
        platform = "tmall" if self.tmall else "taobao"
        infos = [info for info in call.require("refund_infos").split(",") if info]
        if len(infos) > AGREE_MAX_REFUNDS[platform]:
            raise invalid("refund_infos", f"at most {AGREE_MAX_REFUNDS[platform]} refunds per call")
        parsed = []
        for info in infos:
            parts = info.split("|")
            if len(parts) != (4 if self.tmall else 3) or not all(p.isdigit() for p in parts[:3]):
                raise invalid("refund_infos", "refund_id|amount(fen)|version" + ("|phase" if self.tmall else ""))
            parsed.append(parts)
        if sum(int(p[1]) for p in parsed) > AGREE_LIMIT_FEN[platform]:
            raise invalid("refund_infos", f"at most {yuan(AGREE_LIMIT_FEN[platform])} yuan per call")
        results = [self._agree_one(str(call.shop), parts) for parts in parsed]
        done = sum(1 for r in results if r["succ"])
        code = "OP_SUCC" if done == len(results) else "SOME_OP_SUCC" if done else "OP_FAILURE_UE"
        return {"succ": done == len(results), "msg_code": code, "message": code,
                "results": {"refund_mapping_result": results}}

    def _agree_one(self, shop: str, parts: list[str]) -> dict[str, Any]:
        refund_id, cents, version = parts[0], int(parts[1]), parts[2]
        try:
            refund = self._get(shop, refund_id)
        except TopApiError:
            return {"refund_id": refund_id, "succ": False, "message": "退款不存在"}
        problem = None
        if version != str(refund["refund_version"]):
            problem = "refund_version已过期，请重新获取退款信息"
        elif self.tmall and parts[3] != refund["refund_phase"]:
            problem = "refund_phase错误"
        elif refund["status"] not in ("WAIT_SELLER_AGREE", "WAIT_SELLER_CONFIRM_GOODS"):
            problem = f"退款状态{refund['status']}不支持同意退款"
        elif not 0 < cents <= fen(refund["payment"]):
            problem = "退款金额不能大于实付金额"
        if problem:
            return {"refund_id": refund_id, "succ": False, "message": problem}
        refund["refund_fee"] = yuan(cents)
        self._move(shop, refund, "SUCCESS")
        return {"refund_id": refund_id, "succ": True, "message": "成功"}

    def refuse(self, call: TopCall) -> dict[str, Any]:
        refund = self._refund_for(call)
        message = call.require("refuse_message")
        if not 2 <= len(message) <= 200:
            raise invalid("refuse_message", "2 to 200 characters")
        proof = self._proof(call, REFUSE_PROOF_BYTES, required=self.tmall)
        self._lock(call, refund)
        self._status(refund, {"WAIT_SELLER_AGREE", "WAIT_SELLER_CONFIRM_GOODS"}, "a refusal")
        trade = self.sandbox.shop(str(call.shop)).trades[str(refund["tid"])]
        if trade["status"] not in SHIPPED:
            raise _business("isv.refund-refuse-not-allowed", "the seller has not shipped: the refund cannot be refused")
        self._reason(call, refund)
        self._keep_proof(str(call.shop), refund, proof)
        self._move(str(call.shop), refund, "SELLER_REFUSE_BUYER")
        return {"is_success": True, "refund": {"refund_id": refund["refund_id"], "status": refund["status"],
                                               "modified": refund["modified"]}}

    def returngoods_agree(self, call: TopCall) -> dict[str, Any]:
        refund = self._refund_for(call)
        address_id = call.require("seller_address_id")
        if not address_id.isdigit():
            raise invalid("seller_address_id", "seller_address_id is a number (logistics.address.search contact_id)")
        if self.tmall:
            call.require("remark")
        else:
            for name in ("name", "address", "post", "tel", "mobile"):
                call.require(name)
        self._lock(call, refund)
        self._status(refund, {"WAIT_SELLER_AGREE"}, "agreeing to a return")
        if not refund["has_good_return"]:
            raise _business("isv.refund-status-not-support", "the buyer asked for a refund without a return")
        refund["address"] = call.params.get("address") or f"seller address {address_id}"
        self._move(str(call.shop), refund, "WAIT_BUYER_RETURN_GOODS")
        return {"is_success": True}

    def returngoods_refuse(self, call: TopCall) -> dict[str, Any]:
        if not self.tmall:
            raise _business("isv.tmall-only", "taobao.rp.returngoods.refuse is for Tmall refunds only")
        refund = self._refund_for(call)
        proof = self._proof(call, RETURN_PROOF_BYTES, required=True)
        self._lock(call, refund)
        self._status(refund, {"WAIT_SELLER_CONFIRM_GOODS"}, "refusing the returned goods")
        self._reason(call, refund)
        self._keep_proof(str(call.shop), refund, proof)
        self._move(str(call.shop), refund, "SELLER_REFUSE_BUYER")
        return {"result": True}

    def refuse_reasons(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        refund = self._refund_for(call)
        if call.require("refund_phase") != refund["refund_phase"]:
            raise invalid("refund_phase", f"the refund is {refund['refund_phase']}")
        reasons = REASONS.get(refund["status"], [])
        return {"reasons": {"reason": [dict(r) for r in reasons]}, "total_results": len(reasons), "has_next": False}

    def _keep_proof(self, shop: str, refund: dict[str, Any], proof: UploadedFile | None) -> None:
        if proof is not None:
            self.proofs.setdefault((shop, str(refund["refund_id"])), []).append(proof)


def aftersale_routes(sandbox: TaobaoSandbox) -> list[Route]:
    """The after-sales control surface over HTTP, for a sandbox in another process:

    - ``POST /_sandbox/aftersales`` ``{"shop", "order_id", "kind", "amount"?, "reason"?}`` → ``{"case_id"}``
    - ``POST /_sandbox/aftersales/{case_id}/return`` ``{"shop", "tracking_number"?, "company"?}``
    - ``POST /_sandbox/aftersales/{case_id}/replacement_received`` ``{"shop"}``
    - ``POST /_sandbox/aftersales/{case_id}/close`` ``{"shop"}``
    - ``GET /_sandbox/aftersales/{case_id}?shop=…`` → the raw case

    A step the case's state does not allow answers 409 with the reason."""

    async def run(step: Callable[[], Any]) -> JSONResponse:
        try:
            return JSONResponse(step() or {"ok": True})
        except (ValueError, KeyError, TopApiError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        return await run(lambda: {"case_id": sandbox.create_aftersale(
            body["shop"], str(body["order_id"]), body["kind"], amount=body.get("amount"), reason=body.get("reason"))})

    async def returned(request: Request) -> JSONResponse:
        body = await request.json()
        return await run(lambda: sandbox.buyer_returns_goods(
            body["shop"], request.path_params["case_id"],
            tracking_number=body.get("tracking_number", "SF1000000001"), company=body.get("company", "SF")))

    async def replacement(request: Request) -> JSONResponse:
        body = await request.json()
        return await run(lambda: sandbox.buyer_receives_replacement(body["shop"], request.path_params["case_id"]))

    async def close(request: Request) -> JSONResponse:
        body = await request.json()
        return await run(lambda: sandbox.buyer_closes_aftersale(body["shop"], request.path_params["case_id"]))

    async def raw(request: Request) -> JSONResponse:
        return await run(lambda: sandbox.aftersale_raw(request.query_params["shop"], request.path_params["case_id"]))

    return [Route("/_sandbox/aftersales", create, methods=["POST"]),
            Route("/_sandbox/aftersales/{case_id}/return", returned, methods=["POST"]),
            Route("/_sandbox/aftersales/{case_id}/replacement_received", replacement, methods=["POST"]),
            Route("/_sandbox/aftersales/{case_id}/close", close, methods=["POST"]),
            Route("/_sandbox/aftersales/{case_id}", raw, methods=["GET"])]
