"""The Tmall sandbox's exchanges (换货): a state machine behind the ``tmall.exchange.*`` methods.

Statuses are the platform's codes (TOP API docs, ``tmall.exchange.get``): 1 换货待处理 →
``agree`` → 2 待买家退货 → the buyer ships back → 3 买家已退货，待收货 → ``returngoods.agree`` →
12 待发出换货商品 → ``consigngoods`` → 13 待买家收货 → the buyer confirms → 5 换货成功;
``confirm.consign`` takes 3 → 13 in one call; ``refuse`` (at 1) and ``returngoods.refuse`` (at 3)
leave 6 待买家修改 [U: the docs name the state, not what leads to it]; the buyer may close (4) or
turn it into a refund (14). Every change moves ``modified`` (strictly: at least one second past
the last, so two changes never share a version — TOP's seconds may, [U]) and ``time_out`` (the
sandbox's own periods per status). Each change queues its ``taobao_dispute_Exchange*`` TMC
message (tmc.js ``Taobao.Dispute``: ``refund_id, tid, oid, biz_claim_type, dispute_type,
modified``); 1→2 ``ExchangeAgree``, 3→12 ``ExchangeSellerConfirmed``, →13
``ExchangeSellerGoodsConsigned``, →5 ``ExchangeSuccess``, →4 ``ExchangeClosed``, →14
``ExchangeTurnToRefund``, the rest ``ExchangeModified`` [U: which topic TOP sends for a refusal
or the buyer's return]. A write the status does not allow answers ``error_response`` code 15
with ``isv.exchange-status-not-allowed``, a reason not in the list code 41 — sub_codes of the
sandbox's own (TOP publishes none for these methods). Pictures (``leave_message_pics``) arrive as
multipart files (``TopCall.files``) and are kept with the case for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from plugins.taobao.sandbox import APP_KEY, parse_text
from plugins.taobao.top_gateway import TopApiError, TopCall, TopGateway, invalid

#: The sandbox's refuse reasons (``refusereason.get``); the real list is the platform's.
REFUSE_REASONS = ({"reason_id": 3001, "reason_text": "商品已影响二次销售"},
                  {"reason_id": 3002, "reason_text": "买家要求换的规格无货"},
                  {"reason_id": 3003, "reason_text": "买家退回的商品与原商品不符"})
#: How long each status waits before the platform acts (the sandbox's own periods).
WAIT = {"1": timedelta(days=2), "2": timedelta(days=7), "3": timedelta(days=10), "6": timedelta(days=7),
        "12": timedelta(days=3), "13": timedelta(days=10)}
TOPIC_FOR = {"2": "ExchangeAgree", "12": "ExchangeSellerConfirmed", "13": "ExchangeSellerGoodsConsigned",
             "5": "ExchangeSuccess", "4": "ExchangeClosed", "14": "ExchangeTurnToRefund"}
OPEN = frozenset({"1", "2", "3", "6", "12", "13"})
#: What each method answers in ``results`` (receive.get's documented result fields) and
#: ``exchange`` (exchange.get's).
LIST_FIELDS = frozenset({"reason", "status", "num", "modified", "created", "title", "seller_logistic_no",
                         "buyer_logistic_no", "good_status", "buyer_nick", "biz_order_id", "dispute_id",
                         "seller_nick", "price", "alipay_no", "payment", "address", "exchange_sku", "buyer_address",
                         "time_out", "bought_sku", "buyer_logistic_name", "seller_logistic_name", "buyer_phone",
                         "buyer_name"})
DETAIL_FIELDS = (LIST_FIELDS - {"payment"}) | {"desc", "refund_phase", "refund_version", "advance_status",
                                               "cs_status", "operation_contraint", "attributes"}
PICTURE_TYPES = frozenset({"image/gif", "image/jpeg", "image/png"})


class SandboxExchanges:
    """Exchanges per shop and the TOP handlers that read and move them."""

    def __init__(self, gateway: TopGateway, now_text: Callable[[], str], nick_of: Callable[[str], str]) -> None:
        self.gateway = gateway
        self.now_text = now_text
        self.nick_of = nick_of
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        #: Per exchange: what the seller wrote (``leave_message``) and the files it sent.
        self.messages: dict[str, list[dict[str, Any]]] = {}

    def handlers(self) -> dict[str, Any]:
        return {"tmall.exchange.receive.get": self._receive_get, "tmall.exchange.get": self._get,
                "tmall.exchange.refusereason.get": self._refuse_reasons, "tmall.exchange.agree": self._agree,
                "tmall.exchange.refuse": self._refuse, "tmall.exchange.returngoods.agree": self._goods_agree,
                "tmall.exchange.returngoods.refuse": self._goods_refuse,
                "tmall.exchange.consigngoods": self._consign, "tmall.exchange.confirm.consign": self._confirm_consign}

    # -- the buyer's side (the control surface calls these under the gateway lock) --------------

    def open(self, shop: str, dispute_id: str, trade: dict[str, Any], *, status: str = "1",
             reason: str | None = None) -> None:
        line = trade["orders"]["order"][0]
        stamp = self.now_text()
        phase = "售后换货" if trade["status"] == "TRADE_FINISHED" else "售中换货"
        self.rows.setdefault(shop, {})[dispute_id] = {
            "dispute_id": dispute_id, "biz_order_id": str(trade["tid"]), "num": line["num"], "status": status,
            "created": stamp, "modified": stamp, "reason": reason or "尺码不合适", "desc": "买家说明：换黑色",
            "title": line["title"], "buyer_nick": trade["buyer_nick"], "seller_nick": trade["seller_nick"],
            "bought_sku": line["sku_properties_name"] or "颜色:白色", "exchange_sku": "颜色:黑色",
            "price": line["price"], "payment": line["payment"], "alipay_no": f"2024{trade['tid']}",
            "refund_phase": phase, "refund_version": self._version(stamp), "good_status": "买家已收到货",
            "time_out": self._time_out(stamp, status), "buyer_name": "闫**", "buyer_phone": "1573672****",
            "buyer_address": "河南省郑州市金水区**********", "advance_status": 0, "cs_status": 1}
        self.messages[dispute_id] = []

    def row(self, shop: str, dispute_id: str) -> dict[str, Any] | None:
        return self.rows.get(shop, {}).get(dispute_id)

    def buyer_returns_goods(self, shop: str, dispute_id: str, tracking_number: str, company: str) -> None:
        row = self._must(shop, dispute_id)
        if row["status"] != "2":
            raise ValueError(f"exchange {dispute_id} is at status {row['status']}: the buyer ships back only at 2")
        row["buyer_logistic_no"], row["buyer_logistic_name"] = tracking_number, company
        self._move(shop, row, "3")

    def buyer_receives_replacement(self, shop: str, dispute_id: str) -> None:
        row = self._must(shop, dispute_id)
        if row["status"] != "13":
            raise ValueError(f"exchange {dispute_id} is at status {row['status']}: nothing was shipped to confirm")
        self._move(shop, row, "5")

    def buyer_closes(self, shop: str, dispute_id: str, *, to_refund: bool = False) -> None:
        """The buyer withdraws (4), or turns the exchange into a refund (14)."""
        row = self._must(shop, dispute_id)
        if row["status"] not in OPEN:
            raise ValueError(f"exchange {dispute_id} is already over (status {row['status']})")
        self._move(shop, row, "14" if to_refund else "4")

    def raw(self, shop: str, dispute_id: str) -> dict[str, Any]:
        row = self._must(shop, dispute_id)
        return {**row, "seller_messages": [dict(m) for m in self.messages.get(dispute_id, [])]}

    # -- state changes ---------------------------------------------------------------------------

    def _must(self, shop: str, dispute_id: str) -> dict[str, Any]:
        row = self.row(shop, dispute_id)
        if row is None:
            raise KeyError(f"shop {shop!r} has no exchange {dispute_id}")
        return row

    @staticmethod
    def _version(stamp: str) -> int:
        return int(parse_text(stamp).timestamp() * 1000)

    @staticmethod
    def _time_out(stamp: str, status: str) -> str:
        wait = WAIT.get(status)
        return "" if wait is None else (parse_text(stamp) + wait).strftime("%Y-%m-%d %H:%M:%S")

    def _move(self, shop: str, row: dict[str, Any], status: str) -> None:
        stamp = self.now_text()
        last = parse_text(row["modified"])
        if parse_text(stamp) <= last:
            stamp = (last + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
        row["status"], row["modified"] = status, stamp
        row["refund_version"], row["time_out"] = self._version(stamp), self._time_out(stamp, status)
        topic = "taobao_dispute_" + TOPIC_FOR.get(status, "ExchangeModified")
        tid = int(row["biz_order_id"])
        content = {"refund_id": int(row["dispute_id"]), "tid": tid, "oid": tid, "biz_claim_type": 4,
                   "dispute_type": 2 if row["refund_phase"] == "售后换货" else 1, "modified": stamp}
        self.gateway.tmc.publish(APP_KEY, "default", topic, content, user_nick=self.nick_of(shop), pub_time=stamp)

    # -- TOP handlers --------------------------------------------------------------------------

    def _exchange(self, call: TopCall) -> dict[str, Any]:
        dispute_id = str(call.integer("dispute_id"))
        row = self.row(str(call.shop), dispute_id)
        if row is None:
            raise TopApiError(15, "Remote service error", "isv.exchange-not-exist",
                              f"exchange {dispute_id} does not exist")
        return row

    @staticmethod
    def _allow(row: dict[str, Any], *statuses: str) -> None:
        if row["status"] not in statuses:
            raise TopApiError(15, "Remote service error", "isv.exchange-status-not-allowed",
                              f"exchange {row['dispute_id']} is at status {row['status']}; this needs "
                              f"{' or '.join(statuses)}")

    @staticmethod
    def _answer(row: dict[str, Any]) -> dict[str, Any]:
        return {"result": {"success": True, "msg_code": "SUCCESS", "message": "ok", "exchange": {
            "dispute_id": row["dispute_id"], "biz_order_id": row["biz_order_id"], "status": row["status"],
            "modified": row["modified"]}}}

    def _reason(self, call: TopCall) -> str:
        reason = str(call.integer("seller_refuse_reason_id"))
        if reason not in {str(r["reason_id"]) for r in REFUSE_REASONS}:
            raise invalid("seller_refuse_reason_id", f"reason {reason} is not in tmall.exchange.refusereason.get")
        return reason

    def _leave_message(self, call: TopCall, row: dict[str, Any], method: str) -> None:
        """Record the seller's message and picture (checked: GIF/JPG/PNG) with the exchange."""
        picture = call.files.get("leave_message_pics")
        if picture is not None and (picture.content_type not in PICTURE_TYPES or not picture.content):
            raise invalid("leave_message_pics", "leave_message_pics must be a GIF, JPG or PNG image")
        if picture is None and not call.params.get("leave_message"):
            return
        self.messages.setdefault(row["dispute_id"], []).append({
            "method": method, "content": call.params.get("leave_message"),
            "picture": None if picture is None else {"filename": picture.filename, "content_type": picture.content_type,
                                                     "size": len(picture.content)}})

    def _receive_get(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        rows = list(self.rows.get(str(call.shop), {}).values())
        if call.params.get("refund_id_array"):
            wanted = set(call.params["refund_id_array"].split(","))
            if len(wanted) > 20:
                raise invalid("refund_id_array", "at most 20 ids")
            rows = [r for r in rows if r["dispute_id"] in wanted]
        start, end = call.params.get("start_gmt_modified_time"), call.params.get("end_gmt_modifed_time")
        if start:
            rows = [r for r in rows if parse_text(r["modified"]) >= parse_text(start)]
        if end:
            rows = [r for r in rows if parse_text(r["modified"]) <= parse_text(end)]
        page, size = call.integer("page_no", 1), call.integer("page_size", 20)
        chunk = [{k: v for k, v in r.items() if k in LIST_FIELDS} for r in rows[(page - 1) * size: page * size]]
        return {"results": {"exchange": chunk}, "total_results": len(rows), "page_results": len(chunk),
                "has_next": page * size < len(rows)}

    def _get(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        row = self.row(str(call.shop), str(call.integer("dispute_id")))
        if row is None:
            return {"result": {"success": False, "msg_code": "EXCHANGE_NOT_EXIST",
                               "message": "换货单不存在"}}
        return {"result": {"success": True, "msg_code": "SUCCESS", "message": "ok",
                           "exchange": {k: v for k, v in row.items() if k in DETAIL_FIELDS}}}

    def _refuse_reasons(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        self._exchange(call)
        if call.integer("dispute_type", 0) not in (0, 1, 2):
            raise invalid("dispute_type", "dispute_type is 0 (any), 1 (售中) or 2 (售后)")
        return {"result": {"results": {"reason": [dict(r) for r in REFUSE_REASONS]},
                           "total_results": len(REFUSE_REASONS)}}

    def _agree(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        row = self._exchange(call)
        call.integer("address_id")
        self._allow(row, "1")
        self._leave_message(call, row, call.method)
        row["address"] = call.params.get("complete_address") or f"卖家地址 #{call.params['address_id']}"
        self._move(str(call.shop), row, "2")
        return self._answer(row)

    def _refuse(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        row = self._exchange(call)
        self._reason(call)
        self._allow(row, "1")
        self._leave_message(call, row, call.method)
        self._move(str(call.shop), row, "6")
        return self._answer(row)

    def _goods_agree(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        row = self._exchange(call)
        self._allow(row, "3")
        self._move(str(call.shop), row, "12")
        return self._answer(row)

    def _goods_refuse(self, call: TopCall) -> dict[str, Any]:
        row = self._exchange(call)
        self._reason(call)
        self._allow(row, "3")
        self._leave_message(call, row, call.method)
        self._move(str(call.shop), row, "6")
        return self._answer(row)

    @staticmethod
    def _parcel(call: TopCall) -> tuple[str, str]:
        """The replacement's tracking number and company, checked (before anything moves)."""
        call.require("fields")
        number, company = call.require("logistics_no"), call.require("logistics_company_name")
        if call.integer("logistics_type") not in (100, 200):
            raise invalid("logistics_type", "logistics_type is 100 (平邮) or 200 (快递)")
        return number, company

    def _consign(self, call: TopCall) -> dict[str, Any]:
        row = self._exchange(call)
        number, company = self._parcel(call)
        self._allow(row, "12")
        row["seller_logistic_no"], row["seller_logistic_name"] = number, company
        self._move(str(call.shop), row, "13")
        return self._answer(row)

    def _confirm_consign(self, call: TopCall) -> dict[str, Any]:
        """Receipt and shipment in one call: 3 → 12 → 13, both messages."""
        row = self._exchange(call)
        number, company = self._parcel(call)
        self._allow(row, "3")
        self._move(str(call.shop), row, "12")
        row["seller_logistic_no"], row["seller_logistic_name"] = number, company
        self._move(str(call.shop), row, "13")
        return self._answer(row)
