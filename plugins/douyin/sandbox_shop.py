"""The state behind ``DouyinSandbox``: emulated shops with listings, orders and after-sales, and
the handlers of the gateway methods that read and change them.

Synchronous and protocol-free (no HTTP, no signatures): ``sandbox.py`` checks the request and
calls ``ShopBook.handle``. Every change queues the message the platform would push (``events``).
Shapes follow the [Z] field trees; ids are 19-digit numbers like the real ones. The ciphertext of
receiver fields is the sandbox's own (``sbx:`` + base64), not Douyin's format.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api import sandbox_ids

SANDBOX_COMPANIES = [
    {"id": 7, "name": "顺丰速运", "code": "shunfeng"},
    {"id": 12, "name": "中通快递", "code": "zhongtong"},
    {"id": 15, "name": "圆通速递", "code": "yuantong"},
    {"id": 16, "name": "申通快递", "code": "shentong"},
    {"id": 17, "name": "韵达快递", "code": "yunda"},
    {"id": 3, "name": "EMS", "code": "ems"},
    {"id": 54, "name": "京东物流", "code": "jd"},
]
STATUS_DESC = {"1": "待支付", "105": "已支付", "2": "备货中", "101": "部分发货", "3": "已发货", "4": "已取消",
               "5": "已完成"}
#: One forward step per ``advance``: the platform's normal path.
NEXT_STATUS = {"1": "2", "105": "2", "2": "3", "101": "3", "3": "5"}
PUSH_TAG_FOR_STATUS = {"2": "101", "3": "102", "5": "103", "4": "106", "101": "108"}
#: The time field of the trade messages the sandbox sends, when it is not ``update_time``.
EVENT_TIME_FIELD = {"100": "create_time", "101": "pay_time", "103": "complete_time", "106": "cancel_time"}
DEFAULT_STOCK = 100


class SoldOut(Exception):
    """Not enough stock for an order in the emulated shop."""


class ApiFailure(Exception):
    """An error envelope to answer: ``code``, ``sub_code``, ``msg``."""

    def __init__(self, code: int, sub_code: str, msg: str, sub_msg: str = "") -> None:
        super().__init__(f"{code} {sub_code} {msg}")
        self.code, self.sub_code, self.msg, self.sub_msg = code, sub_code, msg, sub_msg or msg


def cipher(plain: str) -> str:
    return "sbx:" + base64.b64encode(plain.encode("utf-8")).decode("ascii")


def decipher(text: str) -> str | None:
    if not text.startswith("sbx:"):
        return None
    return base64.b64decode(text[4:]).decode("utf-8")


@dataclass
class Sku:
    sku_id: str
    product_id: str
    code: str
    title: str
    price_fen: int
    stock: int
    created: int


@dataclass
class SkuOrder:
    order_id: str
    sku: Sku
    quantity: int
    shipped: int = 0


@dataclass
class ShopOrder:
    order_id: str
    status: str
    created: int
    updated: int
    lines: list[SkuOrder]
    pay_time: int = 0
    ship_time: int = 0
    finish_time: int = 0
    post_fen: int = 0
    logistics: list[dict[str, Any]] = field(default_factory=list)
    #: Why the order was cancelled (push 106 ``cancel_reason``); ``refunded`` when every sub-order
    #: was refunded before shipping (``main_status`` 21 then, §2).
    cancel_reason: str = ""
    refunded: bool = False
    #: What the seller changed on the order (``sandbox_order_edits``): rendered over the defaults.
    edits: dict[str, Any] = field(default_factory=dict)


@dataclass
class AfterSaleCase:
    """One emulated after-sale (``sandbox_aftersales`` moves it). ``updated`` is the platform's
    ``update_time``, the optimistic lock ``afterSale.operate`` checks; ``deadline`` its
    ``status_deadline``."""

    aftersale_id: str
    order_id: str
    sub_order: SkuOrder
    type: int
    status: int
    refund_status: int
    refund_fen: int
    applied: int
    updated: int
    deadline: int = 0
    reason: str = "不想要了"
    reason_code: int = 1
    reason_remark: str = ""
    evidence: list[str] = field(default_factory=list)
    got_pkg: int = 0
    return_address_id: str = ""
    #: ``logistics_info.return`` / ``.exchange``: ``{tracking_no, company_code, company_name, logistics_time}``.
    return_logistics: dict[str, Any] = field(default_factory=dict)
    exchange_logistics: dict[str, Any] = field(default_factory=dict)
    #: The seller's refusal as sent: ``reject_reason_code``, ``reason``, ``remark``, ``evidence``.
    refusal: dict[str, Any] = field(default_factory=dict)
    #: Cases the platform will only let the 抖店 back office decide (operate answers 11001).
    backend_only: bool = False
    #: What each change did, newest last (``record_logs_list``-like, for asserts).
    records: list[str] = field(default_factory=list)


@dataclass
class EmulatedShop:
    name: str
    shop_id: int
    authorization_closed: bool = False
    skus: dict[str, Sku] = field(default_factory=dict)  # by merchant code
    orders: dict[str, ShopOrder] = field(default_factory=dict)
    aftersales: dict[str, AfterSaleCase] = field(default_factory=dict)
    pack_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent_ids: set[str] = field(default_factory=set)
    #: E-waybills (``sandbox_waybill``): by (order_id, pack_id) and by track_no.
    ebills: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ebills_by_number: dict[str, dict[str, Any]] = field(default_factory=dict)


class ShopBook:
    """All emulated shops of one sandbox app. Thread-safe: the API runs on the server's loop while
    tests and the demo drive it from theirs."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.shops: dict[str, EmulatedShop] = {}
        self.lock = threading.RLock()
        self.events: list[tuple[str, str, dict[str, Any]]] = []  # (shop, tag, data) to push
        self._shop_ids = sandbox_ids(10_000_001)
        self._orders = sandbox_ids(6_918_000_000_000_000_001, 1_000)
        self._products = sandbox_ids(3_610_000_000_000_000_001)
        self._skus = sandbox_ids(1_750_000_000_000_000_001)
        self.aftersale_ids = sandbox_ids(7_301_000_000_000_000_001)

    def now(self) -> int:
        return int(self.clock())

    # -- shops -----------------------------------------------------------------------------------

    def shop(self, name: str) -> EmulatedShop:
        with self.lock:
            if name not in self.shops:
                self.shops[name] = EmulatedShop(name, next(self._shop_ids))
            return self.shops[name]

    # -- listings and orders ---------------------------------------------------------------------

    def listing(self, shop_name: str, code: str, stock: int = DEFAULT_STOCK) -> Sku:
        """The SKU with merchant code ``code``; a new listing (stock 100 by default) if needed."""
        with self.lock:
            shop = self.shop(shop_name)
            if code not in shop.skus:
                shop.skus[code] = Sku(str(next(self._skus)), str(next(self._products)), code, f"商品 {code}",
                                      1990, stock, self.now())
            return shop.skus[code]

    def create_order(self, shop_name: str, code: str, quantity: int, paid: bool) -> str:
        with self.lock:
            shop = self.shop(shop_name)
            sku = self.listing(shop_name, code)
            if sku.stock < quantity:
                raise SoldOut(f"{code}: {sku.stock} left, {quantity} wanted")
            sku.stock -= quantity
            now = self.now()
            order_id = str(next(self._orders))
            # One sub-order shares the parent's number (§2).
            order = ShopOrder(order_id, "2" if paid else "1", now, now, [SkuOrder(order_id, sku, quantity)],
                              pay_time=now if paid else 0, post_fen=0)
            shop.orders[order_id] = order
            self._event(shop, "100", order)
            if paid:
                self._event(shop, "101", order)
            return order_id

    def order(self, shop_name: str, order_id: str) -> ShopOrder:
        with self.lock:
            order = self.shop(shop_name).orders.get(str(order_id))
            if order is None:
                raise ApiFailure(50002, "isv.business-failed", "订单不存在", f"order {order_id} not found")
            return order

    def advance(self, shop_name: str, order_id: str) -> str:
        with self.lock:
            order = self.order(shop_name, order_id)
            target = NEXT_STATUS.get(order.status)
            if target is None:
                return order.status
            if target == "3" and not order.logistics:
                self._ship(order, "shunfeng", f"SF{order.order_id[-12:]}", [(ln, ln.quantity - ln.shipped)
                                                                            for ln in order.lines])
            self._move(self.shop(shop_name), order, target)
            return order.status

    def cancel(self, shop_name: str, order_id: str) -> None:
        with self.lock:
            order = self.order(shop_name, order_id)
            if order.status in ("1", "105", "2"):
                for line in order.lines:
                    line.sku.stock += line.quantity
                self._move(self.shop(shop_name), order, "4")

    def close_refunded(self, shop: EmulatedShop, order: ShopOrder) -> None:
        """Every sub-order of the unshipped order was refunded: the order is cancelled (order_status
        4, push 106 with its ``cancel_reason``; ``main_status`` 21 "refunded before shipping", §2)
        and the units go back on sale as for a cancellation [U: the restock is not documented]."""
        for line in order.lines:
            line.sku.stock += line.quantity
        order.refunded, order.cancel_reason = True, "买家申请退款，商家同意退款"
        self._move(shop, order, "4")

    def _move(self, shop: EmulatedShop, order: ShopOrder, status: str) -> None:
        now = self.now()
        order.status, order.updated = status, now
        if status == "2" and not order.pay_time:
            order.pay_time = now
        if status in ("3", "101") and not order.ship_time:
            order.ship_time = now
        if status == "5":
            order.finish_time = now
        self._event(shop, PUSH_TAG_FOR_STATUS[status], order)

    def _ship(self, order: ShopOrder, company: str, tracking: str, lines: list[tuple[SkuOrder, int]]) -> None:
        for line, count in lines:
            line.shipped += count
        order.logistics.append({"tracking_no": tracking, "company": company, "company_name": company,
                                "ship_time": self.now(), "delivery_id": tracking,
                                "product_info": [{"sku_order_id": ln.order_id, "product_count": n} for ln, n in lines]})

    def _event(self, shop: EmulatedShop, tag: str, order: ShopOrder) -> None:
        # Each tag names its time as the real message does (Go SDK message structs, see
        # ``push.EVENT_TIME_FIELDS``): 100 create_time, 101 pay_time, 103 complete_time, 106
        # cancel_time, 102/108 update_time — all the order's ``update_time`` at that moment.
        data: dict[str, Any] = {"p_id": int(order.order_id), "s_ids": [int(ln.order_id) for ln in order.lines],
                                "shop_id": shop.shop_id, "order_status": int(order.status), "biz": 2,
                                "order_type": 0}
        data[EVENT_TIME_FIELD.get(tag, "update_time")] = order.updated
        if tag == "101":
            data.update(pay_amount=self.pay_fen(order), pay_type=1)
        if tag == "106":
            data["cancel_reason"] = order.cancel_reason or "买家取消订单"
        if tag == "102" and order.logistics:
            data["logistics_msg"] = {"express_company_id": order.logistics[-1]["company"],
                                     "logistics_code": order.logistics[-1]["tracking_no"]}
        self.events.append((shop.name, tag, data))

    @staticmethod
    def pay_fen(order: ShopOrder) -> int:
        return sum(ln.sku.price_fen * ln.quantity for ln in order.lines) + order.post_fen

    # -- rendering -------------------------------------------------------------------------------

    def render_order(self, shop: EmulatedShop, order: ShopOrder) -> dict[str, Any]:
        pay = self.pay_fen(order)
        return {
            "order_id": order.order_id, "shop_id": shop.shop_id, "shop_name": shop.name, "order_level": 2,
            "order_status": int(order.status), "order_status_desc": STATUS_DESC[order.status],
            # main_status 21: refunded before shipping (§2); its description is the sandbox's words [U].
            "main_status": 21 if order.refunded else int(order.status),
            "main_status_desc": "发货前退款" if order.refunded else STATUS_DESC[order.status],
            "create_time": order.created, "update_time": order.updated, "pay_time": order.pay_time,
            "ship_time": order.ship_time, "finish_time": order.finish_time, "exp_ship_time": order.created + 172800,
            "order_amount": pay, "pay_amount": pay, "post_amount": order.post_fen, "promotion_amount": 0,
            "buyer_words": "", "seller_words": "", "seller_remark_stars": 0, "pay_type": 1, "biz": 2, "order_type": 0,
            "doudian_open_id": "sbx-open-" + order.order_id[-8:],
            "encrypt_post_receiver": cipher("张三"), "encrypt_post_tel": cipher("13812345678"),
            "post_receiver": cipher("张三"), "post_tel": cipher("13812345678"),
            "mask_post_receiver": "张*", "mask_post_tel": "138****5678",
            "post_addr": {"province": {"name": "浙江省", "id": "33"}, "city": {"name": "杭州市", "id": "3301"},
                          "town": {"name": "西湖区", "id": "330106"}, "street": {"name": "文新街道", "id": "330106001"},
                          "detail": cipher("文三路 100 号"), "encrypt_detail": cipher("文三路 100 号")},
            "logistics_info": [dict(item) for item in order.logistics],
            "sku_order_list": [self._render_line(order, line) for line in order.lines],
            **order.edits,
        }

    @staticmethod
    def _render_line(order: ShopOrder, line: SkuOrder) -> dict[str, Any]:
        status = order.status
        if order.status == "101":
            status = "3" if line.shipped >= line.quantity else "2"
        return {
            "order_id": line.order_id, "parent_order_id": order.order_id, "order_level": 3,
            "order_status": int(status), "order_status_desc": STATUS_DESC[status],
            "product_id": int(line.sku.product_id), "product_id_str": line.sku.product_id,
            "sku_id": int(line.sku.sku_id), "out_sku_id": "", "out_product_id": "", "code": line.sku.code,
            "product_name": line.sku.title, "spec": [{"name": "规格", "value": "默认"}],
            "item_num": line.quantity, "origin_amount": line.sku.price_fen,
            "sum_amount": line.sku.price_fen * line.quantity, "pay_amount": line.sku.price_fen * line.quantity,
            "promotion_amount": 0, "post_amount": 0, "create_time": order.created, "update_time": order.updated,
            "after_sale_info": {"after_sale_status": 0, "after_sale_type": 0, "refund_status": 0},
            "inventory_list": [{"warehouse_id": "0", "out_warehouse_id": "", "count": line.quantity}],
            "given_product_type": "MASTER",
        }
