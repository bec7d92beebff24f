"""``AliExpressSandbox``: an ASGI emulator of AliExpress for tests, the demo and benchmarks.

Both gateways: IOP (``/sync`` for dotted APIs, ``/rest/<path>`` for system APIs, HMAC-SHA256
signature with the path rule, epoch-ms timestamps within 7200 s) and TOP-style (``/router/rest``,
the TOP signer, GMT+8 timestamps within 10 min, GET or POST; answers as ``top_gateway`` shapes
them: null fields and empty lists left out, ``simplify=true`` unwrapped) serving the same
``aliexpress.*`` methods and TMC
(``taobao.tmc.messages.consume``/``confirm``, unconfirmed messages redelivered; a shop's messages
are delivered only after ``taobao.tmc.user.permit`` with its session, and only the permitted
topics when ``topics`` was given — messages before the permit are held [U], as in ``top_gateway``). Stateful: listings
with stock per SKU (new listings start at 100; an order takes stock or fails with ``SoldOut``), orders
moving through AE statuses (FINISH once every line was refunded before shipping [U]), issues
(disputes, in ``sandbox_issues``). It counts calls per app per
Beijing day and bans the app until midnight once a configured quota is spent. ``inject_fault``
makes the next calls fail the platform's way. Control endpoints live under ``/_sandbox/``. Error
shapes it cannot confirm (IOP codes for "unavailable" and the app quota, the wrappers of some
lists, the issue errors) are its own choice, said in comments.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.plugin_api import sandbox_ids
from plugins.aliexpress.client import BEIJING, iop_sign, response_key, seconds_until_beijing_midnight
from plugins.aliexpress.mapping import format_pacific, parse_pacific
from plugins.aliexpress.sandbox_errors import SandboxError
from plugins.aliexpress.sandbox_issues import IssueControls, IssueDesk, SbIssue, Upload
from plugins.aliexpress.sandbox_listings import listing_handlers
from plugins.taobao.signing import sign_top
from plugins.taobao.top_gateway import simplified, without_empties

NEW_LISTING_STOCK = 100
NEXT_STATUS = {"PLACE_ORDER_SUCCESS": "WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS": "WAIT_BUYER_ACCEPT_GOODS",
               "SELLER_PART_SEND_GOODS": "WAIT_BUYER_ACCEPT_GOODS", "WAIT_BUYER_ACCEPT_GOODS": "FUND_PROCESSING",
               "FUND_PROCESSING": "FINISH"}
TOPICS = {"PLACE_ORDER_SUCCESS": "PlaceOrderSuccess", "WAIT_SELLER_SEND_GOODS": "WaitSellerSendGoods",
          "SELLER_PART_SEND_GOODS": "SellerPartSendGoods", "WAIT_BUYER_ACCEPT_GOODS": "WaitBuyerAcceptGoods",
          "FUND_PROCESSING": "FundProcessing", "FINISH": "Finish", "IN_CANCEL": "InCancel"}
FAULTS = ("throttle", "unavailable", "auth", "slow")


class SoldOut(Exception):
    """The listing has fewer units than the order asks for."""


@dataclass
class SbOrder:
    order_id: str
    shop: str
    status: str
    currency: str
    lines: list[dict[str, Any]]
    created: str
    modified: str
    paid: str | None = None
    tracking: list[dict[str, str]] = field(default_factory=list)
    end_reason: str = ""


@dataclass
class SbShop:
    name: str
    listings: dict[str, dict[str, int]] = field(default_factory=dict)  # product_id → sku_code → stock
    orders: dict[str, SbOrder] = field(default_factory=dict)
    issues: dict[str, SbIssue] = field(default_factory=dict)


@dataclass
class TmcMessage:
    id: str
    shop: str
    topic: str
    content: dict[str, Any]
    pub_time: str
    invisible_until: float = 0.0


async def _form(request: Request) -> tuple[dict[str, str], dict[str, Upload]]:
    """The request's params (form or multipart, plus the query string) and its files."""
    files: dict[str, Upload] = {}
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        out: dict[str, str] = {}
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, str):
                    out[key] = value
                else:
                    files[key] = (value.filename or "", await value.read(), value.content_type or "")
    else:
        fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
        out = {k: v[0] for k, v in fields.items()}
    out.update(request.query_params)
    return out, files


