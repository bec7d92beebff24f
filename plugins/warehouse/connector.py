"""The warehouse connectors: ``ManualWarehouse`` (stock kept by people through the hub) and
``QimenWarehouse`` (a WMS spoken to with the Qimen ERP↔WMS protocol).

Each declares only what it does. Not for XML shapes (``mapping``), HTTP (``client``) or callback
verification (``push``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from contracts import Capability, ConnectorContext, Order, StockLevel
from hub.plugin_api import PermanentError
from plugins.warehouse.client import METHOD_PREFIX, QimenClient, QimenFailure, text_of
from plugins.warehouse.mapping import (
    WarehouseCodes,
    WarehouseOrderStatus,
    delivery_order_query_request,
    delivery_order_request,
    inventory_query_request,
    order_cancel_request,
    source_platform_code,
    stock_levels,
    warehouse_status,
)
from plugins.warehouse.push import WarehouseCallback, parse_callback

log = structlog.get_logger(__name__)


class ManualSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""


class ManualWarehouse:
    """A warehouse without a WMS: people keep its stock in the hub (adjustments, CSV import) and
    ship by hand. It calls nothing, so it declares no capability."""

    platform: ClassVar[str] = "manual"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    Settings: ClassVar[type[BaseModel]] = ManualSettings

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    async def aclose(self) -> None:
        return None


class QimenSettings(BaseModel):
    """One WMS account reached through Qimen. ``app_secret`` comes from the environment."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="The Qimen router (or WMS) URL requests are POSTed to.")
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    customer_id: str = Field(min_length=1, description="Qimen customerId of the WMS.")
    owner_code: str = Field(min_length=1, description="The merchant's owner code (货主编码) in the WMS.")
    warehouse_code: str = Field(min_length=1)
    session: str | None = None
    partner_id: str | None = None
    method_prefix: str = Field(
        default=METHOD_PREFIX, description="⚠️ some WMS expect method names without 'taobao.qimen.'; set ''."
    )
    order_type: str = "JYCK"
    inventory_type: str = Field(default="ZP", description="The sellable inventory type.")
    source_platform_codes: dict[str, str] = Field(
        default_factory=dict, description="Hub platform → sourcePlatformCode, over TB/TM (others: OTHER ⚠️)."
    )
    shop_nicks: dict[str, str] = Field(
        default_factory=dict, description="Hub shop name → shopNick; the hub shop name when absent."
    )
    logistics_code: str | None = Field(default=None, description="Hub courier code sent as logisticsCode.")
    stock_query_batch: int = Field(default=50, ge=1, le=500, description="SKUs per inventory.query (⚠️ limit).")
    push_max_age_s: float | None = Field(default=900.0, description="Callback timestamp window; None disables.")


