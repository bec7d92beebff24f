"""``AliExpressChannel``: the hub's ``ChannelConnector`` for one AliExpress shop.

Orders: TMC ``aliexpress_order_*`` triggers (§6/§7), a safety-net poll of
``aliexpress.solution.order.get`` by modified time (US Pacific), detail from
``aliexpress.solution.order.info.get`` and the address from ``…order.receiptinfo.get`` when the
order lacks it (always for polled orders: the list carries none). Stock:
``aliexpress.solution.batch.product.inventory.update`` (≤20 products, ≤200 SKUs each). Shipping:
``aliexpress.solution.order.fulfill`` after checking the order first. Issues
(disputes) → after-sales, decided through ``issue_decisions``.
Not for wire details (``client.py``) or translation (``mapping.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, Field, SecretStr, field_validator

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    Capability,
    ChannelStock,
    InboundMessage,
    Order,
    OrderPage,
    RefuseReason,
    Shipment,
    ShipmentConfirmation,
    StockPushResult,
    canonical_courier_code,
    canonical_courier_map,
)
from contracts.listings import ListingPage
from hub.plugin_api import AuthorizationError, BadInputError, NotFoundError, PermanentError, RetryableError, map_each
from plugins.aliexpress import listings as ae_listings
from plugins.aliexpress.client import DEFAULT_IOP_URL, DEFAULT_TOP_URL, AliExpressClient, DailyQuota
from plugins.aliexpress.issue_decisions import ISSUE_ACTIONS, IssueDecision, read_issue
from plugins.aliexpress.issue_mapping import map_issue
from plugins.aliexpress.mapping import format_pacific, listed, map_order, shipped_tracking_numbers
from plugins.aliexpress.push import AE_ORDER_TOPICS, from_tmc
from plugins.taobao.client import TopClient
from plugins.taobao.tmc import CONSUME_MAX, CONSUME_MIN, TmcConsumer

MAX_PRODUCTS_PER_CALL = 20
MAX_SKUS_PER_PRODUCT = 200
#: Statuses in which the goods have left: a repeated confirmation is already done.
SHIPPED_STATUSES = frozenset({"WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", "PAYMENT_PROCESSING", "FINISH",
                              "ARCHIVE", "IN_ISSUE"})
SHIPPABLE_STATUSES = frozenset({"WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS"})
ISSUE_STATUSES = ("processing", "finish", "canceled_issue")
#: How long a polled order's address is reused while its modified time stays the same: the poll
#: re-lists an order on every run of its overlap (30 s by default, every 5 s), and each listing
#: would otherwise cost one ``receiptinfo.get``. [U] That an address change moves the order's
#: modified time is not documented, so the reuse is also bounded in time: a change it hides is
#: read at most this much later.
RECEIPT_REUSE_S = 120.0
#: Most addresses kept per shop for that reuse (oldest dropped first): bounded memory.
RECEIPT_REUSE_MAX = 5_000


class _TopGatewayCalls:
    """What ``TmcConsumer`` needs of a ``TopClient`` (``call``), served by ``AliExpressClient`` so
    TMC calls count against the daily quota and are paced like every other call."""

    def __init__(self, client: AliExpressClient) -> None:
        self.client = client

    async def call(self, method: str, params: dict[str, Any], *, retry: bool = True) -> dict[str, Any]:
        return await self.client.call(method, params, retry=retry, protocol="top")


class AliExpressSettings(BaseModel):
    """A shop's settings; ``app_secret`` and ``session`` come from environment variables."""

    protocol: Literal["iop", "top"] = Field(default="iop", description="IOP /sync or the TOP-style router.")
    iop_url: str = DEFAULT_IOP_URL
    top_url: str = Field(default=DEFAULT_TOP_URL, description="TOP-style gateway; TMC always goes here.")
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    session: SecretStr = Field(description="The seller's access token (IOP) / session key (TOP).")
    top_sign_method: Literal["md5", "hmac", "hmac-sha256"] = "hmac"
    partner_id: str | None = None
    daily_quota: int = Field(default=0, ge=0, description="Calls per app per Beijing day; 0 = not counted. "
                             "The platform's per-app figure is not published [U]: set it from your app console.")
    quota_margin: int = Field(default=50, ge=0, description="Stop this many calls before the quota.")
    tmc_group_name: str = "default"
    tmc_topics: list[str] | None = Field(
        default=None, description="Topics to ask taobao.tmc.user.permit for: unset = the aliexpress_order_* "
        "topics this plugin maps; [] = every topic the app subscribes to.")
    courier_services: dict[str, str] = Field(
        default_factory=dict, description="Hub courier code (any case) → AE logistics service key (service_name).")
    default_service: str | None = Field(default=None, description="service_name for couriers not in the map.")
    tracking_website: str | None = Field(default=None, description="Required by AE when service_name is 'other'.")
    min_call_interval_ms: int = Field(default=0, ge=0, description="Extra pacing inside this connector, on top "
                                      "of the hub's per-shop rate_limit_per_s token bucket.")
    page_size: int = Field(default=50, ge=1, le=100)
    issue_pages: int = Field(default=5, ge=1, description="Issue list pages read per status on each fetch.")

    @field_validator("courier_services")
    @classmethod
    def _canonical_couriers(cls, value: dict[str, str]) -> dict[str, str]:
        return canonical_courier_map(value)


