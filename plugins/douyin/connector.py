"""``DouyinChannel``: the hub's ``ChannelConnector`` for one Douyin shop (抖店).

Orders: signed pushes as triggers (``parse_push``), ``order.orderDetail`` for one order,
``order.searchList`` by update time for the orders a batch of pushes names (``get_orders``) and as
the safety-net poll. Stock: ``sku.syncStockBatchMultiProducts``
(≤50) or ``sku.syncStock``; changes (partitioned groups) one per ``syncStockBatchMultiProducts``
with ``incremental`` and ``idempotent_id``; read back with ``sku.list``. Shipping: ``order.logisticsAdd`` or
``order.logisticsAddMultiPack`` after checking the order. After-sales: ``afterSale.List`` /
``afterSale.Detail``; decisions with ``afterSale.operate``, a reissue's (补寄) parcel with
``afterSale.fillLogistics`` (``aftersale_decisions``). Buyer data:
``order.batchDecrypt``. Not for wire details (``client``),
translation (``mapping``) or push parsing (``push``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from contracts import (
    Address,
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    Capability,
    ChannelStock,
    ChannelStockChange,
    ChannelStockReading,
    ConnectorContext,
    InboundMessage,
    Order,
    OrderPage,
    PushReceipt,
    RefuseReason,
    ServiceOrder,
    Shipment,
    ShipmentConfirmation,
    ShopAuthorization,
    StockPushResult,
    canonical_courier_code,
    canonical_courier_map,
)
from contracts.listings import ListingPage
from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditResult
from hub.plugin_api import (
    AuthorizationError,
    BadInputError,
    PermanentError,
    RetryableError,
    ThrottledError,
    bulk_listing_pays,
    map_each,
)
from plugins.douyin import listings as douyin_listings
from plugins.douyin import mapping, push
from plugins.douyin import order_edits as douyin_edits
from plugins.douyin.aftersale_decisions import ACTIONS as AFTERSALE_ACTIONS
from plugins.douyin.aftersale_decisions import AfterSaleDecisions
from plugins.douyin.client import DEFAULT_GATEWAY, IDEMPOTENT_ID_EXISTED, DouyinRefusal, client_for

log = structlog.get_logger(__name__)

MAX_STOCK_BATCH = 50
#: ``get_orders`` pages: ``order.searchList``'s largest ``size`` (§2), the fewest calls per window.
BULK_PAGE_SIZE = 100
STATE_STOCK_GENERATIONS = "stock_batch_generations"
_MAX_REMEMBERED_BATCHES = 500

#: ⚠️ Hub courier code → Douyin ``company_code``. The real codes come from
#: ``order.logisticsCompanyList`` (they resemble Kuaidi100's pinyin codes, §4, unconfirmed): check
#: them with ``DouyinChannel.logistics_companies()`` and override in the shop's ``courier_codes``.
DEFAULT_COURIER_CODES: dict[str, str] = {
    "SF": "shunfeng",
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "STO": "shentong",
    "YUNDA": "yunda",
    "EMS": "ems",
    "JD": "jd",
    "JT": "jtexpress",
    "DBL": "debangkuaidi",
    "HTKY": "huitongkuaidi",
}


class DouyinSettings(BaseModel):
    """One Douyin shop. ``app_secret`` (and ``access_token``/``refresh_token`` when given rather than
    obtained with ``hub shop authorize``) come from the environment."""

    model_config = ConfigDict(extra="forbid")

    gateway_url: str = Field(default=DEFAULT_GATEWAY, min_length=1)
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    shop_id: str = Field(min_length=1, description="The shop's Douyin shop_id: a push message naming another "
                         "shop_id is rejected, and app-level pushes are routed to the shop by it.")
    access_token: SecretStr | None = Field(default=None, description="Optional: without it a tool app is "
                                           "authorised with `hub shop authorize`, a self-use app takes its own.")
    refresh_token: SecretStr | None = None
    app_type: Literal["tool", "self"] = Field(
        default="tool", description="tool (工具型: the merchant authorises, an operator hands the hub the code) or "
        "self (自用型: token.create with authorization_self for shop_id, no person needed).")
    token_refresh_margin_s: float = Field(default=1800, ge=60, lt=3600, description="Refresh this long before "
                                          "the access token expires (the platform rotates only in the last hour).")
    sign_method: Literal["md5", "hmac-sha256"] = Field(
        default="hmac-sha256", description="The Go SDK sends hmac-sha256; the Python/Java SDKs md5.")
    min_call_interval_ms: int = Field(default=0, ge=0, description="Pacing inside this connector on top of the "
                                      "hub's per-shop token bucket. Per-API quotas are unpublished ⚠️.")
    throttle_retry_after_s: float = Field(default=1.0, gt=0, description="Wait after a 60000 (Douyin names none).")
    page_size: int = Field(default=100, ge=1, le=100)
    max_aftersale_pages: int = Field(default=20, ge=1)
    courier_codes: dict[str, str] = Field(default_factory=lambda: canonical_courier_map(DEFAULT_COURIER_CODES),
                                          description="Hub courier code (any case) → Douyin company_code.")
    ids_as_strings: bool = Field(default=False, description="⚠️ send product_id/sku_id as JSON strings "
                                 "(legacy docs) instead of numbers (current SDK).")
    timeout_s: float = Field(default=15.0, gt=0)

    @field_validator("shop_id", "app_key", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("courier_codes")
    @classmethod
    def _canonical_couriers(cls, value: dict[str, str]) -> dict[str, str]:
        return canonical_courier_map(value)


class DouyinChannel:
    """One Douyin shop."""

    platform: ClassVar[str] = "douyin"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.POLL_ORDERS, Capability.GET_ORDER, Capability.GET_ORDERS, Capability.RECEIVE_PUSH,
        Capability.PUSH_STOCK, Capability.ADJUST_STOCK, Capability.READ_STOCK, Capability.CONFIRM_SHIPMENT,
        Capability.AFTERSALES, Capability.DECIDE_AFTERSALES, Capability.REVEAL_BUYER, Capability.RECEIVE_APP_PUSH,
        Capability.AUTHORIZE, Capability.LIST_LISTINGS,
        Capability.EDIT_ORDERS,
    })
    Settings: ClassVar[type[BaseModel]] = DouyinSettings
    max_stock_batch: ClassVar[int] = MAX_STOCK_BATCH
    #: ``idempotent_id`` makes a repeated change fail with ``isv.idempotent-id-existed`` (§3).
    stock_adjust_idempotent: ClassVar[bool] = True
    #: ``afterSale.operate`` decisions, and ``reissue`` (its parcel by ``afterSale.fillLogistics``);
    #: ``receive_exchange`` is not one (311 = received + reshipped, sent at ``ship_exchange``), so the
    #: hub records it and ``decide_aftersale`` says so.
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = AFTERSALE_ACTIONS
    #: The remark and its star, and the address within the order's region (``order_edits``); the other
    #: kinds stay in the hub.
    order_edit_kinds: ClassVar[frozenset[OrderEditKind]] = douyin_edits.DOUYIN_EDIT_KINDS

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: DouyinSettings = context.settings
        self.settings = settings
        self.shop = context.name
        self.client = client_for(context, settings)
        self._companies: dict[str, str] | None = None
        self.decisions = AfterSaleDecisions(self.client, self.shop, self.company_code)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- authorisation ---------------------------------------------------------------------------

    async def authorize(self, code: str) -> ShopAuthorization:
        """Exchange the merchant's authorisation code for tokens (``token.create``), kept in the shop
        state and refreshed from then on. A self-use app ignores ``code`` (``authorization_self``)."""
        data = await self.client.create_tokens(code)
        tokens = await self.client.tokens()
        return ShopAuthorization(
            shop=self.shop, account_id=mapping.text(data.get("shop_id")) or self.settings.shop_id,
            account_name=mapping.text(data.get("shop_name")) or None,
            expires_at=datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None)

    # -- orders ----------------------------------------------------------------------------------

    async def _order_detail(self, external_id: str) -> dict[str, Any]:
        data = await self.client.call("order.orderDetail", {"shop_order_id": str(external_id)})
        detail = (data or {}).get("shop_order_detail") if isinstance(data, dict) else None
        if not detail:
            raise PermanentError(f"shop {self.shop!r}: Douyin order {external_id} has no shop_order_detail")
        return dict(detail)

    async def get_order(self, external_id: str) -> Order:
        return mapping.map_order(await self._order_detail(external_id), self.shop)

    async def fetch_orders(self, start: datetime, end: datetime, cursor: str | None) -> OrderPage:
        """One page of ``order.searchList`` by update time; the cursor is the next page (from 0)."""
        page = int(cursor) if cursor else 0
        size = self.settings.page_size
        data = await self.client.call("order.searchList", mapping.search_params(start, end, page, size)) or {}
        raw_orders = data.get("shop_order_list") or []
        orders, rejected = map_each(raw_orders, lambda item: mapping.map_order(item, self.shop),
                                    lambda item: item.get("order_id"))
        total = int(mapping.text(data.get("total")) or 0)
        more = len(raw_orders) == size and (page + 1) * size < total
        return OrderPage(orders=orders, next_cursor=str(page + 1) if more else None, rejected=rejected)

    async def get_orders(self, external_ids: Sequence[str], *,
                         modified_between: tuple[datetime, datetime] | None = None) -> OrderPage:
        """The asked-for orders among those updated in ``modified_between``, read with
        ``order.searchList`` by update time in pages of 100 (its largest) instead of one
        ``order.orderDetail`` each. A ``shop_order_list[]`` item has the detail's shape (the
        official Go SDK's list and detail structs hold the same fields, the detail adding only
        promotion and campaign blocks the mapping does not read), so it maps the same.

        The first page tells ``total``; later pages are read only while that costs less than
        fetching the missing orders one by one (``bulk_listing_pays``), and no further once every
        asked order is found. Orders not found are left out: the hub fetches them with
        ``get_order``. Without a window nothing is asked."""
        wanted = {str(order_id) for order_id in external_ids}
        if not wanted or modified_between is None:
            return OrderPage(orders=[])
        start, end = modified_between
        if end <= start:
            return OrderPage(orders=[])
        found: dict[str, dict[str, Any]] = {}
        page = 0
        while True:
            params = mapping.search_params(start, end, page, BULK_PAGE_SIZE)
            data = await self.client.call("order.searchList", params) or {}
            rows = data.get("shop_order_list") or []
            for row in rows:
                order_id = mapping.text(row.get("order_id")) if isinstance(row, dict) else ""
                if order_id in wanted:
                    found[order_id] = row
            total = int(mapping.text(data.get("total")) or 0)
            if len(found) == len(wanted) or len(rows) < BULK_PAGE_SIZE or (page + 1) * BULK_PAGE_SIZE >= total:
                break
            if page == 0 and not bulk_listing_pays(total, BULK_PAGE_SIZE, len(wanted), len(wanted) - len(found)):
                break
            page += 1
        orders, rejected = map_each(found.values(), lambda item: mapping.map_order(item, self.shop),
                                    lambda item: item.get("order_id"))
        return OrderPage(orders=orders, rejected=rejected)

    @classmethod
    def push_app_of(cls, headers: Mapping[str, str]) -> str | None:
        """The ``app-id`` header: one Douyin app pushes every authorised shop's messages to one URL."""
        return push.app_of(headers)

    def push_app(self) -> str:
        return self.settings.app_key

    def account_id(self) -> str:
        """``shop_id``, which every trade and after-sale push names in its ``data``."""
        return self.settings.shop_id

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushReceipt:
        receipt = push.parse_push(headers, body, self.settings.app_key, self.settings.app_secret.get_secret_value())
        for index, reason in receipt.rejected:
            log.info("push.rejected", platform="douyin", shop=self.shop, index=index, reason=reason)
        return receipt

    async def consume_messages(self, limit: int) -> list[InboundMessage]:
        raise PermanentError("Douyin has no message channel to consume; it pushes over HTTP")

    async def confirm_messages(self, message_ids: list[str]) -> None:
        raise PermanentError("Douyin has no message channel to confirm; it pushes over HTTP")

    # -- stock -----------------------------------------------------------------------------------

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        """Absolute quantities: one value → ``sku.syncStock``, more → batches of ≤50."""
        results: list[StockPushResult] = []
        pushable: list[ChannelStock] = []
        for value in values:
            if value.channel_sku_id:
                pushable.append(value)
            else:
                results.append(StockPushResult(merchant_sku=value.merchant_sku, ok=False, error_code="unmapped",
                                               error_message="no Douyin sku_id for this SKU; map the listing"))
        if len(pushable) == 1:
            results += await self._push_one(pushable[0])
        else:
            for first in range(0, len(pushable), MAX_STOCK_BATCH):
                results += await self._push_batch(pushable[first:first + MAX_STOCK_BATCH])
        return results

    async def _push_one(self, value: ChannelStock) -> list[StockPushResult]:
        params = mapping.sync_stock_params(value, ids_as_strings=self.settings.ids_as_strings)
        try:
            await self.client.call("sku.syncStock", params)
        except DouyinRefusal as exc:
            return [_failed(value, exc)]
        return [_pushed(value)]

    async def _push_batch(self, batch: list[ChannelStock]) -> list[StockPushResult]:
        items = [mapping.stock_item(v, ids_as_strings=self.settings.ids_as_strings) for v in batch]
        fingerprint = mapping.batch_fingerprint(items)
        generations = await self._generations()
        idempotent_id = mapping.idempotent_id(fingerprint, generations.get(fingerprint, 0))
        params = mapping.stock_batch_params(batch, idempotent_id, ids_as_strings=self.settings.ids_as_strings)
        try:
            envelope = await self.client.call_envelope("sku.syncStockBatchMultiProducts", params)
        except DouyinRefusal as exc:
            if exc.sub_code != IDEMPOTENT_ID_EXISTED:
                return [_failed(v, exc) for v in batch]
            # The platform already applied this exact batch (our earlier answer was lost).
            log.info("stock.batch_already_applied", shop=self.shop, idempotent_id=idempotent_id)
            await self._next_generation(fingerprint)
            return [_pushed(v) for v in batch]
        await self._next_generation(fingerprint)
        if not envelope.partial:
            return [_pushed(v) for v in batch]
        # 10001: per-SKU results; ⚠️ status_code 0 taken as success (not documented).
        by_sku = {mapping.text(r.get("sku_id")): r for r in (envelope.data or {}).get("results") or []}
        out = []
        for value in batch:
            result = by_sku.get(value.channel_sku_id or "")
            if result is not None and int(mapping.text(result.get("status_code")) or 0) == 0:
                out.append(_pushed(value))
            else:
                message = mapping.text((result or {}).get("status_message")) or envelope.sub_msg or envelope.msg
                out.append(StockPushResult(merchant_sku=value.merchant_sku, channel_sku_id=value.channel_sku_id,
                                           ok=False, error_code=mapping.text((result or {}).get("status_code"))
                                           or "10001", error_message=message))
        return out

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        """Relative changes, one ``sku.syncStockBatchMultiProducts`` each (``incremental=true``,
        ``idempotent_id`` = the change's key, so the client's own retries and the hub's resends
        apply it once; its answer gives ``stock_num`` and ``change_num``). A change the platform
        already has (``isv.idempotent-id-existed``) is reported done, with no quantities."""
        results: list[StockPushResult] = []
        for change in changes:
            if not change.channel_sku_id:
                results.append(StockPushResult(merchant_sku=change.merchant_sku, ok=False, error_code="unmapped",
                                               error_message="no Douyin sku_id for this SKU; map the listing"))
                continue
            params = mapping.stock_change_params(change, ids_as_strings=self.settings.ids_as_strings)
            try:
                envelope = await self.client.call_envelope("sku.syncStockBatchMultiProducts", params)
            except (ThrottledError, AuthorizationError):
                raise
            except DouyinRefusal as exc:
                if exc.sub_code == IDEMPOTENT_ID_EXISTED:
                    log.info("stock.change_already_applied", shop=self.shop, key=change.key)
                    results.append(StockPushResult(merchant_sku=change.merchant_sku,
                                                   channel_sku_id=change.channel_sku_id, ok=True))
                else:
                    results.append(StockPushResult(merchant_sku=change.merchant_sku,
                                                   channel_sku_id=change.channel_sku_id, ok=False,
                                                   error_code=f"{exc.code} {exc.sub_code}".strip(),
                                                   error_message=str(exc)))
                continue
            except (RetryableError, httpx.TransportError) as exc:
                results.append(StockPushResult(merchant_sku=change.merchant_sku, channel_sku_id=change.channel_sku_id,
                                               ok=False, error_code=getattr(exc, "code", None) or "no_answer",
                                               error_message=str(exc), retryable=True, outcome_unknown=True))
                continue
            results.append(mapping.change_result(change, envelope.data))
        return results

    async def _generations(self) -> dict[str, int]:
        raw = await self.context.state.get(STATE_STOCK_GENERATIONS)
        return json.loads(raw) if raw else {}

    async def _next_generation(self, fingerprint: str) -> None:
        """Mark a batch content as applied: the next push of the same content gets a new id."""
        generations = await self._generations()
        generations[fingerprint] = generations.pop(fingerprint, 0) + 1  # re-inserted last: newest
        while len(generations) > _MAX_REMEMBERED_BATCHES:
            generations.pop(next(iter(generations)))
        await self.context.state.set(STATE_STOCK_GENERATIONS, json.dumps(generations))

    async def fetch_listings(self, cursor: str | None) -> ListingPage:
        """The shop's products and their SKUs with merchant codes (``plugins.douyin.listings``)."""
        return await douyin_listings.fetch_listings(self.client.call, cursor,
                                                    ids_as_strings=self.settings.ids_as_strings)

    async def read_stock(self, listings: list[ChannelStock]) -> list[ChannelStockReading]:
        """What the shop shows, read with ``sku.list`` per product (listings need channel_item_id)."""
        by_product: dict[str, list[ChannelStock]] = {}
        for listing in listings:
            if listing.channel_item_id and listing.channel_sku_id:
                by_product.setdefault(listing.channel_item_id, []).append(listing)
        readings: list[ChannelStockReading] = []
        for product_id, wanted in by_product.items():
            product = product_id if self.settings.ids_as_strings else int(product_id)
            data = await self.client.call("sku.list", {"product_id": product})
            readings += mapping.stock_readings(list(data or []), wanted)
        return readings

    # -- shipping --------------------------------------------------------------------------------

    async def logistics_companies(self) -> list[dict[str, str]]:
        """``order.logisticsCompanyList``: ``[{id, name, code}]`` — where ``company_code`` values come from."""
        data = await self.client.call("order.logisticsCompanyList", {})
        return [{"id": mapping.text(c.get("id")), "name": mapping.text(c.get("name")),
                 "code": mapping.text(c.get("code"))} for c in data or []]

    def courier_known(self, courier_code: str) -> bool | None:
        """True when the shop's ``courier_codes`` maps this courier; otherwise None: the platform's
        company list (read only when shipping) may still name it."""
        return True if canonical_courier_code(courier_code) in self.settings.courier_codes else None

    async def company_code(self, courier_code: str) -> str:
        """The Douyin company_code for a hub courier code: the configured map, else an exact code in
        the platform's company list; a ``PermanentError`` naming the setting otherwise."""
        code = canonical_courier_code(courier_code)
        mapped = self.settings.courier_codes.get(code)
        if mapped:
            return mapped
        if self._companies is None:
            self._companies = {canonical_courier_code(c["code"]): c["code"] for c in await self.logistics_companies()
                               if c["code"].strip()}
        found = self._companies.get(code)
        if found:
            return found
        raise PermanentError(f"shop {self.shop!r}: no Douyin company_code for courier {courier_code!r}; add it to "
                             "the shop's courier_codes (see order.logisticsCompanyList)")

    async def confirm_shipment(self, order: Order, shipment: Shipment) -> ShipmentConfirmation:
        """Check the order first (a retry after a lost answer finds it shipped), then
        ``order.logisticsAdd`` (one parcel, whole order) or ``order.logisticsAddMultiPack``."""
        order_id = order.ref.external_id
        detail = await self._order_detail(order_id)
        status = mapping.text(detail.get("order_status"))
        shipped = mapping.shipped_tracking_numbers(detail)
        wanted = {p.tracking_number for p in shipment.parcels}
        if status in mapping.SHIPPED_STATUSES or (wanted and wanted <= shipped):
            return ShipmentConfirmation(ok=True, already_confirmed=True,
                                        message=f"Douyin order already shipped (order_status {status})")
        if status not in mapping.SHIPPABLE_STATUSES:
            return ShipmentConfirmation(ok=False, message=f"Douyin order {order_id} is not shippable "
                                        f"(order_status {status} {mapping.text(detail.get('order_status_desc'))})")
        codes = {p.courier_code: await self.company_code(p.courier_code) for p in shipment.parcels}
        if len(shipment.parcels) == 1 and not shipment.partial and status != "101":
            parcel = shipment.parcels[0]
            params = mapping.logistics_add_params(order_id, codes[parcel.courier_code], parcel.tracking_number)
            # Sent once: logisticsAdd has no idempotency key; the next attempt re-checks the order.
            await self.client.call("order.logisticsAdd", params, retry=False)
        else:
            pending = [p for p in shipment.parcels if p.tracking_number not in shipped]
            params = mapping.multipack_params(order_id, shipment.model_copy(update={"parcels": pending}), codes)
            await self.client.call("order.logisticsAddMultiPack", params)
        log.info("shipment.confirmed", platform="douyin", shop=self.shop, order=order_id,
                 parcels=len(shipment.parcels))
        return ShipmentConfirmation(ok=True)

    # -- after-sales -----------------------------------------------------------------------------

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        found: list[AfterSale] = []
        for page in range(self.settings.max_aftersale_pages):
            params = mapping.aftersale_list_params(start, end, page, self.settings.page_size)
            data = await self.client.call("afterSale.List", params) or {}
            found += [mapping.map_aftersale_list_item(item, self.shop) for item in data.get("items") or []]
            if not data.get("has_more"):
                return found
        log.warning("aftersales.window_truncated", shop=self.shop, pages=self.settings.max_aftersale_pages)
        return found

    async def get_aftersale(self, external_id: str) -> AfterSale:
        return await self.decisions.read(external_id)

    async def edit_order(self, request: OrderEditRequest) -> OrderEditResult:
        """The seller's remark and star (``order.addOrderRemark``) and the receiver, phone and detail line
        (``order.addressModify``, within the order's region): ``order_edits``."""
        return await douyin_edits.edit_order(self.client.call, request)

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """``afterSale.operate`` (``afterSale.fillLogistics`` for a 补寄's parcel), one case per call,
        after reading the case (``aftersale_decisions``)."""
        return await self.decisions.decide(case, decision)

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """``afterSale.rejectReasonCodeList`` (empty before the order shipped)."""
        return await self.decisions.refuse_reasons(case)

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        raise PermanentError("Douyin service orders are not supported by this connector")

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        raise PermanentError("Douyin service orders are not supported by this connector")

    # -- buyer data ------------------------------------------------------------------------------

    async def reveal_address(self, order: Order) -> Address:
        """Decrypt the receiver's name, phone and street with ``order.batchDecrypt``."""
        address = order.shipping_address
        if address is None or not address.encrypted:
            address = mapping.map_address(await self._order_detail(order.ref.external_id))
        if address is None:
            raise BadInputError(f"Douyin order {order.ref.external_id} has no shipping address")
        if not address.encrypted:
            return address  # only masked values exist (legacy order): nothing to decrypt
        data = await self.client.call("order.batchDecrypt", mapping.decrypt_params(order.ref.external_id, address))
        data = data or {}
        custom = data.get("custom_err") or {}
        if int(mapping.text(custom.get("err_code")) or 0) != 0:
            raise PermanentError(f"shop {self.shop!r}: Douyin refused to decrypt order {order.ref.external_id} "
                                 f"({mapping.text(custom.get('err_code'))} {mapping.text(custom.get('err_msg'))})")
        return mapping.decrypted_address(address, list(data.get("decrypt_infos") or []))


def _pushed(value: ChannelStock) -> StockPushResult:
    return StockPushResult(merchant_sku=value.merchant_sku, channel_sku_id=value.channel_sku_id, ok=True,
                           quantity=value.quantity)


def _failed(value: ChannelStock, exc: DouyinRefusal) -> StockPushResult:
    return StockPushResult(merchant_sku=value.merchant_sku, channel_sku_id=value.channel_sku_id, ok=False,
                           error_code=f"{exc.code} {exc.sub_code}".strip(), error_message=str(exc))