class QimenWarehouse:
    """A WMS over Qimen: delivery orders out, stock queries, confirm and stock-change callbacks in."""

    platform: ClassVar[str] = "qimen"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.DELIVERY_ORDERS, Capability.QUERY_STOCK, Capability.RECEIVE_WAREHOUSE_PUSH}
    )
    Settings: ClassVar[type[BaseModel]] = QimenSettings

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: QimenSettings = context.settings
        self.settings = settings
        self.codes = WarehouseCodes(settings.owner_code, settings.warehouse_code, settings.order_type,
                                    settings.inventory_type)
        self.client = QimenClient(
            context.name,
            settings.url,
            settings.app_key,
            settings.app_secret.get_secret_value(),
            settings.customer_id,
            session=settings.session,
            partner_id=settings.partner_id,
            method_prefix=settings.method_prefix,
            throttle=context.throttle,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def create_delivery_order(self, order: Order, lines: list[str], key: str) -> str:
        """Send a delivery order for ``lines`` of ``order``; returns its code (= ``key``).

        ``key`` is the hub's idempotency key and becomes the ``deliveryOrderCode``, so a retry
        after a lost answer cannot create a second order: when the WMS refuses the create (e.g. as
        a duplicate), the order is looked up by its code and an existing one counts as success.
        ``order`` must carry the revealed shipping address.
        """
        request = delivery_order_request(
            order,
            lines,
            key,
            self.codes,
            source_platform=source_platform_code(order.ref.platform, self.settings.source_platform_codes),
            shop_nick=self.settings.shop_nicks.get(order.ref.shop, order.ref.shop),
            courier=self.settings.logistics_code,
        )
        try:
            response = await self.client.call("deliveryorder.create", request)
        except QimenFailure as refusal:
            existing = await self._existing_status(key)
            if existing is None:
                raise
            if existing in (WarehouseOrderStatus.CANCELLED, WarehouseOrderStatus.CLOSED,
                            WarehouseOrderStatus.REJECTED):
                raise PermanentError(
                    f"warehouse {self.context.name!r}: delivery order {key} already exists and is {existing.value}; "
                    "send it again under a new key",
                    code=refusal.code,
                    partner_message=refusal.partner_message,
                ) from refusal
            log.info("delivery_order.already_exists", warehouse=self.context.name, code=key, status=existing.value)
            return key
        warehouse_id = text_of(response, "deliveryOrderId")
        if warehouse_id:
            await self.context.state.set(f"delivery_order_id:{key}", warehouse_id)
        log.info("delivery_order.created", warehouse=self.context.name, code=key, warehouse_id=warehouse_id)
        return key

    async def _existing_status(self, code: str) -> WarehouseOrderStatus | None:
        """The WMS's status of delivery order ``code``, or None if it does not know it (or cannot
        be asked: a WMS without ``deliveryorder.query`` leaves the original refusal standing)."""
        try:
            response = await self.client.call("deliveryorder.query", delivery_order_query_request(code, self.codes))
        except QimenFailure:
            return None
        head = response.find("deliveryOrder")
        if head is None or text_of(head, "deliveryOrderCode") != code:
            return None
        return warehouse_status(text_of(head, "status"))

    async def cancel_delivery_order(self, code: str) -> bool:
        """Ask the WMS to cancel; True when the order is (or already was) cancelled, False when
        the WMS refuses (typically: already shipped)."""
        warehouse_id = await self.context.state.get(f"delivery_order_id:{code}")
        try:
            await self.client.call("order.cancel", order_cancel_request(code, self.codes, warehouse_id))
        except QimenFailure as refusal:
            if await self._existing_status(code) is WarehouseOrderStatus.CANCELLED:
                return True
            log.info("delivery_order.cancel_refused", warehouse=self.context.name, code=code,
                     partner_code=refusal.code, partner_message=refusal.partner_message)
            return False
        return True

    async def query_stock(self, merchant_skus: list[str]) -> list[StockLevel]:
        """Sellable stock per SKU as the WMS reports it; SKUs it does not report are omitted."""
        levels: list[StockLevel] = []
        batch = self.settings.stock_query_batch
        for start in range(0, len(merchant_skus), batch):
            chunk = merchant_skus[start:start + batch]
            response = await self.client.call("inventory.query", inventory_query_request(chunk, self.codes))
            levels += stock_levels(response, self.context.name, self.codes, datetime.now(UTC))
        return levels

    def parse_warehouse_push(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> WarehouseCallback:
        """Verify a WMS callback (sign over ``query`` params + raw ``body``) and parse it.

        :param query: the request's query-string params: Qimen puts ``method``, ``timestamp`` and
            ``sign`` there, so the webhook must pass them along with the raw body.
        :raises SignatureError: bad sign or stale timestamp; answer 4xx.
        Answer an accepted callback with ``push.SUCCESS_REPLY``.
        """
        return parse_callback(
            query,
            body,
            self.settings.app_secret.get_secret_value(),
            self.context.name,
            self.codes,
            now=datetime.now(UTC),
            max_age_s=self.settings.push_max_age_s,
        )