class AliExpressSandbox(IssueControls):
    """The emulator. ``app`` is ASGI; serve it with ``hub.plugin_api.serve_in_thread``."""

    platform = "aliexpress"
    #: SKUs ``demo_step`` orders (the hub's demo sets its catalogue here).
    demo_skus: list[str] = ["DEMO-TEE-M", "DEMO-TEE-L", "DEMO-MUG"]

    def __init__(self, *, app_key: str = "ae-sandbox-app", app_secret: str = "ae-sandbox-secret",
                 protocol: str = "iop", daily_quota: int = 0, iop_wrapped: bool = True,
                 redeliver_after: float = 1.0, quota_clock: Callable[[], datetime] | None = None,
                 issue_clock: Callable[[], datetime] | None = None) -> None:
        self.app_key, self.app_secret, self.protocol = app_key, app_secret, protocol
        self.daily_quota = daily_quota
        self.iop_wrapped = iop_wrapped  # [U] whether /sync wraps bodies: both shapes can be served
        self.redeliver_after = redeliver_after
        self.quota_clock = quota_clock or (lambda: datetime.now(BEIJING))
        #: The issues' clock (deadlines pass against it); set it to make a deadline pass.
        self.issue_clock = issue_clock or (lambda: datetime.now(UTC))
        self.issue_desk = IssueDesk(sandbox_ids(6100000000000001, 10), lambda: self.issue_clock())
        self.issue_desk.on_refunded = self._close_if_refunded
        self.shops: dict[str, SbShop] = {}
        self.calls: list[str] = []
        self.calls_per_day: dict[str, int] = {}
        self.stock_failures: dict[str, tuple[str, str]] = {}  # product_id → (error_code, error_message)
        self.unreadable_receipts: set[str] = set()  # order ids whose receiptinfo.get fails (ISV error)
        self.tmc: list[TmcMessage] = []
        self.tmc_permits: dict[str, list[str]] = {}  # shop → permitted topics ([]: every topic)
        self._faults: list[tuple[str, float]] = []
        self._ids = sandbox_ids(8100000000000001, 20)
        self._products = sandbox_ids(1005000000000001)
        self._lock = threading.RLock()
        self.app = Starlette(routes=[
            Route("/sync", self._iop_endpoint, methods=["POST", "GET"]),
            Route("/rest/{path:path}", self._iop_endpoint, methods=["POST", "GET"]),
            Route("/router/rest", self._top_endpoint, methods=["POST", "GET"]),
            Route("/_sandbox/orders", self._ctl_create, methods=["POST"]),
            Route("/_sandbox/orders/{order_id}/advance", self._ctl_advance, methods=["POST"]),
            Route("/_sandbox/faults", self._ctl_fault, methods=["POST"]),
            Route("/_sandbox/stock", self._ctl_stock, methods=["GET"]),
        ])

    # -- ChannelSandbox protocol -------------------------------------------------------------------

    def session_for(self, shop: str) -> str:
        return f"ae-session-{shop}"

    def tmc_permitted(self, shop: str) -> list[str] | None:
        """The TMC topics ``shop`` is permitted for (``[]``: every topic), or None before any permit."""
        with self._lock:
            return self.tmc_permits.get(shop)

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        self._shop(shop)
        return {"protocol": self.protocol, "iop_url": base_url, "top_url": f"{base_url}/router/rest",
                "app_key": self.app_key, "app_secret": self.app_secret, "session": self.session_for(shop),
                "tmc_group_name": "default", "default_service": "CAINIAO_STANDARD",
                "courier_services": {"SF": "SF_EXPRESS", "EMS": "EMS", "CAINIAO": "CAINIAO_STANDARD"}}

    def set_push_target(self, shop: str, url: str | None) -> None:
        """AliExpress pushes go over TMC, which the hub pulls: nothing to send to."""
        self._shop(shop)

    async def demo_step(self, shop: str) -> None:
        """A buyer's move, never the seller's (the hub fulfils the demo's orders): pay an order or
        place a new one."""
        unpaid = [o for o in self._shop(shop).orders.values() if o.status == "PLACE_ORDER_SUCCESS"]
        if unpaid and random.random() < 0.3:
            self.advance_order(shop, random.choice(unpaid).order_id)
        else:
            try:
                self.create_order(shop, random.choice(self.demo_skus), random.randint(1, 3),
                                  paid=random.random() < 0.7)
            except SoldOut:
                pass

    def create_order(self, shop: str, merchant_sku: str, quantity: int = 1, *, paid: bool = True) -> str:
        with self._lock:
            box = self._shop(shop)
            product_id = self.ensure_listing(shop, merchant_sku)
            stock = box.listings[product_id]
            if stock[merchant_sku] < quantity:
                raise SoldOut(f"{merchant_sku}: {stock[merchant_sku]} left, {quantity} asked")
            stock[merchant_sku] -= quantity
            order_id = str(next(self._ids))
            now = format_pacific(datetime.now(BEIJING))
            order = SbOrder(order_id=order_id, shop=shop, currency="USD", created=now, modified=now,
                            status="WAIT_SELLER_SEND_GOODS" if paid else "PLACE_ORDER_SUCCESS",
                            paid=now if paid else None,
                            lines=[{"id": str(int(order_id) + 10), "product_id": product_id, "sku_code": merchant_sku,
                                    "quantity": quantity, "price": "12.50"}])
            box.orders[order_id] = order
            self._publish(order, "PLACE_ORDER_SUCCESS", "PLACE_ORDER_SUCCESS")
            if paid:
                self._publish(order, order.status, "PLACE_ORDER_SUCCESS")
            return order_id

    def advance_order(self, shop: str, external_id: str) -> str:
        with self._lock:
            order = self._shop(shop).orders[external_id]
            if order.status not in NEXT_STATUS:
                return order.status
            self._move(order, NEXT_STATUS[order.status])
            return order.status

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults += [(fault, seconds)] * count

    def shown_stock(self, shop: str, merchant_sku: str) -> int | None:
        for skus in self._shop(shop).listings.values():
            if merchant_sku in skus:
                return skus[merchant_sku]
        return None

    # -- helpers for tests -------------------------------------------------------------------------

    def demo_list(self, shop: str, merchant_code: str, stock: int) -> None:
        """List a product with one SKU of ``merchant_code`` ("" for none), as a seller would before selling."""
        product_id = self.ensure_listing(shop, merchant_code)
        with self._lock:
            self._shop(shop).listings[product_id][merchant_code] = stock

    def ensure_listing(self, shop: str, merchant_sku: str, product_id: str | None = None) -> str:
        with self._lock:
            box = self._shop(shop)
            for pid, skus in box.listings.items():
                if merchant_sku in skus:
                    return pid
            pid = product_id or str(next(self._products))
            box.listings.setdefault(pid, {})[merchant_sku] = NEW_LISTING_STOCK
            return pid

    def _shop(self, shop: str) -> SbShop:
        with self._lock:
            return self.shops.setdefault(shop, SbShop(shop))

    def _shop_by_session(self, session: str | None) -> SbShop:
        for name, box in self.shops.items():
            if session == self.session_for(name):
                return box
        raise SandboxError("ISV", "IllegalAccessToken", "The specified access token is invalid or expired",
                           top_code=27, sub_code="invalid-sessionkey")

    def _move(self, order: SbOrder, status: str) -> None:
        last, order.status = order.status, status
        order.modified = format_pacific(datetime.now(BEIJING))
        if status == "FINISH" and not order.end_reason:
            order.end_reason = "buyer_accept_goods"
        self._publish(order, status, last)

    def _close_if_refunded(self, issue: SbIssue) -> None:
        """An issue refunded: when every line of the unshipped order has a ``refund_success`` issue
        and they paid back the order's amount, the order ends FINISH with the ending reason
        ``seller_accept_issue_no_goods_return`` and ``aliexpress_order_Finish`` goes out. [U] The
        docs we have state neither what a fully refunded unshipped order shows nor its end reason:
        FINISH is AE's only closed status ("closed; query it separately"), and the reason is one of
        those public integrations see on orders ended by an issue (``mapping.REFUNDED_END_REASONS``)."""
        with self._lock:
            order = self._shop(issue.shop).orders.get(issue.order_id)
            if order is None or order.status != "WAIT_SELLER_SEND_GOODS":
                return
            done = [i for i in self._shop(issue.shop).issues.values()
                    if i.order_id == order.order_id and i.status == "finish" and i.reverse == "refund_success"]
            paid = sum((Decimal(line["price"]) * line["quantity"] for line in order.lines), Decimal("0"))
            if ({str(line["id"]) for line in order.lines} - {i.sub_order_id for i in done}
                    or sum((IssueDesk.refunded(i) for i in done), Decimal("0")) < paid):
                return
            for line in order.lines:  # back on sale, as for a cancelled order [U]
                stock = self._shop(issue.shop).listings.get(str(line["product_id"]), {})
                if line["sku_code"] in stock:
                    stock[line["sku_code"]] += int(line["quantity"])
            order.end_reason = "seller_accept_issue_no_goods_return"
            self._move(order, "FINISH")

    def _publish(self, order: SbOrder, status: str, last: str) -> None:
        content = {"order_id": int(order.order_id), "current_status": status, "last_status": last,
                   "login_id": "us-buyer-1", "order_change_time": order.modified}
        self.tmc.append(TmcMessage(id=str(next(self._ids) + 3), shop=order.shop,
                                   topic=f"aliexpress_order_{TOPICS.get(status, 'OrderNotify')}", content=content,
                                   pub_time=datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")))

    # -- gateways ----------------------------------------------------------------------------------

    def _gate(self) -> tuple[str, float] | None:
        """Quota, then injected faults, for one API call (control endpoints never get here)."""
        with self._lock:
            now = self.quota_clock()
            day = f"{self.app_key}:{now.astimezone(BEIJING).date().isoformat()}"
            if self.daily_quota and self.calls_per_day.get(day, 0) >= self.daily_quota:
                wait = int(seconds_until_beijing_midnight(now))
                raise SandboxError("ISV", "AppCallLimit", f"App call limit exceeded. This ban will last for {wait} "
                                   "more seconds", top_code=7, sub_code="accesscontrol.limited-by-app-access-count")
            self.calls_per_day[day] = self.calls_per_day.get(day, 0) + 1
            return self._faults.pop(0) if self._faults else None

    async def _apply_fault(self, fault: tuple[str, float] | None) -> None:
        if fault is None:
            return
        kind, seconds = fault
        if kind == "slow":
            await asyncio.sleep(seconds)
        elif kind == "throttle":
            raise SandboxError("ISP", "ApiCallLimit", f"Api call limit. This ban will last for {int(seconds)} more "
                               "seconds", top_code=7, sub_code="accesscontrol.limited-by-api-access-count")
        elif kind == "unavailable":
            # IOP code chosen by the sandbox [U]; TOP: code 15 with an isp.* sub-code (§1).
            raise SandboxError("ISP", "ServiceUnavailable", "Remote service error", top_code=15,
                               sub_code="isp.top-remote-service-unavailable")
        elif kind == "auth":
            raise SandboxError("ISV", "IllegalAccessToken", "The specified access token is invalid or expired",
                               top_code=27, sub_code="invalid-sessionkey")

    async def _iop_endpoint(self, request: Request) -> JSONResponse:
        form, files = await _form(request)
        path = request.path_params.get("path")
        api = f"/{path}" if path is not None else form.get("method", "")
        request_id = f"sb{time.time_ns()}"
        try:
            if form.get("app_key") != self.app_key:
                raise SandboxError("ISV", "InvalidAppKey", "The app key is invalid", top_code=29)
            if abs(int(form.get("timestamp") or 0) / 1000 - time.time()) > 7200:
                raise SandboxError("ISV", "InvalidTimestamp", "The timestamp is out of range", top_code=31)
            if form.get("sign") != iop_sign(api, {k: v for k, v in form.items() if k != "sign"}, self.app_secret):
                raise SandboxError("ISV", "IncompleteSignature",
                                   "The request signature does not conform to platform standards", top_code=25)
            await self._apply_fault(self._gate())
            body = self._dispatch(api, form, files)
        except SandboxError as err:
            return JSONResponse({"code": err.code, "type": err.kind, "message": err.message, "request_id": request_id})
        self.calls.append(api)
        if path is not None or not self.iop_wrapped:
            return JSONResponse({"code": "0", **body, "request_id": request_id})
        return JSONResponse({response_key(api): {**body, "request_id": request_id}})

    async def _top_endpoint(self, request: Request) -> JSONResponse:
        form, files = await _form(request)
        method = form.get("method", "")
        request_id = f"sb{time.time_ns()}"
        try:
            if form.get("app_key") != self.app_key:
                raise SandboxError("ISV", "InvalidAppKey", "Invalid App Key", top_code=29,
                                   sub_code="isv.appkey-not-exists")
            stamp = form.get("timestamp", "")
            sent = (int(stamp) / 1000 if stamp.isdigit() else
                    datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp())
            if abs(sent - time.time()) > 600:
                raise SandboxError("ISV", "InvalidTimestamp", "Invalid Timestamp", top_code=31)
            try:
                expected = sign_top({k: v for k, v in form.items() if k != "sign"}, self.app_secret)
            except ValueError:
                expected = ""
            if form.get("sign") != expected:
                raise SandboxError("ISV", "InvalidSignature", "Invalid Signature", top_code=25)
            await self._apply_fault(self._gate())
            body = self._dispatch(method, form, files)
        except (SandboxError, ValueError) as err:
            if isinstance(err, ValueError):
                err = SandboxError("ISV", "InvalidTimestamp", "Invalid Timestamp", top_code=31)
            error = {"code": err.top_code, "msg": err.message, "request_id": request_id}
            if err.sub_code:
                error.update({"sub_code": err.sub_code, "sub_msg": err.message})
            return JSONResponse({"error_response": error})
        self.calls.append(method)
        # As TOP answers: null fields and empty lists left out; simplify=true (JSON) unwrapped.
        answer = without_empties({**body, "request_id": request_id})
        if form.get("simplify") == "true" and (form.get("format") or "xml") == "json":
            return JSONResponse(simplified(answer))
        return JSONResponse({response_key(method): answer})

    def _dispatch(self, api: str, form: dict[str, str], files: dict[str, Upload]) -> dict[str, Any]:
        with self._lock:
            if api == "aliexpress.issue.image.upload":
                return self.issue_desk.image_upload(self._shop_by_session(form.get("session")), form, files)
            if api == "taobao.tmc.messages.consume":
                return self._tmc_consume(form)
            if api == "taobao.tmc.user.permit":
                shop = self._shop_by_session(form.get("session")).name
                self.tmc_permits[shop] = [t.strip() for t in form.get("topics", "").split(",") if t.strip()]
                return {"is_success": True}
            if api == "taobao.tmc.messages.confirm":
                ids = set(form.get("s_message_ids", "").split(","))
                self.tmc = [m for m in self.tmc if m.id not in ids]
                return {"is_success": True}
            if api in ("/auth/token/refresh", "/auth/token/create"):
                return {"access_token": "ae-session-refreshed", "refresh_token": "ae-refresh", "expires_in": 2592000}
            handlers = {
                "aliexpress.solution.order.get": self._order_list,
                "aliexpress.solution.order.info.get": self._order_info,
                "aliexpress.solution.order.receiptinfo.get": self._receipt,
                "aliexpress.solution.batch.product.inventory.update": self._inventory,
                "aliexpress.solution.order.fulfill": self._fulfill,
                "aliexpress.issue.issuelist.get": self.issue_desk.issue_list,
                "aliexpress.issue.detail.get": self.issue_desk.issue_detail,
                "aliexpress.issue.solution.agree": self.issue_desk.solution_agree,
                "aliexpress.issue.solution.save": self.issue_desk.solution_save,
                **listing_handlers(),
            }
            if api not in handlers:
                raise SandboxError("ISV", "InvalidApi", f"Invalid method {api}", top_code=22)
            return handlers[api](self._shop_by_session(form.get("session")), form)

    def _tmc_consume(self, form: dict[str, str]) -> dict[str, Any]:
        quantity = int(form.get("quantity") or 100)
        now = time.monotonic()
        session = form.get("session")
        shop = self._shop_by_session(session).name if session else None
        out: list[dict[str, Any]] = []
        for message in self.tmc:
            if len(out) >= quantity:
                break
            if message.invisible_until > now or (shop and message.shop != shop):
                continue
            permitted = self.tmc_permits.get(message.shop)
            if permitted is None or (permitted and message.topic not in permitted):
                continue  # TMC delivers a seller's messages only once permitted

            message.invisible_until = now + self.redeliver_after  # redelivered unless confirmed
            out.append({"id": int(message.id), "topic": message.topic, "content": json.dumps(message.content),
                        "pub_time": message.pub_time, "pub_app_key": self.app_key, "user_nick": message.shop})
        return {"messages": {"tmc_message": out}} if out else {}

    # -- orders --------------------------------------------------------------------------------------

    def _detail(self, order: SbOrder, with_address: bool = True) -> dict[str, Any]:
        amount = sum(float(line["price"]) * line["quantity"] for line in order.lines)
        data: dict[str, Any] = {
            "id": int(order.order_id), "order_status": order.status, "gmt_create": order.created,
            "gmt_modified": order.modified, "gmt_pay_success": order.paid or "",
            "fund_status": "PAY_SUCCESS" if order.paid else "NOT_PAY", "order_end_reason": order.end_reason,
            "buyerloginid": "us-buyer-1", "order_amount": {"currency_code": order.currency, "amount": f"{amount:.2f}"},
            "child_order_list": [{"id": int(line["id"]), "product_id": int(line["product_id"]),
                                  "sku_code": line["sku_code"], "product_count": line["quantity"],
                                  "product_price": {"currency_code": order.currency, "amount": line["price"]},
                                  "product_name": f"Sandbox {line['sku_code']}", "order_status": order.status}
                                 for line in order.lines],
            "logistic_info_list": [dict(t) for t in order.tracking],
        }
        if with_address:
            data["receipt_address"] = self._address()
        return data

    @staticmethod
    def _address() -> dict[str, str]:
        return {"contact_person": "Jane Roe", "country": "US", "province": "California", "city": "San Jose",
                "address": "1 Market St", "address2": "Apt 2", "detail_address": "", "zip": "95113",
                "mobile_no": "4085550123"}

    def _find(self, box: SbShop, raw_id: Any) -> SbOrder:
        order = box.orders.get(str(raw_id))
        if order is None:
            raise SandboxError("ISV", "isv.order-not-found", f"order {raw_id} not found", top_code=50,
                               sub_code="isv.order-not-found")
        return order

    def _order_list(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        query = json.loads(form.get("param0") or "{}")
        start, end = parse_pacific(query.get("modified_date_start")), parse_pacific(query.get("modified_date_end"))
        rows = sorted((o for o in box.orders.values()
                       if (start is None or parse_pacific(o.modified) >= start)  # type: ignore[operator]
                       and (end is None or parse_pacific(o.modified) <= end)),  # type: ignore[operator]
                      key=lambda o: o.modified, reverse=True)
        size, page = int(query.get("page_size") or 20), int(query.get("current_page") or 1)
        chunk = rows[(page - 1) * size: page * size]
        dtos = [{"order_id": int(o.order_id), "order_status": o.status, "gmt_create": o.created,
                 "gmt_update": o.modified, "gmt_pay_time": o.paid or "", "buyer_login_id": "us-buyer-1",
                 "pay_amount": self._detail(o)["order_amount"], "end_reason": o.end_reason,
                 "fund_status": self._detail(o)["fund_status"],
                 "product_list": {"order_product_dto": [
                     {"order_id": int(line["id"]), "product_id": int(line["product_id"]), "sku_code": line["sku_code"],
                      "product_count": line["quantity"], "product_name": f"Sandbox {line['sku_code']}",
                      "product_unit_price": {"currency_code": o.currency, "amount": line["price"]},
                      "son_order_status": o.status}
                     for line in o.lines]}} for o in chunk]
        return {"result": {"success": True, "total_count": len(rows), "current_page": page, "page_size": size,
                           "total_page": max(1, -(-len(rows) // size)), "target_list": {"order_dto": dtos}}}

    def _order_info(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        query = json.loads(form.get("param1") or "{}")
        return {"result": {"error_code": "", "error_message": "", "data": self._detail(self._find(box, query.get(
            "order_id")))}}

    def _receipt(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        order = self._find(box, json.loads(form.get("param1") or "{}").get("order_id"))
        if order.order_id in self.unreadable_receipts:
            raise SandboxError("ISV", "isv.receipt-not-found", f"no receipt for order {order.order_id}",
                               top_code=50, sub_code="isv.receipt-not-found")
        return {"result": self._address()}

    def _inventory(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        products = json.loads(form.get("mutiple_product_update_list") or "[]")
        if len(products) > 20 or any(len(p.get("multiple_sku_update_list") or []) > 200 for p in products):
            raise SandboxError("ISV", "isv.invalid-parameter", "at most 20 products and 200 SKUs each",
                               top_code=41, sub_code="isv.invalid-parameter")
        failed: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        for product in products:
            pid = str(product.get("product_id"))
            skus = box.listings.get(pid)
            problem = self.stock_failures.get(pid) or (None if skus is not None else ("product_not_found",
                                                                                      f"product {pid} not found"))
            unknown = [s["sku_code"] for s in product["multiple_sku_update_list"] if skus and s["sku_code"] not in skus]
            if problem is None and unknown:
                problem = ("sku_not_found", f"sku {unknown[0]} not in product {pid}")
            if problem is not None:
                failed.append({"product_id": int(pid), "error_code": problem[0], "error_message": problem[1]})
                continue
            for sku in product["multiple_sku_update_list"]:
                skus[sku["sku_code"]] = int(sku["inventory"])  # type: ignore[index]
            done.append({"product_id": int(pid)})
        # The list wrappers of this answer are undocumented: served as bare lists.
        return {"update_success": not failed, "update_failed_list": failed, "update_successful_list": done}

    def _fulfill(self, box: SbShop, form: dict[str, str]) -> dict[str, Any]:
        order = self._find(box, form.get("out_ref"))
        for required in ("service_name", "send_type", "logistics_no"):
            if not form.get(required):
                raise SandboxError("ISV", "MissingParameter", f"missing {required}", top_code=40)
        if order.status not in ("WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS"):
            return {"result": {"result_success": False, "result_error_code": "ORDER_STATUS_ERROR",
                               "result_error_desc": f"order is {order.status}"}}
        order.tracking.append({"logistics_no": form["logistics_no"], "logistics_type_code": form["service_name"],
                               "gmt_send": format_pacific(datetime.now(BEIJING))})
        self._move(order, "WAIT_BUYER_ACCEPT_GOODS" if form["send_type"] == "all" else "SELLER_PART_SEND_GOODS")
        return {"result": {"result_success": True}}

    # -- control endpoints -------------------------------------------------------------------------

    async def _ctl_create(self, request: Request) -> JSONResponse:
        data = await request.json()
        try:
            order_id = self.create_order(data["shop"], data["merchant_sku"], int(data.get("quantity", 1)),
                                         paid=bool(data.get("paid", True)))
        except SoldOut as exc:
            return JSONResponse({"error": "SoldOut", "message": str(exc)}, status_code=409)
        return JSONResponse({"order_id": order_id})

    async def _ctl_advance(self, request: Request) -> JSONResponse:
        data = await request.json()
        return JSONResponse({"status": self.advance_order(data["shop"], request.path_params["order_id"])})

    async def _ctl_fault(self, request: Request) -> JSONResponse:
        data = await request.json()
        self.inject_fault(data["fault"], int(data.get("count", 1)), seconds=float(data.get("seconds", 1.0)))
        return JSONResponse({"ok": True})

    async def _ctl_stock(self, request: Request) -> JSONResponse:
        return JSONResponse({"quantity": self.shown_stock(request.query_params["shop"], request.query_params["sku"])})
