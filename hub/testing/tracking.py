"""Test helpers for parcel tracking: a hub config whose tracking courier is a Kuaidi100 sandbox,
a paid order shipped in parcels (their rows made as the worker makes them), and a Kuaidi100
callback body signed like the real one (any ``status``, e.g. ``abort``).

Used by the hub's tracking tests and by plugin authors testing a tracking connector. Not for
production code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from contracts.orders import OrderStatus
from contracts.shipments import Parcel, ParcelItem
from hub.config import CourierConfig, HubConfig
from hub.context import Hub
from hub.db.tables import ParcelRow
from hub.services import orders
from hub.services.fulfilment import shipments, tracking
from hub.services.fulfilment.settings import FulfilmentSection, TrackingSettings
from hub.testing.factories import make_order
from hub.testing.hub import hub_config

#: The courier account name the helpers configure.
COURIER = "k100"
SANDBOX_SALT = "sandbox-salt"


def tracking_config(database_url: str, *, sandbox_settings: dict[str, Any], redis_url: str | None = None,
                    callback_base_url: str | None = "http://127.0.0.1:9/", **tracking_fields: Any) -> HubConfig:
    """A test config with ``[couriers.k100]`` (Kuaidi100 with ``sandbox_settings``, e.g.
    ``Kuaidi100Sandbox.courier_settings(url)``) as the tracking courier."""
    settings = TrackingSettings(courier=COURIER, callback_base_url=callback_base_url, **tracking_fields)
    return hub_config(database_url, redis_url=redis_url,
                      couriers={COURIER: CourierConfig(platform="kuaidi100", settings=sandbox_settings)},
                      fulfilment=FulfilmentSection(tracking=settings))


@dataclass(frozen=True)
class ShippedOrder:
    order_id: int
    shipment_id: int
    parcel_ids: list[int]


async def shipped_order(hub: Hub, tracking_numbers: list[str], *, courier_code: str = "ZTO",
                        shop: str = "track-shop", shipped_at: datetime | None = None) -> ShippedOrder:
    """A paid order (stored directly: no workers reserve or hold it) shipped in one parcel per
    tracking number, and its parcels made as the ``shipment_changed`` worker makes them."""
    lines = [(f"SKU-{i}", 1) for i in range(len(tracking_numbers))]
    order = make_order(shop=shop, status=OrderStatus.PAID, lines=lines)
    async with hub.database().transaction() as session:
        order_id = (await orders.apply_order(session, order, cause="test")).order_id
    parcels = [Parcel(courier_code=courier_code, tracking_number=number,
                      items=[ParcelItem(line_external_id=line.external_id, quantity=1)])
               for number, line in zip(tracking_numbers, order.lines, strict=True)]
    recorded = await shipments.record_shipment(hub, order_id, parcels, shipped_at=shipped_at, actor="test")
    parcel_ids = await tracking.parcels_shipped(hub, order_id, recorded.shipment.id)
    return ShippedOrder(order_id, recorded.shipment.id, parcel_ids)


async def parcel(hub: Hub, parcel_id: int) -> ParcelRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel_id))).scalar_one()


def signed_callback(payload: dict[str, Any], salt: str | None = SANDBOX_SALT) -> bytes:
    """A Kuaidi100 callback form body for ``payload`` (``status``, ``lastResult``…), signed with
    ``salt`` as Kuaidi100 signs it (uppercase MD5 of param + salt)."""
    param = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    form = {"param": param}
    if salt is not None:  # Kuaidi100's callback sign, written out here: the hub names no plugin
        form["sign"] = hashlib.md5((param + salt).encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    return urlencode(form).encode("utf-8")
