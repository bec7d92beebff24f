"""A complete, minimal channel plugin for an invented platform, "myshop": the worked example of
``docs/plugin-authors.md``.

One module holds what a real plugin splits into client, mapping, connector, sandbox and plugin
modules: the settings model, a connector that reads orders and sets stock, an in-process sandbox
that speaks the invented protocol, and the two registration hooks. ``tests/unit/
test_docs_plugin_example.py`` runs the hub's conformance suite against it, so the example in the
docs stays correct. The platform, its URLs and its fields are invented; nothing here describes a
real partner.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts import (
    Capability,
    ChannelRef,
    ChannelStock,
    ConnectorContext,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    StockPushResult,
)
from hub.plugin_api import (
    AuthorizationError,
    BadInputError,
    NotFoundError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
    hookimpl,
)

# --- settings --------------------------------------------------------------------------------


class MyShopSettings(BaseModel):
    """What ``[shops.<name>.settings]`` (plus the resolved ``credentials``) must hold."""

    base_url: str = Field(min_length=1, description="The platform's API root.")
    api_key: str = Field(min_length=1, description="Secret: configure it under credentials.")


# --- mapping ---------------------------------------------------------------------------------

#: Every platform status → canonical status. An unknown word is bad input, never a guess.
STATUSES = {
    "unpaid": OrderStatus.PENDING_PAYMENT,
    "paid": OrderStatus.PAID,
    "shipped": OrderStatus.SHIPPED,
    "done": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
}


def order_from_payload(shop: str, data: dict[str, Any]) -> Order:
    """The platform's order JSON → ``contracts.Order`` (times are Unix seconds, prices strings)."""
    try:
        status = STATUSES[data["status"]]
    except KeyError as exc:
        raise BadInputError(f"myshop order {data.get('id')!r}: unknown status {data.get('status')!r}",
                            field="status") from exc
    return Order(
        ref=ChannelRef(platform="myshop", shop=shop, external_id=data["id"]),
        status=status,
        raw_status=data["status"],
        created_at=datetime.fromtimestamp(data["created"], UTC),
        updated_at=datetime.fromtimestamp(data["updated"], UTC),
        lines=[
            OrderLine(external_id=line["line_id"], merchant_sku=line["sku"], channel_item_id=line["item_id"],
                      quantity=line["qty"], unit_price=Money(amount=line["price"], currency="CNY"))
            for line in data["lines"]
        ],
        total=Money(amount=data["total"], currency="CNY"),
    )


# --- connector -------------------------------------------------------------------------------


def _raise_for(response: httpx.Response, what: str) -> None:
    """Translate the platform's error answers into the hub's error classes."""
    if response.status_code == 429:
        raise ThrottledError(f"myshop throttled {what}", code="429",
                             retry_after=float(response.headers.get("retry-after", "1")))
    if response.status_code == 401:
        raise AuthorizationError(f"myshop refused the API key for {what}; re-authorise the shop", code="401")
    if response.status_code == 404:
        raise NotFoundError(f"myshop has no {what}", code="404")
    if response.status_code >= 500:
        raise RetryableError(f"myshop is unavailable ({response.status_code}) for {what}",
                             code=str(response.status_code))
    if response.status_code >= 400:
        raise PermanentError(f"myshop refused {what}: {response.text[:200]}", code=str(response.status_code))


class MyShopChannel:
    """The "myshop" sales channel: reads orders and sets absolute stock values."""

    platform: ClassVar[str] = "myshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER, Capability.PUSH_STOCK})
    Settings: ClassVar[type[BaseModel]] = MyShopSettings
    max_stock_batch: ClassVar[int] = 1
    stock_adjust_idempotent: ClassVar[bool] = False

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.settings: MyShopSettings = context.settings
        self.http = build_http_client(self.settings.base_url)
        self.http.headers["x-api-key"] = self.settings.api_key

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get_order(self, external_id: str) -> Order:
        async def call() -> Order:
            await self.context.throttle()
            response = await self.http.get(f"/orders/{external_id}")
            _raise_for(response, f"order {external_id}")
            return order_from_payload(self.context.name, response.json())

        return await call_with_retries(call)  # a read: safe to repeat

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        results = []
        for value in values:
            async def call(value: ChannelStock = value) -> None:
                await self.context.throttle()
                response = await self.http.put(f"/stock/{value.merchant_sku}", json={"quantity": value.quantity})
                _raise_for(response, f"stock of {value.merchant_sku}")

            await call_with_retries(call)  # an absolute value: setting it twice is harmless
            results.append(StockPushResult(merchant_sku=value.merchant_sku, ok=True, quantity=value.quantity))
        return results


