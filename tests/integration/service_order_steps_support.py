"""Shared helpers for the service-order step tests: a hub (no workers) with shops on fake service
channels (one that writes every step, one that writes every step but FAIL, one that writes none),
technicians, and service orders stored as intake would leave them. Not a test module."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus
from hub.context import Hub
from hub.db.tables import ServiceOrderEventRow, ServiceOrderRow, ServiceOrderWriteRow
from hub.services import shop_health
from hub.testing.aftersales_channel import ChannelsPlugin
from hub.testing.hub import hub_config, running_hub
from hub.testing.service_channel import ServicePlatform, make_service_channel
from hub.testing.service_orders import make_service_order, make_technician, store_service_order, store_technician

FULL = make_service_channel("sofull")
NO_FAIL = make_service_channel("sonofail", writes=frozenset(ServiceOrderAction) - {ServiceOrderAction.FAIL})
PLAIN = make_service_channel("soplain", writable=False)


@dataclass
class World:
    hub: Hub
    shop: str  # on FULL
    no_fail_shop: str
    plain_shop: str

    def platform(self, shop: str | None = None) -> ServicePlatform:
        shop = shop or self.shop
        return {self.shop: FULL, self.no_fail_shop: NO_FAIL, self.plain_shop: PLAIN}[shop].platform_state

    async def order(self, *, shop: str | None = None, origin: str = "channel",
                    status: ServiceOrderStatus = ServiceOrderStatus.NEW, **columns: Any) -> tuple[int, str]:
        """A stored service order (and its card at the platform); returns (id, card id)."""
        shop = shop or self.shop
        platform = self.hub.config.shops[shop].platform
        card = make_service_order(shop=shop, platform=platform, status=status)
        if origin == "channel":
            self.platform(shop).add(card)
        async with self.hub.database().transaction() as session:
            order_id = await store_service_order(session, shop=shop, platform=platform,
                                                 external_id=card.ref.external_id, status=status, origin=origin,
                                                 created_at=card.created_at, **columns)
        return order_id, card.ref.external_id

    async def technician(self, code: str, **fields: Any) -> int:
        async with self.hub.database().transaction() as session:
            return await store_technician(session, make_technician(code, **fields))


@contextmanager
def world(database_url: str) -> Iterator[World]:
    """The hub of a test (no workers: the inline try and ``retry_pending`` do the sending)."""
    for cls in (FULL, NO_FAIL, PLAIN):
        cls.platform_state = ServicePlatform()
    tag = secrets.token_hex(3)
    shop, no_fail, plain = f"sofull-{tag}", f"sonofail-{tag}", f"soplain-{tag}"
    config = hub_config(database_url, shops={shop: {"platform": "sofull"}, no_fail: {"platform": "sonofail"},
                                             plain: {"platform": "soplain"}})
    was = shop_health.BRIEF_WAIT_S
    shop_health.BRIEF_WAIT_S = 0.0
    try:
        with running_hub(config, extra_plugins=[ChannelsPlugin(FULL, NO_FAIL, PLAIN)], load_entry_points=False,
                         start_workers=False, relay=False) as hub:
            yield World(hub, shop, no_fail, plain)
    finally:
        shop_health.BRIEF_WAIT_S = was


async def order_row(hub: Hub, service_order_id: int) -> ServiceOrderRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ServiceOrderRow).where(ServiceOrderRow.id == service_order_id)
                                      .execution_options(populate_existing=True))).scalar_one()


async def writes(hub: Hub, service_order_id: int) -> list[ServiceOrderWriteRow]:
    async with hub.database().session() as session:
        return list((await session.execute(
            select(ServiceOrderWriteRow).where(ServiceOrderWriteRow.service_order_id == service_order_id)
            .order_by(ServiceOrderWriteRow.id).execution_options(populate_existing=True))).scalars())


async def events(hub: Hub, service_order_id: int) -> list[ServiceOrderEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(
            select(ServiceOrderEventRow).where(ServiceOrderEventRow.service_order_id == service_order_id)
            .order_by(ServiceOrderEventRow.id))).scalars())
