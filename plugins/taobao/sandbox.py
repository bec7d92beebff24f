"""``TaobaoSandbox``: a stateful emulator of a Taobao shop behind the TOP gateway, for tests, the
demo and benchmarks (``contracts.ChannelSandbox``).

It keeps shops, listings (items with SKUs and stock), trades and refunds; creating an order
decrements the shown stock (``SoldOut`` when there is not enough) and queues the TMC messages a
real shop would produce; ``advance_order`` walks a trade along WAIT_BUYER_PAY →
WAIT_SELLER_SEND_GOODS → WAIT_BUYER_CONFIRM_GOODS → TRADE_FINISHED. It serves every method the
Taobao connector calls through ``TopGateway`` (signature, timestamp, session and fault checks) and
the Cainiao e-waybill methods (``sandbox_cainiao``, state in ``cainiao``), the refund state machine
and its write methods (``sandbox_refunds``, state in ``refunds``; driven by the after-sales
control surface ``create_aftersale``/``buyer_returns_goods``/``aftersale_raw``), and
small control endpoints under ``/_sandbox/`` so a sandbox in another process can be driven:

- ``POST /_sandbox/orders`` ``{"shop", "merchant_sku", "quantity", "paid"}`` → ``{"tid"}`` (409 sold out)
- ``POST /_sandbox/orders/{tid}/advance`` ``{"shop"}`` → ``{"status"}``
- ``POST /_sandbox/faults`` ``{"fault", "count", "seconds"}``
- ``GET /_sandbox/stock?shop=…&merchant_sku=…`` → ``{"quantity"}`` (null when not listed)
- ``/_sandbox/aftersales…``: the after-sales control surface (``sandbox_refunds.aftersale_routes``)

Like real TMC, a shop's messages are delivered only once the app has called
``taobao.tmc.user.permit`` with the shop's session (see ``top_gateway``); ``tmc_permitted(shop)``
says what was permitted. Like the real gateway, ``trades.sold.increment.get`` without ``type``
returns only the five default trade types (§2 gotcha), and sandbox trades are ``fixed``; it filters
by the modified window (at most a day), pages newest first and answers "part of the trade's data"
(its doc): no buyer message, seller memo or ``is_part_consign``, but ``has_buyer_message``. The
sandbox's ``clock`` is the platform's time: trades' ``created``/``modified`` and TMC ``pub_time``
follow it (request timestamps are checked against the real time). Every trade has a stable ``oaid``
(``oaid_of``), answered only when asked as TOP says it is produced: ``fields`` naming
``receiver_name``, ``receiver_address``, ``created``, ``receiver_mobile`` and ``receiver_phone``
(and ``oaid`` ⚠️ [U]: the sandbox's strict reading), and, for ``trade.fullinfo.get``,
``include_oaid=true``; the list call returns it on the same fields ⚠️ [U]. Error
sub-codes the docs do not name (e.g. for a trade that does not exist) are the sandbox's own. Not a place for hub logic.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.plugin_api import sandbox_ids
from hub.plugin_api import serve_in_thread as _serve_in_thread
from plugins.taobao.client import GMT8, TOP_TIME_FORMAT
from plugins.taobao.sandbox_cainiao import CainiaoWaybills, cainiao_handlers
from plugins.taobao.sandbox_listings import listing_handlers
from plugins.taobao.sandbox_order_edits import order_edit_handlers
from plugins.taobao.sandbox_refunds import SandboxRefunds, aftersale_routes
from plugins.taobao.top_gateway import TmcQueue, TopApiError, TopCall, TopGateway, invalid

APP_KEY = "12345678"
APP_SECRET = "sandbox-secret-helloworld"
DEFAULT_STOCK = 100
DEFAULT_TYPES = frozenset({"guarantee_trade", "auto_delivery", "ec", "cod", "step"})
PATH = ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_FINISHED")
TOPIC_FOR = {"WAIT_SELLER_SEND_GOODS": "taobao_trade_TradeBuyerPay",
             "WAIT_BUYER_CONFIRM_GOODS": "taobao_trade_TradeSellerShip",
             "SELLER_CONSIGNED_PART": "taobao_trade_TradePartlySellerShip",
             "TRADE_FINISHED": "taobao_trade_TradeSuccess", "TRADE_CLOSED": "taobao_trade_TradeClose"}
SHIPPABLE = frozenset({"WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART"})
#: Trade fields ``trades.sold.increment.get`` does not return (absent from its documented answer).
LIST_OMITS = frozenset({"buyer_message", "seller_memo", "is_part_consign"})
#: Refund fields ``refunds.receive.get`` does not return (``refund.get`` does).
LIST_REFUND_OMITS = frozenset({"refund_remind_timeout", "address", "good_return_time", "num_iid"})
#: A trade's ``oaid`` is produced only when ``fields`` names all of these (TOP's trade model).
OAID_NEEDS = frozenset({"receiver_name", "receiver_address", "created", "receiver_mobile", "receiver_phone"})


class SoldOut(Exception):
    """The emulated shop does not show enough stock for the order."""


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """``with serve_in_thread(sandbox.app) as base_url:`` — uvicorn on 127.0.0.1, a free port."""
    with _serve_in_thread(app) as base_url:
        yield base_url


def now_text(clock: Callable[[], float] = time.time) -> str:
    """``clock``'s time as TOP writes it (GMT+8)."""
    return datetime.fromtimestamp(clock(), UTC).astimezone(GMT8).strftime(TOP_TIME_FORMAT)


