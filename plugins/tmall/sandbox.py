"""``TmallSandbox``: the Taobao sandbox as a Tmall (B2C, ``seller_type`` B) shop, plus the Tmall
methods the Tmall connector calls: ``tmall.item.quantity.update``, ``tmall.exchange.receive.get``
and ``tmall.servicecenter.tasks.search``, with helpers to create exchanges and work cards (the
latter queue ``tmall_fuwu_WorkcardStatusUpdate`` TMC messages). Work-card ``task_status`` codes
here are the sandbox's own (the real ones are undocumented [U]); ``shop_settings`` maps them.
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

#: The sandbox's task_status codes (its own invention, see the module docstring).
SANDBOX_TASK_STATUSES = {"0": "open", "1": "assigned", "2": "in_progress", "3": "completed", "4": "cancelled"}


class TmallSandbox(TaobaoSandbox):
    platform: ClassVar[str] = "tmall"
    seller_type: ClassVar[str] = "B"
    #: Tmall trades, items and TMC messages are numbered in TOP's one space with Taobao's: ranges
    #: of their own, so a Tmall and a Taobao sandbox running together never issue the same id.
    first_trade_id: ClassVar[int] = 3_950_000_000_000_000_001
    first_item_id: ClassVar[int] = 60_000_000_000_001
    first_message_id: ClassVar[int] = 7_150_000_000_000_000_001

    def __init__(self, **kwargs: Any) -> None:
        self.exchanges: dict[str, dict[str, dict[str, Any]]] = {}
        self.workcards: dict[str, dict[str, dict[str, Any]]] = {}
        self._card_ids = sandbox_ids(880_000_001)
        #: outer_biz_key values of increments already applied: a repeat is answered, not applied
        #: again [U: the doc calls the key an idempotency key for increments; the answer to a
        #: repeat is not documented, so the sandbox answers it like the first].
        self.applied_keys: set[str] = set()
        super().__init__(**kwargs)

    def handlers(self) -> dict[str, Any]:
        return {**super().handlers(),
                "tmall.item.quantity.update": self._tmall_quantity_update,
                "tmall.exchange.receive.get": self._exchange_receive_get,
                "tmall.servicecenter.tasks.search": self._tasks_search}

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        return {**super().shop_settings(shop, base_url), "service_task_statuses": dict(SANDBOX_TASK_STATUSES)}

    # -- helpers to create Tmall objects -------------------------------------------------------

    def create_exchange(self, shop: str, tid: str, status: str = "1") -> str:
        with self.lock:
            trade = self.shop(shop).trades[tid]
            refund_id = self.create_refund(shop, tid, dispute_type="TMALL_EXCHANGE")
            stamp = self.now_text()
            self.exchanges.setdefault(shop, {})[refund_id] = {
                "dispute_id": refund_id, "biz_order_id": str(trade["tid"]), "num": 1, "status": status,
                "created": stamp, "modified": stamp, "reason": "尺码不合适", "title": "Sandbox item",
                "buyer_nick": trade["buyer_nick"], "bought_sku": "颜色:白色", "exchange_sku": "颜色:黑色"}
            return refund_id

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

    def _exchange_receive_get(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        rows = list(self.exchanges.get(str(call.shop), {}).values())
        if call.params.get("refund_id_array"):
            wanted = set(call.params["refund_id_array"].split(","))
            rows = [r for r in rows if r["dispute_id"] in wanted]
        start, end = call.params.get("start_gmt_modified_time"), call.params.get("end_gmt_modifed_time")
        if start:
            rows = [r for r in rows if parse_text(r["modified"]) >= parse_text(start)]
        if end:
            rows = [r for r in rows if parse_text(r["modified"]) <= parse_text(end)]
        page, size = call.integer("page_no", 1), call.integer("page_size", 20)
        chunk = rows[(page - 1) * size: page * size]
        return {"results": {"exchange": chunk}, "total_results": len(rows), "page_results": len(chunk),
                "has_next": page * size < len(rows)}

    def _tasks_search(self, call: TopCall) -> dict[str, Any]:
        start, end = call.integer("start"), call.integer("end")
        if end <= start or end - start > 15 * 60 * 1000:
            raise invalid("end", "start and end may be at most 15 minutes apart")
        lo, hi = (datetime.fromtimestamp(ms / 1000, UTC).astimezone(GMT8) for ms in (start, end))
        rows = [c for c in self.workcards.get(str(call.shop), {}).values() if lo <= parse_text(c["gmt_modify"]) <= hi]
        return {"service_task_packet": {"name": "sandbox", "service_list": {"service_task_d_o": rows}}}
