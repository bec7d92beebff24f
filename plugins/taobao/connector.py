"""``TaobaoChannel``: the hub's channel connector for a Taobao shop over TOP.

Orders come over TMC (``consume_messages``) with ``trades.sold.increment.get`` polling as the
safety net; the trades a batch of messages names are read from the same list call over the
messages' window (``get_orders``), one ``trade.fullinfo.get`` each only for the rest. Stock goes
out as absolute values (``skus.quantity.update``/``item.quantity.update`` ``type=1``), or as
changes (``type=2``) for partitioned groups; shipments are confirmed with
``logistics.offline.send`` after checking the trade first; refunds come from
``refunds.receive.get``/``refund.get`` and a merchant's decisions on them go back through the
``rp.*``/``refund.refuse`` writes (``refund_decisions``, parameterised by ``platform`` where Tmall
differs). The Tmall connector subclasses this one. HTTP and error classification live in
``client.py``; translation in ``mapping.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
import structlog
from pydantic import BaseModel, Field, SecretStr, field_validator

from contracts import (
    Address,
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    AfterSaleType,
    Capability,
    ChannelStock,
    ChannelStockChange,
    ChannelStockReading,
    InboundMessage,
    MessageKind,
    Order,
    OrderPage,
    PushReceipt,
    RefuseReason,
    ServiceOrder,
    Shipment,
    ShipmentConfirmation,
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
from plugins.taobao import listings as top_listings
from plugins.taobao import mapping, order_edits
from plugins.taobao.client import DEFAULT_GATEWAY, TopClient, unwrap_list
from plugins.taobao.push import TAOBAO_TOPICS, TopicRule, inbound_from_tmc, taobao_topics
from plugins.taobao.refund_decisions import TopRefundDecisions
from plugins.taobao.refund_writes import REFUND_ACTIONS, refund_actions
from plugins.taobao.tmc import CONSUME_MAX, CONSUME_MIN, TmcConsumer

log = structlog.get_logger(__name__)

#: ``oaid`` (the id of the real recipient, for e-waybills) is produced only because the receiver
#: fields and ``created`` are asked too (``mapping.OAID_NEEDS``).
DEFAULT_TRADE_FIELDS = (
    "tid,tid_str,status,type,seller_nick,buyer_nick,buyer_open_uid,created,modified,pay_time,consign_time,"
    "end_time,payment,post_fee,total_fee,discount_fee,adjust_fee,received_payment,receiver_name,receiver_state,"
    "receiver_city,receiver_district,receiver_town,receiver_address,receiver_zip,receiver_mobile,receiver_phone,"
    "receiver_country,oaid,buyer_message,seller_memo,seller_flag,is_part_consign,step_trade_status,shipping_type,"
    "orders"
)
#: §2 gotcha: without ``type`` only guarantee_trade,auto_delivery,ec,cod,step come back. The values
#: are the ones the increment.get doc lists, plus eticket and tmall_i18n from the sold.get doc.
DEFAULT_TRADE_TYPES = [
    "fixed", "auction", "guarantee_trade", "step", "independent_simple_trade", "independent_shop_trade",
    "auto_delivery", "ec", "cod", "fenxiao", "game_equipment", "shopex_trade", "netcn_trade", "external_trade",
    "o2o_offlinetrade", "nopaid", "pre_auth_type", "eticket", "tmall_i18n",
]
#: ``refund_remind_timeout`` (the deadline) and ``operation_contraint`` (sic) are ``refund.get``
#: fields; ``total_fee`` is what ``max_refund_field = "total_fee"`` reads.
DEFAULT_REFUND_FIELDS = (
    "refund_id,tid,oid,status,order_status,good_status,has_good_return,refund_fee,payment,total_fee,reason,desc,"
    "company_name,sid,refund_phase,refund_version,outer_id,sku,num,num_iid,dispute_type,created,modified,"
    "refund_remind_timeout,operation_contraint"
)
#: Decisions TOP has no write API for on a Taobao (C-shop) case; the hub records them itself.
EXCHANGE_ACTIONS = frozenset({AfterSaleAction.AGREE_EXCHANGE, AfterSaleAction.RECEIVE_EXCHANGE,
                              AfterSaleAction.SHIP_EXCHANGE})
SHIPPED_STATUSES = frozenset({"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED"})
UNSHIPPABLE_STATUSES = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO", "PAID_FORBID_CONSIGN"})
MAX_WINDOW = timedelta(days=1)
#: ``get_orders`` pages: increment.get's largest ``page_size`` (§2), the fewest calls per window.
BULK_PAGE_SIZE = 100


class TaobaoSettings(BaseModel):
    """A TOP shop's settings (``[shops.<name>]``); credentials come from the environment."""

    gateway_url: str = DEFAULT_GATEWAY
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    session: SecretStr = Field(description="The seller's access token (TOP 'session').")
    sign_method: Literal["md5", "hmac", "hmac-sha256"] = "hmac-sha256"
    partner_id: str | None = None
    tmc_group_name: str = "default"
    tmc_topics: list[str] | None = Field(
        default=None, description="Topics to ask taobao.tmc.user.permit for: unset = the topics this plugin "
        "maps; [] = every topic the app subscribes to. Each must be subscribed in the app's console.")
    trade_fields: str = DEFAULT_TRADE_FIELDS
    trade_types: list[str] = Field(default_factory=lambda: list(DEFAULT_TRADE_TYPES))
    refund_fields: str = DEFAULT_REFUND_FIELDS
    max_refund_field: Literal["payment", "total_fee"] = Field(
        default="payment", description="The refund field that caps what may be refunded (AfterSale.max_refund) "
        "[U: TOP describes the refund's payment as 'paid to the seller (total - refund)'].")
    page_size: int = Field(default=40, ge=1, le=100, description="TOP recommends 40–50 for increment.get.")
    bulk_fetch: bool = Field(
        default=True, description="get_orders reads the trades its messages name from trades.sold.increment.get "
        "(100 per call). Its answer is documented as partial: a trade with a buyer message or a seller flag is "
        "still fetched alone, but a seller memo written without a flag may be missed [U: whether the list "
        "returns seller_memo]. Set false to fetch every trade with trade.fullinfo.get.")
    carrier_codes: dict[str, str] = Field(default_factory=dict, description="Hub courier code (any case) → TOP "
                                          "company_code, over the built-in table.")
    rate_limit_per_second: float = Field(default=10.0, gt=0, description="Per-shop token bucket rate [U: quota "
                                         "depends on the app's tier].")


    @field_validator("carrier_codes")
    @classmethod
    def _canonical_carriers(cls, value: dict[str, str]) -> dict[str, str]:
        return canonical_courier_map(value)


