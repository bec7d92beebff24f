"""Shared helpers for the inventory tests: a hub over a test database, a fake shop connector, and
seeding of catalogue, stock and orders. Not a test module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from contracts import OrderStatus
from contracts.connectors import Capability
from contracts.inventory import ChannelStock, ChannelStockChange, ChannelStockReading, StockPushResult
from hub.config import HubConfig, ShopConfig, WarehouseConfig
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.stock import adjustments, channel_listings, skus
from hub.testing.factories import make_order

try:
    from hub.testing.db import database, database_url
except ImportError:  # storage fixtures not published yet: a fresh database per test, both backends
    import asyncpg

    from hub.db.engine import Database
    from hub.db.tables import Base

    PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"

    @pytest.fixture(params=["sqlite", "postgresql"])
    async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
            name = None
        else:
            name = f"hub_test_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        db = Database.connect(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await db.dispose()
        yield url
        if name is not None:
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    @pytest.fixture
    async def database(database_url: str) -> AsyncIterator[Any]:
        db = Database.connect(database_url)
        yield db
        await db.dispose()


class FakeShop:
    """A channel connector that keeps what it shows in memory, counts calls, and can be told to
    refuse: ``refuse[sku] = (code, retryable)`` per SKU, ``raise_next`` for the next call. It
    takes changes like TOP's ``type=2`` (a decrement is cut short at 0, the answer says what the
    SKU shows after) and deduplicates them by key like Tmall's ``outer_biz_key``."""

    platform: ClassVar[str] = "fake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.PUSH_STOCK, Capability.ADJUST_STOCK, Capability.READ_STOCK})
    max_stock_batch: ClassVar[int] = 20
    stock_adjust_idempotent: ClassVar[bool] = True

    class Settings(BaseModel):
        pass

    def __init__(self, name: str) -> None:
        self.name = name
        self.shows: dict[str, int] = {}
        self.calls: list[list[ChannelStock]] = []
        self.refuse: dict[str, tuple[str, bool]] = {}
        self.raise_next: list[Exception] = []
        self.changes: list[list[ChannelStockChange]] = []
        self.keys: set[str] = set()
        #: Apply the next call's changes, then raise this (an answer lost after the platform acted).
        self.lose_answer_next: list[Exception] = []

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        assert len(values) <= self.max_stock_batch
        self.calls.append(list(values))
        if self.raise_next:
            raise self.raise_next.pop(0)
        out = []
        for v in values:
            if v.merchant_sku in self.refuse:
                out.append(self._refusal(v))
                continue
            self.shows[v.merchant_sku] = v.quantity
            out.append(StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=True,
                                       quantity=v.quantity))
        if self.lose_answer_next:
            raise self.lose_answer_next.pop(0)
        return out

    def _refusal(self, entry: ChannelStock | ChannelStockChange) -> StockPushResult:
        code, retryable = self.refuse[entry.merchant_sku]
        return StockPushResult(merchant_sku=entry.merchant_sku, channel_sku_id=entry.channel_sku_id, ok=False,
                               error_code=code, error_message=f"{code} for {entry.merchant_sku}", retryable=retryable)

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        assert len(changes) <= self.max_stock_batch
        self.changes.append(list(changes))
        if self.raise_next:
            raise self.raise_next.pop(0)
        out = []
        for c in changes:
            if c.merchant_sku in self.refuse:
                out.append(self._refusal(c))
                continue
            if c.key not in self.keys:
                self.keys.add(c.key)
                self.shows[c.merchant_sku] = max(0, self.shows.get(c.merchant_sku, 0) + c.delta)
            out.append(StockPushResult(merchant_sku=c.merchant_sku, channel_sku_id=c.channel_sku_id, ok=True,
                                       quantity=self.shows[c.merchant_sku]))
        if self.lose_answer_next:
            raise self.lose_answer_next.pop(0)
        return out

    async def read_stock(self, listings: list[ChannelStock]) -> list[ChannelStockReading]:
        return [ChannelStockReading(merchant_sku=v.merchant_sku, channel_item_id=v.channel_item_id,
                                    channel_sku_id=v.channel_sku_id, quantity=self.shows.get(v.merchant_sku, 0))
                for v in listings if v.merchant_sku in self.shows]

    def buyer_orders(self, sku: str, qty: int) -> None:
        """What the platform does when a buyer orders: lowers what it shows."""
        self.shows[sku] = max(0, self.shows.get(sku, 0) - qty)


