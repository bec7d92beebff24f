"""``TmallChannel``: a Tmall (B2C) shop — Taobao's TOP connector plus Tmall's own APIs.

Differences from Taobao: stock goes through ``tmall.item.quantity.update`` (with a hex
``options.outer_biz_key``, which makes a change safe to resend); exchanges come from
``tmall.exchange.receive.get`` (polled) and ``tmall.exchange.get`` (one case) as after-sales of
type EXCHANGE, and the merchant's decisions on them go back with ``tmall.exchange.*``
(``exchange_decisions``; refund decisions are Taobao's); service work cards (服务工单)
come from ``tmall.servicecenter.tasks.search`` (windows of at most 15 minutes) and the
``tmall_fuwu_WorkcardStatusUpdate`` TMC topic. The
servicecenter APIs are documented for service providers [U: whether a merchant's app may call
them]. Trades and refunds are Taobao's (same mapping, ``platform="tmall"``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from contracts import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    AfterSaleType,
    Capability,
    ChannelStock,
    ChannelStockChange,
    InboundMessage,
    RefuseReason,
    ServiceOrder,
    ServiceOrderStatus,
    StockPushResult,
    canonical_courier_map,
)
from hub.plugin_api import BadInputError, PermanentError
from plugins.taobao.client import unwrap_list
from plugins.taobao.connector import TaobaoChannel, TaobaoSettings
from plugins.taobao.mapping import StockCall, format_top_time
from plugins.taobao.push import TAOBAO_TOPICS
from plugins.taobao.refund_writes import refund_actions
from plugins.tmall import mapping
from plugins.tmall.exchange_decisions import EXCHANGE_ACTIONS, ExchangeDesk
from plugins.tmall.push import EXCHANGE_TOPICS, TMALL_RULES, WORKCARD_TOPIC

#: ``tmall.exchange.receive.get`` fields: the documented list plus ``time_out`` (in its answer,
#: not in the ``fields`` list) and ``desc``/``refund_phase`` [U: whether the list returns them;
#: ``get_aftersale`` reads them from ``tmall.exchange.get``, which does].
EXCHANGE_FIELDS = ("dispute_id,bizorder_id,num,buyer_nick,status,created,modified,reason,title,buyer_logistic_no,"
                   "seller_logistic_no,bought_sku,exchange_sku,buyer_logistic_name,seller_logistic_name,"
                   "time_out,desc,refund_phase,good_status,price,alipay_no")
SERVICE_WINDOW = timedelta(minutes=15)


class TmallSettings(TaobaoSettings):
    """Taobao's settings plus the Tmall-only ones."""

    service_task_statuses: dict[str, ServiceOrderStatus] = Field(
        default_factory=dict,
        description="tmall.servicecenter.tasks.search task_status code → canonical status. The codes are "
                    "undocumented [U]; set them from what your shop sees.")
    courier_names: dict[str, str] = Field(
        default_factory=dict,
        description="Hub courier code (any case) → the company name tmall.exchange.consigngoods takes for a "
                    "replacement, over the built-in table (plugins.tmall.mapping.COURIER_NAMES).")


