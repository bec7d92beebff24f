"""``TmallSandbox``: the Taobao sandbox as a Tmall (B2C, ``seller_type`` B) shop, plus the Tmall
methods the Tmall connector calls: ``tmall.item.quantity.update``, the ``tmall.exchange.*``
reads and writes (``sandbox_exchanges``: the exchange state machine) and
``tmall.servicecenter.tasks.search``, with helpers to create exchanges and work cards (the
latter queue ``tmall_fuwu_WorkcardStatusUpdate`` TMC messages). Work-card ``task_status`` codes
here are the sandbox's own (the real ones are undocumented [U]); ``shop_settings`` maps them.
Calls that upload pictures arrive as multipart; the TOP gateway emulator hands their files to the method.

The uniform after-sales control surface: ``create_aftersale(shop, tid, "exchange")`` opens an
exchange (other kinds go to the Taobao sandbox's ``create_aftersale`` when it has one, else to a
plain TOP refund), ``buyer_returns_goods``, ``buyer_receives_replacement``, ``buyer_closes_exchange``
and ``aftersale_raw`` act on exchanges here and on refunds through the Taobao sandbox.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from typing import Any, ClassVar

from hub.plugin_api import sandbox_ids
from plugins.taobao.client import GMT8
from plugins.taobao.sandbox import APP_KEY, SandboxSku, TaobaoSandbox, parse_text
from plugins.taobao.top_gateway import TopApiError, TopCall, invalid
from plugins.tmall.sandbox_exchanges import SandboxExchanges

#: The sandbox's task_status codes (its own invention, see the module docstring).
SANDBOX_TASK_STATUSES = {"0": "new", "1": "assigned", "2": "on_site", "3": "completed", "4": "cancelled"}


class TmallSandbox(TaobaoSandbox):
    platform: ClassVar[str] = "tmall"
    seller_type: ClassVar[str] = "B"
    #: Tmall trades, items and TMC messages are numbered in TOP's one space with Taobao's: ranges
    #: of their own, so a Tmall and a Taobao sandbox running together never issue the same id.
    first_trade_id: ClassVar[int] = 3_950_000_000_000_000_001
    first_item_id: ClassVar[int] = 60_000_000_000_001
    first_message_id: ClassVar[int] = 7_150_000_000_000_000_001

    def __init__(self, **kwargs: Any) -> None:
        self.workcards: dict[str, dict[str, dict[str, Any]]] = {}
        self._card_ids = sandbox_ids(880_000_001)
        #: outer_biz_key values of increments already applied: a repeat is answered, not applied
        #: again [U: the doc calls the key an idempotency key for increments; the answer to a
        #: repeat is not documented, so the sandbox answers it like the first].
        self.applied_keys: set[str] = set()
        self._exchange_desk: SandboxExchanges | None = None
        super().__init__(**kwargs)

    @property
    def exchanges(self) -> SandboxExchanges:
        """The exchanges and their handlers (made on first use: the base class registers handlers
        from its ``__init__``, before this class's own state would exist)."""
        if self._exchange_desk is None:
            self._exchange_desk = SandboxExchanges(self.gateway, self.now_text, lambda shop: self.shop(shop).nick)
        return self._exchange_desk

    def handlers(self) -> dict[str, Any]:
        return {**super().handlers(),
                **self.exchanges.handlers(),
                "tmall.item.quantity.update": self._tmall_quantity_update,
                "tmall.servicecenter.tasks.search": self._tasks_search}

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        return {**super().shop_settings(shop, base_url), "service_task_statuses": dict(SANDBOX_TASK_STATUSES)}

    # -- helpers to create Tmall objects -------------------------------------------------------

    def create_exchange(self, shop: str, tid: str, status: str = "1", *, reason: str | None = None) -> str:
        """The buyer asks to exchange ``tid``'s goods: a TOP refund row of dispute_type
        TMALL_EXCHANGE (its ``taobao_refund_RefundCreated`` message) and the exchange under the
        same id (``dispute_id`` = ``refund_id`` [U])."""
        with self.lock:
            trade = self.shop(shop).trades[tid]
            if trade["status"] == "WAIT_BUYER_PAY":
                raise ValueError(f"trade {tid} is not paid: nothing to exchange")
            refund_id = self.create_refund(shop, tid, dispute_type="TMALL_EXCHANGE")
            self.exchanges.open(shop, refund_id, trade, status=status, reason=reason)
            return refund_id

    # -- the uniform after-sales control surface -----------------------------------------------

    def create_aftersale(self, shop: str, order_id: str, kind: str, *, amount: Any = None,
                         reason: str | None = None) -> str:
        if kind == "exchange":
            return self.create_exchange(shop, order_id, reason=reason)
        taobao = getattr(super(), "create_aftersale", None)
        if taobao is not None:
            return str(taobao(shop, order_id, kind, amount=amount, reason=reason))
        dispute_types = {"refund_only": "REFUND", "return_and_refund": "REFUND_AND_RETURN"}
        if kind not in dispute_types:
            raise ValueError(f"unknown after-sale kind {kind!r}; expected refund_only, return_and_refund or exchange")
        return self.create_refund(shop, order_id, dispute_type=dispute_types[kind])

    def _is_exchange(self, shop: str, case_id: str) -> bool:
        return self.exchanges.row(shop, case_id) is not None

    def buyer_returns_goods(self, shop: str, case_id: str, *, tracking_number: str = "SF1000000001",
                            company: str = "SF") -> None:
        with self.lock:
            if self._is_exchange(shop, case_id):
                self.exchanges.buyer_returns_goods(shop, case_id, tracking_number, company)
                return
        self._taobao("buyer_returns_goods")(shop, case_id, tracking_number=tracking_number, company=company)

    def buyer_receives_replacement(self, shop: str, case_id: str) -> None:
        with self.lock:
            if self._is_exchange(shop, case_id):
                self.exchanges.buyer_receives_replacement(shop, case_id)
                return
        self._taobao("buyer_receives_replacement")(shop, case_id)

    def buyer_closes_exchange(self, shop: str, case_id: str, *, to_refund: bool = False) -> None:
        """The buyer withdraws the exchange (4) or turns it into a refund (14)."""
        with self.lock:
            self.exchanges.buyer_closes(shop, case_id, to_refund=to_refund)

    def aftersale_raw(self, shop: str, case_id: str) -> dict[str, Any]:
        with self.lock:
            if self._is_exchange(shop, case_id):
                return self.exchanges.raw(shop, case_id)
            taobao = getattr(super(), "aftersale_raw", None)
            if taobao is not None:
                return dict(taobao(shop, case_id))
            return dict(self.shop(shop).refunds[case_id])

    def _taobao(self, name: str) -> Any:
        """The Taobao sandbox's control method ``name`` for a refund case, when it has one."""
        method = getattr(super(), name, None)
        if method is None:
            raise KeyError(f"{name}: no exchange with that id, and this sandbox drives refunds no further")
        return method

    def create_workcard(self, shop: str, tid: str, *, action: str = "create", status: str = "0",
                        service_name: str = "安装服务") -> str:
        with self.lock:
            card_id = str(next(self._card_ids))
            stamp = self.now_text()
            self.workcards.setdefault(shop, {})[card_id] = {
                "id": int(card_id), "parent_biz_order_id": int(tid), "biz_order_id": int(tid),
                "service_name": service_name, "task_status": int(status), "task_type": 1, "tp_name": "师傅A",
                "gmt_create": stamp, "gmt_modify": stamp, "task_memo": "上门安装"}
            self.gateway.tmc.publish(APP_KEY, "default", "tmall_fuwu_WorkcardStatusUpdate",
                                     {"workcard_id": int(card_id), "action": action, "update_date": stamp},
                                     user_nick=self.shop(shop).nick, pub_time=stamp)
            return card_id

    # -- Tmall handlers ------------------------------------------------------------------------

    def _tmall_quantity_update(self, call: TopCall) -> dict[str, Any]:
        item = self._item(call, call.require("item_id"))
        options = json.loads(call.params.get("options") or "{}")
        mode = int(options.get("type", 1))
        key = str(options.get("outer_biz_key") or "")
        if key and not all(c in string.hexdigits for c in key):
            raise invalid("options", "outer_biz_key must be hex characters only")
        if mode == 2 and key and key in self.applied_keys:
            return {"quantity_update_result": item.num_iid}
        if call.params.get("sku_quantities"):
            updates: list[tuple[SandboxSku, int]] = []
            for entry in json.loads(call.params["sku_quantities"]):
                sku = item.skus.get(str(entry.get("sku_id")))
                if sku is None:
                    raise invalid("sku_quantities", f"no SKU {entry.get('sku_id')} on item {item.num_iid}")
                updates.append((sku, self._apply(sku.quantity, int(entry["quantity"]), mode, "sku_quantities")))
            for sku, quantity in updates:
                sku.quantity = quantity
        elif call.params.get("item_quantity") not in (None, ""):
            if item.skus:
                raise invalid("item_quantity", "this item has SKUs: use sku_quantities")
            item.num = self._apply(item.num, call.integer("item_quantity"), mode, "item_quantity")
        else:
            raise TopApiError(40, "Missing required arguments", "isv.missing-parameter:sku_quantities")
        if mode == 2 and key:
            self.applied_keys.add(key)
        return {"quantity_update_result": item.num_iid}

    def _tasks_search(self, call: TopCall) -> dict[str, Any]:
        start, end = call.integer("start"), call.integer("end")
        if end <= start or end - start > 15 * 60 * 1000:
            raise invalid("end", "start and end may be at most 15 minutes apart")
        lo, hi = (datetime.fromtimestamp(ms / 1000, UTC).astimezone(GMT8) for ms in (start, end))
        rows = [c for c in self.workcards.get(str(call.shop), {}).values() if lo <= parse_text(c["gmt_modify"]) <= hi]
        return {"service_task_packet": {"name": "sandbox", "service_list": {"service_task_d_o": rows}}}