class AbsoluteFakeShop(FakeShop):
    """A shop whose platform takes absolute values only (like AliExpress)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PUSH_STOCK, Capability.READ_STOCK})


class UnkeyedFakeShop(FakeShop):
    """A shop whose changes carry no idempotency key (like Taobao's ``type=2``): a resend applies again."""

    stock_adjust_idempotent: ClassVar[bool] = False

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        self.keys.clear()
        return await super().adjust_stock(changes)


class FakeAccounts:
    def __init__(self, shops: dict[str, FakeShop]) -> None:
        self.shops = shops

    def channel(self, shop: str) -> FakeShop:
        return self.shops[shop]


def make_hub(database_url: str, shops: dict[str, dict[str, Any]] | None = None, *,
             warehouses: tuple[str, ...] = ("wh1",), plugins: tuple[Any, ...] = (),
             absolute_only: tuple[str, ...] = (), unkeyed: tuple[str, ...] = (), **config: Any) -> Hub:
    """A hub over the test database with fake shops; ``shops`` maps name → ShopConfig fields;
    the shops named in ``absolute_only`` take absolute values only, those in ``unkeyed`` take
    changes without an idempotency key."""
    shops = shops if shops is not None else {"shop-a": {}, "shop-b": {}}
    cfg = HubConfig(
        hub={"database_url": database_url, **config.pop("hub", {})},
        shops={name: ShopConfig(platform="fake", **fields) for name, fields in shops.items()},
        warehouses={name: WarehouseConfig(priority=i) for i, name in enumerate(warehouses)},
        **config,
    )
    hub = Hub(cfg, build_plugin_manager(load_entry_points=False, extra=list(plugins)))
    def kind(name: str) -> type[FakeShop]:
        return AbsoluteFakeShop if name in absolute_only else UnkeyedFakeShop if name in unkeyed else FakeShop

    fakes = {name: kind(name)(name) for name in shops}
    hub.accounts = lambda: FakeAccounts(fakes)  # type: ignore[method-assign]
    hub.fakes = fakes  # type: ignore[attr-defined]
    return hub


async def create_schema(url: str) -> None:
    """The hub's tables in a fresh database (the state machines' SQLite files)."""
    from hub.db.engine import Database
    from hub.db.tables import Base

    db = Database.connect(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()


async def close_hub(hub: Hub) -> None:
    await dispose_all_for_loop()


async def seed(hub: Hub, sku: str = "SKU-1", on_hand: int = 10, *, shops: list[str] | None = None,
               warehouse: str = "wh1", **sku_fields: Any) -> None:
    """A SKU in the catalogue, ``on_hand`` units in ``warehouse``, listed in ``shops``."""
    async with hub.database().transaction() as session:
        await skus.define_sku(session, sku, **sku_fields)
        if on_hand:
            await adjustments.apply_adjustment(session, adjustments.Adjustment(warehouse, sku, delta=on_hand))
        for shop in shops if shops is not None else list(hub.config.shops):
            await channel_listings.add_listing(session, shop, sku, f"item-{sku}", f"sku-{sku}")


async def place_order(hub: Hub, lines: list[tuple[str, int]], *, shop: str = "shop-a",
                      status: OrderStatus = OrderStatus.PAID, created: datetime | None = None) -> int:
    """Store an order (as the order service would) and return its id; lines name listings by SKU.
    ``created``: when the buyer ordered on the platform (default now)."""
    # Created now, as a buyer's order is: the hub compares it with the time of its last push.
    created = created or datetime.now(UTC)
    order = make_order(platform="fake", shop=shop, status=status, lines=lines, created_at=created,
                       updated_at=created + timedelta(seconds=1))
    order = order.model_copy(update={"lines": [
        line.model_copy(update={"channel_item_id": f"item-{line.merchant_sku}",
                                "channel_sku_id": f"sku-{line.merchant_sku}"}) for line in order.lines]})
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="test")
    return result.order_id


async def stock_row(hub: Hub, sku: str, warehouse: str = "wh1") -> tuple[int, int]:
    from sqlalchemy import select

    from hub.db.tables import StockRow

    async with hub.database().session() as session:
        row = (await session.execute(select(StockRow.on_hand, StockRow.reserved).where(
            StockRow.merchant_sku == sku, StockRow.warehouse == warehouse))).one()
        return int(row[0]), int(row[1])
