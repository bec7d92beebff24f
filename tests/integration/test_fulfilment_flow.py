"""The shipment flow through the API and real workers: a shipment is recorded once however often
it is posted, its stock leaves once, the channel is told once, plugins hear ``shipment_changed``;
bad input is named, held or cancelled orders are refused with the reason, and the channel's
faults leave the shipment pending, paused or visibly failed. On SQLite with the in-process queue
and on PostgreSQL with the real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select

from contracts import Capability, InboundMessage, MessageKind, Order, OrderStatus
from contracts.fulfilment import Hold
from contracts.shipments import Shipment, ShipmentConfirmation
from hub.context import Hub
from hub.db import shops as shop_rows
from hub.db.tables import DeadLetterRow, OrderEventRow, OrderRow, StockLedgerRow
from hub.errors import AuthorizationError, PermanentError, RetryableError
from hub.plugin_api import hookimpl
from hub.services import orders
from hub.services.ingest import accept_messages
from hub.services.stock import adjustments, levels, reservations, skus
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub


class Hang(Exception):
    """A fault that makes the next confirmation call never answer (a partner that hangs)."""


class Channel:
    """What the fake platform saw: confirmation calls, and faults to raise on the next ones."""

    calls: ClassVar[list[tuple[str, list[str]]]] = []
    faults: ClassVar[list[Exception]] = []


class _Settings(BaseModel):
    app_key: str = "k"


class ShippingChannel:
    platform: ClassVar[str] = "shipshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CONFIRM_SHIPMENT})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def confirm_shipment(self, order: Order, shipment: Shipment) -> ShipmentConfirmation:
        Channel.calls.append((order.ref.external_id, [p.tracking_number for p in shipment.parcels]))
        if Channel.faults:
            fault = Channel.faults.pop(0)
            if isinstance(fault, Hang):
                await asyncio.Event().wait()
            raise fault
        return ShipmentConfirmation(ok=True)

    async def aclose(self) -> None:
        return None


class SilentChannel(ShippingChannel):
    """A platform whose connector cannot confirm shipments."""

    platform: ClassVar[str] = "silentshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class Plugin:
    def __init__(self) -> None:
        self.heard: list[tuple[int, int, str]] = []

    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [ShippingChannel, SilentChannel]

    @hookimpl
    def shipment_changed(self, order_id: int, shipment_id: int, status: str) -> None:
        self.heard.append((order_id, shipment_id, status))


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


@pytest.fixture(autouse=True)
def _reset() -> None:
    Channel.calls.clear()
    Channel.faults.clear()


class World:
    """A running hub with two shops (one that confirms shipments, one that cannot), stock, keys."""

    def __init__(self, hub: Hub, client: httpx.AsyncClient, plugin: Plugin, shop: str, silent_shop: str,
                 warehouse_key: str) -> None:
        self.hub, self.client, self.plugin = hub, client, plugin
        self.shop, self.silent_shop = shop, silent_shop
        self.auth = bearer(warehouse_key)

    async def paid_order(self, lines: list[tuple[str, int]], *, shop: str | None = None) -> tuple[int, Order]:
        shop = shop or self.shop
        platform = "shipshop" if shop == self.shop else "silentshop"
        order = make_order(platform=platform, shop=shop, lines=lines)
        await accept_messages(self.hub, platform=platform, shop=shop, source="poll", messages=[InboundMessage(
            message_id=f"poll-{order.ref.external_id}", kind=MessageKind.ORDER, topic="poll",
            external_id=order.ref.external_id, order=order)])
        order_id = await until(lambda: self._order_id(order), what="the order stored")
        want = sum(q for _, q in lines)
        await until(lambda: self._reserved(order_id, want), what="the order's stock reserved")
        return order_id, order

    async def _order_id(self, order: Order) -> int | None:
        async with self.hub.database().session() as session:
            return await session.scalar(select(OrderRow.id).where(OrderRow.external_id == order.ref.external_id))

    async def _reserved(self, order_id: int, want: int) -> bool:
        async with self.hub.database().session() as session:
            counts = await reservations.count_reservations(session, order_id)
        return counts.get("active", 0) >= 1 and await self.reserved_units() >= want

    async def reserved_units(self) -> int:
        return sum(sum(s.reserved.values()) for s in (await self.stock()).values())

    async def stock(self) -> dict[str, levels.SkuStock]:
        async with self.hub.database().session() as session:
            return await levels.stock_of(session, ["SKU-1", "SKU-2"])

    async def post(self, order_id: int, body: dict[str, Any], auth: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(f"/api/v1/orders/{order_id}/shipments", json=body,
                                      headers=auth or self.auth)

    async def shipment(self, shipment_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/shipments/{shipment_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def settled(self, shipment_id: int, status: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            found = await self.shipment(shipment_id)
            return found if found["status"] == status else None

        return await until(check, what=f"shipment {shipment_id} {status}")


T = Any


async def until(check: Callable[[], Awaitable[T]], *, limit_s: float = 60.0, what: str = "condition") -> T:
    deadline = time.monotonic() + limit_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached within {limit_s:g} s (last: {last!r})")


def _parcel(tracking: str, items: list[tuple[str, int]] | None = None, courier: str = "SF") -> dict[str, Any]:
    parcel: dict[str, Any] = {"courier_code": courier, "tracking_number": tracking}
    if items is not None:
        parcel["items"] = [{"line_external_id": line, "quantity": qty} for line, qty in items]
    return parcel


class _Running:
    def __init__(self, database_url: str, mode: str | None) -> None:
        self.shop, self.silent = f"ship-{secrets.token_hex(3)}", f"silent-{secrets.token_hex(3)}"
        self.plugin = Plugin()
        self.config = hub_config(database_url, redis_url=mode,
                                 shops={self.shop: {"platform": "shipshop"}, self.silent: {"platform": "silentshop"}},
                                 warehouses={"main": {"platform": "manual"}})


async def _world(hub: Hub, client: httpx.AsyncClient, running: _Running) -> World:
    async with hub.database().transaction() as session:
        for sku in ("SKU-1", "SKU-2"):
            await skus.define_sku(session, sku)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse="main", merchant_sku=sku, on_hand=10)
                                         for sku in ("SKU-1", "SKU-2")], actor="test")
    key = await new_key(hub, "warehouse")
    return World(hub, client, running.plugin, running.shop, running.silent, key)


async def _dead_letters(hub: Hub, actor: str) -> list[DeadLetterRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(DeadLetterRow).where(DeadLetterRow.actor == actor))).scalars())


async def test_a_shipment_posted_twice_is_recorded_once_consumes_its_stock_once_and_is_confirmed_once(
    database_url: str, mode: str | None
) -> None:
    running = _Running(database_url, mode)
    with running_hub(running.config, extra_plugins=[running.plugin], load_entry_points=False) as hub:
        async with api_client(hub) as client:
            world = await _world(hub, client, running)
            order_id, order = await world.paid_order([("SKU-1", 2), ("SKU-2", 1)])

            body = {"warehouse": "main", "parcels": [_parcel("SF1001")]}  # one parcel, no items: the whole order
            first, again = await world.post(order_id, body), await world.post(order_id, body)
            assert first.status_code == 201, first.text
            assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
            shipment_id = first.json()["id"]
            assert first.json()["partial"] is False and first.json()["status"] == "pending"
            assert first.json()["created_by"].startswith("apikey:")
            assert {(i["line_external_id"], i["quantity"]) for i in first.json()["parcels"][0]["items"]} == {
                (line.external_id, line.quantity) for line in order.lines}

            confirmed = await world.settled(shipment_id, "confirmed")
            assert confirmed["confirmed_to_channel_at"] is not None and confirmed["attempts"] == 1
            hub.send("confirm_shipment", shipment_id)  # a redelivered message changes nothing
            await until(lambda: _consumed(world), what="the stock consumed")
            await until(lambda: _heard(world.plugin, shipment_id, ["pending", "confirmed"]), what="the hook")
            hub.runtime.join(60_000)  # type: ignore[union-attr]

            stock = await world.stock()
            assert (stock["SKU-1"].on_hand["main"], stock["SKU-1"].reserved["main"]) == (8, 0)
            assert (stock["SKU-2"].on_hand["main"], stock["SKU-2"].reserved["main"]) == (9, 0)
            async with hub.database().session() as session:
                shipped = (await session.execute(select(StockLedgerRow).where(
                    StockLedgerRow.cause == "order_shipped"))).scalars().all()
            assert sorted((r.merchant_sku, r.on_hand_delta) for r in shipped) == [("SKU-1", -2), ("SKU-2", -1)]
            assert Channel.calls == [(order.ref.external_id, ["SF1001"])]
            assert sorted(s for _, sid, s in world.plugin.heard if sid == shipment_id) == ["confirmed", "pending"]

            detail = (await client.get(f"/api/v1/orders/{order_id}", headers=world.auth)).json()
            assert detail["fulfilment_status"] == "shipped"
            assert [s["id"] for s in detail["shipments"]] == [shipment_id]
            assert detail["shipments"][0]["status"] == "confirmed"
            kinds = [e["kind"] for e in detail["history"]]
            assert kinds.count("shipment_recorded") == 1 and kinds.count("shipment_confirmed") == 1
            recorded = next(e for e in detail["history"] if e["kind"] == "shipment_recorded")
            assert recorded["actor"].startswith("apikey:")
        await hub.close_loop_resources()


async def _consumed(world: World) -> bool:
    stock = await world.stock()
    return stock["SKU-1"].on_hand["main"] == 8 and stock["SKU-2"].on_hand["main"] == 9


async def _heard(plugin: Plugin, shipment_id: int, statuses: list[str]) -> bool:
    # Each notice once; the confirmation may overtake the creation notice (separate messages).
    return sorted(s for _, sid, s in plugin.heard if sid == shipment_id) == sorted(statuses)


async def test_partial_shipments_keep_stock_reserved_until_the_last_parcel_and_refuse_more_than_remains(
    database_url: str, mode: str | None
) -> None:
    running = _Running(database_url, mode)
    with running_hub(running.config, extra_plugins=[running.plugin], load_entry_points=False) as hub:
        async with api_client(hub) as client:
            world = await _world(hub, client, running)
            order_id, order = await world.paid_order([("SKU-1", 2), ("SKU-2", 1)])
            line_a, line_b = (line.external_id for line in order.lines)

            part = await world.post(order_id, {"parcels": [_parcel("ZTO-1", [(line_a, 1)], courier="ZTO")]})
            assert part.status_code == 201 and part.json()["partial"] is True
            too_many = await world.post(order_id, {"parcels": [_parcel("ZTO-2", [(line_a, 2)])]})
            assert too_many.status_code == 400
            assert too_many.json()["field"] == "body.parcels.0.items.0.quantity"
            assert "only 1 remain" in too_many.json()["detail"]
            not_all = await world.post(order_id, {"partial": False, "parcels": [_parcel("ZTO-3", [(line_b, 1)])]})
            assert not_all.status_code == 400 and not_all.json()["field"] == "body.partial"
            await world.settled(part.json()["id"], "confirmed")
            detail = (await client.get(f"/api/v1/orders/{order_id}", headers=world.auth)).json()
            assert detail["fulfilment_status"] == "partially_shipped"
            assert await world.reserved_units() == 3  # nothing consumed while a line is still to ship

            rest = await world.post(order_id, {"parcels": [_parcel("ZTO-4", [(line_a, 1)]),
                                                           _parcel("ZTO-5", [(line_b, 1)])]})
            assert rest.status_code == 201 and rest.json()["partial"] is False
            await until(lambda: _consumed(world), what="the whole order's stock consumed")
            await world.settled(rest.json()["id"], "confirmed")
            detail = (await client.get(f"/api/v1/orders/{order_id}", headers=world.auth)).json()
            assert detail["fulfilment_status"] == "shipped" and len(detail["shipments"]) == 2
            steps = [(e["detail"]["from"], e["detail"]["to"]) for e in detail["history"]
                     if e["kind"] == "fulfilment_changed"]
            assert steps == [("unfulfilled", "partially_shipped"), ("partially_shipped", "shipped")]
            everything = await world.post(order_id, {"parcels": [_parcel("ZTO-6")]})
            assert everything.status_code == 409 and "already shipped" in everything.json()["detail"]
        await hub.close_loop_resources()


async def test_bad_shipments_are_refused_naming_the_field_and_writes_need_a_shipping_role(
    database_url: str, mode: str | None
) -> None:
    running = _Running(database_url, mode)
    with running_hub(running.config, extra_plugins=[running.plugin], load_entry_points=False) as hub:
        async with api_client(hub) as client:
            world = await _world(hub, client, running)
            order_id, order = await world.paid_order([("SKU-1", 1)])
            line = order.lines[0].external_id

            missing = await world.post(order_id + 1000, {"parcels": [_parcel("T-1")]})
            assert missing.status_code == 404
            unknown_line = await world.post(order_id, {"parcels": [_parcel("T-1", [("no-such-line", 1)])]})
            assert unknown_line.status_code == 400
            assert unknown_line.json()["field"] == "body.parcels.0.items.0.line_external_id"
            zero = await world.post(order_id, {"parcels": [_parcel("T-1", [(line, 0)])]})
            assert zero.status_code == 422
            assert [p["field"] for p in zero.json()["detail"]] == ["body.parcels.0.items.0.quantity"]
            no_parcels = await world.post(order_id, {"parcels": []})
            assert no_parcels.status_code == 422 and no_parcels.json()["detail"][0]["field"] == "body.parcels"
            bad_warehouse = await world.post(order_id, {"warehouse": "atlantis", "parcels": [_parcel("T-1")]})
            assert bad_warehouse.status_code == 400 and bad_warehouse.json()["field"] == "body.warehouse"
            twice = await world.post(order_id, {"parcels": [_parcel("T-1", [(line, 1)]), _parcel("T-1", [])]})
            assert twice.status_code == 400 and twice.json()["field"] == "body.parcels.1.items"
            viewer_key = bearer(await new_key(hub, "viewer"))
            viewer = await world.post(order_id, {"parcels": [_parcel("T-1")]}, auth=viewer_key)
            assert viewer.status_code == 403 and "shipments.write" in viewer.json()["detail"]
            assert (await client.get("/api/v1/shipments/999999", headers=world.auth)).status_code == 404

            operator = await world.post(order_id, {"parcels": [_parcel("T-1")]},
                                        auth=bearer(await new_key(hub, "operator")))
            assert operator.status_code == 201
            reused = await world.post(order_id, {"parcels": [_parcel("T-1"), _parcel("T-2")]})
            assert reused.status_code == 409 and "T-1" in reused.json()["detail"]
            hub.runtime.join(60_000)  # type: ignore[union-attr]
            async with hub.database().session() as session:
                kinds = (await session.execute(select(OrderEventRow.kind).where(
                    OrderEventRow.order_id == order_id))).scalars().all()
            assert list(kinds).count("shipment_recorded") == 1  # only the operator's shipment
        await hub.close_loop_resources()


async def test_an_order_on_hold_or_cancelled_is_refused_with_the_reason(database_url: str, mode: str | None) -> None:
    running = _Running(database_url, mode)
    with running_hub(running.config, extra_plugins=[running.plugin], load_entry_points=False) as hub:
        async with api_client(hub) as client:
            world = await _world(hub, client, running)
            held_id, _ = await world.paid_order([("SKU-1", 1)])
            async with hub.database().transaction() as session:
                await orders.add_hold(session, held_id, Hold(code="cancel_requested", reason="the buyer asked to "
                                                             "cancel"), cause="test")
            held = await world.post(held_id, {"parcels": [_parcel("H-1")]})
            assert held.status_code == 409 and held.json()["error"] == "conflict"
            assert "cancel_requested" in held.json()["detail"] and "the buyer asked to cancel" in held.json()["detail"]

            cancelled_id, cancelled = await world.paid_order([("SKU-2", 1)])
            async with hub.database().transaction() as session:
                await orders.apply_order(session, cancelled.model_copy(update={
                    "status": OrderStatus.CANCELLED, "raw_status": "TRADE_CLOSED",
                    "updated_at": cancelled.updated_at.replace(hour=3)}), cause="test")
            refused = await world.post(cancelled_id, {"parcels": [_parcel("C-1")]})
            assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
            hub.runtime.join(60_000)  # type: ignore[union-attr]
            for order_id in (held_id, cancelled_id):
                detail = (await client.get(f"/api/v1/orders/{order_id}", headers=world.auth)).json()
                assert detail["shipments"] == [] and detail["fulfilment_status"] == "unfulfilled"
        assert Channel.calls == []
        await hub.close_loop_resources()


async def test_channel_faults_retry_pause_fail_visibly_or_show_not_supported(
    database_url: str, mode: str | None
) -> None:
    running = _Running(database_url, mode)
    with running_hub(running.config, extra_plugins=[running.plugin], load_entry_points=False) as hub:
        async with api_client(hub) as client:
            world = await _world(hub, client, running)

            # A transient fault: retried by the queue, confirmed once.
            Channel.faults.append(RetryableError("isp.top-remote-service-unavailable; retry later", code="15"))
            retried_id, _ = await world.paid_order([("SKU-1", 1)])
            retried = (await world.post(retried_id, {"parcels": [_parcel("R-1")]})).json()
            done = await world.settled(retried["id"], "confirmed")
            assert done["attempts"] == 2 and len(Channel.calls) == 2 and done["last_error"] is None

            # A permanent refusal: failed, visible on the order, and a dead letter to replay.
            Channel.faults.append(PermanentError("the channel refused: order already closed", code="isv.x"))
            failed_id, _ = await world.paid_order([("SKU-1", 1)])
            failed = (await world.post(failed_id, {"parcels": [_parcel("P-1")]})).json()
            shown = await world.settled(failed["id"], "failed")
            assert "order already closed" in shown["last_error"]
            detail = (await client.get(f"/api/v1/orders/{failed_id}", headers=world.auth)).json()
            assert detail["shipments"][0]["status"] == "failed"
            assert any(e["kind"] == "shipment_confirm_failed" for e in detail["history"])
            letters = await until(lambda: _dead_letters(hub, "confirm_shipment"), what="the dead letter")
            assert letters[0].args == [failed["id"]] and "order already closed" in letters[0].reason
            await until(lambda: _heard(world.plugin, failed["id"], ["pending", "failed"]), what="the failed hook")

            # A lost authorisation: the shop is paused with the reason, the shipment stays pending.
            Channel.faults.append(AuthorizationError("session invalid (TOP code 27); re-authorise the shop"))
            paused_id, _ = await world.paid_order([("SKU-2", 1)])
            paused = (await world.post(paused_id, {"parcels": [_parcel("A-1")]})).json()

            async def shop_paused() -> shop_rows.ShopStatus | None:
                async with hub.database().session() as session:
                    status = await shop_rows.shop_status(session, world.shop)
                return status if status is not None and status.paused else None

            status = await until(shop_paused, what="the shop paused")
            assert "re-authorise" in (status.paused_reason or "")
            pending = await until(lambda: _with_error(world, paused["id"]), what="the reason on the shipment")
            assert pending["status"] == "pending" and "re-authorise" in pending["last_error"]
            assert len(await _dead_letters(hub, "confirm_shipment")) == 1  # only the refused one

            # A connector that cannot confirm shipments: shown as not_supported, never called.
            calls = len(Channel.calls)
            silent_id, _ = await world.paid_order([("SKU-2", 1)], shop=world.silent_shop)
            silent = (await world.post(silent_id, {"parcels": [_parcel("N-1")]})).json()
            shown = await world.settled(silent["id"], "not_supported")
            assert "cannot confirm shipments" in shown["last_error"] and len(Channel.calls) == calls
            await until(lambda: _heard(world.plugin, silent["id"], ["pending", "not_supported"]), what="the hook")
        await hub.close_loop_resources()


async def _with_error(world: World, shipment_id: int) -> dict[str, Any] | None:
    found = await world.shipment(shipment_id)
    return found if found["last_error"] else None