def parse_text(text: str) -> datetime:
    return datetime.strptime(text, TOP_TIME_FORMAT).replace(tzinfo=GMT8)


@dataclass
class SandboxSku:
    sku_id: str
    outer_id: str
    quantity: int = DEFAULT_STOCK


@dataclass
class SandboxItem:
    num_iid: str
    outer_id: str
    title: str
    price: str = "38.00"
    num: int = DEFAULT_STOCK
    skus: dict[str, SandboxSku] = field(default_factory=dict)

    def total(self) -> int:
        return sum(s.quantity for s in self.skus.values()) if self.skus else self.num


@dataclass
class SandboxShop:
    name: str
    nick: str
    session: str
    items: dict[str, SandboxItem] = field(default_factory=dict)
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)


class TaobaoSandbox:
    """The Taobao emulator (see the module docstring)."""

    platform: ClassVar[str] = "taobao"
    #: SKUs ``demo_step`` orders (the hub's demo sets its catalogue here).
    demo_skus: list[str] = ["DEMO-TEE-M", "DEMO-TEE-L", "DEMO-MUG"]
    seller_type: ClassVar[str] = "C"
    #: The first trade id (sub-orders and refunds draw from the same counter; beyond 2^53, like real
    #: tids/oids), item/SKU id and TMC message id. TOP numbers Taobao and Tmall trades from one
    #: space, so a sandbox for another seller type starts its own ranges far from these: the demo
    #: runs both side by side, and one order id must never name orders in two shops.
    first_trade_id: ClassVar[int] = 3_900_000_000_000_000_001
    first_item_id: ClassVar[int] = 600_000_000_001
    first_message_id: ClassVar[int] = 7_100_000_000_000_000_001

    def __init__(self, *, redelivery_seconds: float = 5.0, seed: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        #: The platform's clock (Unix seconds): trades' ``created``/``modified`` and TMC ``pub_time``
        #: follow it, so a test can make orders at other times. Request timestamps are checked
        #: against the real time, as the gateway does.
        self.clock = clock
        tmc = TmcQueue(redelivery_seconds=redelivery_seconds, first_id=self.first_message_id)
        self.gateway = TopGateway({APP_KEY: APP_SECRET}, tmc=tmc)
        self.shops: dict[str, SandboxShop] = {}
        self.push_targets: dict[str, str | None] = {}
        self._ids = sandbox_ids(self.first_trade_id)
        self._item_ids = sandbox_ids(self.first_item_id)
        self._rng = random.Random(seed)
        #: The sellers' Cainiao e-waybill accounts (``sandbox_cainiao``): issued and cancelled numbers.
        self.cainiao = CainiaoWaybills(trade_of_oaid=self.trade_of_oaid)
        #: The buyers' refunds and the seller's decisions on them (``sandbox_refunds``).
        self.refunds = SandboxRefunds(self, APP_KEY)
        for method, handler in self.handlers().items():
            self.gateway.register(method, handler)
        self.app = Starlette(routes=[*self.gateway.routes(), *self.control_routes()])

    def now_text(self) -> str:
        return now_text(self.clock)

    @property
    def lock(self) -> Any:
        return self.gateway.lock

    def handlers(self) -> dict[str, Any]:
        return {
            "taobao.trades.sold.increment.get": self._increment_get,
            "taobao.trade.fullinfo.get": self._fullinfo_get,
            "taobao.skus.quantity.update": self._skus_quantity_update,
            "taobao.item.quantity.update": self._item_quantity_update,
            "taobao.item.seller.get": self._item_seller_get,
            "taobao.logistics.offline.send": self._offline_send,
            "taobao.refunds.receive.get": self._refunds_receive_get,
            "taobao.refund.get": self._refund_get,
            **self.refunds.handlers(),
            **listing_handlers(self),
            **cainiao_handlers(self.cainiao),
            **order_edit_handlers(self, APP_KEY),
        }

    # -- ChannelSandbox ------------------------------------------------------------------------

    def shop(self, name: str) -> SandboxShop:
        with self.lock:
            if name not in self.shops:
                session = f"sandbox-session-{name}"
                self.shops[name] = SandboxShop(name=name, nick=f"{name}-nick", session=session)
                self.gateway.add_session(session, name, user_nick=f"{name}-nick")
            return self.shops[name]

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        return {"gateway_url": base_url.rstrip("/") + "/router/rest", "app_key": APP_KEY, "app_secret": APP_SECRET,
                "session": self.shop(shop).session, "sign_method": "hmac-sha256"}

    def tmc_permitted(self, shop: str) -> list[str] | None:
        """The TMC topics ``shop`` is permitted for (``[]``: every topic), or None before any permit."""
        with self.lock:
            return self.gateway.tmc.permitted(self.shop(shop).nick)

    def set_push_target(self, shop: str, url: str | None) -> None:
        self.push_targets[shop] = url  # TOP has no HTTP pushes for sellers: recorded, never used

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        self.gateway.inject_fault(fault, count, seconds=seconds)

    def add_listing(self, shop: str, merchant_skus: list[str], *, stock: int = DEFAULT_STOCK,
                    with_skus: bool = True, title: str = "Sandbox item") -> SandboxItem:
        """One item; with SKUs (one per merchant SKU) or, with ``with_skus=False``, a plain item."""
        with self.lock:
            item = SandboxItem(num_iid=str(next(self._item_ids)), outer_id=merchant_skus[0], title=title, num=stock)
            if with_skus:
                for code in merchant_skus:
                    sku_id = str(next(self._item_ids))
                    item.skus[sku_id] = SandboxSku(sku_id, code, stock)
            self.shop(shop).items[item.num_iid] = item
            return item

    def demo_list(self, shop: str, merchant_code: str, stock: int) -> None:
        """List an item with one SKU of ``merchant_code`` ("" for none), as a seller would before selling."""
        self.add_listing(shop, [merchant_code], stock=stock, title=f"Demo item {merchant_code or '(no code)'}")

    def _find(self, shop: str, merchant_sku: str) -> tuple[SandboxItem, SandboxSku | None] | None:
        for item in self.shop(shop).items.values():
            for sku in item.skus.values():
                if sku.outer_id == merchant_sku:
                    return item, sku
            if not item.skus and item.outer_id == merchant_sku:
                return item, None
        return None

    def shown_stock(self, shop: str, merchant_sku: str) -> int | None:
        with self.lock:
            found = self._find(shop, merchant_sku)
            if found is None:
                return None
            item, sku = found
            return sku.quantity if sku else item.num

    def create_order(self, shop: str, merchant_sku: str, quantity: int = 1, *, paid: bool = True,
                     buyer_message: str | None = None) -> str:
        with self.lock:
            found = self._find(shop, merchant_sku) or (self.add_listing(shop, [merchant_sku]), None)
            item, sku = found
            if sku is None and item.skus:
                sku = next(s for s in item.skus.values() if s.outer_id == merchant_sku)
            shown = sku.quantity if sku else item.num
            if shown < quantity:
                raise SoldOut(f"{shop}: {merchant_sku} shows {shown}, order wants {quantity}")
            if sku:
                sku.quantity -= quantity
            else:
                item.num -= quantity
            trade = self._new_trade(self.shop(shop), item, sku, quantity, paid)
            if buyer_message:
                trade["buyer_message"] = buyer_message
            self._publish(shop, "taobao_trade_TradeCreate", trade)
            if paid:
                self._publish(shop, "taobao_trade_TradeBuyerPay", trade)
            return str(trade["tid"])

    def _new_trade(self, shop: SandboxShop, item: SandboxItem, sku: SandboxSku | None, quantity: int,
                   paid: bool) -> dict[str, Any]:
        tid = next(self._ids)
        stamp = self.now_text()
        status = "WAIT_SELLER_SEND_GOODS" if paid else "WAIT_BUYER_PAY"
        payment = f"{float(item.price) * quantity:.2f}"
        line = {"oid": tid, "oid_str": str(tid), "num_iid": int(item.num_iid), "sku_id": sku.sku_id if sku else "",
                "outer_iid": item.outer_id, "outer_sku_id": sku.outer_id if sku else "", "title": item.title,
                "sku_properties_name": "颜色:白色" if sku else "", "num": quantity, "price": item.price,
                "total_fee": payment, "payment": payment, "divide_order_fee": payment, "discount_fee": "0.00",
                "adjust_fee": "0.00", "status": status, "refund_status": "NO_REFUND",
                "seller_type": self.seller_type}
        trade = {"tid": tid, "tid_str": str(tid), "status": status, "type": "fixed", "seller_nick": shop.nick,
                 "buyer_nick": "t**1", "buyer_open_uid": f"AAH{tid % 10**8}", "created": stamp, "modified": stamp,
                 "pay_time": stamp if paid else "", "payment": payment, "post_fee": "0.00", "total_fee": payment,
                 "discount_fee": "0.00", "receiver_name": "闫**", "receiver_state": "河南省",
                 "receiver_city": "郑州市", "receiver_district": "金水区", "receiver_address": "**********",
                 "receiver_zip": "450000", "receiver_mobile": "1573672****", "orders": {"order": [line]}}
        shop.trades[str(tid)] = trade
        return trade

    def _publish(self, shop: str, topic: str, trade: dict[str, Any]) -> None:
        content = {"tid": trade["tid"], "oid": trade["tid"], "status": trade["status"], "type": trade["type"],
                   "payment": trade["payment"], "seller_nick": trade["seller_nick"],
                   "buyer_nick": trade["buyer_nick"], "buyer_open_uid": trade["buyer_open_uid"]}
        self.gateway.tmc.publish(APP_KEY, "default", topic, content, user_nick=self.shop(shop).nick,
                                 pub_time=self.now_text())

    def _set_status(self, shop: str, trade: dict[str, Any], status: str, oids: set[str] | None = None) -> None:
        for line in trade["orders"]["order"]:
            if oids is None or line["oid_str"] in oids:
                line["status"] = status
        if oids is not None and any(line["status"] in SHIPPABLE for line in trade["orders"]["order"]):
            status = "SELLER_CONSIGNED_PART"
        trade["status"] = status
        trade["modified"] = self.now_text()
        if status == "WAIT_BUYER_CONFIRM_GOODS":
            trade["consign_time"] = trade["modified"]
        if status == "WAIT_SELLER_SEND_GOODS":
            trade["pay_time"] = trade["modified"]
        if status == "TRADE_CLOSED":
            trade["end_time"] = trade["modified"]
        if status in TOPIC_FOR:
            self._publish(shop, TOPIC_FOR[status], trade)

    def advance_order(self, shop: str, external_id: str) -> str:
        with self.lock:
            trade = self.shop(shop).trades[external_id]
            current = trade["status"]
            if current == "SELLER_CONSIGNED_PART":
                nxt = "WAIT_BUYER_CONFIRM_GOODS"
            elif current in PATH and current != PATH[-1]:
                nxt = PATH[PATH.index(current) + 1]
            else:
                return str(current)
            self._set_status(shop, trade, nxt)
            return nxt

    def close_refunded_trade(self, shop: str, trade: dict[str, Any]) -> None:
        """Every sub-order of the unshipped trade was refunded: the trade ends TRADE_CLOSED ("terminal:
        refunded after payment", TOP trade status) and TMC publishes ``taobao_trade_TradeClose``. The
        units go back on sale, as for any closed trade [U: TOP does not document the restock]."""
        for line in trade["orders"]["order"]:
            item = self.shop(shop).items.get(str(line["num_iid"]))
            sku = item.skus.get(str(line["sku_id"])) if item is not None and line["sku_id"] else None
            if sku is not None:
                sku.quantity += int(line["num"])
            elif item is not None:
                item.num += int(line["num"])
        self._set_status(shop, trade, "TRADE_CLOSED")

    def create_refund(self, shop: str, tid: str, *, dispute_type: str = "REFUND",
                      status: str = "WAIT_SELLER_AGREE") -> str:
        """The buyer asks for the whole first line back (``sandbox_refunds``)."""
        return self.refunds.open(shop, tid, dispute_type=dispute_type, status=status,
                                 has_good_return=dispute_type == "REFUND_AND_RETURN")

    # -- after-sales control surface (the same names on every channel sandbox) -----------------

    def create_aftersale(self, shop: str, order_id: str, kind: str, *, amount: Any = None,
                         reason: str | None = None) -> str:
        """The buyer opens a case on a paid order: ``refund_only``, ``return_and_refund`` (the
        order must have shipped) or ``exchange`` (``open_exchange``); ``amount`` in yuan, default
        what the line paid. Returns the refund id; ``taobao_refund_RefundCreated`` is published."""
        if kind == "exchange":
            return self.open_exchange(shop, order_id, reason=reason)
        if kind not in ("refund_only", "return_and_refund"):
            raise ValueError(f"unknown after-sale kind {kind!r}")
        returning = kind == "return_and_refund"
        with self.lock:
            status = self.shop(shop).trades[order_id]["status"]
            if returning and status not in ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED"):
                raise ValueError(f"trade {order_id} is {status}: goods can be returned only once shipped")
            return self.refunds.open(shop, order_id, dispute_type="REFUND_AND_RETURN" if returning else "REFUND",
                                     amount=amount, reason=reason, has_good_return=returning)

    def open_exchange(self, shop: str, order_id: str, *, reason: str | None = None) -> str:
        """The hook ``create_aftersale(kind="exchange")`` calls. Taobao: a ``TAOBAO_EXCHANGE``
        refund row (TOP has no C-shop exchange write API; the hub records the decisions). The Tmall
        sandbox overrides it with its exchange (``tmall.exchange.*``)."""
        return self.refunds.open(shop, order_id, dispute_type="TAOBAO_EXCHANGE", reason=reason or "换货",
                                 has_good_return=True)

    def buyer_returns_goods(self, shop: str, case_id: str, *, tracking_number: str = "SF1000000001",
                            company: str = "SF") -> None:
        """The buyer ships the goods back after the seller agreed (``taobao_refund_RefundBuyerReturnGoods``)."""
        self.refunds.buyer_returns_goods(shop, case_id, tracking_number, company)

    def buyer_receives_replacement(self, shop: str, case_id: str) -> None:
        """Exchanges are the Tmall sandbox's (it overrides this); a Taobao exchange has no replacement flow here."""
        raise ValueError(f"{shop}: the Taobao sandbox emulates no exchange replacement (case {case_id})")

    def buyer_closes_aftersale(self, shop: str, case_id: str) -> None:
        """The buyer withdraws the request (CLOSED, ``taobao_refund_RefundClosed``)."""
        self.refunds.buyer_closes(shop, case_id)

    def aftersale_raw(self, shop: str, case_id: str) -> dict[str, Any]:
        """The refund as the platform holds it now (a copy)."""
        return self.refunds.raw(shop, case_id)

    def set_memo(self, shop: str, tid: str, memo: str, flag: int = 0) -> None:
        """The seller writes a memo (and optionally a flag, 1–5) on a trade: ``modified`` moves and
        ``taobao_trade_TradeMemoModified`` is published with both (§6)."""
        with self.lock:
            trade = self.shop(shop).trades[tid]
            trade["seller_memo"], trade["seller_flag"] = memo, flag
            trade["modified"] = self.now_text()
            self.gateway.tmc.publish(APP_KEY, "default", "taobao_trade_TradeMemoModified",
                                     {"tid": trade["tid"], "seller_nick": trade["seller_nick"], "seller_memo": memo,
                                      "seller_flag": flag}, user_nick=self.shop(shop).nick, pub_time=trade["modified"])

    async def demo_step(self, shop: str) -> None:
        """A buyer's move, never the seller's (the hub fulfils the demo's orders): pay an order, or
        place a new order (most paid at once, some with a remark for the seller). After-sales are
        asked for through the uniform ``create_aftersale`` by whoever drives the demo (the hub's
        ``hub.demo_aftersales`` opens a paced mix of refunds, returns and exchanges)."""
        with self.lock:
            unpaid = [tid for tid, t in self.shop(shop).trades.items() if t["status"] == "WAIT_BUYER_PAY"]
        if unpaid and self._rng.random() < 0.3:
            self.advance_order(shop, self._rng.choice(unpaid))
        else:
            sku = self._rng.choice(self.demo_skus)
            remark = "请周末送货 · please deliver at the weekend" if self._rng.random() < 0.06 else None
            quantity = 2 if self._rng.random() < 0.15 else 1  # two units: above the demo's high-value hold
            self.create_order(shop, sku, quantity, paid=self._rng.random() < 0.7, buyer_message=remark)

    # -- TOP handlers --------------------------------------------------------------------------

    @staticmethod
    def oaid_of(tid: Any) -> str:
        """The stable ``oaid`` of a sandbox trade (an opaque id, the same on every answer)."""
        return hashlib.sha256(f"sandbox-oaid:{tid}".encode()).hexdigest()[:32]

    def trade_of_oaid(self, shop: str, oaid: str) -> str | None:
        """The tid of ``shop``'s trade whose recipient ``oaid`` names (the Cainiao sandbox asks)."""
        with self.lock:
            trades = self.shops[shop].trades if shop in self.shops else {}
            return next((tid for tid in trades if self.oaid_of(tid) == oaid), None)

    def _trade_for(self, call: TopCall, tid: str) -> dict[str, Any]:
        trade = self.shops[str(call.shop)].trades.get(tid)
        if trade is None:
            raise TopApiError(15, "Remote service error", "isv.trade-not-exist", f"trade {tid} does not exist")
        return trade

    def _project(self, trade: dict[str, Any], fields: str, *, oaid: bool = True) -> dict[str, Any]:
        """The asked-for fields of ``trade``; its ``oaid`` only when ``oaid`` (the call allows it)
        and ``fields`` names it and everything TOP needs asked to produce it."""
        wanted = {f.strip() for f in fields.split(",")}
        with_orders = "orders" in wanted or any(f.startswith("orders.") for f in wanted)
        view = {k: v for k, v in trade.items() if k in wanted or (k == "orders" and with_orders)}
        if oaid and "oaid" in wanted and OAID_NEEDS <= wanted:
            view["oaid"] = self.oaid_of(trade["tid"])
        return view

    def _increment_get(self, call: TopCall) -> dict[str, Any]:
        fields = call.require("fields")
        try:
            start, end = parse_text(call.require("start_modified")), parse_text(call.require("end_modified"))
        except ValueError:
            raise invalid("start_modified", "times are yyyy-MM-dd HH:mm:ss") from None
        if end <= start or end - start > timedelta(days=1):
            raise invalid("end_modified", "the modified window must be positive and at most one day")
        types = set(call.params["type"].split(",")) if call.params.get("type") else DEFAULT_TYPES
        page, size = call.integer("page_no", 1), call.integer("page_size", 40)
        if not 1 <= size <= 100:
            raise invalid("page_size", "page_size is 1–100")
        matching = [t for t in self.shops[str(call.shop)].trades.values()
                    if start <= parse_text(t["modified"]) <= end and t["type"] in types]
        matching.sort(key=lambda t: (t["modified"], t["tid"]), reverse=True)  # newest first, as TOP does
        chunk = matching[(page - 1) * size: page * size]
        body: dict[str, Any] = {"trades": {"trade": [self._project(self._listed(t), fields) for t in chunk]}}
        if call.params.get("use_has_next") == "true":
            body["has_next"] = page * size < len(matching)
        else:
            body["total_results"] = len(matching)
        return body

    @staticmethod
    def _listed(trade: dict[str, Any]) -> dict[str, Any]:
        """A trade as the list calls show it: "part of the trade's data" (increment.get doc), without
        the fields its documented answer does not name (the notes, ``is_part_consign``) and with
        ``has_buyer_message``, which it does. [U] whether TOP returns a field asked for but not in the
        documented answer: the sandbox takes the strict reading."""
        view = {k: v for k, v in trade.items() if k not in LIST_OMITS}
        view["has_buyer_message"] = bool(trade.get("buyer_message"))
        return view

    def _fullinfo_get(self, call: TopCall) -> dict[str, Any]:
        fields = call.require("fields")
        include_oaid = str(call.params.get("include_oaid") or "").lower() == "true"
        return {"trade": self._project(self._trade_for(call, call.require("tid")), fields, oaid=include_oaid)}

    def _item(self, call: TopCall, num_iid: str) -> SandboxItem:
        item = self.shops[str(call.shop)].items.get(num_iid)
        if item is None:
            raise TopApiError(15, "Remote service error", "isv.item-not-exist", f"item {num_iid} does not exist")
        return item

    def _item_body(self, item: SandboxItem) -> dict[str, Any]:
        stamp = self.now_text()
        return {"item": {"num_iid": int(item.num_iid), "num": item.total(), "outer_id": item.outer_id,
                         "modified": stamp, "skus": {"sku": [
                             {"sku_id": int(s.sku_id), "quantity": s.quantity, "outer_id": s.outer_id,
                              "modified": stamp} for s in item.skus.values()]}}}

    @staticmethod
    def _apply(current: int, value: int, mode: int, name: str) -> int:
        if mode == 1:
            if value < 0:
                raise invalid(name, "a full update needs quantity >= 0")
            return value
        return max(0, current + value)

    def _skus_quantity_update(self, call: TopCall) -> dict[str, Any]:
        item = self._item(call, call.require("num_iid"))
        mode = call.integer("type", 1)
        pairs = [p for p in call.require("skuid_quantities").split(";") if p]
        if len(pairs) > 20:
            raise invalid("skuid_quantities", "at most 20 SKUs per call")
        updates: list[tuple[SandboxSku, int]] = []
        for pair in pairs:
            sku_id, _, qty = pair.partition(":")
            sku = item.skus.get(sku_id)
            if sku is None or not qty.lstrip("-").isdigit():
                raise invalid("skuid_quantities", f"bad pair {pair!r}")
            updates.append((sku, self._apply(sku.quantity, int(qty), mode, "skuid_quantities")))
        for sku, quantity in updates:
            sku.quantity = quantity
        return self._item_body(item)

    def _item_quantity_update(self, call: TopCall) -> dict[str, Any]:
        item = self._item(call, call.require("num_iid"))
        quantity, mode = call.integer("quantity"), call.integer("type", 1)
        sku_id, outer_id = call.params.get("sku_id"), call.params.get("outer_id")
        if sku_id or outer_id:
            sku = item.skus.get(sku_id or "") or next((s for s in item.skus.values() if s.outer_id == outer_id), None)
            if sku is None:
                raise invalid("sku_id", "no such SKU on this item")
            sku.quantity = self._apply(sku.quantity, quantity, mode, "quantity")
        elif item.skus:
            raise invalid("sku_id", "this item has SKUs: update them by sku_id or outer_id")
        else:
            item.num = self._apply(item.num, quantity, mode, "quantity")
        return self._item_body(item)

    def _item_seller_get(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        return self._item_body(self._item(call, call.require("num_iid")))

    def _offline_send(self, call: TopCall) -> dict[str, Any]:
        trade = self._trade_for(call, call.require("tid"))
        out_sid, company = call.require("out_sid"), call.require("company_code")
        if trade["status"] not in SHIPPABLE:
            raise TopApiError(15, "Remote service error", "isv.logistics-offline-service-error",
                              f"trade status {trade['status']} does not allow consign")
        oids = None
        if call.params.get("is_split") in ("1", "true"):
            oids = set(call.require("sub_tid").split(","))
            known = {line["oid_str"] for line in trade["orders"]["order"]}
            if not oids <= known:
                raise invalid("sub_tid", "sub_tid holds oids of another trade")
        for line in trade["orders"]["order"]:
            if oids is None or line["oid_str"] in oids:
                line["invoice_no"], line["logistics_company"] = out_sid, company
        self._set_status(str(call.shop), trade, "WAIT_BUYER_CONFIRM_GOODS", oids)
        return {"shipping": {"is_success": True}}

    def _refunds_receive_get(self, call: TopCall) -> dict[str, Any]:
        call.require("fields")
        start = parse_text(call.params["start_modified"]) if call.params.get("start_modified") else None
        end = parse_text(call.params["end_modified"]) if call.params.get("end_modified") else None
        page, size = call.integer("page_no", 1), call.integer("page_size", 40)
        matching = [r for r in self.shops[str(call.shop)].refunds.values()
                    if (start is None or parse_text(r["modified"]) >= start)
                    and (end is None or parse_text(r["modified"]) <= end)
                    and self._refund_listed(r)]
        matching.sort(key=lambda r: (r["modified"], r["refund_id"]), reverse=True)
        # The list's documented fields leave out refund.get's address and refund_remind_timeout.
        chunk = [{k: v for k, v in r.items() if k not in LIST_REFUND_OMITS}
                 for r in matching[(page - 1) * size: page * size]]
        return {"refunds": {"refund": chunk}, "total_results": len(matching),
                "has_next": page * size < len(matching)}

    def _refund_listed(self, refund: dict[str, Any]) -> bool:
        return True

    def _refund_get(self, call: TopCall) -> dict[str, Any]:
        refund = self.shops[str(call.shop)].refunds.get(call.require("refund_id"))
        if refund is None:
            raise TopApiError(15, "Remote service error", "isv.refund-not-exist", "refund does not exist")
        return {"refund": refund}

    # -- control endpoints ---------------------------------------------------------------------

    def control_routes(self) -> list[Route]:
        async def create(request: Request) -> JSONResponse:
            body = await request.json()
            try:
                tid = self.create_order(body["shop"], body["merchant_sku"], int(body.get("quantity", 1)),
                                        paid=bool(body.get("paid", True)))
            except SoldOut as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            return JSONResponse({"tid": tid})

        async def advance(request: Request) -> JSONResponse:
            body = await request.json()
            return JSONResponse({"status": self.advance_order(body["shop"], request.path_params["tid"])})

        async def fault(request: Request) -> JSONResponse:
            body = await request.json()
            self.inject_fault(body["fault"], int(body.get("count", 1)), seconds=float(body.get("seconds", 1.0)))
            return JSONResponse({"ok": True})

        async def stock(request: Request) -> JSONResponse:
            shop, sku = request.query_params["shop"], request.query_params["merchant_sku"]
            return JSONResponse({"quantity": self.shown_stock(shop, sku)})

        return [Route("/_sandbox/orders", create, methods=["POST"]),
                Route("/_sandbox/orders/{tid}/advance", advance, methods=["POST"]),
                Route("/_sandbox/faults", fault, methods=["POST"]),
                Route("/_sandbox/stock", stock, methods=["GET"]),
                *aftersale_routes(self)]