def _cursor_page(cursor: str) -> int:
    try:
        page = int(cursor.removeprefix("page:"))
    except ValueError:
        raise BadInputError(f"not a Taobao poll cursor: {cursor!r}", field="cursor") from None
    if page < 1:
        raise BadInputError(f"not a Taobao poll cursor: {cursor!r}", field="cursor")
    return page


class TaobaoChannel:
    """A Taobao (C-shop) account over TOP. See the module docstring."""

    platform: ClassVar[str] = "taobao"
    Settings: ClassVar[type[BaseModel]] = TaobaoSettings
    max_stock_batch: ClassVar[int] = mapping.SKUS_PER_CALL
    #: ``type=2`` changes carry no idempotency key on Taobao: a change whose answer was lost is
    #: never sent again (the hub settles it on the safe side).
    stock_adjust_idempotent: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.POLL_ORDERS,
        Capability.GET_ORDER,
        Capability.GET_ORDERS,
        Capability.MESSAGE_CHANNEL,
        Capability.PUSH_STOCK,
        Capability.ADJUST_STOCK,
        Capability.READ_STOCK,
        Capability.CONFIRM_SHIPMENT,
        Capability.AFTERSALES,
        Capability.DECIDE_AFTERSALES,
        Capability.LIST_LISTINGS,
        Capability.EDIT_ORDERS,
    })
    #: Memo, flag and address over TOP (``order_edits``); the other kinds stay in the hub.
    order_edit_kinds: ClassVar[frozenset[OrderEditKind]] = order_edits.TOP_EDIT_KINDS
    #: Refund decisions over TOP. Tmall also refuses returned goods: its connector sets
    #: ``refund_writes.TMALL_REFUND_ACTIONS`` (plus its exchange actions).
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = REFUND_ACTIONS
    topic_rules: ClassVar[tuple[TopicRule, ...]] = (taobao_topics,)
    #: What ``open_message_channel`` permits unless the shop's ``tmc_topics`` says otherwise.
    tmc_topics: ClassVar[tuple[str, ...]] = TAOBAO_TOPICS

    def __init__(self, context: Any) -> None:
        self.context = context
        self.settings: TaobaoSettings = context.settings
        self.shop: str = context.name
        self.client = TopClient(
            self.settings.gateway_url,
            self.settings.app_key,
            self.settings.app_secret.get_secret_value(),
            self.settings.session.get_secret_value(),
            self.settings.sign_method,
            throttle=context.throttle,
            label=self.shop,
            partner_id=self.settings.partner_id,
        )
        self.tmc = TmcConsumer(self.client, self.settings.tmc_group_name)
        self.carriers = mapping.carrier_table(self.settings.carrier_codes)
        #: The trade fields asked for, with ``oaid`` and the fields TOP needs asked to produce it.
        self.trade_fields = mapping.with_oaid_fields(self.settings.trade_fields)
        self.refund_decisions = TopRefundDecisions(self.client, self.shop, self.platform, self.settings.refund_fields,
                                                   self.settings.max_refund_field)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- orders --------------------------------------------------------------------------------

    def _order(self, trade: Mapping[str, Any]) -> Order:
        return mapping.order_from_trade(trade, self.shop, self.platform)

    async def _increment_page(self, start: datetime, end: datetime, page: int,
                              page_size: int | None = None, fields: str | None = None) -> dict[str, Any]:
        return await self.client.call("taobao.trades.sold.increment.get", {
            "fields": fields or self.trade_fields,
            "start_modified": mapping.format_top_time(start),
            "end_modified": mapping.format_top_time(end),
            "type": ",".join(self.settings.trade_types),
            "page_no": page,
            "page_size": page_size or self.settings.page_size,
        })

    async def fetch_orders(self, start: datetime, end: datetime, cursor: str | None) -> OrderPage:
        """Trades modified in the window, paged from the LAST page backwards as the TOP docs
        require (newest first: forward paging misses trades that change while paging). The first
        call learns ``total_results``; the cursor is the next (lower) page number. The list answer
        lacks the notes (``mapping.listed_trade_complete``): a trade that says it has a buyer
        message, or a flag without its memo, is read with ``trade.fullinfo.get`` instead, so a
        polled order carries its remarks like one from TMC (the review holds on them)."""
        if end - start > MAX_WINDOW:
            raise BadInputError(f"shop '{self.shop}': trades.sold.increment.get windows are at most 1 day, "
                                f"got {end - start}", field="window")
        if end <= start:
            return OrderPage(orders=[], next_cursor=None)
        fields = mapping.list_fields(self.trade_fields)
        if cursor is None:
            first = await self._increment_page(start, end, 1, fields=fields)
            total = int(first.get("total_results") or 0)
            pages = max(1, math.ceil(total / self.settings.page_size))
            body = first if pages == 1 else await self._increment_page(start, end, pages, fields=fields)
            page = pages
        else:
            page = _cursor_page(cursor)
            body = await self._increment_page(start, end, page, fields=fields)
        trades = []
        for trade in unwrap_list(body.get("trades")):
            tid = trade.get("tid_str") or trade.get("tid")
            trades.append(trade if not tid or mapping.listed_trade_complete(trade) else await self._fullinfo(str(tid)))
        orders, rejected = map_each(trades, self._order, lambda trade: trade.get("tid_str") or trade.get("tid"))
        return OrderPage(orders=orders, next_cursor=f"page:{page - 1}" if page > 1 else None, rejected=rejected)

    async def _fullinfo(self, tid: str, fields: str | None = None) -> dict[str, Any]:
        """The trade; with the default fields it carries the ``oaid`` too (``include_oaid``)."""
        params: dict[str, Any] = {"fields": fields or self.trade_fields, "tid": tid}
        if fields is None:
            params["include_oaid"] = mapping.INCLUDE_OAID
        body = await self.client.call("taobao.trade.fullinfo.get", params)
        trade = body.get("trade")
        if not isinstance(trade, dict):
            raise PermanentError(f"shop '{self.shop}': trade.fullinfo.get for {tid} returned no trade")
        return trade

    async def get_order(self, external_id: str) -> Order:
        return self._order(await self._fullinfo(external_id))

    async def get_orders(self, external_ids: Sequence[str], *,
                         modified_between: tuple[datetime, datetime] | None = None) -> OrderPage:
        """The asked-for trades among those modified in ``modified_between``, read with
        ``trades.sold.increment.get`` in pages of 100 (its largest) instead of one
        ``trade.fullinfo.get`` each.

        The first page tells ``total_results``; the rest is read from the last page backwards, as
        the docs require, only while that costs less than fetching the missing trades one by one
        (``bulk_listing_pays``), and no further once every asked trade is found. The list answer
        is documented as partial: a listed trade is kept only when it carries everything the
        mapping reads (``mapping.listed_trade_complete``: buyer message, seller memo); the others,
        and trades not in the window, are left out and the hub fetches them with ``get_order``.
        Without a window, with one over the API's one day, or with ``bulk_fetch`` off, nothing
        is asked."""
        wanted = {str(tid) for tid in external_ids}
        if not wanted or modified_between is None or not self.settings.bulk_fetch:
            return OrderPage(orders=[])
        start, end = modified_between
        if end <= start or end - start > MAX_WINDOW:
            return OrderPage(orders=[])
        fields = mapping.list_fields(self.trade_fields)
        found: dict[str, Mapping[str, Any]] = {}
        seen: set[str] = set()

        def keep(body: Mapping[str, Any]) -> None:
            for trade in unwrap_list(body.get("trades")):
                tid = str(trade.get("tid_str") or trade.get("tid") or "")
                if tid in wanted:
                    seen.add(tid)
                    if mapping.listed_trade_complete(trade):
                        found[tid] = trade

        first = await self._increment_page(start, end, 1, BULK_PAGE_SIZE, fields)
        keep(first)
        total = int(first.get("total_results") or 0)
        if bulk_listing_pays(total, BULK_PAGE_SIZE, len(wanted), len(wanted) - len(seen)):
            for page in range(math.ceil(total / BULK_PAGE_SIZE), 1, -1):
                keep(await self._increment_page(start, end, page, BULK_PAGE_SIZE, fields))
                if len(seen) == len(wanted):
                    break
        orders, rejected = map_each(found.values(), self._order,
                                    lambda trade: trade.get("tid_str") or trade.get("tid"))
        return OrderPage(orders=orders, rejected=rejected)

    # -- TMC -----------------------------------------------------------------------------------

    def _inbound(self, message: Any) -> InboundMessage:
        try:
            return inbound_from_tmc(message, self.topic_rules)
        except BadInputError as exc:
            # Recorded as OTHER so it is stored and confirmed instead of redelivered forever.
            log.warning("tmc.unparsable", shop=self.shop, message_id=message.id, topic=message.topic, reason=str(exc))
            return InboundMessage(message_id=message.id, kind=MessageKind.OTHER, topic=message.topic,
                                  payload=message.content)

    async def open_message_channel(self) -> list[str]:
        """``taobao.tmc.user.permit`` for this shop's session: TMC delivers nothing for a seller
        until the app has permitted it, and then only the topics asked for. Safe to repeat."""
        topics = list(self.tmc_topics) if self.settings.tmc_topics is None else list(self.settings.tmc_topics)
        if not await self.tmc.permit(topics):
            raise RetryableError(f"shop '{self.shop}': taobao.tmc.user.permit did not answer is_success; retry later")
        log.info("tmc.permitted", shop=self.shop, topics=len(topics) or "all")
        return topics

    async def consume_messages(self, limit: int) -> list[InboundMessage]:
        """Pull up to ``limit`` TMC messages. TMC's own bounds are 10–200, so ``limit`` is clamped
        into them; with ``limit`` < 10 the answer may hold up to 10 (all unconfirmed until
        ``confirm_messages``)."""
        quantity = max(CONSUME_MIN, min(CONSUME_MAX, limit))
        return [self._inbound(message) for message in await self.tmc.consume(quantity)]

    async def confirm_messages(self, message_ids: list[str]) -> None:
        await self.tmc.confirm(message_ids)

    # -- stock ---------------------------------------------------------------------------------

    def _stock_calls(self, values: list[ChannelStock]) -> tuple[list[mapping.StockCall], list[ChannelStock]]:
        return mapping.stock_calls(values)

    @staticmethod
    def _shown_quantities(body: Mapping[str, Any]) -> dict[str, int]:
        """sku_id (or "" for the item) → quantity from an ``item{num, skus}`` answer, when given."""
        item = body.get("item")
        if not isinstance(item, dict):
            return {}
        shown = {str(s["sku_id"]): int(s["quantity"]) for s in unwrap_list(item.get("skus"))
                 if isinstance(s, dict) and "sku_id" in s and "quantity" in s}
        if item.get("num") is not None:
            shown[""] = int(item["num"])
        return shown

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        """Absolute quantities, one result per value. Throttling and lost authorisation abort the
        batch (the shop must back off); other failures are reported per value."""
        calls, unbound = self._stock_calls(values)
        return await self._send_stock_calls(calls, unbound, retry=True)

    def _stock_change_calls(self, changes: list[ChannelStockChange]) -> tuple[list[mapping.StockCall],
                                                                             list[ChannelStockChange]]:
        return mapping.stock_change_calls(changes)

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        """Relative changes (``type=2``), one result per change with what the SKU shows after when
        TOP says. Sent once (``retry=False``) unless the platform deduplicates by key: a timeout is
        reported as an unknown outcome, never resent. Throttling and lost authorisation abort."""
        calls, unbound = self._stock_change_calls(changes)
        return await self._send_stock_calls(calls, unbound, retry=self.stock_adjust_idempotent)

    async def _send_stock_calls(self, calls: list[mapping.StockCall], unbound: list[Any], *,
                                retry: bool) -> list[StockPushResult]:
        """One result per value or change: refusals as such, transient faults as unknown outcomes
        (the call may have landed), what TOP says the SKU shows after as ``quantity``."""
        results = [StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=False,
                                   error_code="unbound", error_message="no channel_item_id for this listing")
                   for v in unbound]
        for call in calls:
            try:
                body = await self.client.call(call.method, call.params, retry=retry)
            except (ThrottledError, AuthorizationError):
                raise
            except (RetryableError, PermanentError, httpx.TransportError) as exc:
                transient = not isinstance(exc, PermanentError)
                results += [StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=False,
                                            error_code=getattr(exc, "code", None), error_message=str(exc),
                                            retryable=transient, outcome_unknown=transient) for v in call.values]
                continue
            shown = self._shown_quantities(body)
            results += [StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=True,
                                        quantity=shown.get(v.channel_sku_id or "", getattr(v, "quantity", None)))
                        for v in call.values]
        return results

    async def fetch_listings(self, cursor: str | None) -> ListingPage:
        """The shop's items on sale with their SKUs and merchant codes (``plugins.taobao.listings``)."""
        return await top_listings.fetch_listings(self.client, cursor)

    async def read_stock(self, listings: list[ChannelStock]) -> list[ChannelStockReading]:
        """What the shop shows, via ``taobao.item.seller.get`` (fields num_iid,num,outer_id,sku),
        one call per listing id. Listings the shop no longer has are left out."""
        by_item: dict[str, list[ChannelStock]] = {}
        for listing in listings:
            if listing.channel_item_id:
                by_item.setdefault(listing.channel_item_id, []).append(listing)
        readings: list[ChannelStockReading] = []
        for num_iid, group in by_item.items():
            try:
                body = await self.client.call("taobao.item.seller.get",
                                              {"fields": "num_iid,num,outer_id,sku", "num_iid": num_iid})
            except AuthorizationError:
                raise
            except PermanentError as exc:
                log.warning("stock.read_skipped", shop=self.shop, num_iid=num_iid, reason=str(exc))
                continue
            shown = self._shown_quantities(body)
            for listing in group:
                key = listing.channel_sku_id or ""
                if key in shown:
                    readings.append(ChannelStockReading(merchant_sku=listing.merchant_sku, channel_item_id=num_iid,
                                                        channel_sku_id=listing.channel_sku_id, quantity=shown[key]))
        return readings

    # -- shipping ------------------------------------------------------------------------------

    def courier_known(self, courier_code: str) -> bool:
        """Whether ``confirm_shipment`` can name this courier to TOP (the shop's table, no I/O)."""
        return canonical_courier_code(courier_code) in self.carriers

    async def confirm_shipment(self, order: Order, shipment: Shipment) -> ShipmentConfirmation:
        """``logistics.offline.send``, made safe to repeat: the trade (and its lines) is read first
        and parcels whose lines already shipped are skipped; after a failed or timed-out send the
        trade is read again, so a send that did land counts as done."""
        tid = order.ref.external_id
        calls = mapping.offline_send_params(tid, shipment, self.carriers)
        sent = 0
        for params in calls:
            trade = await self._fullinfo(tid, "tid,status,orders")
            if self._parcel_shipped(trade, params):
                continue
            status = str(trade.get("status") or "")
            if status in UNSHIPPABLE_STATUSES:
                raise PermanentError(f"shop '{self.shop}': trade {tid} is {status}; it must not be shipped",
                                     code=status)
            try:
                body = await self.client.call("taobao.logistics.offline.send", params, retry=False)
            except (RetryableError, httpx.TransportError):
                if self._parcel_shipped(await self._fullinfo(tid, "tid,status,orders"), params):
                    sent += 1
                    continue
                raise
            shipping = body.get("shipping") or {}
            if not shipping.get("is_success", False):
                raise PermanentError(f"shop '{self.shop}': logistics.offline.send for trade {tid} was refused")
            sent += 1
        return ShipmentConfirmation(ok=True, already_confirmed=sent == 0,
                                    message=None if sent else "the trade was already shipped")

    @staticmethod
    def _parcel_shipped(trade: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
        if str(trade.get("status") or "") in SHIPPED_STATUSES:
            return True
        if "sub_tid" not in params:
            return False
        wanted = set(str(params["sub_tid"]).split(","))
        lines = {str(i.get("oid_str") or i.get("oid")): str(i.get("status") or "")
                 for i in unwrap_list(trade.get("orders"))}
        return all(lines.get(oid) in SHIPPED_STATUSES for oid in wanted)

    # -- after-sales ---------------------------------------------------------------------------

    async def _refunds(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.client.call("taobao.refunds.receive.get", {
                "fields": self.settings.refund_fields,
                "start_modified": mapping.format_top_time(start),
                "end_modified": mapping.format_top_time(end),
                "page_no": page,
                "page_size": 100,
                "use_has_next": True,
            })
            found += [dict(r) for r in unwrap_list(body.get("refunds"))]
            if not body.get("has_next"):
                return found
            page += 1

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        return [self.refund_decisions.case(r) for r in await self._refunds(start, end)]

    async def get_aftersale(self, external_id: str) -> AfterSale:
        return self.refund_decisions.case(await self.refund_decisions.read(external_id))

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """A decision on a refund, through ``refund_decisions`` (read first, written once, read
        again). Exchanges, reissues and ``refuse_return`` on Taobao have no TOP write API for a
        C-shop: ``written_back=False`` with a note, the hub records them (the Tmall connector
        handles its exchanges itself and comes here for refunds)."""
        if case.type in (AfterSaleType.EXCHANGE, AfterSaleType.REISSUE) or decision.action in EXCHANGE_ACTIONS:
            return AfterSaleDecisionResult(written_back=False, note=(
                f"TOP has no write API for {case.type.value} cases of a {self.platform} shop; "
                f"'{decision.action.value}' is recorded in the hub only: take it in the seller centre too"))
        if decision.action not in refund_actions(self.platform):
            return AfterSaleDecisionResult(written_back=False, note=(
                f"TOP has no '{decision.action.value}' write for {self.platform} refunds "
                "(taobao.rp.returngoods.refuse is Tmall only); recorded in the hub only"))
        return await self.refund_decisions.decide(case, decision)

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """TOP's refuse reasons for a refund (``taobao.refund.refusereason.get``); none for the case
        types TOP takes no refund decisions on here."""
        if case.type in (AfterSaleType.EXCHANGE, AfterSaleType.REISSUE):
            return []
        return await self.refund_decisions.refuse_reasons(case.ref.external_id, case.extra.get("refund_phase"))

    async def edit_order(self, request: OrderEditRequest) -> OrderEditResult:
        """Memo, flag or address written with TOP (``order_edits``)."""
        return await order_edits.edit_order(self.client, self.platform, request)

    # -- not offered by this connector (no capability declared) --------------------------------

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushReceipt:
        raise PermanentError("Taobao has no HTTP pushes for sellers; events come over TMC (consume_messages)")

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        raise PermanentError("service orders are a Tmall feature: use the tmall platform")

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        raise PermanentError("service orders are a Tmall feature: use the tmall platform")

    async def reveal_address(self, order: Order) -> Address:
        raise PermanentError("decrypting TOP receiver data (top.oaid.decrypt) is not implemented")
