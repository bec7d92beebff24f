"""Test helpers for the whole fulfilment flow end to end: the hub's configuration for one channel
shop and one warehouse kind (the hub's own warehouse, or a Qimen WMS sandbox), the waybill
provider each channel's parcels are issued by, a Kuaidi100 sandbox tracking every parcel, and
small readers over the hub's database.

Which provider issues a channel's waybills (as merchants commonly do it):

- Taobao / Tmall → Cainiao over TOP (the channel's own TOP sandbox serves ``cainiao.waybill.ii.*``);
- Douyin → the Douyin e-waybill (the Douyin sandbox serves ``logistics.newCreateOrder``);
- AliExpress → nobody: its buyers are abroad and the three providers issue domestic waybills only,
  so a label bought elsewhere (EMS at the post office) is entered by hand, through the ``manual``
  courier account (its parcels wait for the number; the test types it in over the API).

Used by ``tests/e2e/test_fulfilment_flow_e2e.py``. Not for production code, and not a harness of
its own: the hub, the API server and the channel sandboxes are started by the test's harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from hub.config import CourierConfig, HubConfig, ShopConfig, WarehouseConfig
from hub.context import Hub
from hub.db.tables import (
    DeliveryOrderRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderHoldRow,
    OrderRow,
    ParcelRow,
    TrackingEventRow,
)
from hub.services.fulfilment.settings import (
    CourierRule,
    CourierRulesSettings,
    FulfilmentSection,
    ReviewSettings,
    TrackingSettings,
)
from hub.services.stock import adjustments, skus
from hub.testing.hub import hub_config

WarehouseKind = Literal["own", "qimen"]

#: The warehouse names the configuration uses.
OWN, WMS = "own", "wms-hz"
#: The courier accounts: the tracking one, and one waybill provider per channel.
TRACKING_COURIER = "k100"
CAINIAO, DOUYIN_WAYBILL, KUAIDI100_LABEL = "cainiao-main", "douyin-ebill", "k100-label"
#: The courier account of labels bought elsewhere (platform ``manual``: issues nothing).
BOUGHT_ELSEWHERE = "post-office"
#: (provider account, hub courier code) issuing each channel's parcels.
PROVIDER_OF: dict[str, tuple[str, str]] = {
    "taobao": (CAINIAO, "yto"),
    "tmall": (CAINIAO, "yto"),
    "douyin": (DOUYIN_WAYBILL, "zto"),
    "aliexpress": (BOUGHT_ELSEWHERE, "ems"),
}
CAINIAO_TEMPLATE = "http://cloudprint.cainiao.com/template/standard/101"
SENDER = {"name": "Own warehouse", "phone": "0571-00000000", "province": "浙江省", "city": "杭州市",
          "district": "余杭区", "street": "仓前街道 1 号"}


@dataclass(frozen=True)
class Channel:
    """The channel shop of one case: its platform, shop name, sandbox and the sandbox's URL."""

    platform: str
    shop: str
    sandbox: Any
    base_url: str


def warehouses(kind: WarehouseKind, wms_settings: dict[str, Any]) -> dict[str, WarehouseConfig]:
    """The own warehouse and the Qimen WMS; the one of ``kind`` comes first by priority and ships
    everywhere, the other covers only a region no test order goes to (so routing is decided by the
    configuration, not by chance)."""
    elsewhere = ["西藏"]
    first, second = (OWN, WMS) if kind == "own" else (WMS, OWN)
    priority = {first: 10, second: 20}
    return {
        OWN: WarehouseConfig(platform="manual", priority=priority[OWN], address=SENDER,
                             regions=[] if first == OWN else elsewhere),
        WMS: WarehouseConfig(platform="qimen", priority=priority[WMS], settings=wms_settings,
                             regions=[] if first == WMS else elsewhere),
    }


def couriers(channel: Channel, k100_settings: dict[str, Any], k100_label_settings: dict[str, Any]
             ) -> dict[str, CourierConfig]:
    """The tracking account (Kuaidi100) and the waybill provider of ``channel``."""
    out = {TRACKING_COURIER: CourierConfig(platform="kuaidi100", settings=k100_settings)}
    provider, courier_code = PROVIDER_OF[channel.platform]
    if provider == CAINIAO:
        shop = channel.sandbox.shop_settings(channel.shop, channel.base_url)
        settings = {k: shop[k] for k in ("gateway_url", "app_key", "app_secret", "session", "sign_method")}
        out[CAINIAO] = CourierConfig(platform="cainiao", settings={**settings, "template_url": CAINIAO_TEMPLATE})
    elif provider == DOUYIN_WAYBILL:
        out[DOUYIN_WAYBILL] = CourierConfig(platform="douyin_waybill", settings=channel.sandbox.waybill_settings(
            channel.shop, channel.base_url))
    elif provider == BOUGHT_ELSEWHERE:
        out[BOUGHT_ELSEWHERE] = CourierConfig(platform="manual")
    else:
        out[KUAIDI100_LABEL] = CourierConfig(platform="kuaidi100_label",
                                             settings={**k100_label_settings, "couriers": [courier_code]})
    return out


