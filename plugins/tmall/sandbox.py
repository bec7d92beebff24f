"""``TmallSandbox``: the Taobao sandbox as a Tmall (B2C, ``seller_type`` B) shop, plus the Tmall
methods the Tmall connector calls: ``tmall.item.quantity.update``, the ``tmall.exchange.*``
reads and writes (``sandbox_exchanges``: the exchange state machine) and the service work cards
(``sandbox_workcards``: ``tmall.servicecenter.workcard.querybyseller`` and the five write calls,
with their TMC messages). Calls that upload pictures arrive as multipart; the TOP gateway emulator
hands their files to the method.

Work cards, for tests and the demo: ``create_workcard(order_external_id=…)`` (the shop is the one
holding that trade; emits TaskUpdate CREATE), ``raise_service_alert(workcard_id, level=…,
content=…)`` (a ServiceMonitorMessage), ``workcard_raw(workcard_id)`` (the DTO as querybyseller
returns it) and ``tp_moves_workcard(workcard_id, action)`` (the service provider acts by itself:
assign, reserve, signin, complete or cancel).

The uniform after-sales control surface: ``create_aftersale(shop, tid, "exchange")`` opens an
exchange (other kinds go to the Taobao sandbox's ``create_aftersale`` when it has one, else to a
plain TOP refund), ``buyer_returns_goods``, ``buyer_receives_replacement``, ``buyer_closes_exchange``
and ``aftersale_raw`` act on exchanges here and on refunds through the Taobao sandbox.
"""

from __future__ import annotations

import json
import string
from datetime import datetime
from typing import Any, ClassVar

from plugins.taobao.sandbox import SandboxSku, TaobaoSandbox
from plugins.taobao.top_gateway import TopApiError, TopCall, invalid
from plugins.tmall.sandbox_exchanges import SandboxExchanges
from plugins.tmall.sandbox_workcards import SandboxWorkcards


class TmallSandbox(TaobaoSandbox):
    platform: ClassVar[str] = "tmall"
    seller_type: ClassVar[str] = "B"
    #: Tmall trades, items and TMC messages are numbered in TOP's one space with Taobao's: ranges
    #: of their own, so a Tmall and a Taobao sandbox running together never issue the same id.
    first_trade_id: ClassVar[int] = 3_950_000_000_000_000_001
    first_item_id: ClassVar[int] = 60_000_000_000_001
    first_message_id: ClassVar[int] = 7_150_000_000_000_000_001

    def __init__(self, **kwargs: Any) -> None:
        #: outer_biz_key values of increments already applied: a repeat is answered, not applied
        #: again [U: the doc calls the key an idempotency key for increments; the answer to a
        #: repeat is not documented, so the sandbox answers it like the first].
        self.applied_keys: set[str] = set()
        self._exchange_desk: SandboxExchanges | None = None
        self._workcard_desk: SandboxWorkcards | None = None
        super().__init__(**kwargs)

    @property
    def exchanges(self) -> SandboxExchanges:
        """The exchanges and their handlers (made on first use: the base class registers handlers
        from its ``__init__``, before this class's own state would exist)."""
        if self._exchange_desk is None:
            self._exchange_desk = SandboxExchanges(self.gateway, self.now_text, lambda shop: self.shop(shop).nick)
        return self._exchange_desk

    @property
    def workcards(self) -> SandboxWorkcards:
        """The service work cards and their handlers (made on first use, as ``exchanges``)."""
        if self._workcard_desk is None:
            self._workcard_desk = SandboxWorkcards(self.gateway, self.now_text, lambda shop: self.shop(shop).nick)
        return self._workcard_desk

    def handlers(self) -> dict[str, Any]:
        return {**super().handlers(),
                **self.exchanges.handlers(),
                **self.workcards.handlers(),
                "tmall.item.quantity.update": self._tmall_quantity_update}

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

    # -- service work cards ------------------------------------------------------------------------

    def create_workcard(self, *, order_external_id: str, line_external_id: str | None = None,
                        merchant_sku: str | None = None, title: str | None = None,
                        service_code: str = "TMALL_INSTALL", province: str = "浙江省", city: str = "杭州市",
                        district: str = "西湖区", expect_date: datetime | None = None,
                        created_at: datetime | None = None) -> str:
        """A work card for the goods of trade ``order_external_id`` (its first line, or
        ``line_external_id``), in the shop holding that trade; returns the card's id and queues
        TaskUpdate CREATE (and WorkcardStatusUpdate create). ``service_code`` ``TMALL_INSTALL`` is
        a sandbox code, not Tmall's; ``created_at`` backdates ``gmt_create`` (for window tests)."""
        with self.lock:
            shop, trade = self._trade_anywhere(order_external_id)
            lines = trade["orders"]["order"]
            line = lines[0] if line_external_id is None else next(
                (x for x in lines if str(x["oid"]) == str(line_external_id)), None)
            if line is None:
                raise KeyError(f"trade {order_external_id} has no line {line_external_id}")
            return self.workcards.open(shop, trade, line, merchant_sku=merchant_sku, title=title,
                                       service_code=service_code, region=(province, city, district),
                                       expect_date=expect_date, created_at=created_at)

    def raise_service_alert(self, workcard_id: str, *, level: int = 2, content: str = "师傅未在6小时内上报") -> str:
        """Tmall's SLA monitor flags the card: a ServiceMonitorMessage (biz_type 1); returns the alert id."""
        with self.lock:
            return self.workcards.alert(workcard_id, level, content)

    def workcard_raw(self, workcard_id: str) -> dict[str, Any]:
        """The card as querybyseller returns it (before the gateway drops empty fields)."""
        with self.lock:
            return self.workcards.raw(workcard_id)

    def tp_moves_workcard(self, workcard_id: str, action: str) -> None:
        """The service provider moves the card by itself: ``assign``, ``reserve`` (tomorrow, two
        hours), ``signin``, ``complete`` or ``cancel``; queues the TMC messages. ``ValueError`` when
        the card's state does not allow it."""
        with self.lock:
            self.workcards.tp_moves(workcard_id, action)

    def _trade_anywhere(self, tid: str) -> tuple[str, dict[str, Any]]:
        for name, shop in self.shops.items():
            if str(tid) in shop.trades:
                return name, shop.trades[str(tid)]
        raise KeyError(f"no shop of this sandbox has trade {tid}")

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
