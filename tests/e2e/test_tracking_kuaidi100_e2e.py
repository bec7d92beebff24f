"""Parcel tracking end to end over real HTTP, on SQLite and PostgreSQL: a shipment recorded in the
hub gets its parcel subscribed at the Kuaidi100 sandbox (the subscription names the hub's
webhook), the sandbox's signed callbacks reach the hub's real server and are stored once however
often they come, a callback with a bad signature is refused with nothing stored, the timeline
shows on the API, and the signed-for scan moves the order to delivered — which a later channel
report of "shipped" does not undo. The actors are called in the test (no racing workers), except
in the last test, where real workers and the outbox relay subscribe a recorded shipment's parcel.
A person's poll (``POST /api/v1/parcels/{id}/track``) stores what the sandbox knows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from contracts.orders import OrderStatus
from contracts.shipments import Parcel
from hub.api import create_app
from hub.asgi_server import BackgroundServer
from hub.context import Hub
from hub.db.tables import OrderEventRow, OrderRow, OutboxRow, ParcelRow, TrackingEventRow
from hub.runner import WORKER_POLL_MS, BackgroundLoop
from hub.services import orders
from hub.services.fulfilment import shipments, tracking
from hub.testing.api import bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import running_hub
from hub.testing.tracking import COURIER, parcel, shipped_order, tracking_config
from plugins.logistics.kuaidi100.push import TRACKING_PUSH_REPLY_BODY
from plugins.logistics.sandbox import Kuaidi100Sandbox
from tests.e2e.hub_e2e_support import Backend, backend, eventually
from tests.e2e.kuaidi100_support import kuaidi100

__all__ = ["backend", "kuaidi100"]
pytestmark = pytest.mark.e2e

NUMBER = "78000000000000000042"


@asynccontextmanager
async def _served_hub(
    database_url: str, box: Kuaidi100Sandbox, sandbox_url: str
) -> AsyncIterator[tuple[Hub, BackgroundServer]]:
    """A hub tracking with the sandbox (no workers), its app served over real HTTP."""
    config = tracking_config(database_url, sandbox_settings=box.courier_settings(sandbox_url))
    with running_hub(config, start_workers=False, relay=False) as hub:
        server = BackgroundServer(create_app(hub)).start()
        try:
            yield hub, server
        finally:
            server.stop()
            await hub.close_loop_resources()


async def _events(hub: Hub, number: str) -> list[tuple[str, str]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(TrackingEventRow).where(TrackingEventRow.tracking_number == number)
                                      .order_by(TrackingEventRow.occurred_at))).scalars()
        return [(r.state, r.description) for r in rows]


async def _order(hub: Hub, order_id: int) -> OrderRow:
    async with hub.database().session() as session:
        return (await session.execute(select(OrderRow).where(OrderRow.id == order_id)
                                      .execution_options(populate_existing=True))).scalar_one()


async def _outbox(hub: Hub, actor: str) -> list[list[Any]]:
    async with hub.database().session() as session:
        return [r.args for r in (await session.execute(select(OutboxRow).where(OutboxRow.actor == actor))).scalars()]


async def test_a_parcel_is_subscribed_its_pushes_stored_once_and_delivery_moves_the_order(
    database_url: str, kuaidi100: tuple[Kuaidi100Sandbox, str]
) -> None:
    box, sandbox_url = kuaidi100
    async with _served_hub(database_url, box, sandbox_url) as (hub, server):
        hub.config.fulfilment.tracking.callback_base_url = server.base_url
        await _scenario(hub, box, server.base_url)


async def _scenario(hub: Hub, box: Kuaidi100Sandbox, base_url: str) -> None:
    box.create_waybill("zhongtong", NUMBER)
    shipped = await shipped_order(hub, [NUMBER], courier_code="ZTO")
    [pid] = shipped.parcel_ids
    assert await _outbox(hub, tracking.SUBSCRIBE_ACTOR) == [[[pid]]]  # owed with the parcels, in one commit

    # The actor subscribes the parcel: the sandbox holds the hub's webhook for it.
    assert await tracking.subscribe_parcels(hub, [pid]) == 1
    subscription = box.subscriptions[("zhongtong", NUMBER)]
    assert subscription.callback_url == f"{base_url}/webhooks/tracking/{COURIER}"
    assert subscription.salt == "sandbox-salt"
    first = (await parcel(hub, pid)).subscribed_at
    assert first is not None
    assert await tracking.subscribe_parcels(hub, [pid]) == 0  # a redelivered message: nothing to do
    # Asked again after all (the hub forgot it subscribed): Kuaidi100's "already tracking" is fine.
    async with hub.database().transaction() as session:
        await session.execute(update(ParcelRow).where(ParcelRow.id == pid).values(subscribed_at=None))
    assert await tracking.subscribe_parcels(hub, [pid]) == 1
    assert box.calls.count("subscribe") == 2

    # Collected: the sandbox's signed callback reaches the hub's server; the reply is Kuaidi100's.
    box.advance("zhongtong", NUMBER)
    reply = await box.send_callback("zhongtong", NUMBER)
    assert reply.status_code == 200 and reply.content == TRACKING_PUSH_REPLY_BODY
    assert [s for s, _ in await _events(hub, NUMBER)] == ["collected"]
    row = await parcel(hub, pid)
    assert (row.tracking_state, row.collected_at is not None, row.delivered_at) == ("collected", True, None)

    # The same callback again (Kuaidi100 retries): nothing doubled.
    assert (await box.send_callback("zhongtong", NUMBER)).status_code == 200
    assert len(await _events(hub, NUMBER)) == 1

    # A callback whose signature does not match: 401, nothing of it stored.
    box.advance("zhongtong", NUMBER)
    box.inject_fault("bad_sign")
    refused = await box.send_callback("zhongtong", NUMBER)
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"
    assert len(await _events(hub, NUMBER)) == 1
    async with httpx.AsyncClient(base_url=base_url) as client:  # no sign at all
        unsigned = await client.post(f"/webhooks/tracking/{COURIER}", content=b"param=%7B%7D",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert unsigned.status_code == 401
        unknown = await client.post("/webhooks/tracking/nobody", content=b"param=x")
        assert unknown.status_code == 404
    # The courier sends it again, signed: stored.
    assert (await box.send_callback("zhongtong", NUMBER)).status_code == 200
    assert [s for s, _ in await _events(hub, NUMBER)] == ["collected", "in_transit"]

    # On to signed for: the parcel is delivered, and with it the whole order.
    for _ in range(3):
        box.advance("zhongtong", NUMBER)
    assert (await box.send_callback("zhongtong", NUMBER)).status_code == 200
    states = [s for s, _ in await _events(hub, NUMBER)]
    assert states == ["collected", "in_transit", "in_transit", "out_for_delivery", "delivered"]
    row = await parcel(hub, pid)
    assert row.tracking_state == "delivered" and row.delivered_at is not None
    order = await _order(hub, shipped.order_id)
    assert order.status == "delivered"
    async with hub.database().session() as session:
        moves = list((await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == shipped.order_id, OrderEventRow.kind == "status_changed"))).scalars())
    assert [(e.old_status, e.new_status, e.cause) for e in moves] == [("paid", "delivered", "tracking")]

    # The timeline over the API, oldest first, on the parcel and on its shipment.
    key = await new_key(hub, "viewer")
    async with httpx.AsyncClient(base_url=base_url, headers=bearer(key)) as client:
        body = (await client.get(f"/api/v1/parcels/{pid}/tracking")).json()
        assert [e["state"] for e in body["events"]] == states
        assert body["tracking_state"] == "delivered" and body["waybill_number"] == NUMBER
        by_shipment = (await client.get(f"/api/v1/shipments/{shipped.shipment_id}/tracking")).json()
        assert [p["id"] for p in by_shipment["parcels"]] == [pid]
        assert (await client.get("/api/v1/parcels/999999/tracking")).status_code == 404

    # The channel reports the order shipped later on: kept in the history, the order stays delivered.
    stored = orders.stored_order(order)
    later = stored.model_copy(update={"status": OrderStatus.SHIPPED, "raw_status": "WAIT_BUYER_CONFIRM_GOODS",
                                      "updated_at": order.channel_updated_at.replace(year=2027)})
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, later, cause="poll")
    assert result.change == orders.Change.STALE
    assert (await _order(hub, shipped.order_id)).status == "delivered"


async def test_a_person_polls_a_parcel_whose_pushes_are_missing(
    database_url: str, kuaidi100: tuple[Kuaidi100Sandbox, str]
) -> None:
    box, sandbox_url = kuaidi100
    async with _served_hub(database_url, box, sandbox_url) as (hub, server):
        shipped = await shipped_order(hub, ["78000000000000000043"], courier_code="ZTO")
        [pid] = shipped.parcel_ids
        box.advance("zhongtong", "78000000000000000043")
        box.advance("zhongtong", "78000000000000000043")
        warehouse, viewer = await new_key(hub, "warehouse"), await new_key(hub, "viewer")
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            url = f"/api/v1/parcels/{pid}/track"
            assert (await client.post(url, headers=bearer(viewer))).status_code == 403
            polled = await client.post(url, headers=bearer(warehouse))
            assert polled.status_code == 200, polled.text
            body = polled.json()
            assert body["new_events"] == 2
            assert [e["state"] for e in body["parcel"]["events"]] == ["collected", "in_transit"]
            again = (await client.post(url, headers=bearer(warehouse))).json()
            assert again["new_events"] == 0 and len(again["parcel"]["events"]) == 2
            box.inject_fault("key_expired")
            failed = await client.post(url, headers=bearer(warehouse))
            assert failed.status_code == 502 and failed.json()["error"] == "courier_failed"


async def test_the_workers_subscribe_a_recorded_shipments_parcels(
    backend: Backend, kuaidi100: tuple[Kuaidi100Sandbox, str]
) -> None:
    """The same path with real workers and the outbox relay (SQLite + the in-process queue, and
    PostgreSQL + Redis): recording a shipment is all it takes for the sandbox to hold the subscription."""
    box, sandbox_url = kuaidi100
    config = tracking_config(backend.database_url, redis_url=backend.redis_url,
                             sandbox_settings=box.courier_settings(sandbox_url),
                             callback_base_url="http://hub.example.com")
    with running_hub(config, start_workers=False, relay=False) as hub:
        assert hub.runtime is not None
        try:
            # Recorded before any worker runs, as the API would (the follow-ups wait in the outbox).
            paid = make_order(shop="track-shop", status=OrderStatus.PAID)
            async with hub.database().transaction() as session:
                order_id = (await orders.apply_order(session, paid, cause="test")).order_id
            await shipments.record_shipment(
                hub, order_id, [Parcel(courier_code="ZTO", tracking_number="78000000000000000044")], actor="test")
            hub.runtime.start_workers(worker_timeout_ms=WORKER_POLL_MS)
            loop = BackgroundLoop(hub, schedule=False).start()
            try:
                async def subscribed() -> bool:
                    async with hub.database().session() as session:
                        return bool(await session.scalar(select(ParcelRow.subscribed_at).where(
                            ParcelRow.waybill_number == "78000000000000000044")))

                await eventually(subscribed, what="the parcel subscribed by the workers")
            finally:
                loop.stop()
            subscription = box.subscriptions[("zhongtong", "78000000000000000044")]
            assert subscription.callback_url == f"http://hub.example.com/webhooks/tracking/{COURIER}"
            assert box.calls.count("subscribe") == 1
        finally:
            await hub.close_loop_resources()
