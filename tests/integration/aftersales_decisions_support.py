"""Shared helpers for the after-sale decision tests: a hub (no workers) with shops on the fake
after-sales channel (one that takes every decision, one that takes some, one that decides
nothing), the own warehouse with a courier, a return address; and cases stored as intake would.
Not a test module."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from contracts import AfterSale, AfterSaleStatus, AfterSaleType, Money
from contracts.aftersales import AfterSaleAction
from hub.context import Hub
from hub.db.tables import (
    AfterSaleActionRow,
    AfterSaleEventRow,
    AfterSaleRow,
    DefectiveStockRow,
    StockLedgerRow,
    StockRow,
)
from hub.services import shop_health
from hub.services.aftersales import intake
from hub.services.stock import adjustments, skus
from hub.testing import fulfilment_factories as ff
from hub.testing.aftersales_channel import ChannelsPlugin, FakeAfterSalesChannel, make_channel
from hub.testing.factories import make_aftersale
from hub.testing.hub import hub_config, running_hub

FULL = make_channel("asfull")
PARTIAL = make_channel("aspartial", actions=frozenset({AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE}))
PLAIN = make_channel("asplain", decides=False)
MAIN, DEFECTIVE = "main", "defective"


@dataclass
class World:
    hub: Hub
    shop: str  # on FULL
    partial_shop: str
    plain_shop: str

    def platform(self, shop: str) -> Any:
        cls = {self.shop: FULL, self.partial_shop: PARTIAL, self.plain_shop: PLAIN}[shop]
        return cls.platform_state

    async def order(self, lines: list[tuple[str, int]], *, shop: str | None = None) -> tuple[int, Any]:
        shop = shop or self.shop
        platform = self.hub.config.shops[shop].platform
        return await ff.paid_order(self.hub, platform=platform, shop=shop, lines=lines)

    async def case(self, order: Any, *, type: AfterSaleType = AfterSaleType.REFUND_ONLY,
                   status: AfterSaleStatus = AfterSaleStatus.REQUESTED, local: bool = False,
                   **fields: Any) -> tuple[int, AfterSale]:
        """A case of ``order`` held by its platform (version 1) and stored as intake stores it."""
        case = make_aftersale(order, type=type, status=status).model_copy(update={
            "version": "1", "max_refund": order.total, "extra": {"local": "true"} if local else {}, **fields})
        self.platform(order.ref.shop).add(case)
        async with self.hub.database().transaction() as session:
            case_id, _ = await intake.apply_aftersale(session, case, cause="test")
        return case_id, case


@contextmanager
def world(database_url: str, *, workers: bool = False) -> Iterator[World]:
    """The hub of a test; ``workers``: with queue workers and the outbox relay running."""
    for cls in (FULL, PARTIAL, PLAIN):
        cls.platform_state.reset()
    tag = secrets.token_hex(3)
    shop, partial, plain = f"full-{tag}", f"part-{tag}", f"plain-{tag}"
    config = hub_config(
        database_url, shops={shop: {"platform": "asfull"}, partial: {"platform": "aspartial"},
                             plain: {"platform": "asplain"}},
        warehouses={MAIN: {"platform": "manual", "priority": 1}},
        couriers={"post": {"platform": "manual", "courier_code": "ems"}},
        fulfilment={"couriers": {"rules": [{"courier": "post", "courier_code": "ems"}]}},
        aftersales={"default_return_address": {"address_id": "A-1", "name": "Returns", "detail": "Dock 3"}})
    with running_hub(config, extra_plugins=[ChannelsPlugin(FULL, PARTIAL, PLAIN)], load_entry_points=False,
                     start_workers=workers, relay=workers) as hub:
        yield World(hub, shop, partial, plain)


@contextmanager
def fast_retries() -> Iterator[None]:
    was = shop_health.BRIEF_WAIT_S
    shop_health.BRIEF_WAIT_S = 0.0
    try:
        yield
    finally:
        shop_health.BRIEF_WAIT_S = was


async def stock_in(hub: Hub, sku: str, on_hand: int, warehouse: str = MAIN) -> None:
    async with hub.database().transaction() as session:
        await skus.define_sku(session, sku, name=sku)
        if on_hand:
            await adjustments.apply_adjustment(session, adjustments.Adjustment(warehouse, sku, delta=on_hand))


async def case_row(hub: Hub, case_id: int) -> AfterSaleRow:
    async with hub.database().session() as session:
        return (await session.execute(select(AfterSaleRow).where(AfterSaleRow.id == case_id)
                                      .execution_options(populate_existing=True))).scalar_one()


async def actions(hub: Hub, case_id: int) -> list[AfterSaleActionRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(AfterSaleActionRow).where(AfterSaleActionRow.aftersale_id == case_id)
                                           .order_by(AfterSaleActionRow.id)
                                           .execution_options(populate_existing=True))).scalars())


async def events(hub: Hub, case_id: int) -> list[AfterSaleEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(AfterSaleEventRow).where(AfterSaleEventRow.aftersale_id == case_id)
                                           .order_by(AfterSaleEventRow.id))).scalars())


async def on_hand(hub: Hub, sku: str, warehouse: str) -> int:
    """Units of ``sku`` in ``warehouse``: sellable stock, or — for the defective location — the
    damaged units kept apart (``defective_stock``)."""
    async with hub.database().session() as session:
        if warehouse == DEFECTIVE:
            value = await session.scalar(select(DefectiveStockRow.quantity).where(
                DefectiveStockRow.merchant_sku == sku, DefectiveStockRow.location == warehouse))
        else:
            value = await session.scalar(select(StockRow.on_hand).where(StockRow.merchant_sku == sku,
                                                                        StockRow.warehouse == warehouse))
        return int(value or 0)


async def ledger(hub: Hub, reference: str) -> list[tuple[str, str, int, str]]:
    """(warehouse, SKU, on-hand delta, cause) of the ledger rows with ``reference``."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(StockLedgerRow).where(StockLedgerRow.reference == reference)
                                      .order_by(StockLedgerRow.id))).scalars()
        return [(r.warehouse, r.merchant_sku, r.on_hand_delta, r.cause) for r in rows]


def money(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="CNY")


__all__ = ["DEFECTIVE", "FULL", "MAIN", "PARTIAL", "PLAIN", "FakeAfterSalesChannel", "World", "world"]
