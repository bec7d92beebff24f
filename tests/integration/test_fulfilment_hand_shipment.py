"""A shipment recorded by hand (the API's path, not through a delivery order) while the automatic
flow is on, on SQLite and PostgreSQL: the order's own-warehouse delivery order is cancelled ("shipped
by hand"), its pending parcel never gets a waybill and an issued one is cancelled at the (fake)
provider, the pick list is empty; a WMS delivery order is cancelled at the Qimen sandbox (real
HTTP, real signatures), or, when the WMS already shipped it, a ``late_cancel`` exception is raised;
the message delivered twice acts once; a partial shipment by hand only writes an order event; a
merged delivery order is closed only once every order in it shipped. The actors' service functions
are called directly, so every step is deterministic; the last test runs the outbox message through
the relay and a worker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from contracts.shipments import Parcel, ParcelItem
from hub.context import Hub
from hub.db.tables import (
    DeliveryOrderRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderLineRow,
    OrderRow,
    OutboxRow,
    ParcelRow,
)
from hub.services.fulfilment import delivery_orders, flow, hand_shipments, own_warehouse, planning, shipments, waybills
from hub.testing.api import api_client, bearer, new_key
from hub.testing.fulfilment_delivery import (
    approved_order,
    delivery_orders_of,
    order_to,
    routed,
    stock,
    warehouses_config,
)
from hub.testing.hub import hub_config, running_hub
from hub.testing.waybill_provider import FakeWaybillProvider, WaybillProviderPlugin
from plugins.warehouse.sandbox import QimenWmsSandbox
from tests.e2e.qimen_support import served_wms

CLERK = "user:clerk"


@pytest.fixture(autouse=True)
def _reset() -> None:
    FakeWaybillProvider.reset()


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    with served_wms() as served:
        yield served


@contextmanager
def _hub(database_url: str, wms: tuple[QimenWmsSandbox, str]) -> Iterator[tuple[Hub, QimenWmsSandbox]]:
    """A hub (no workers, no relay): a Qimen WMS for 浙江/上海, the own warehouse elsewhere, whose
    waybills the fake provider issues."""
    sandbox, base_url = wms
    courier = f"sf-{secrets.token_hex(3)}"  # breaker keys are per courier account
    config = hub_config(database_url, warehouses=warehouses_config(sandbox.warehouse_settings(base_url),
                                                                   wms_regions=["浙江", "上海"]),
                        couriers={courier: {"platform": "fakewaybill", "settings": {"courier_code": "sf"}}})
    with running_hub(config, extra_plugins=[WaybillProviderPlugin()], start_workers=False, relay=False) as hub:
        yield hub, sandbox


async def _by_hand(hub: Hub, order_id: int, number: str, items: list[tuple[str, int]] | None = None) -> int:
    """What ``POST /api/v1/orders/{id}/shipments`` records (no delivery order); the shipment id."""
    parcel = Parcel(courier_code="sf", tracking_number=number,
                    items=[ParcelItem(line_external_id=line, quantity=qty) for line, qty in items or []])
    recorded = await shipments.record_shipment(hub, order_id, [parcel], actor=CLERK)
    assert recorded.created
    return recorded.shipment.id


async def _owed(hub: Hub) -> list[list[Any]]:
    async with hub.database().session() as session:
        return [list(r.args) for r in (await session.execute(select(OutboxRow).where(
            OutboxRow.actor == shipments.HAND_SHIPPED_ACTOR).order_by(OutboxRow.id))).scalars()]


async def _events(hub: Hub, order_id: int, kind: str) -> list[OrderEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == order_id, OrderEventRow.kind == kind).order_by(OrderEventRow.id))).scalars())


async def _parcels(hub: Hub, order_id: int) -> list[ParcelRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(ParcelRow).where(
            ParcelRow.order_id == order_id, ParcelRow.delivery_order_id.is_not(None))
            .order_by(ParcelRow.id))).scalars())


async def _order_lines(hub: Hub, order_id: int) -> list[OrderLineRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == order_id)
                                           .order_by(OrderLineRow.external_id))).scalars())


async def _exceptions(hub: Hub, order_id: int) -> list[tuple[str, str]]:
    async with hub.database().session() as session:
        return [(e.kind, e.subject) for e in (await session.execute(select(FulfilmentExceptionRow).where(
            FulfilmentExceptionRow.order_id == order_id))).scalars()]


async def test_own_delivery_shipped_by_hand_is_cancelled_and_its_pending_parcel_never_issued(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("own", "SKU-1"): 10})
        order_id, do = await routed(hub, "北京市", [("SKU-1", 2)])
        [parcel] = await _parcels(hub, order_id)
        assert (do.kind, do.status, parcel.status) == ("own", "sent", "pending")
        assert [e.id for e in (await own_warehouse.pick_list(hub)).entries] == [do.id]

        key = await new_key(hub, "warehouse")
        async with api_client(hub) as client:
            posted = await client.post(f"/api/v1/orders/{order_id}/shipments", headers=bearer(key), json={
                "parcels": [{"courier_code": "SF", "tracking_number": "SF-HAND-1"}]})
        assert posted.status_code == 201, posted.text
        shipment_id, clerk = posted.json()["id"], posted.json()["created_by"]
        assert clerk.startswith("apikey:")
        assert await _owed(hub) == [[order_id, shipment_id]]
        await waybills.issue_waybills(hub, [parcel.id])  # the issue message comes before the closing one

        assert FakeWaybillProvider.requests == [], "no waybill is asked for a shipped order"
        [skipped] = await _parcels(hub, order_id)
        assert skipped.status == "cancelled" and "shipped already" in (skipped.last_error or "")

        first = await hand_shipments.close_delivery(hub, order_id, shipment_id)
        again = await hand_shipments.close_delivery(hub, order_id, shipment_id)  # the message delivered twice

        assert first.cancelled == [do.id] and first.too_late == [] and not first.repeated
        assert again.repeated and again.cancelled == []
        [closed] = await delivery_orders_of(hub, order_id)
        assert closed.status == "cancelled"
        assert closed.data["history"][-1]["reason"] == "shipped by hand"
        assert (await own_warehouse.pick_list(hub)).entries == []
        assert [(e.actor, e.detail["reason"]) for e in await _events(hub, order_id, "delivery_order_cancelled")] == [
            (clerk, "shipped by hand")]
        assert [(e.actor, e.detail["cancelled"]) for e in await _events(hub, order_id, "shipped_by_hand_closed")] == [
            (clerk, [do.id])]
        assert FakeWaybillProvider.requests == [] and FakeWaybillProvider.cancelled == []
        assert await _exceptions(hub, order_id) == []
        await hub.close_loop_resources()


async def test_an_issued_waybill_of_an_own_delivery_shipped_by_hand_is_cancelled_at_the_provider_once(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("own", "SKU-1"): 10, ("own", "SKU-2"): 10})
        order_id, do = await routed(hub, "北京市", [("SKU-1", 1)])
        used_id, used_do = await routed(hub, "北京市", [("SKU-2", 1)])
        await waybills.issue_waybills(hub, [p.id for p in await _parcels(hub, order_id) + await _parcels(hub, used_id)])
        [issued] = await _parcels(hub, order_id)
        [used] = await _parcels(hub, used_id)
        assert issued.status == used.status == "issued"

        shipment_id = await _by_hand(hub, order_id, "SF-HAND-2")  # shipped with another courier's number
        # ... and one shipped by hand with the waybill the hub issued for it: that waybill is used, not cancelled.
        used_shipment = await _by_hand(hub, used_id, str(used.waybill_number))
        await hand_shipments.close_delivery(hub, order_id, shipment_id)
        await hand_shipments.close_delivery(hub, order_id, shipment_id)
        await hand_shipments.close_delivery(hub, used_id, used_shipment)

        assert FakeWaybillProvider.cancelled == [issued.waybill_number], "cancelled once, only the unused one"
        [cancelled] = await _parcels(hub, order_id)
        [shipped] = await _parcels(hub, used_id)
        assert cancelled.status == "cancelled"
        assert (shipped.status, shipped.shipment_id) == ("shipped", used_shipment)
        assert [d.status for d in await delivery_orders_of(hub, order_id)] == ["cancelled"]
        assert [d.status for d in await delivery_orders_of(hub, used_id)] == ["shipped"], "left on its own waybill"
        assert [e.actor for e in await _events(hub, order_id, "waybill_cancelled")] == [CLERK]
        assert (await own_warehouse.pick_list(hub)).entries == []
        assert await _exceptions(hub, order_id) == [] and await _exceptions(hub, used_id) == []
        assert used_do.id != do.id
        await hub.close_loop_resources()


async def test_a_wms_delivery_shipped_by_hand_is_cancelled_at_the_wms_or_raises_late_cancel_once(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "浙江省", [("SKU-1", 1)])
        late_id, late_do = await routed(hub, "浙江省", [("SKU-1", 2)])
        await delivery_orders.send_delivery_orders(hub, [do.id, late_do.id])
        sandbox.ship(late_do.code, "SF-WMS-1")  # the WMS shipped this one already

        shipment_id = await _by_hand(hub, order_id, "SF-HAND-3")
        late_shipment = await _by_hand(hub, late_id, "SF-HAND-4")
        done = await hand_shipments.close_delivery(hub, order_id, shipment_id)
        late = await hand_shipments.close_delivery(hub, late_id, late_shipment)
        again = await hand_shipments.close_delivery(hub, late_id, late_shipment)

        assert done.cancelled == [do.id] and sandbox.orders[do.code].status == "CANCELED"
        assert [d.status for d in await delivery_orders_of(hub, order_id)] == ["cancelled"]
        assert late.too_late == [late_do.id] and late.cancelled == []
        assert again.repeated
        assert await _exceptions(hub, late_id) == [("late_cancel", f"delivery_order:{late_do.id}")]
        async with hub.database().session() as session:
            reason = await session.scalar(select(FulfilmentExceptionRow.reason).where(
                FulfilmentExceptionRow.order_id == late_id))
        assert "shipped by hand" in (reason or "") and "second time" in (reason or "")
        assert [e.detail["too_late"] for e in await _events(hub, late_id, "shipped_by_hand_closed")] == [[late_do.id]]
        assert len(await _events(hub, late_id, "delivery_order_cancel_too_late")) == 1
        assert await _exceptions(hub, order_id) == []
        await hub.close_loop_resources()


async def test_a_wms_delivery_not_sent_yet_is_never_sent_after_the_order_shipped_by_hand(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "上海", [("SKU-1", 1)])
        shipment_id = await _by_hand(hub, order_id, "SF-HAND-5")

        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "skipped"}
        [waiting] = await delivery_orders_of(hub, order_id)
        assert waiting.status == "pending" and "shipped already" in (waiting.last_error or "")
        outcome = await hand_shipments.close_delivery(hub, order_id, shipment_id)

        assert outcome.cancelled == [do.id] and sandbox.orders == {}
        assert [d.status for d in await delivery_orders_of(hub, order_id)] == ["cancelled"]
        await hub.close_loop_resources()


async def test_a_partial_shipment_by_hand_leaves_the_delivery_orders_and_says_so(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("own", "SKU-1"): 10, ("own", "SKU-2"): 10})
        order_id, do = await routed(hub, "北京市", [("SKU-1", 1), ("SKU-2", 1)])
        line = [row.external_id for row in await _order_lines(hub, order_id)]

        shipment_id = await _by_hand(hub, order_id, "SF-HAND-6", [(line[0], 1)])

        assert await _owed(hub) == []
        [event] = await _events(hub, order_id, shipments.HAND_PARTLY_EVENT)
        assert event.actor == CLERK and event.detail["shipment_id"] == shipment_id
        assert event.detail["delivery_orders"] == [do.id] and event.detail["lines_left"] == [line[1]]
        assert [d.status for d in await delivery_orders_of(hub, order_id)] == ["sent"]
        assert [p.status for p in await _parcels(hub, order_id)] == ["pending"]
        await hub.close_loop_resources()


async def test_a_merged_delivery_is_closed_only_once_every_order_in_it_shipped_by_hand(
    database_url: str, wms: tuple[QimenWmsSandbox, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def merge_all(hub: Hub, session: Any, rows: list[OrderRow]) -> Any:
        groups, holds = await original(hub, session, rows)
        return [planning.DeliveryGroup(order_ids=[o for g in groups for o in g.order_ids],
                                       lines=[line for g in groups for line in g.lines], reason="same buyer")], holds

    original = planning.plan_groups
    monkeypatch.setattr(planning, "plan_groups", merge_all)
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("own", "SKU-1"): 10, ("own", "SKU-2"): 10})
        first = await approved_order(hub, order_to("北京市", [("SKU-1", 1)]))
        second = await approved_order(hub, order_to("北京市", [("SKU-2", 1)]))
        await flow.fulfil_orders(hub, [first, second])
        [do] = await delivery_orders_of(hub, first)

        one = await _by_hand(hub, first, "SF-HAND-7")
        kept = await hand_shipments.close_delivery(hub, first, one)
        assert kept.kept == {do.id: [second]} and kept.cancelled == []
        assert [d.status for d in await delivery_orders_of(hub, first)] == ["sent"]

        two = await _by_hand(hub, second, "SF-HAND-8")
        closed = await hand_shipments.close_delivery(hub, second, two)
        assert closed.cancelled == [do.id]
        assert [d.status for d in await delivery_orders_of(hub, first)] == ["cancelled"]
        assert (await own_warehouse.pick_list(hub)).entries == []
        await hub.close_loop_resources()


async def test_through_the_queue_the_outbox_message_closes_the_delivery_and_is_acknowledged(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    sandbox, base_url = wms
    config = hub_config(database_url, warehouses=warehouses_config(sandbox.warehouse_settings(base_url),
                                                                   wms_regions=["浙江", "上海"]))
    with running_hub(config) as hub:
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "浙江省", [("SKU-1", 1)])
        await delivery_orders.send_delivery_orders(hub, [do.id])
        await _by_hand(hub, order_id, "SF-HAND-9")

        async def closed() -> bool:
            async with hub.database().session() as session:
                status = await session.scalar(select(DeliveryOrderRow.status).where(DeliveryOrderRow.id == do.id))
                done = await session.scalar(select(OutboxRow.done_at).where(
                    OutboxRow.actor == shipments.HAND_SHIPPED_ACTOR))
            return status == "cancelled" and done is not None

        for _ in range(1200):  # bounded wait for the worker, not a timing assertion
            if await closed():
                break
            await asyncio.sleep(0.05)
        assert await closed(), "the hand_shipped message ran and its outbox row is done"
        assert sandbox.orders[do.code].status == "CANCELED"
        assert len(await _events(hub, order_id, "shipped_by_hand_closed")) == 1
        await hub.close_loop_resources()


async def test_a_merged_own_delivery_ships_the_orders_left_after_one_was_shipped_by_hand(
    database_url: str, wms: tuple[QimenWmsSandbox, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def merge_all(hub: Hub, session: Any, rows: list[OrderRow]) -> Any:
        groups, holds = await original(hub, session, rows)
        return [planning.DeliveryGroup(order_ids=[o for g in groups for o in g.order_ids],
                                       lines=[line for g in groups for line in g.lines], reason="same buyer")], holds

    original = planning.plan_groups
    monkeypatch.setattr(planning, "plan_groups", merge_all)
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("own", "SKU-1"): 10, ("own", "SKU-2"): 10})
        first = await approved_order(hub, order_to("北京市", [("SKU-1", 1)]))
        second = await approved_order(hub, order_to("北京市", [("SKU-2", 1)]))
        await flow.fulfil_orders(hub, [first, second])
        [do] = await delivery_orders_of(hub, first)
        await waybills.issue_waybills(hub, [p.id for p in await _parcels(hub, first)])
        [parcel] = await _parcels(hub, first)

        one = await _by_hand(hub, first, "SF-HAND-10")
        assert (await hand_shipments.close_delivery(hub, first, one)).kept == {do.id: [second]}
        await own_warehouse.pick(hub, [do.id], actor=CLERK)
        await own_warehouse.pack(hub, do.id, [own_warehouse.PackedParcel(weight_grams=500)], actor=CLERK)
        shipped = await own_warehouse.ship(hub, do.id, actor=CLERK)

        assert len(shipped.shipment_ids) == 1
        async with hub.database().session() as session:
            fulfilment = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == second))
            row = await session.get(ParcelRow, parcel.id)
        assert fulfilment == "shipped"
        assert row is not None and (row.status, row.shipment_id) == ("shipped", shipped.shipment_ids[0])
        assert [d.status for d in await delivery_orders_of(hub, first)] == ["shipped"]
        await hub.close_loop_resources()