def fulfilment(channel: Channel, *, hold_on_buyer_remark: bool = False) -> FulfilmentSection:
    provider, courier_code = PROVIDER_OF[channel.platform]
    return FulfilmentSection(
        review=ReviewSettings(hold_on_buyer_remark=hold_on_buyer_remark),
        couriers=CourierRulesSettings(rules=[CourierRule(courier=provider, courier_code=courier_code,
                                                         platforms=[channel.platform])]),
        # The API server's address is known only once it runs: the test sets it then.
        tracking=TrackingSettings(courier=TRACKING_COURIER, callback_base_url="http://127.0.0.1:9"),
    )


def flow_config(database_url: str, redis_url: str | None, channel: Channel, kind: WarehouseKind, *,
                wms_settings: dict[str, Any], k100_settings: dict[str, Any],
                k100_label_settings: dict[str, Any], hold_on_buyer_remark: bool = False) -> HubConfig:
    """The hub of one case: ``channel``'s shop (its poll and TMC as the e2e harness sets them),
    both warehouses (``kind`` first), the couriers and the fulfilment rules."""
    shop = ShopConfig(platform=channel.platform, settings=channel.sandbox.shop_settings(channel.shop, channel.base_url),
                      poll_interval_s=1.0, poll_overlap_s=120.0, rate_limit_per_s=200.0, rate_limit_burst=200)
    config = hub_config(database_url, redis_url=redis_url, shops={channel.shop: shop},
                        warehouses=warehouses(kind, wms_settings),
                        couriers=couriers(channel, k100_settings, k100_label_settings),
                        fulfilment=fulfilment(channel, hold_on_buyer_remark=hold_on_buyer_remark))
    config.rules.stock_unanswered_wait_s = 3
    return config


async def stock_in(hub: Hub, warehouse: str, merchant_sku: str, on_hand: int) -> None:
    """Define ``merchant_sku`` and put ``on_hand`` units of it in ``warehouse`` only."""
    async with hub.database().transaction() as session:
        await skus.define_sku(session, merchant_sku, name=merchant_sku)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse=warehouse, merchant_sku=merchant_sku,
                                                                on_hand=on_hand)], actor="e2e", reference="e2e-seed")


# --------------------------------------------------------------------------- reading the hub


async def order_row(hub: Hub, shop: str, external_id: str) -> OrderRow | None:
    async with hub.database().session() as session:
        return (await session.execute(select(OrderRow).where(OrderRow.shop == shop, OrderRow.external_id == external_id)
                                      .execution_options(populate_existing=True))).scalar_one_or_none()


async def order_by_id(hub: Hub, order_id: int) -> OrderRow:
    async with hub.database().session() as session:
        return (await session.execute(select(OrderRow).where(OrderRow.id == order_id)
                                      .execution_options(populate_existing=True))).scalar_one()


async def delivery_orders(hub: Hub, order_id: int) -> list[DeliveryOrderRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(DeliveryOrderRow).where(DeliveryOrderRow.order_id == order_id)
                                           .order_by(DeliveryOrderRow.id))).scalars())


async def parcels(hub: Hub, order_id: int) -> list[ParcelRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(ParcelRow).where(ParcelRow.order_id == order_id)
                                           .order_by(ParcelRow.id))).scalars())


async def open_holds(hub: Hub, order_id: int) -> dict[str, str]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars()
        return {r.code: r.reason for r in rows}


async def open_exceptions(hub: Hub, order_id: int) -> list[tuple[str, str]]:
    """(kind, reason) of the order's unresolved fulfilment exceptions."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(FulfilmentExceptionRow).where(
            FulfilmentExceptionRow.order_id == order_id, FulfilmentExceptionRow.resolved_at.is_(None)))).scalars()
        return [(r.kind, r.reason) for r in rows]


async def history(hub: Hub, order_id: int) -> list[str]:
    """The kinds of the order's history entries, oldest first."""
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderEventRow.kind).where(OrderEventRow.order_id == order_id)
                                           .order_by(OrderEventRow.id))).scalars())


async def stock_at(hub: Hub, warehouse: str, merchant_sku: str) -> tuple[int, int]:
    """(on hand, reserved) of ``merchant_sku`` in ``warehouse``."""
    from hub.services.stock import levels

    async with hub.database().session() as session:
        level = (await levels.stock_of(session, [merchant_sku]))[merchant_sku]
    return level.on_hand.get(warehouse, 0), level.reserved.get(warehouse, 0)


async def tracking_states(hub: Hub, tracking_number: str) -> list[str]:
    """The stored scans' states of a tracking number, oldest first."""
    async with hub.database().session() as session:
        return list((await session.execute(select(TrackingEventRow.state).where(
            TrackingEventRow.tracking_number == tracking_number).order_by(TrackingEventRow.occurred_at))).scalars())
