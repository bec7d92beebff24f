"""``TmallChannel``: a Tmall (B2C) shop — Taobao's TOP connector plus Tmall's own APIs.

Differences from Taobao: stock goes through ``tmall.item.quantity.update`` (with a hex
``options.outer_biz_key``, which makes a change safe to resend); exchanges come from
``tmall.exchange.receive.get`` (polled) and ``tmall.exchange.get`` (one case) as after-sales of
type EXCHANGE, and the merchant's decisions on them go back with ``tmall.exchange.*``
(``exchange_decisions``; refund decisions are Taobao's). Service work cards (服务工单) are read
with ``tmall.servicecenter.workcard.querybyseller`` (the merchant-side read): by creation-time
windows of at most 15 minutes, and by id. That API filters by creation time only [C: OT], so a
change to an older card comes by TMC (``tmall_servicecenter_TaskUpdate``,
``tmall_fuwu_WorkcardStatusUpdate``: triggers the hub completes with ``get_service_order``; the hub
also re-reads open cards by id). Steps go back with the ``workcard.*`` write APIs
(``workcard_writes``), which are documented for service providers [U: whether a seller's session
may call them]. Trades and refunds are Taobao's (same mapping, ``platform="tmall"``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import structlog
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
    MessageKind,
    RefuseReason,
    ServiceOrder,
    ServiceOrderAction,
    ServiceOrderStatus,
    ServiceOrderStep,
    ServiceStepResult,
    StockPushResult,
    canonical_courier_map,
)
from hub.plugin_api import BadInputError, NotFoundError, PermanentError
from plugins.taobao.client import unwrap_list
from plugins.taobao.connector import TaobaoChannel, TaobaoSettings
from plugins.taobao.mapping import StockCall, format_top_time
from plugins.taobao.push import TAOBAO_TOPICS
from plugins.taobao.refund_writes import refund_actions
from plugins.tmall import mapping, workcard_mapping
from plugins.tmall.exchange_decisions import EXCHANGE_ACTIONS, ExchangeDesk
from plugins.tmall.push import (
    EXCHANGE_TOPICS,
    SERVICE_MONITOR_TOPIC,
    TASK_UPDATE_PERSONAL,
    TASK_UPDATE_TOPIC,
    TMALL_RULES,
    WORKCARD_TOPICS,
)
from plugins.tmall.workcard_writes import WORKCARD_WRITES, WorkcardDesk

#: ``tmall.exchange.receive.get`` fields: the documented list plus ``time_out`` (in its answer,
#: not in the ``fields`` list) and ``desc``/``refund_phase`` [U: whether the list returns them;
#: ``get_aftersale`` reads them from ``tmall.exchange.get``, which does].
EXCHANGE_FIELDS = ("dispute_id,bizorder_id,num,buyer_nick,status,created,modified,reason,title,buyer_logistic_no,"
                   "seller_logistic_no,bought_sku,exchange_sku,buyer_logistic_name,seller_logistic_name,"
                   "time_out,desc,refund_phase,good_status,price,alipay_no")
#: querybyseller's creation-time window: ``gmt_create_start``/``_end`` at most 15 minutes apart [C: OT].
SERVICE_WINDOW = timedelta(minutes=15)
log = structlog.get_logger(__name__)
#: Work cards per querybyseller page [U: the doc states no maximum].
WORKCARD_PAGE_SIZE = 50
QUERY = "tmall.servicecenter.workcard.querybyseller"


class TmallSettings(TaobaoSettings):
    """Taobao's settings plus the Tmall-only ones."""

    workcard_statuses: dict[str, ServiceOrderStatus] = Field(
        default_factory=dict,
        description="Work card status_code (querybyseller) → canonical status, for codes the merchant knows. "
                    "Tmall does not publish the codes [U]; a card whose code is not here gets its status from "
                    "its times (cancelled, 核销, signed in, reserved, worker assigned, else new).")
    workcard_writes: bool = Field(
        default=True,
        description="Write service-order steps back with tmall.servicecenter.workcard.* (service-provider APIs "
                    "[U: whether a seller's session may call them]). False: every step is recorded in the hub "
                    "only (written_back false, with a note).")
    courier_names: dict[str, str] = Field(
        default_factory=dict,
        description="Hub courier code (any case) → the company name tmall.exchange.consigngoods takes for a "
                    "replacement, over the built-in table (plugins.tmall.mapping.COURIER_NAMES).")