class AliExpressChannel:
    """One AliExpress shop."""

    platform: ClassVar[str] = "aliexpress"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.POLL_ORDERS, Capability.GET_ORDER, Capability.MESSAGE_CHANNEL, Capability.PUSH_STOCK,
        Capability.CONFIRM_SHIPMENT, Capability.AFTERSALES, Capability.DECIDE_AFTERSALES, Capability.LIST_LISTINGS,
    })
    #: Agree (refund, return), counter-propose and refuse; no API for received returns or exchanges.
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = ISSUE_ACTIONS
    Settings: ClassVar[type[BaseModel]] = AliExpressSettings
    #: What ``open_message_channel`` permits unless the shop's ``tmc_topics`` says otherwise.
    tmc_topics: ClassVar[tuple[str, ...]] = AE_ORDER_TOPICS
    #: One inventory call carries ≤20 products × ≤200 SKUs; bigger batches are split into calls here.
    max_stock_batch: ClassVar[int] = MAX_PRODUCTS_PER_CALL * MAX_SKUS_PER_PRODUCT

    def __init__(self, context: Any, *, http: Any = None, quota_clock: Any = None) -> None:
        self.context = context
        self.shop = context.name
        s: AliExpressSettings = context.settings
        self.settings = s
        self._last_call = 0.0
        self._pace_lock = asyncio.Lock()
        quota = DailyQuota(context.state, s.app_key, s.daily_quota, s.quota_margin, now=quota_clock)
        self.client = AliExpressClient(
            protocol=s.protocol, app_key=s.app_key, app_secret=s.app_secret.get_secret_value(),
            session=s.session.get_secret_value(), iop_url=s.iop_url, top_url=s.top_url,
            top_sign_method=s.top_sign_method, partner_id=s.partner_id, quota=quota, throttle=self._pace,
            label=self.shop, http=http)
        # The shared Taobao TMC consumer, its calls routed through this client (quota, pacing, TOP gateway).
        self.tmc = TmcConsumer(cast(TopClient, _TopGatewayCalls(self.client)), s.tmc_group_name)
        #: (order id, modified time as listed) → (address, when read); see ``RECEIPT_REUSE_S``.
        self._receipts: OrderedDict[tuple[str, str], tuple[dict[str, Any], float]] = OrderedDict()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _pace(self) -> None:
        await self.context.throttle()
        if not self.settings.min_call_interval_ms:
            return
        async with self._pace_lock:
            wait = self._last_call + self.settings.min_call_interval_ms / 1000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_call = time.monotonic()

    # -- orders ----------------------------------------------------------------------------------

    async def fetch_orders(self, start: datetime, end: datetime, cursor: str | None) -> OrderPage:
        page = int(cursor or 1)
        query = {"modified_date_start": format_pacific(start), "modified_date_end": format_pacific(end),
                 "page_size": self.settings.page_size, "current_page": page}
        body = await self.client.call("aliexpress.solution.order.get", {"param0": json.dumps(query)})
        result = body.get("result") or {}
        if result.get("success") is False:
            raise PermanentError(f"shop {self.shop!r}: AliExpress order list refused "
                                 f"({result.get('error_code')} {result.get('error_message')})",
                                 code=str(result.get("error_code")))
        rows = listed((result.get("target_list") or {}).get("order_dto") if isinstance(
            result.get("target_list"), dict) else result.get("target_list"))
        receipts, unaddressed = await self._receipts_for(rows)
        orders, rejected = map_each([r for r in rows if str(r.get("order_id")) not in unaddressed],
                                    lambda row: map_order(row, self.shop, receipts.get(str(row.get("order_id")))),
                                    lambda row: row.get("order_id"))
        total_pages = int(result.get("total_page") or 0)
        return OrderPage(orders=orders, next_cursor=str(page + 1) if page < total_pages else None,
                         rejected={**rejected, **unaddressed})

    async def _receipts_for(self, rows: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The shipping address of every listed order that does not carry one.

        The list's documented ``order_dto`` has no address field and AliExpress offers no bulk
        address call, so each such order costs one ``receiptinfo.get`` — paced by the shop's
        throttle and counted against the daily quota like every call — unless the same order at
        the same modified time was read less than ``RECEIPT_REUSE_S`` ago (the poll's overlap
        lists it again on every run); a row that does carry a ``receipt_address`` costs nothing.
        An order whose address cannot be read is set aside as rejected (dead-lettered,
        replayable), never stored without an address. Throttling and lost
        authorisation abort the page, which the poll retries."""
        receipts: dict[str, dict[str, Any]] = {}
        unaddressed: dict[str, str] = {}
        for row in rows:
            if not isinstance(row, dict) or row.get("receipt_address") or row.get("order_id") in (None, ""):
                continue
            order_id = str(row["order_id"])
            modified = str(row.get("gmt_update") or row.get("gmt_modified") or "")
            reused = self._reused_receipt(order_id, modified)
            if reused is not None:
                receipts[order_id] = reused
                continue
            try:
                receipt = await self._receipt(order_id)
            except AuthorizationError:
                raise
            except (NotFoundError, PermanentError, BadInputError) as exc:
                unaddressed[order_id] = f"shipping address unreadable: {exc}"
                continue
            if receipt:
                receipts[order_id] = receipt
                self._keep_receipt(order_id, modified, receipt)
        return receipts, unaddressed

    def _reused_receipt(self, order_id: str, modified: str) -> dict[str, Any] | None:
        """The address read for this order at this same modified time less than
        ``RECEIPT_REUSE_S`` ago (a row without a modified time is always read again)."""
        if not modified:
            return None
        kept = self._receipts.get((order_id, modified))
        if kept is None:
            return None
        receipt, read_at = kept
        if time.monotonic() - read_at > RECEIPT_REUSE_S:
            del self._receipts[(order_id, modified)]
            return None
        return receipt

    def _keep_receipt(self, order_id: str, modified: str, receipt: dict[str, Any]) -> None:
        if not modified:
            return
        now = time.monotonic()
        self._receipts[(order_id, modified)] = (receipt, now)
        self._receipts.move_to_end((order_id, modified))
        # Oldest first: drop what can no longer be reused, so only the last RECEIPT_REUSE_S of
        # addresses stay in memory, however long the hub runs.
        while self._receipts and (len(self._receipts) > RECEIPT_REUSE_MAX
                                  or now - next(iter(self._receipts.values()))[1] > RECEIPT_REUSE_S):
            self._receipts.popitem(last=False)

    async def _receipt(self, external_id: str) -> dict[str, Any] | None:
        if not external_id.isdigit():
            raise BadInputError(f"AliExpress order id must be digits, got {external_id!r}", field="order_id")
        body = await self.client.call("aliexpress.solution.order.receiptinfo.get",
                                      {"param1": json.dumps({"order_id": int(external_id)})})
        result = body.get("result")
        return result if isinstance(result, dict) and result else None

    async def _order_detail(self, external_id: str) -> dict[str, Any]:
        if not external_id.isdigit():
            raise BadInputError(f"AliExpress order id must be digits, got {external_id!r}", field="order_id")
        query = {"order_id": int(external_id), "ext_info_bit_flag": 31}  # 11111: every detail block
        body = await self.client.call("aliexpress.solution.order.info.get", {"param1": json.dumps(query)})
        result = body.get("result") or {}
        data = result.get("data")
        if not isinstance(data, dict) or not data:
            raise NotFoundError(f"shop {self.shop!r}: AliExpress order {external_id} not found "
                                f"({result.get('error_code')} {result.get('error_message')})")
        return data

    async def get_order(self, external_id: str) -> Order:
        data = await self._order_detail(external_id)
        receipt = None if data.get("receipt_address") else await self._receipt(external_id)
        return map_order(data, self.shop, receipt)

    # -- message channel (TMC over the TOP gateway) ---------------------------------------------

    async def open_message_channel(self) -> list[str]:
        """``taobao.tmc.user.permit`` with this shop's session over the TOP gateway: TMC delivers
        nothing for a seller until then. Safe to repeat."""
        s = self.settings
        topics = list(self.tmc_topics) if s.tmc_topics is None else list(s.tmc_topics)
        if not await self.tmc.permit(topics):
            raise RetryableError(f"shop {self.shop!r}: taobao.tmc.user.permit did not answer is_success; "
                                 "retry later")
        return topics

    async def consume_messages(self, limit: int) -> list[InboundMessage]:
        # TMC hands out at least 10; any beyond ``limit`` stay unconfirmed and come back later.
        messages = await self.tmc.consume(min(CONSUME_MAX, max(CONSUME_MIN, limit)))
        return [from_tmc(m) for m in messages[:limit]]

    async def confirm_messages(self, message_ids: list[str]) -> None:
        await self.tmc.confirm(message_ids)

    # -- stock -----------------------------------------------------------------------------------

    async def fetch_listings(self, cursor: str | None) -> ListingPage:
        """The shop's products on sale with their SKU codes (``plugins.aliexpress.listings``)."""
        return await ae_listings.fetch_listings(self.client.call, cursor)

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        results: list[StockPushResult] = []
        by_product: OrderedDict[str, list[ChannelStock]] = OrderedDict()
        for value in values:
            if not value.channel_item_id:
                results.append(StockPushResult(merchant_sku=value.merchant_sku, ok=False, error_code="unbound",
                                               error_message="no AliExpress product_id for this SKU; bind the "
                                               "listing first"))
                continue
            by_product.setdefault(value.channel_item_id, []).append(value)
        groups = [(pid, skus[i:i + MAX_SKUS_PER_PRODUCT]) for pid, skus in by_product.items()
                  for i in range(0, len(skus), MAX_SKUS_PER_PRODUCT)]
        call: list[tuple[str, list[ChannelStock]]] = []
        for group in groups:
            if len(call) == MAX_PRODUCTS_PER_CALL or any(pid == group[0] for pid, _ in call):
                results += await self._push_call(call)
                call = []
            call.append(group)
        if call:
            results += await self._push_call(call)
        return results

    async def _push_call(self, call: list[tuple[str, list[ChannelStock]]]) -> list[StockPushResult]:
        payload = [{"product_id": int(pid) if pid.isdigit() else pid,
                    "multiple_sku_update_list": [{"sku_code": v.merchant_sku, "inventory": v.quantity} for v in skus]}
                   for pid, skus in call]
        # Absolute values (§7 [U]): repeating the call sets the same numbers, so it may be retried.
        body = await self.client.call("aliexpress.solution.batch.product.inventory.update",
                                      {"mutiple_product_update_list": json.dumps(payload)})
        failed = {str(row.get("product_id")): row for row in listed(body.get("update_failed_list"))
                  if isinstance(row, dict)}
        whole_call_failed = body.get("update_success") is False and not failed
        out: list[StockPushResult] = []
        for pid, skus in call:
            row = failed.get(pid)
            for v in skus:
                if row is not None or whole_call_failed:
                    code = (row or {}).get("error_code") or body.get("update_error_code")
                    message = (row or {}).get("error_message") or body.get("update_error_message")
                    out.append(StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id,
                                               ok=False, error_code=str(code) if code else None,
                                               error_message=str(message) if message else None))
                else:
                    out.append(StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id,
                                               ok=True, quantity=v.quantity))
        return out

    # -- shipping --------------------------------------------------------------------------------

    def courier_known(self, courier_code: str) -> bool:
        """Whether ``confirm_shipment`` has a logistics service for this courier (no I/O)."""
        return bool(self.settings.courier_services.get(canonical_courier_code(courier_code))
                    or self.settings.default_service)

    def _service_for(self, courier_code: str) -> str:
        service = (self.settings.courier_services.get(canonical_courier_code(courier_code))
                   or self.settings.default_service)
        if not service:
            raise PermanentError(f"shop {self.shop!r}: no AliExpress logistics service for courier "
                                 f"{courier_code!r}; add it to courier_services")
        return service

    async def confirm_shipment(self, order: Order, shipment: Shipment) -> ShipmentConfirmation:
        order_id = order.ref.external_id
        # Check first: a retry after a timed-out fulfil must not ship twice (docs/architecture.md §5).
        data = await self._order_detail(order_id)
        raw = str(data.get("order_status") or "")
        known = shipped_tracking_numbers(data)
        pending = [p for p in shipment.parcels if p.tracking_number not in known]
        if not pending or (raw in SHIPPED_STATUSES and not shipment.partial):
            return ShipmentConfirmation(ok=True, already_confirmed=True,
                                        message=f"AliExpress order {order_id} is already {raw}")
        if raw not in SHIPPABLE_STATUSES:
            raise PermanentError(f"shop {self.shop!r}: AliExpress order {order_id} is {raw}; it cannot be "
                                 "marked shipped")
        for index, parcel in enumerate(pending):
            last = index == len(pending) - 1
            service = self._service_for(parcel.courier_code)
            params: dict[str, Any] = {"service_name": service, "out_ref": order_id,
                                      "send_type": "all" if last and not shipment.partial else "part",
                                      "logistics_no": parcel.tracking_number}
            if service.lower() == "other":
                params["tracking_website"] = self.settings.tracking_website
            body = await self.client.call("aliexpress.solution.order.fulfill", params, retry=False)
            result = body.get("result") or {}
            if result.get("result_success") is False:
                raise PermanentError(f"shop {self.shop!r}: AliExpress refused shipment of {order_id} "
                                     f"({result.get('result_error_code')} {result.get('result_error_desc')})",
                                     code=str(result.get("result_error_code")))
        return ShipmentConfirmation(ok=True)

    # -- after-sales (issues) --------------------------------------------------------------------

    async def _issue_page(self, status: str, page: int) -> list[dict[str, Any]]:
        query = {"current_page": page, "page_size": 50, "issue_status": status}
        body = await self.client.call("aliexpress.issue.issuelist.get", {"query_dto": json.dumps(query)})
        rows = listed(body.get("data_list") or (body.get("result") or {}).get("data_list"))
        return [r for r in rows if isinstance(r, dict)]

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        """Issues modified in ``[start, end)``, each read in detail (the list row has no status
        detail, solution, deadline or version). The list API has no time filter (its query is
        status, order, buyer and paging only), so a few pages per status are read and filtered."""
        found: list[AfterSale] = []
        for status in ISSUE_STATUSES:
            for page in range(1, self.settings.issue_pages + 1):
                rows = await self._issue_page(status, page)
                for row in rows:
                    if row.get("buyer_login_id") and row.get("issue_id"):
                        await self.context.state.set(f"aliexpress:issue-buyer:{row['issue_id']}",
                                                     str(row["buyer_login_id"]))
                    listed_issue = map_issue(row, self.shop)
                    if start <= listed_issue.updated_at < end:
                        found.append(await self.get_aftersale(listed_issue.ref.external_id))
                if len(rows) < 50:
                    break
        return found

    async def get_aftersale(self, external_id: str) -> AfterSale:
        buyer = await self.context.state.get(f"aliexpress:issue-buyer:{external_id}")
        detail = await read_issue(self.client.call, self.shop, external_id, buyer)
        return map_issue(detail, self.shop, issue_id=external_id)

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """Agree, counter-propose or refuse through ``aliexpress.issue.solution.*`` and
        ``…image.upload`` (``plugins.aliexpress.issue_decisions``); the other actions have no
        AliExpress API and come back ``written_back=False`` with a note."""
        return await IssueDecision(self.client.call, self.shop, case, decision).run()

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """None: AliExpress takes a refusal's reason as free text (``solution_context``)."""
        return []
