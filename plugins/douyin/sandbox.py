"""``DouyinSandbox``: an ASGI emulator of the Douyin shop open platform for tests and the demo.

It serves the gateway paths (``POST /order/searchList`` …) and checks what the real gateway
checks (``sandbox_gate``: ``app_key``, the ``method`` matching the path, ``timestamp`` in any form
SDKs send, the signature over ``param_json`` as received) and the ``access_token``
(``sandbox_tokens``: tokens that expire, ``token.create`` from an authorisation code or for a
self-use app, ``token.refresh``). The platform's clock is ``book.clock``, so a test can move time
on. It answers the real envelope and codes, keeps stateful shops (``sandbox_shop``),
can be told to fail (``inject_fault``) and sends signed pushes (``app-id``/``event-sign``, JSON
arrays of several messages) to the URL set per shop, normally, duplicated or shuffled.

Push delivery: ``create_order`` and friends are synchronous, so their pushes are queued. A
background task started in the app's lifespan delivers the queue every ``push_interval_s`` while
the app runs under a server (``auto_deliver=True``); ``await deliver_pushes()`` delivers at once
(``demo_step`` calls it). Both take the queue atomically, so nothing is sent twice by accident.
Control endpoints under ``/_sandbox/`` drive a sandbox running in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.plugin_api import sandbox_ids, serve_in_thread
from plugins.douyin import sandbox_aftersales
from plugins.douyin.client import TOKEN_METHODS, canonical_json
from plugins.douyin.push import encode_messages, event_sign
from plugins.douyin.sandbox_api import HANDLERS
from plugins.douyin.sandbox_gate import check_request
from plugins.douyin.sandbox_shop import ApiFailure, EmulatedShop, ShopBook, SoldOut
from plugins.douyin.sandbox_tokens import Grant, TokenIssuer
from plugins.douyin.sandbox_waybill import collect, ebill_status, issued_count

__all__ = ["DouyinSandbox", "SoldOut", "serve_in_thread"]

FAULTS = ("throttle", "unavailable", "auth", "slow", "lost_reply", "late_reply")
PUSH_MODES = ("normal", "duplicate", "shuffle")
DEMO_SKUS = ("DEMO-TEE-M", "DEMO-TEE-L", "DEMO-MUG")


@dataclass
class Delivery:
    shop: str
    url: str
    status: int | None
    messages: int
    error: str | None = None


class DouyinSandbox:
    """The emulator; ``app`` is the ASGI application (implements ``contracts.ChannelSandbox``)."""

    platform: ClassVar[str] = "douyin"
    #: SKUs ``demo_step`` orders (the hub's demo sets its catalogue here).
    demo_skus: list[str] = ["DEMO-TEE-M", "DEMO-TEE-L", "DEMO-MUG"]

    def __init__(self, *, app_key: str = "7123456789012345678", app_secret: str = "sandbox-douyin-secret",
                 sign_method: str = "hmac-sha256", auto_deliver: bool = True, push_interval_s: float = 0.2,
                 push_batch_size: int = 5, seed: int | None = None) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.sign_method = sign_method
        self.auto_deliver = auto_deliver
        self.push_interval_s = push_interval_s
        self.push_batch_size = push_batch_size
        self.push_mode = "normal"
        self.push_targets: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.calls: list[str] = []
        self.book = ShopBook()
        self.tokens = TokenIssuer(lambda: self.book.clock(), self.book.lock)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults: list[tuple[str, float]] = []
        self._release = threading.Event()
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._msg_ids = sandbox_ids(7_000_000_000_000_000_001)
        self.app = Starlette(routes=[*self._control_routes(), Route("/{path:path}", self._api, methods=["POST"])],
                             lifespan=self._lifespan)

    # ------------------------------------------------------------------ ChannelSandbox protocol

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        """Settings with a token pair already issued (as if the shop had been authorised); a test of
        the authorisation flow drops the tokens and uses ``authorization_code(shop)``."""
        state, grant = self.book.shop(shop), self.grant(shop)
        return {"gateway_url": base_url.rstrip("/"), "app_key": self.app_key, "app_secret": self.app_secret,
                "shop_id": str(state.shop_id), "access_token": grant.access_token,
                "refresh_token": grant.refresh_token, "sign_method": self.sign_method,
                "throttle_retry_after_s": 0.2}

    def waybill_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        """Settings for a ``DouyinWaybill`` account using ``shop``'s e-waybill subscription."""
        settings = self.shop_settings(shop, base_url)
        return {k: settings[k] for k in ("gateway_url", "app_key", "app_secret", "shop_id", "access_token",
                                         "refresh_token", "sign_method", "throttle_retry_after_s")}

    def collect_waybill(self, shop: str, track_no: str) -> None:
        """The courier collected the parcel: the number can no longer be cancelled."""
        collect(self.book, shop, track_no)

    def waybill_status(self, shop: str, track_no: str) -> str | None:
        """``issued``, ``cancelled`` or ``collected``; None for a number never issued."""
        return ebill_status(self.book, shop, track_no)

    def issued_waybills(self, shop: str) -> int:
        """How many numbers ``shop``'s e-waybill subscription has issued."""
        return issued_count(self.book, shop)

    def set_push_target(self, shop: str, url: str | None) -> None:
        with self._lock:
            if url is None:
                self.push_targets.pop(shop, None)
            else:
                self.push_targets[shop] = url

    async def demo_step(self, shop: str) -> None:
        """A buyer's move, never the shop's (the hub fulfils the demo's orders): pay an order or
        place a new order. After-sales are asked for through ``create_aftersale`` by whoever drives
        the demo (the hub's ``hub.demo_aftersales`` opens a paced mix of refunds, returns and exchanges)."""
        unpaid = [o.order_id for o in self.book.shop(shop).orders.values() if o.status == "1"]
        if unpaid and self._rng.random() < 0.3:
            self.advance_order(shop, self._rng.choice(unpaid))
        else:
            codes = list(self.demo_skus)
            self.create_order(shop, self._rng.choice(codes), self._rng.randint(1, 2),
                              paid=self._rng.random() < 0.7)
        await self.deliver_pushes()

    def create_order(self, shop: str, merchant_sku: str, quantity: int = 1, *, paid: bool = True) -> str:
        """Create an order (a listing with stock 100 appears if needed); ``SoldOut`` when short."""
        order_id = self.book.create_order(shop, merchant_sku, quantity, paid)
        self._queue_events()
        return order_id

    def advance_order(self, shop: str, external_id: str) -> str:
        status = self.book.advance(shop, external_id)
        self._queue_events()
        return status

    def cancel_order(self, shop: str, external_id: str) -> None:
        self.book.cancel(shop, external_id)
        self._queue_events()

    # ------------------------------------------------------------------ after-sales (uniform surface)

    def create_aftersale(self, shop: str, order_id: str, kind: str | int = "refund_only", *,
                         amount: Decimal | str | None = None, reason: str | None = None,
                         aftersale_type: int | None = None) -> str:
        """The buyer opens a case on a paid (or shipped) order: ``kind`` "refund_only" (Douyin type
        2 before shipping, 1 after) | "return_and_refund" (0) | "exchange" (3), or a Douyin
        ``aftersale_type`` (also as ``aftersale_type=``, the older spelling). ``amount`` in yuan
        (default: what was paid for the sub-order; more is a ``ValueError``). Pushes 200."""
        chosen: str | int = aftersale_type if aftersale_type is not None else kind
        amount_fen = None if amount is None else int((Decimal(str(amount)) * 100).to_integral_value())
        aftersale_id = sandbox_aftersales.open_case(self.book, shop, order_id, chosen, amount_fen=amount_fen,
                                                    reason=reason)
        self._queue_events()
        return aftersale_id

    def buyer_returns_goods(self, shop: str, case_id: str, *, tracking_number: str = "SF1000000001",
                            company: str = "SF") -> None:
        """The buyer ships the goods back (only after the seller agreed): 7 → 11, push 203."""
        sandbox_aftersales.buyer_returns(self.book, shop, case_id, tracking_number, company)
        self._queue_events()

    def buyer_receives_replacement(self, shop: str, case_id: str) -> None:
        """The buyer confirms the exchange's replacement arrived: 13 → 14."""
        sandbox_aftersales.buyer_receives(self.book, shop, case_id)
        self._queue_events()

    def buyer_modifies_aftersale(self, shop: str, case_id: str, *, amount: Decimal | str | None = None,
                                 remark: str | None = None) -> None:
        """The buyer changes a waiting (or refused) request: its ``update_time`` moves, push 208."""
        amount_fen = None if amount is None else int((Decimal(str(amount)) * 100).to_integral_value())
        sandbox_aftersales.buyer_modifies(self.book, shop, case_id, amount_fen=amount_fen, remark=remark)
        self._queue_events()

    def buyer_cancels_aftersale(self, shop: str, case_id: str) -> None:
        """The buyer withdraws an open case (→ 28, push 207)."""
        sandbox_aftersales.buyer_cancels(self.book, shop, case_id)
        self._queue_events()

    def require_backend(self, shop: str, case_id: str) -> None:
        """From now on ``afterSale.operate`` refuses this case with 11001 (only the 抖店 back office
        may decide it, as the platform does for some cases)."""
        with self.book.lock:
            self.book.shop(shop).aftersales[str(case_id)].backend_only = True

    def aftersale_raw(self, shop: str, case_id: str) -> dict[str, Any]:
        """The case as ``afterSale.Detail`` answers now (``process_info``, ``order_info``), plus the
        seller's refusal as sent (``refusal``) and the change log (``records``)."""
        with self.book.lock:
            case = self.book.shop(shop).aftersales[str(case_id)]
            raw = sandbox_aftersales.render_detail(case)
            raw["refusal"] = dict(case.refusal)
            raw["records"] = list(case.records)
            return raw

    def advance_aftersale(self, shop: str, aftersale_id: str) -> int:
        """The platform acts for a silent party (deadline passed): a waiting refund is paid, a waiting
        return agreed, the buyer's return simulated, returned goods refunded. Returns the status."""
        status = sandbox_aftersales.platform_advances(self.book, shop, aftersale_id)
        self._queue_events()
        return status

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        """Next ``count`` business calls: ``throttle`` (60000), ``unavailable`` (20000
        dop.service-error), ``auth`` (the shop's token expires → 40003 isv.access-token-expired),
        ``slow`` (answer after ``seconds``), ``lost_reply`` (do the work, then answer 20001 as
        if the gateway timed out) or ``late_reply`` (do the work, then hold the answer until
        ``release_replies()`` or ``seconds``: the client times out after the work was done).
        Token calls are never faulted."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([(fault, seconds)] * count)

    def release_replies(self) -> None:
        """Let every answer held by a ``late_reply`` fault go (their clients have given up)."""
        self._release.set()

    def shown_stock(self, shop: str, merchant_sku: str) -> int | None:
        sku = self.book.shop(shop).skus.get(merchant_sku)
        return None if sku is None else sku.stock

    # ------------------------------------------------------------------ more driving

    @property
    def clock(self) -> Callable[[], float]:
        """The platform's clock (Unix seconds): order times, pushes, token expiry and the
        ``timestamp`` check follow it (``book.clock``)."""
        return self.book.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.book.clock = clock

    def take_signed_push(self, shop: str) -> tuple[dict[str, str], bytes] | None:
        """The messages queued for ``shop`` as one signed push (headers, body), taken from the queue
        instead of being sent; None when none are queued. Messages queue only for a shop with a
        push target (``set_push_target``)."""
        with self._lock:
            mine = [m for s, m in self._outbox if s == shop]
            self._outbox = [(s, m) for s, m in self._outbox if s != shop]
        return self.signed_push(mine) if mine else None

    def demo_list(self, shop: str, merchant_code: str, stock: int) -> None:
        """List a product with one SKU of ``merchant_code`` ("" for none), as a seller would before selling."""
        self.book.listing(shop, merchant_code, stock)

    def listing(self, shop: str, merchant_sku: str, stock: int = 100) -> tuple[str, str]:
        """(product_id, sku_id) of a listing, created with ``stock`` if new."""
        sku = self.book.listing(shop, merchant_sku, stock)
        return sku.product_id, sku.sku_id

    def grant(self, shop: str) -> Grant:
        """The shop's current token pair (one is issued when the shop is first seen)."""
        state = self.book.shop(shop)
        with self.book.lock:
            current = self.tokens.current.get(shop)
            return current if current is not None else self.tokens.issue(shop, state.shop_id)

    def authorization_code(self, shop: str) -> str:
        """A one-time code (valid 10 min) as the merchant's consent page would hand the app."""
        return self.tokens.issue_code(shop, self.book.shop(shop).shop_id)

    def expire_token(self, shop: str) -> None:
        """The shop's access token expires now; its refresh token still works."""
        self.grant(shop)
        self.tokens.expire(shop)

    def close_authorization(self, shop: str) -> None:
        """The merchant revoked the app (→ 30001 ``dop.authorization-closed``)."""
        self.book.shop(shop).authorization_closed = True

    def set_push_mode(self, mode: str) -> None:
        if mode not in PUSH_MODES:
            raise ValueError(f"unknown push mode {mode!r}; expected one of {', '.join(PUSH_MODES)}")
        self.push_mode = mode

    # ------------------------------------------------------------------ pushes

    def _queue_events(self) -> None:
        with self.book.lock:
            events, self.book.events = self.book.events, []
        with self._lock:
            for shop, tag, data in events:
                if shop not in self.push_targets:
                    continue  # the platform pushes only to configured apps
                self._outbox.append((shop, {"tag": tag, "msg_id": str(next(self._msg_ids)),
                                            "data": canonical_json(data)}))

    def pending_pushes(self) -> int:
        with self._lock:
            return len(self._outbox)

    def _arrange(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.push_mode == "duplicate":
            messages = messages + [dict(m) for m in messages]
            self._rng.shuffle(messages)
        elif self.push_mode == "shuffle":
            messages = list(messages)
            self._rng.shuffle(messages)
        return messages

    def signed_push(self, messages: list[dict[str, Any]]) -> tuple[dict[str, str], bytes]:
        body = encode_messages(messages)
        headers = {"content-type": "application/json", "app-id": self.app_key,
                   "event-sign": event_sign(self.app_key, body, self.app_secret)}
        return headers, body

    async def deliver_pushes(self) -> int:
        """POST every queued message to its shop's target, ``push_batch_size`` per request."""
        with self._lock:
            queued, self._outbox = self._outbox, []
            targets = dict(self.push_targets)
        by_shop: dict[str, list[dict[str, Any]]] = {}
        for shop, message in queued:
            by_shop.setdefault(shop, []).append(message)
        sent = 0
        async with httpx.AsyncClient(timeout=10.0) as http:
            for shop, messages in by_shop.items():
                url = targets.get(shop)
                if url is None:
                    continue
                arranged = self._arrange(messages)
                for first in range(0, len(arranged), self.push_batch_size):
                    chunk = arranged[first:first + self.push_batch_size]
                    headers, body = self.signed_push(chunk)
                    try:
                        response = await http.post(url, content=body, headers=headers)
                        self.deliveries.append(Delivery(shop, url, response.status_code, len(chunk)))
                        sent += len(chunk)
                    except httpx.HTTPError as exc:
                        self.deliveries.append(Delivery(shop, url, None, len(chunk), type(exc).__name__))
        return sent

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(self._deliver_forever()) if self.auto_deliver else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _deliver_forever(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval_s)
            if self.pending_pushes():
                await self.deliver_pushes()

    # ------------------------------------------------------------------ the gateway

    @staticmethod
    def _envelope(data: Any = None, failure: ApiFailure | None = None) -> Response:
        log_id = f"sbx{time.time_ns()}"
        if failure is None:
            body = {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": log_id, "data": data}
        else:
            body = {"code": failure.code, "msg": failure.msg, "sub_code": failure.sub_code,
                    "sub_msg": failure.sub_msg, "log_id": log_id, "data": {}}
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    def _take_fault(self) -> tuple[str, float] | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _shop_for(self, token: str | None) -> EmulatedShop:
        if not token:
            raise ApiFailure(40001, "isv.access-token-missing", "缺少access_token")
        name, valid = self.tokens.holder(token)
        if name is None:
            raise ApiFailure(40003, "isv.access-token-no-existed", "access_token不存在")
        shop = self.book.shop(name)
        if shop.authorization_closed:
            raise ApiFailure(30001, "dop.authorization-closed", "店铺授权已关闭")
        if not valid:
            raise ApiFailure(40003, "isv.access-token-expired", "access_token已过期")
        return shop

    def _token_call(self, method: str, params: dict[str, Any]) -> Any:
        """``token.create`` / ``token.refresh`` (no access token; never faulted)."""
        if method == "token.create":
            with self.book.lock:
                shops_by_id = {s.shop_id: (s.name, s.authorization_closed) for s in self.book.shops.values()}
            data = self.tokens.create(params, shops_by_id)
            if params.get("grant_type") == "authorization_code":
                self.book.shop(str(data["shop_name"])).authorization_closed = False  # consented again
            return data
        holder = self.tokens.refresh_holder(str(params.get("refresh_token") or ""))
        if holder is not None and self.book.shop(holder).authorization_closed:
            raise ApiFailure(30001, "dop.authorization-closed", "店铺授权已关闭")  # [U] refresh after revocation
        return self.tokens.refresh(params)

    async def _api(self, request: Request) -> Response:
        path = request.path_params["path"]
        raw = await request.body()
        try:
            method, params = check_request(path, request.query_params, raw, app_key=self.app_key,
                                           app_secret=self.app_secret, now=self.book.clock())
            self.calls.append(method)
            if method in TOKEN_METHODS:
                return self._envelope(self._token_call(method, params))
            fault = self._take_fault()
            lost_reply = late_reply = False
            hold_s = 0.0
            if fault is not None:
                kind, seconds = fault
                if kind == "throttle":
                    raise ApiFailure(60000, "isv.request-limited", "请求过于频繁")  # sub_code: sandbox's own
                if kind == "unavailable":
                    raise ApiFailure(20000, "dop.service-error", "服务不可用")
                if kind == "auth":
                    holder, _ = self.tokens.holder(request.query_params.get("access_token") or "")
                    if holder is not None:
                        self.tokens.expire(holder)
                if kind == "slow":
                    await asyncio.sleep(seconds)
                lost_reply = kind == "lost_reply"
                late_reply, hold_s = kind == "late_reply", seconds
            shop = self._shop_for(request.query_params.get("access_token"))
            handler = HANDLERS.get(method)
            if handler is None:
                raise ApiFailure(70000, "isp.api-service-off", "API不存在或已下线", method)
            data = handler(self.book, shop, params)
            self._queue_events()
            if lost_reply:
                raise ApiFailure(20001, "dop.service-timeout", "服务超时")
            if late_reply:
                await self._hold(hold_s)
            return self._envelope(data)
        except ApiFailure as failure:
            return self._envelope(failure=failure)

    async def _hold(self, seconds: float) -> None:
        """Wait until ``release_replies()`` or ``seconds`` (the work is already done)."""
        self._release.clear()
        await asyncio.to_thread(self._release.wait, seconds)

    # ------------------------------------------------------------------ control endpoints

    def _control_routes(self) -> list[Route]:
        async def body(request: Request) -> dict[str, Any]:
            raw = await request.body()
            return json.loads(raw) if raw else {}

        async def orders(request: Request) -> Response:
            args = await body(request)
            try:
                order_id = self.create_order(args["shop"], args["merchant_sku"], int(args.get("quantity", 1)),
                                             paid=bool(args.get("paid", True)))
            except SoldOut as exc:
                return JSONResponse({"error": "sold_out", "detail": str(exc)}, status_code=409)
            return JSONResponse({"order_id": order_id})

        async def advance(request: Request) -> Response:
            args = await body(request)
            return JSONResponse({"order_status": self.advance_order(args["shop"], str(args["order_id"]))})

        async def aftersales(request: Request) -> Response:
            args = await body(request)
            kind = args.get("kind") or int(args.get("type", 2))
            try:
                case_id = self.create_aftersale(args["shop"], str(args["order_id"]), kind, amount=args.get("amount"),
                                                reason=args.get("reason"))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            return JSONResponse({"aftersale_id": case_id})

        async def aftersale_move(request: Request) -> Response:
            args = await body(request)
            move = request.path_params["move"]
            try:
                if move == "return":
                    self.buyer_returns_goods(args["shop"], str(args["case_id"]),
                                             tracking_number=args.get("tracking_number", "SF1000000001"),
                                             company=args.get("company", "SF"))
                elif move == "receive":
                    self.buyer_receives_replacement(args["shop"], str(args["case_id"]))
                else:
                    return JSONResponse({"error": f"unknown move {move!r}"}, status_code=404)
            except (ValueError, KeyError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            return JSONResponse(self.aftersale_raw(args["shop"], str(args["case_id"])))

        async def aftersale_raw(request: Request) -> Response:
            q = request.query_params
            try:
                return JSONResponse(self.aftersale_raw(q.get("shop", ""), q.get("case_id", "")))
            except KeyError:
                return JSONResponse({"error": "no such after-sale"}, status_code=404)

        async def faults(request: Request) -> Response:
            args = await body(request)
            try:
                self.inject_fault(args["fault"], int(args.get("count", 1)), seconds=float(args.get("seconds", 1.0)))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"ok": True})

        async def stock(request: Request) -> Response:
            q = request.query_params
            return JSONResponse({"stock": self.shown_stock(q.get("shop", ""), q.get("merchant_sku", ""))})

        async def push_mode(request: Request) -> Response:
            try:
                self.set_push_mode((await body(request))["mode"])
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"mode": self.push_mode})

        async def push_target(request: Request) -> Response:
            args = await body(request)
            self.set_push_target(args["shop"], args.get("url"))
            return JSONResponse({"ok": True})

        async def deliver(request: Request) -> Response:
            return JSONResponse({"delivered": await self.deliver_pushes()})

        async def expire(request: Request) -> Response:
            self.expire_token((await body(request))["shop"])
            return JSONResponse({"ok": True})

        async def code(request: Request) -> Response:
            return JSONResponse({"code": self.authorization_code((await body(request))["shop"])})

        async def close(request: Request) -> Response:
            self.close_authorization((await body(request))["shop"])
            return JSONResponse({"ok": True})

        async def settings(request: Request) -> Response:
            return JSONResponse(self.shop_settings((await body(request))["shop"], str(request.base_url)))

        return [
            Route("/_sandbox/orders", orders, methods=["POST"]),
            Route("/_sandbox/orders/advance", advance, methods=["POST"]),
            Route("/_sandbox/aftersales", aftersales, methods=["POST"]),
            Route("/_sandbox/aftersales/raw", aftersale_raw, methods=["GET"]),
            Route("/_sandbox/aftersales/{move}", aftersale_move, methods=["POST"]),
            Route("/_sandbox/faults", faults, methods=["POST"]),
            Route("/_sandbox/stock", stock, methods=["GET"]),
            Route("/_sandbox/push_mode", push_mode, methods=["POST"]),
            Route("/_sandbox/push_target", push_target, methods=["POST"]),
            Route("/_sandbox/pushes/deliver", deliver, methods=["POST"]),
            Route("/_sandbox/tokens/expire", expire, methods=["POST"]),
            Route("/_sandbox/authorization/close", close, methods=["POST"]),
            Route("/_sandbox/authorization/code", code, methods=["POST"]),
            Route("/_sandbox/shops", settings, methods=["POST"]),
        ]


@contextlib.contextmanager
def running(sandbox: DouyinSandbox) -> Iterator[str]:
    """``with running(DouyinSandbox()) as base_url:`` — the sandbox under real uvicorn on
    127.0.0.1 in a background thread (``hub.asgi_server``)."""
    with serve_in_thread(sandbox.app) as base_url:
        yield base_url