class TmallChannel(TaobaoChannel):
    """A Tmall account over TOP (see the module docstring)."""

    platform: ClassVar[str] = "tmall"
    Settings: ClassVar[type[BaseModel]] = TmallSettings
    capabilities: ClassVar[frozenset[Capability]] = TaobaoChannel.capabilities | {
        Capability.SERVICE_ORDERS, Capability.WRITE_SERVICE_ORDERS, Capability.DECIDE_AFTERSALES}
    topic_rules = TMALL_RULES
    tmc_topics: ClassVar[tuple[str, ...]] = (*TAOBAO_TOPICS, *EXCHANGE_TOPICS, *WORKCARD_TOPICS)
    #: querybyseller's longest creation-time window (the hub splits its polls by it).
    max_service_window_s: ClassVar[int] = 900
    #: The work-card steps with a Tmall call (FAIL has none this connector can fill, see workcard_writes).
    service_order_writes: ClassVar[frozenset[ServiceOrderAction]] = WORKCARD_WRITES
    #: The exchange decisions (``tmall.exchange.*``) and whatever the Taobao connector writes back
    #: for refunds.
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = EXCHANGE_ACTIONS | refund_actions("tmall")

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        settings: TmallSettings = self.settings  # type: ignore[assignment]
        names = {**mapping.COURIER_NAMES, **canonical_courier_map(settings.courier_names)}
        self.exchanges = ExchangeDesk(self.client, self.shop, self.platform, names)
        self.workcard_statuses = dict(settings.workcard_statuses)
        self.workcards = WorkcardDesk(self.client, self.shop, self.get_service_order, enabled=settings.workcard_writes)

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
        if message.topic == TASK_UPDATE_TOPIC:
            # The buyer's name, phone and address ride along: not kept in the stored payload.
            payload = {k: v for k, v in inbound.payload.items() if k not in TASK_UPDATE_PERSONAL}
            inbound = inbound.model_copy(update={"payload": payload})
        if inbound.kind is MessageKind.SERVICE_ALERT and message.topic == SERVICE_MONITOR_TOPIC:
            try:
                alert = workcard_mapping.service_alert_from_message(message.content, self.shop, self.platform,
                                                                    inbound.occurred_at)
            except BadInputError as exc:
                log.warning("tmc.unparsable", shop=self.shop, message_id=message.id, topic=message.topic,
                            reason=str(exc))
                return inbound.model_copy(update={"kind": MessageKind.OTHER})
            inbound = inbound.model_copy(update={"service_alert": alert})
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

    # -- service work cards ----------------------------------------------------------------------

    async def _query_workcards(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every card querybyseller answers for ``params``, page by page (``current_page``/``page_size``)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.client.call(QUERY, {**params, "current_page": page, "page_size": WORKCARD_PAGE_SIZE})
            result: dict[str, Any] = body["result"] if isinstance(body.get("result"), dict) else {}
            if result.get("success") is False:
                raise PermanentError(f"shop '{self.shop}': {QUERY} refused: {result.get('msg_info') or '?'} "
                                     f"({result.get('msg_code') or 'no code'})", code=str(result.get("msg_code") or ""),
                                     partner_message=str(result.get("msg_info") or ""))
            data: dict[str, Any] = result["result_data"] if isinstance(result.get("result_data"), dict) else {}
            rows = [dict(x) for x in unwrap_list(data.get("data_list"))]
            found += rows
            total = int(data.get("total_count") or 0)
            if not rows or page * WORKCARD_PAGE_SIZE >= total:
                return found
            page += 1

    def _service_order(self, card: dict[str, Any]) -> ServiceOrder:
        return workcard_mapping.service_order_from_workcard(card, self.shop, self.workcard_statuses, self.platform)

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        """Work cards CREATED in the window (querybyseller filters by ``gmt_create`` only [C: OT]),
        asked in slices of at most 15 minutes. Changes to older cards come by TMC, and the hub
        re-reads open cards by id (``get_service_order``)."""
        found: dict[str, ServiceOrder] = {}
        cursor = start
        while cursor < end:
            stop = min(end, cursor + SERVICE_WINDOW)
            for card in await self._query_workcards({"gmt_create_start": format_top_time(cursor),
                                                     "gmt_create_end": format_top_time(stop)}):
                order = self._service_order(card)
                found[order.ref.external_id] = order
            cursor = stop
        return list(found.values())

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        """One card by id (querybyseller ``id``); ``NotFoundError`` when it answers none."""
        if not external_id.isdigit():
            raise NotFoundError(f"shop '{self.shop}': {external_id!r} is not a Tmall work card id")
        cards = await self._query_workcards({"id": external_id})
        for card in cards:
            if str(card.get("id")) == external_id:
                return self._service_order(card)
        raise NotFoundError(f"shop '{self.shop}': Tmall knows no work card {external_id}")

    async def write_service_order(self, order: ServiceOrder, step: ServiceOrderStep) -> ServiceStepResult:
        """One step written back with ``tmall.servicecenter.workcard.*`` (``workcard_writes``)."""
        return await self.workcards.write(order, step)