class TmallChannel(TaobaoChannel):
    """A Tmall account over TOP (see the module docstring)."""

    platform: ClassVar[str] = "tmall"
    Settings: ClassVar[type[BaseModel]] = TmallSettings
    capabilities: ClassVar[frozenset[Capability]] = TaobaoChannel.capabilities | {
        Capability.SERVICE_ORDERS, Capability.DECIDE_AFTERSALES}
    topic_rules = TMALL_RULES
    tmc_topics: ClassVar[tuple[str, ...]] = (*TAOBAO_TOPICS, *EXCHANGE_TOPICS, WORKCARD_TOPIC)
    #: The exchange decisions (``tmall.exchange.*``) and whatever the Taobao connector writes back
    #: for refunds.
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = EXCHANGE_ACTIONS | refund_actions("tmall")

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        settings: TmallSettings = self.settings  # type: ignore[assignment]
        names = {**mapping.COURIER_NAMES, **canonical_courier_map(settings.courier_names)}
        self.exchanges = ExchangeDesk(self.client, self.shop, self.platform, names)

    #: ``options.outer_biz_key`` deduplicates increments (§3), so a lost answer is resent with it.
    stock_adjust_idempotent: ClassVar[bool] = True

    def _stock_calls(self, values: list[ChannelStock]) -> tuple[list[StockCall], list[ChannelStock]]:
        return mapping.tmall_stock_calls(values)

    def _stock_change_calls(self, changes: list[ChannelStockChange]) -> tuple[list[StockCall],
                                                                             list[ChannelStockChange]]:
        return mapping.tmall_stock_change_calls(changes)

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        """Taobao's, through ``tmall.item.quantity.update``. Its answer names only the item, so
        after decrements the SKUs are read back (``taobao.item.seller.get``): a SKU showing more
        than 0 was not cut short at 0 [U: whether Tmall cuts short or refuses a decrement below 0]."""
        results = await super().adjust_stock(changes)
        lowered = {(c.merchant_sku, c.channel_sku_id): c for c in changes if c.delta < 0}
        unknown = [r for r in results if r.ok and r.quantity is None and (r.merchant_sku, r.channel_sku_id) in lowered]
        if not unknown:
            return results
        listings = [ChannelStock(shop=c.shop, merchant_sku=c.merchant_sku, channel_item_id=c.channel_item_id,
                                 channel_sku_id=c.channel_sku_id, quantity=0)
                    for c in (lowered[(r.merchant_sku, r.channel_sku_id)] for r in unknown)]
        shows = {(r.merchant_sku, r.channel_sku_id): r.quantity for r in await self.read_stock(listings)}
        return [r.model_copy(update={"quantity": shows.get((r.merchant_sku, r.channel_sku_id))})
                if r in unknown else r for r in results]

    def _inbound(self, message: Any) -> InboundMessage:
        inbound = super()._inbound(message)
        if message.topic == WORKCARD_TOPIC:
            card = mapping.service_order_from_workcard_message(message.content, self.shop, self.platform)
            inbound = inbound.model_copy(update={"service_order": card})
        return inbound

    # -- after-sales: refunds (Taobao) + exchanges (Tmall) -------------------------------------

    async def _exchanges(self, extra: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.client.call("tmall.exchange.receive.get", {
                "fields": EXCHANGE_FIELDS, "page_no": page, "page_size": 100, **extra})
            found += [dict(x) for x in unwrap_list(body.get("results"))]
            if not body.get("has_next"):
                return found
            page += 1

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        # Exchanges come from the exchange API; their refund rows (dispute_type TMALL_EXCHANGE) are
        # skipped so one case is not reported twice with two status vocabularies.
        refunds = [r for r in await self._refunds(start, end) if r.get("dispute_type") != "TMALL_EXCHANGE"]
        found = [self.refund_decisions.case(r) for r in refunds]
        # The end parameter's misspelling is the API's own (end_gmt_modifed_time).
        exchanges = await self._exchanges({"start_gmt_modified_time": format_top_time(start),
                                           "end_gmt_modifed_time": format_top_time(end)})
        return found + [mapping.aftersale_from_exchange(x, self.shop, self.platform) for x in exchanges]

    async def get_aftersale(self, external_id: str) -> AfterSale:
        """An exchange is read with ``tmall.exchange.get`` (its deadline, description and phase
        are there); whether the id is an exchange's is asked of ``receive.get`` by
        ``refund_id_array`` first, which answers an empty list for a refund's id, where what
        ``exchange.get`` answers for one is undocumented [U]. Other ids are Taobao's refunds."""
        if await self._exchanges({"refund_id_array": external_id}):
            return await self.exchanges.case(external_id)
        return await super().get_aftersale(external_id)

    # -- after-sale decisions: exchanges here, refunds in the Taobao connector -------------------

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """Exchanges with ``tmall.exchange.*`` (``exchange_decisions``); other cases as Taobao does."""
        if case.type is AfterSaleType.EXCHANGE:
            return await self.exchanges.decide(case, decision)
        taobao = getattr(super(), "decide_aftersale", None)
        if taobao is None:
            raise BadInputError(f"shop '{self.shop}': this Tmall connector writes back exchange decisions "
                                f"only, not {decision.action.value} on a {case.type.value} case", field="action")
        result: AfterSaleDecisionResult = await taobao(case, decision)
        return result

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """``tmall.exchange.refusereason.get`` for an exchange; Taobao's list for other cases (empty
        when the Taobao connector has none)."""
        if case.type is AfterSaleType.EXCHANGE:
            return await self.exchanges.refuse_reasons(case)
        taobao = getattr(super(), "aftersale_refuse_reasons", None)
        if taobao is None:
            return []
        reasons: list[RefuseReason] = await taobao(case)
        return reasons

    # -- service work cards --------------------------------------------------------------------

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        """Work cards changed in the window, asked in slices of at most 15 minutes (the API's
        limit); ``start``/``end`` are sent as epoch milliseconds [U: typed Number in the doc]."""
        settings: TmallSettings = self.settings  # type: ignore[assignment]
        found: dict[str, ServiceOrder] = {}
        cursor = start
        while cursor < end:
            stop = min(end, cursor + SERVICE_WINDOW)
            body = await self.client.call("tmall.servicecenter.tasks.search", {
                "start": int(cursor.timestamp() * 1000), "end": int(stop.timestamp() * 1000)})
            packet = body.get("service_task_packet") or {}
            for task in unwrap_list(packet.get("service_list")):
                order = mapping.service_order_from_task(task, self.shop, settings.service_task_statuses,
                                                        self.platform)
                found[order.ref.external_id] = order
            cursor = stop
        return list(found.values())

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        raise PermanentError("TOP offers no work-card lookup by id to merchants that this plugin knows of; "
                             "service orders arrive with their TMC message or from fetch_service_orders")
