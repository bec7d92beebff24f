"""``QimenWmsSandbox``: an ASGI emulator of a WMS behind Qimen, for tests and the demo.

It verifies the signature of every request (params + raw XML body), stores delivery orders
(refusing a second create with the same ``deliveryOrderCode``, as a WMS does), answers
``deliveryorder.query``, ``order.cancel`` and ``inventory.query`` from stock kept per
``itemCode``, and can ``ship`` an order and produce the signed ``deliveryorder.confirm`` and
``stockchange.report`` callbacks a WMS would send. ``inject_fault`` makes the next calls fail.
Not a ``contracts.ChannelSandbox`` (a WMS is not a sales channel): not registered as one.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugins.warehouse.client import (
    CONTENT_TYPE,
    METHOD_PREFIX,
    china_time,
    parse_xml,
    qimen_sign,
    short_method,
    sub,
    text_of,
    to_xml,
)

SERVICE_PATH = "/router/qimen/service"
FAULTS = ("unavailable", "failure", "lost_reply", "slow", "bad_sign")


@dataclass
class SandboxDeliveryOrder:
    code: str
    warehouse_id: str
    status: str
    source_platform: str
    receiver: dict[str, str]
    lines: list[tuple[str, str, int]]  # (orderLineNo, itemCode, planQty)
    express_code: str | None = None


@dataclass
class SandboxStock:
    quantity: int = 0
    locked: int = 0


@dataclass
class QimenWmsSandbox:
    """The emulator; ``app`` is the ASGI application, ``service_url(base)`` the URL to configure."""

    app_key: str = "sandbox-erp-appkey"
    secret: str = "sandbox-erp-secret"
    customer_id: str = "SANDBOX-WMS"
    owner_code: str = "OWNER1"
    warehouse_code: str = "WH-HZ-01"
    callback_method_prefix: str = METHOD_PREFIX
    orders: dict[str, SandboxDeliveryOrder] = field(default_factory=dict)
    stock: dict[str, SandboxStock] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    slow_seconds: float = 1.0

    def __post_init__(self) -> None:
        self._faults: list[str] = []
        self._ids = itertools.count(880001)
        self._biz = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route(SERVICE_PATH, self._service, methods=["POST"])])

    # ------------------------------------------------------------------ driving the sandbox

    def service_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + SERVICE_PATH

    def warehouse_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for a ``QimenWarehouse`` that talks to this sandbox."""
        return {
            "url": self.service_url(base_url),
            "app_key": self.app_key,
            "app_secret": self.secret,
            "customer_id": self.customer_id,
            "owner_code": self.owner_code,
            "warehouse_code": self.warehouse_code,
        }

    def set_stock(self, item_code: str, quantity: int, locked: int = 0) -> None:
        with self._lock:
            self.stock[item_code] = SandboxStock(quantity, locked)

    def inject_fault(self, fault: str, count: int = 1) -> None:
        """Next ``count`` requests: ``unavailable`` (HTTP 503), ``failure`` (flag failure),
        ``lost_reply`` (do the work, then answer HTTP 502 as if the answer were lost), ``slow``
        (answer after ``slow_seconds``); or sign the next ``count`` callbacks wrongly (``bad_sign``)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([fault] * count)

    def _take_fault(self, kinds: tuple[str, ...]) -> str | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault in kinds:
                    return self._faults.pop(index)
        return None

    # ------------------------------------------------------------------ the WMS side of the protocol

    @staticmethod
    def _reply(flag: str, code: str, message: str, extra: ET.Element | None = None) -> Response:
        root = extra if extra is not None else ET.Element("response")
        root.insert(0, _element("message", message))
        root.insert(0, _element("code", code))
        root.insert(0, _element("flag", flag))
        return Response(to_xml(root), media_type=CONTENT_TYPE)

    def _failure(self, code: str, message: str) -> Response:
        return self._reply("failure", code, message)

    async def _service(self, request: Request) -> Response:
        params = dict(request.query_params)
        body = (await request.body()).decode("utf-8")
        method = short_method(params.get("method", ""))
        self.calls.append(method)
        fault = self._take_fault(("unavailable", "failure", "lost_reply", "slow"))
        if fault == "unavailable":
            return Response("Service Unavailable", status_code=503)
        if fault == "failure":
            return self._failure("SYSTEM_ERROR", "系统繁忙")  # ⚠️ illustrative code, not a confirmed Qimen one
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        if params.get("app_key") != self.app_key:
            return self._failure("INVALID_APP_KEY", "app_key 无效")  # ⚠️ illustrative code
        signed = {k: v for k, v in params.items() if k != "sign"}
        if params.get("sign") != qimen_sign(signed, body, self.secret):
            return self._failure("SIGN_ERROR", "签名错误")  # ⚠️ illustrative code
        root = parse_xml(body, f"sandbox {method}")
        handler = {
            "deliveryorder.create": self._create,
            "deliveryorder.query": self._query_order,
            "order.cancel": self._cancel,
            "inventory.query": self._inventory,
        }.get(method)
        if handler is None:
            return self._failure("METHOD_NOT_SUPPORTED", f"不支持的方法 {method}")
        with self._lock:
            response = handler(root)
        if fault == "lost_reply":
            return Response("Bad Gateway", status_code=502)
        return response

    def _create(self, root: ET.Element) -> Response:
        head = root.find("deliveryOrder")
        code = text_of(head, "deliveryOrderCode")
        if not code:
            return self._failure("MISSING_FIELD", "deliveryOrderCode 必填")
        if code in self.orders:
            return self._failure("DUPLICATE", f"出库单 {code} 已存在")  # ⚠️ wording varies per WMS
        receiver_el = head.find("receiverInfo") if head is not None else None
        receiver = {child.tag: child.text or "" for child in (receiver_el if receiver_el is not None else [])}
        lines = [
            (text_of(line, "orderLineNo"), text_of(line, "itemCode"), int(text_of(line, "planQty", "0")))
            for line in root.iterfind("orderLines/orderLine")
        ]
        for _, item, qty in lines:  # the WMS freezes what it will ship
            stock = self.stock.setdefault(item, SandboxStock())
            stock.quantity -= qty
            stock.locked += qty
        order = SandboxDeliveryOrder(code, f"WMS{next(self._ids)}", "ACCEPT", text_of(head, "sourcePlatformCode"),
                                     receiver, lines)
        self.orders[code] = order
        extra = ET.Element("response")
        sub(extra, "createTime", china_time())
        sub(extra, "deliveryOrderId", order.warehouse_id)
        sub(extra, "warehouseCode", self.warehouse_code)
        return self._reply("success", "0", "", extra)

    def _query_order(self, root: ET.Element) -> Response:
        order = self.orders.get(text_of(root, "orderCode") or text_of(root, "deliveryOrderCode"))
        if order is None:
            return self._failure("NOT_FOUND", "单据不存在")
        extra = ET.Element("response")
        head = sub(extra, "deliveryOrder")
        sub(head, "deliveryOrderCode", order.code)
        sub(head, "deliveryOrderId", order.warehouse_id)
        sub(head, "warehouseCode", self.warehouse_code)
        sub(head, "orderType", "JYCK")
        sub(head, "status", order.status)
        return self._reply("success", "0", "", extra)

    def _cancel(self, root: ET.Element) -> Response:
        order = self.orders.get(text_of(root, "orderCode"))
        if order is None:
            return self._failure("NOT_FOUND", "单据不存在")
        if order.status == "CANCELED":
            return self._failure("ALREADY_CANCELED", "单据已取消")
        if order.status in ("DELIVERED", "PARTDELIVERED"):
            return self._failure("ALREADY_DELIVERED", "单据已发货，不能取消")
        order.status = "CANCELED"
        for _, item, qty in order.lines:
            stock = self.stock[item]
            stock.quantity += qty
            stock.locked -= qty
        return self._reply("success", "0", "")

    def _inventory(self, root: ET.Element) -> Response:
        extra = ET.Element("response")
        items = sub(extra, "items")
        for criteria in root.iterfind("criteriaList/criteria"):
            code = text_of(criteria, "itemCode")
            stock = self.stock.get(code)
            if stock is None:
                continue
            item = sub(items, "item")
            sub(item, "warehouseCode", self.warehouse_code)
            sub(item, "itemCode", code)
            sub(item, "inventoryType", "ZP")
            sub(item, "quantity", max(0, stock.quantity))
            sub(item, "lockQuantity", stock.locked)
        return self._reply("success", "0", "", extra)

    # ------------------------------------------------------------------ callbacks (WMS → ERP)

    def _signed(self, method: str, request: ET.Element) -> tuple[dict[str, str], bytes]:
        body = to_xml(request)
        params = {
            "method": self.callback_method_prefix + method,
            "v": "2.0",
            "app_key": self.app_key,
            "timestamp": china_time(datetime.now(UTC)),
            "format": "xml",
            "sign_method": "md5",
            "customerId": self.customer_id,
        }
        sign = qimen_sign(params, body, self.secret)
        if self._take_fault(("bad_sign",)):
            sign = qimen_sign(params, body, self.secret + "-wrong")
        params["sign"] = sign
        return params, body.encode("utf-8")

    def ship(self, code: str, express_code: str, logistics_code: str = "SF", weight_kg: str | None = None
             ) -> tuple[dict[str, str], bytes]:
        """Ship delivery order ``code`` in one package (``weight_kg``: its ``weight``, ⚠️ [U] an
        unconfirmed field); returns the signed ``deliveryorder.confirm`` callback (query params,
        body) the WMS sends."""
        with self._lock:
            order = self.orders[code]
            order.status = "DELIVERED"
            order.express_code = express_code
            for _, shipped_code, qty in order.lines:
                self.stock[shipped_code].locked -= qty
        request = ET.Element("request")
        head = sub(request, "deliveryOrder")
        sub(head, "deliveryOrderCode", order.code)
        sub(head, "deliveryOrderId", order.warehouse_id)
        sub(head, "warehouseCode", self.warehouse_code)
        sub(head, "orderType", "JYCK")
        sub(head, "status", "DELIVERED")
        sub(head, "outBizCode", f"CONFIRM-{order.code}-{next(self._biz)}")
        sub(head, "confirmType", "0")
        sub(head, "orderConfirmTime", china_time())
        package = sub(sub(request, "packages"), "package")
        sub(package, "logisticsCode", logistics_code)
        sub(package, "expressCode", express_code)
        sub(package, "packageCode", f"PKG-{order.warehouse_id}")
        if weight_kg is not None:
            sub(package, "weight", weight_kg)
        items = sub(package, "items")
        for _, item_code, qty in order.lines:
            item = sub(items, "item")
            sub(item, "itemCode", item_code)
            sub(item, "quantity", qty)
        lines = sub(request, "orderLines")
        for line_no, item_code, qty in order.lines:
            line = sub(lines, "orderLine")
            sub(line, "orderLineNo", line_no)
            sub(line, "itemCode", item_code)
            sub(line, "inventoryType", "ZP")
            sub(line, "actualQty", qty)
        return self._signed("deliveryorder.confirm", request)

    def stock_change(self, item_code: str, delta: int, order_code: str = "", order_type: str = "PYRK") -> tuple[
        dict[str, str], bytes
    ]:
        """Change stock (a count, a receipt…) and return the signed ``stockchange.report``."""
        with self._lock:
            self.stock.setdefault(item_code, SandboxStock()).quantity += delta
        request = ET.Element("request")
        item = sub(sub(request, "items"), "item")
        sub(item, "ownerCode", self.owner_code)
        sub(item, "warehouseCode", self.warehouse_code)
        sub(item, "orderCode", order_code or f"ADJ{next(self._biz)}")
        sub(item, "orderType", order_type)
        sub(item, "outBizCode", f"SC-{next(self._biz)}")
        sub(item, "itemCode", item_code)
        sub(item, "inventoryType", "ZP")
        sub(item, "quantity", delta)
        sub(item, "changeTime", china_time())
        return self._signed("stockchange.report", request)

    async def send_callback(self, url: str, callback: tuple[dict[str, str], bytes]) -> httpx.Response:
        """POST a callback (from ``ship`` or ``stock_change``) to the ERP's URL."""
        params, body = callback
        async with httpx.AsyncClient(timeout=10.0) as http:
            return await http.post(url, params=params, content=body, headers={"content-type": CONTENT_TYPE})


def _element(tag: str, text: str) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    return element
