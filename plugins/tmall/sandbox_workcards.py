"""The Tmall sandbox's service work cards (服务工单): the cards, the querybyseller read, the five
write calls a service provider makes on them, and their TMC messages.

Cards have the shape ``tmall.servicecenter.workcard.querybyseller`` answers (``result{success,
msg_code, msg_info, result_data{data_list, total_count, total_page_count, page_size}}``, a
``WorkcardDTO`` per card; facts: ``docs/platforms/taobao-tmall.md``). A
querybyseller window (``gmt_create_start``/``_end``) over 15 minutes is refused as its doc says it
must be, with code 41 ``isv.invalid-parameter:gmt_create_end`` (the sub_code is the sandbox's own:
TOP publishes none for it). ``status_code`` values are the sandbox's own (``CREATED``, ``ASSIGNED``,
``RESERVED``, ``SIGNED_IN``, ``COMPLETED``, ``CANCELLED``): Tmall's are not published [U], so the
connector reads the card's times. ``service_code`` defaults to ``TMALL_INSTALL``, a sandbox code.

Writes (``assignworker``, ``reserve``, ``signin``, ``complete``, ``alibaba.servicecenter.workcard.
cancel``) check their required params (codes 40/41), answer ``result{success, msg_code, msg_info}``
and, when the card's state does not allow them, ``success`` false with ``msg_code``
``WORKCARD_STATUS_NOT_ALLOWED`` (the sandbox's own). The sandbox's order: reassigning is allowed
until sign-in, signing in needs a reservation, completing needs a sign-in; a terminal card takes
nothing. Every change moves ``gmt_modify`` (at least a second past the last) and queues TMC
messages: ``tmall_servicecenter_TaskUpdate`` on creation and each change (``change_type`` CREATE /
RESERVE / RERESERVE / CANCEL where one fits, none otherwise [U]; ``main_status``/``sub_status`` as
tmc.js lists them) and ``tmall_fuwu_WorkcardStatusUpdate`` with ``action`` create / consign (read by
the sandbox as the worker signing in [U]) / complete / cancel. Buyer data in cards and messages is
masked, as a test must never see (or leak) a real one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hub.plugin_api import sandbox_ids
from plugins.taobao.client import GMT8, TOP_TIME_FORMAT
from plugins.taobao.sandbox import APP_KEY, parse_text
from plugins.taobao.top_gateway import TopCall, TopGateway, invalid, missing

MAX_WINDOW = timedelta(minutes=15)
TERMINAL = frozenset({"COMPLETED", "CANCELLED"})
WRITE_METHODS = {"assign": "tmall.servicecenter.workcard.assignworker",
                 "reserve": "tmall.servicecenter.workcard.reserve",
                 "signin": "tmall.servicecenter.workcard.signin",
                 "complete": "tmall.servicecenter.workcard.complete",
                 "cancel": "alibaba.servicecenter.workcard.cancel"}
#: TaskUpdate ``main_status``/``sub_status`` per change (tmc.js: 1000 创建/1001 鉴定, 2000 服务中/2001
#: 预安排师傅/2002 上门, 3000 完结/3001 取消/3002 完成).
TASK_STATUS = {"create": (1000, 1001), "assign": (2000, 2001), "reserve": (2000, 2001), "signin": (2000, 2002),
               "complete": (3000, 3002), "cancel": (3000, 3001)}
STATUS_ACTION = {"create": "create", "signin": "consign", "complete": "complete", "cancel": "cancel"}


def _fmt(moment: datetime) -> str:
    return moment.strftime(TOP_TIME_FORMAT)


class SandboxWorkcards:
    """Work cards per shop and the TOP handlers that read and move them."""

    def __init__(self, gateway: TopGateway, now_text: Callable[[], str], nick_of: Callable[[str], str]) -> None:
        self.gateway = gateway
        self.now_text = now_text
        self.nick_of = nick_of
        self.cards: dict[str, dict[str, dict[str, Any]]] = {}
        self._ids = sandbox_ids(880_000_001)
        self._sequences = sandbox_ids(1)
        self._alert_ids = sandbox_ids(990_000_001)

    def handlers(self) -> dict[str, Any]:
        return {"tmall.servicecenter.workcard.querybyseller": self._query,
                **{method: self._writer(action) for action, method in WRITE_METHODS.items()}}

    # -- the control surface (called under the gateway lock) -------------------------------------

    def open(self, shop: str, trade: dict[str, Any], line: dict[str, Any], *, merchant_sku: str | None,
             title: str | None, service_code: str, region: tuple[str, str, str], expect_date: datetime | None,
             created_at: datetime | None, notify: bool = True) -> str:
        card_id = str(next(self._ids))
        stamp = _fmt(created_at.astimezone(GMT8)) if created_at else self.now_text()
        province, city, district = region
        count = int(line.get("num") or 1)
        self.cards.setdefault(shop, {})[card_id] = {
            "id": int(card_id), "status_code": "CREATED", "fulfil_type_code": "1",
            "service_definition": {"biz_code": "HOME_SERVICE", "service_code": service_code},
            "sp_service_order_id": int(card_id) + 10_000_000, "parent_biz_order_id": trade["tid"],
            "sequence": next(self._sequences), "service_count": count, "used_service_count": 0,
            "left_service_count": count, "gmt_create": stamp, "gmt_modify": stamp,
            "buyer_expect_date": _fmt(expect_date.astimezone(GMT8)) if expect_date else None,
            "buyer": {"buyer_nick": trade["buyer_nick"], "buyer_name": "闫**", "mobile": "1573672****",
                      "address_province": province, "address_city": city, "address_district": district,
                      "address_detail": "**********", "address": f"{province}{city}{district}**********"},
            "service_provider": {"tp_id": 2200000001, "tp_nick": "sandbox服务商", "isv_tp_id": 2200000001,
                                 "isv_tp_name": "sandbox服务商"},
            "master_trade_order": {
                "order_id": line["oid"], "parent_order_id": trade["tid"], "auction_id": line["num_iid"],
                "auction_title": title or line["title"], "sku_id": line["sku_id"] or "",
                "sku_desc": line["sku_properties_name"], "outer_id_p": line["outer_iid"],
                "outer_id_sku": merchant_sku if merchant_sku is not None else line["outer_sku_id"] or line["outer_iid"],
                "buy_amount": count, "price": round(float(line["price"]) * 100),
                "seller_nick": trade["seller_nick"]},
            "service_trade_order": {"order_id": line["oid"], "parent_order_id": trade["tid"],
                                    "auction_title": "【天猫服务】上门安装", "buy_amount": count},
        }
        if notify:
            self._publish(shop, self.cards[shop][card_id], "create", stamp)
        return card_id

    def find(self, card_id: str) -> tuple[str, dict[str, Any]]:
        for shop, cards in self.cards.items():
            if card_id in cards:
                return shop, cards[card_id]
        raise KeyError(f"no work card {card_id}")

    def raw(self, card_id: str) -> dict[str, Any]:
        _, card = self.find(card_id)
        return _copy(card)

    def alert(self, card_id: str, level: int, content: str) -> str:
        shop, card = self.find(card_id)
        if level not in (1, 2, 3):
            raise ValueError("level is 1 (预警), 2 (警告) or 3 (严重)")
        alert_id = str(next(self._alert_ids))
        stamp = self.now_text()
        self.gateway.tmc.publish(APP_KEY, "default", "tmall_fuwu_ServiceMonitorMessage", {
            "id": int(alert_id), "biz_type": 1, "biz_id": card["id"], "level": level, "rule_id": "SANDBOX_RULE_1",
            "service_code": card["service_definition"]["service_code"], "content": content, "gmt_create": stamp},
            user_nick=self.nick_of(shop), pub_time=stamp)
        return alert_id

    def tp_moves(self, card_id: str, action: str) -> None:
        """The service provider acts by itself (in its own tools, not through this app)."""
        shop, card = self.find(card_id)
        if action not in WRITE_METHODS:
            raise ValueError(f"action is one of {', '.join(WRITE_METHODS)}, not {action!r}")
        refusal = self._refusal(card, action)
        if refusal:
            raise ValueError(refusal)
        start = parse_text(self.now_text()).replace(minute=0, second=0) + timedelta(days=1)
        params = {"target_worker_id": "TP-W1", "target_worker_name": "服务商师傅",
                  "target_worker_mobile": "1380000****", "reserve_time_start": _fmt(start),
                  "reserve_time_end": _fmt(start + timedelta(hours=2)), "reason_desc": "买家取消"}
        self._apply(shop, card, action, params)

    # -- state changes ---------------------------------------------------------------------------

    @staticmethod
    def _refusal(card: dict[str, Any], action: str) -> str | None:
        """Why the card's state does not allow ``action`` (None: it does)."""
        if card["status_code"] in TERMINAL:
            return f"工单{card['id']}已{card['status_code']}，不允许操作"
        if action in ("assign", "reserve") and card.get("gmt_sign_in"):
            return f"工单{card['id']}师傅已签到，不允许{action}"
        if action == "signin" and not card.get("gmt_reserve_start"):
            return f"工单{card['id']}未预约，不允许签到"
        if action == "complete" and not card.get("gmt_sign_in"):
            return f"工单{card['id']}未签到，不允许完结"
        return None

    def _apply(self, shop: str, card: dict[str, Any], action: str, params: dict[str, str]) -> None:
        stamp = self.now_text()
        last = parse_text(card["gmt_modify"])
        if parse_text(stamp) <= last:
            stamp = _fmt(last + timedelta(seconds=1))
        provider = card["service_provider"]
        change = None
        if action == "assign":
            provider.update(worker_id=params["target_worker_id"], worker_name=params["target_worker_name"],
                            worker_mobile=params.get("target_worker_mobile", ""))
            card["gmt_assign_worker"], card["status_code"] = stamp, "ASSIGNED"
        elif action == "reserve":
            change = "RERESERVE" if card.get("gmt_reserve_start") else "RESERVE"
            card["gmt_reserve_start"] = params["reserve_time_start"]
            card["gmt_reserve_end"] = params["reserve_time_end"]
            if params.get("worker_name"):
                provider.update(worker_name=params["worker_name"], worker_mobile=params.get("worker_mobile", ""))
            card["status_code"] = "RESERVED"
        elif action == "signin":
            card["gmt_sign_in"], card["status_code"] = stamp, "SIGNED_IN"
        elif action == "complete":
            used = int(params.get("complete_count") or card["left_service_count"])
            card["used_service_count"] += used
            card["left_service_count"] = max(0, card["left_service_count"] - used)
            card["gmt_identify"], card["status_code"] = stamp, "COMPLETED"
        else:
            change = "CANCEL"
            card["gmt_cancel"], card["status_code"] = stamp, "CANCELLED"
            reason = params.get("reason_desc") or params.get("memo")
            if reason:
                card.setdefault("memo_list", {"memo": []})["memo"].append({"content": reason, "time": stamp})
        card["gmt_modify"] = stamp
        self._publish(shop, card, action, stamp, change)

    def _publish(self, shop: str, card: dict[str, Any], action: str, stamp: str, change: str | None = None) -> None:
        main, sub = TASK_STATUS[action]
        buyer = card["buyer"]
        content: dict[str, Any] = {
            "id": card["id"], "main_status": main, "sub_status": sub,
            "service_code": card["service_definition"]["service_code"], "order_time": card["gmt_create"],
            "service_time": card.get("gmt_reserve_start"), "buyer_name": buyer["buyer_name"],
            "buyer_phone": buyer["mobile"], "buyer_address": buyer["address"], "update_time": stamp}
        if action == "create" or change:
            content["change_type"] = change or "CREATE"
        content = {k: v for k, v in content.items() if v is not None}
        nick = self.nick_of(shop)
        self.gateway.tmc.publish(APP_KEY, "default", "tmall_servicecenter_TaskUpdate", content,
                                 user_nick=nick, pub_time=stamp)
        if action in STATUS_ACTION:
            message: dict[str, Any] = {"workcard_id": card["id"], "action": STATUS_ACTION[action], "type": 1,
                                       "tp_id": card["service_provider"]["tp_id"], "update_date": stamp}
            if action in ("complete", "cancel"):
                message["left_service_count"] = card["left_service_count"]
            if action == "complete":
                message["used_service_count"] = card["used_service_count"]
            self.gateway.tmc.publish(APP_KEY, "default", "tmall_fuwu_WorkcardStatusUpdate", message,
                                     user_nick=nick, pub_time=stamp)

    # -- TOP handlers --------------------------------------------------------------------------

    def _query(self, call: TopCall) -> dict[str, Any]:
        rows = list(self.cards.get(str(call.shop), {}).values())
        start, end = call.params.get("gmt_create_start"), call.params.get("gmt_create_end")
        if call.params.get("id"):
            rows = [r for r in rows if str(r["id"]) == str(call.integer("id"))]
        elif call.params.get("biz_order_id"):
            wanted = str(call.integer("biz_order_id"))
            rows = [r for r in rows if wanted in (str(r["parent_biz_order_id"]),
                                                  str(r["master_trade_order"]["order_id"]))]
        elif start or end:
            if not start or not end:
                raise missing("gmt_create_start" if not start else "gmt_create_end")
            lo, hi = self._time(start, "gmt_create_start"), self._time(end, "gmt_create_end")
            if hi < lo or hi - lo > MAX_WINDOW:
                raise invalid("gmt_create_end", "工单创建结束时间必须与工单创建开始时间一起传入，且间隔不超过15分钟")
            rows = [r for r in rows if lo <= parse_text(r["gmt_create"]) <= hi]
        else:
            raise missing("id")
        page, size = call.integer("current_page", 1), call.integer("page_size", 20)
        if page < 1 or not 1 <= size <= 100:
            raise invalid("page_size", "current_page ≥ 1, page_size 1–100 (the sandbox's bounds)")
        chunk = [_copy(r) for r in rows[(page - 1) * size: page * size]]
        return {"result": {"success": True, "msg_code": "SUCCESS", "msg_info": "ok", "result_data": {
            "data_list": {"workcard": chunk}, "total_count": len(rows), "page_size": size,
            "total_page_count": (len(rows) + size - 1) // size}}}

    @staticmethod
    def _time(text: str, name: str) -> datetime:
        try:
            return parse_text(text)
        except ValueError:
            raise invalid(name, f"{name} is a date, yyyy-MM-dd HH:mm:ss") from None

    def _writer(self, action: str) -> Callable[[TopCall], dict[str, Any]]:
        def handle(call: TopCall) -> dict[str, Any]:
            card_id = str(call.integer("workcard_id"))
            card = self.cards.get(str(call.shop), {}).get(card_id)
            if card is None:
                return {"result": {"success": False, "msg_code": "WORKCARD_NOT_EXIST",
                                   "msg_info": f"工单{card_id}不存在"}}
            params = self._checked(call, card, action)
            refusal = self._refusal(card, action)
            if refusal:
                return {"result": {"success": False, "msg_code": "WORKCARD_STATUS_NOT_ALLOWED", "msg_info": refusal}}
            self._apply(str(call.shop), card, action, params)
            return {"result": {"success": True, "msg_code": "SUCCESS", "msg_info": "ok"}}
        return handle

    def _checked(self, call: TopCall, card: dict[str, Any], action: str) -> dict[str, str]:
        """The call's params, checked as its doc types them (40 missing, 41 invalid)."""
        params = dict(call.params)
        if action == "assign":
            call.require("target_worker_id")
            call.require("target_worker_name")
        elif action == "reserve":
            lo = self._time(call.require("reserve_time_start"), "reserve_time_start")
            hi = self._time(call.require("reserve_time_end"), "reserve_time_end")
            if hi <= lo:
                raise invalid("reserve_time_end", "reserve_time_end must be after reserve_time_start")
        elif action == "complete":
            if params.get("sequence") not in (None, "") and call.integer("sequence") != card["sequence"]:
                raise invalid("sequence", f"sequence must be the card's ({card['sequence']})")
            count = call.integer("complete_count", card["left_service_count"])
            if not 1 <= count <= card["left_service_count"]:
                raise invalid("complete_count", f"complete_count is 1–{card['left_service_count']}")
        return params


def _copy(card: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(card)