# --- sandbox ---------------------------------------------------------------------------------


class MyShopSandbox:
    """An in-process "myshop": an ASGI app speaking the protocol above, with test controls."""

    platform: ClassVar[str] = "myshop"
    API_KEY = "sandbox-key"
    _PATH: ClassVar[list[str]] = ["unpaid", "paid", "shipped", "done"]

    def __init__(self) -> None:
        self.demo_skus: list[str] = ["DEMO-1"]
        self.orders: dict[str, dict[str, Any]] = {}
        self.stock: dict[str, int] = {}
        self.faults: list[tuple[str, float]] = []
        self._ids = itertools.count(100001)
        self.app = Starlette(routes=[Route("/orders/{id}", self._get_order),
                                     Route("/stock/{sku}", self._put_stock, methods=["PUT"])])

    # The API -------------------------------------------------------------------------------

    async def _fault(self, request: Request) -> JSONResponse | None:
        if request.headers.get("x-api-key") != self.API_KEY:
            return JSONResponse({"error": "bad key"}, status_code=401)
        if not self.faults:
            return None
        fault, seconds = self.faults.pop(0)
        if fault == "throttle":
            return JSONResponse({"error": "slow down"}, status_code=429, headers={"retry-after": str(seconds)})
        if fault == "unavailable":
            return JSONResponse({"error": "try later"}, status_code=503)
        if fault == "auth":
            return JSONResponse({"error": "key revoked"}, status_code=401)
        await asyncio.sleep(seconds)  # "slow"
        return None

    async def _get_order(self, request: Request) -> JSONResponse:
        failed = await self._fault(request)
        if failed is not None:
            return failed
        order = self.orders.get(request.path_params["id"])
        return JSONResponse(order) if order else JSONResponse({"error": "no such order"}, status_code=404)

    async def _put_stock(self, request: Request) -> JSONResponse:
        failed = await self._fault(request)
        if failed is not None:
            return failed
        self.stock[request.path_params["sku"]] = int((await request.json())["quantity"])
        return JSONResponse({"ok": True})

    # The ChannelSandbox controls -----------------------------------------------------------

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": self.API_KEY}

    def set_push_target(self, shop: str, url: str | None) -> None:
        """myshop has no HTTP pushes: nothing to do."""

    async def demo_step(self, shop: str) -> None:
        self.create_order(shop, self.demo_skus[0])

    def create_order(self, shop: str, merchant_sku: str, quantity: int = 1, *, paid: bool = True) -> str:
        order_id = str(next(self._ids))
        now = int(datetime.now(UTC).timestamp())
        self.stock.setdefault(merchant_sku, 0)
        self.orders[order_id] = {
            "id": order_id, "status": "paid" if paid else "unpaid", "created": now, "updated": now,
            "lines": [{"line_id": f"{order_id}-1", "sku": merchant_sku, "item_id": f"item-{merchant_sku}",
                       "qty": quantity, "price": "9.90"}],
            "total": str(Decimal("9.90") * quantity),
        }
        return order_id

    def advance_order(self, shop: str, external_id: str) -> str:
        order = self.orders[external_id]
        order["status"] = self._PATH[min(self._PATH.index(order["status"]) + 1, len(self._PATH) - 1)]
        order["updated"] = int(datetime.now(UTC).timestamp())
        return str(order["status"])

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        self.faults += [(fault, seconds)] * count

    def shown_stock(self, shop: str, merchant_sku: str) -> int | None:
        return self.stock.get(merchant_sku)


# --- the plugin: what the entry point names --------------------------------------------------


@hookimpl
def register_channels() -> list[type[Any]]:
    return [MyShopChannel]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [MyShopSandbox]
