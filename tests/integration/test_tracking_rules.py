"""Tracking's rules and bookkeeping with fixed times, on SQLite and PostgreSQL: a parcel with no scan
after 24 h is "not collected", one with no new scan for 48 h "stalled", a returned one "returned";
each is raised once, resolved by the hub when the parcel moves again or is delivered (and opened
again if it stalls again), while one a person resolved stays resolved. Scans arriving out of
order never move a parcel back; an ``abort`` from the courier owes a new subscription after the
wait. The exceptions queue over the API: filters, pages, an attributed resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from contracts.shipments import TrackingEvent, TrackingState
from hub.context import Hub
from hub.db.tables import (
    AuditRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderRow,
    OutboxRow,
    ParcelRow,
    ShipmentRow,
)
from hub.services.fulfilment import exceptions, tracking
from hub.services.fulfilment.settings import TrackingSettings
from hub.testing.api import api_client, bearer, new_key
from hub.testing.hub import running_hub
from hub.testing.tracking import COURIER, parcel, shipped_order, signed_callback, tracking_config

T = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)  # when the parcels shipped
SANDBOX = {"customer": "C", "key": "k", "salt": "sandbox-salt", "base_url": "http://127.0.0.1:9"}


def _config(database_url: str, **fields: Any) -> Any:
    return tracking_config(database_url, sandbox_settings=SANDBOX, **fields)


def _event(number: str, state: TrackingState, at: datetime, text: str = "scan") -> TrackingEvent:
    return TrackingEvent(tracking_number=number, courier_code="zto", state=state, occurred_at=at, description=text)


async def _ship(hub: Hub, numbers: list[str]) -> tuple[int, list[int]]:
    shipped = await shipped_order(hub, numbers)
    async with hub.database().transaction() as session:  # shipped at T, as the database records it
        await session.execute(update(ShipmentRow).where(ShipmentRow.id == shipped.shipment_id).values(created_at=T))
    return shipped.order_id, shipped.parcel_ids


async def _open(hub: Hub) -> set[tuple[str, int]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(FulfilmentExceptionRow).where(
            FulfilmentExceptionRow.resolved_at.is_(None)))).scalars()
        return {(r.kind, exceptions.subject_parcel(r.subject) or 0) for r in rows}


async def _push(hub: Hub, number: str, *events: TrackingEvent, now: datetime) -> tracking.Recorded:
    return await tracking.record(hub, tracking.PushIn(number, "zto", list(events)), now=now)


# --------------------------------------------------------------------------- the rule, as a table


def _parcel(**values: Any) -> ParcelRow:
    base = {"id": 1, "order_id": 1, "courier_code": "zto", "waybill_number": "ZT1", "status": "shipped",
            "tracking_state": None, "tracking_at": None, "collected_at": None, "delivered_at": None, "created_at": T}
    return ParcelRow(**{**base, **values})


H = timedelta(hours=1)


@pytest.mark.parametrize(("values", "hours", "expected"), [
    ({}, 23, set()),
    ({}, 24, {"not_collected"}),
    ({"tracking_state": "collected", "collected_at": T + H, "tracking_at": T + H}, 48, set()),
    ({"tracking_state": "collected", "collected_at": T + H, "tracking_at": T + H}, 49, {"stalled"}),
    ({"tracking_state": "in_transit", "collected_at": T + H, "tracking_at": T + 40 * H}, 49, set()),
    ({"tracking_state": "returned", "collected_at": T + H, "tracking_at": T + 2 * H}, 3, {"returned"}),
    ({"tracking_state": "delivered", "collected_at": T + H, "tracking_at": T + 2 * H,
      "delivered_at": T + 2 * H}, 500, set()),
    ({"status": "cancelled"}, 500, set()),
], ids=["not-yet", "not-collected", "collected-recently", "stalled", "moving", "returned", "delivered",
        "not-shipped"])
def test_which_exceptions_a_parcel_is_due(values: dict[str, Any], hours: int, expected: set[str]) -> None:
    settings = TrackingSettings(not_collected_hours=24, not_moving_hours=48)
    assert set(tracking.due(_parcel(**values), T, T + hours * H, settings)) == expected


# --------------------------------------------------------------------------- through the database


async def test_rules_raise_once_and_resolve_when_the_parcel_moves_or_is_delivered(database_url: str) -> None:
    with running_hub(_config(database_url, callback_base_url=None), start_workers=False, relay=False) as hub:
        _, (a, b, c) = await _ship(hub, ["ZTA1", "ZTB1", "ZTC1"])
        await _push(hub, "ZTB1", _event("ZTB1", TrackingState.COLLECTED, T + H), now=T + H)
        await _push(hub, "ZTC1", _event("ZTC1", TrackingState.COLLECTED, T + H),
                    _event("ZTC1", TrackingState.RETURNED, T + 3 * H, "退回"), now=T + 3 * H)
        assert await _open(hub) == {("returned", c)}  # raised as the push arrived

        assert (await tracking.check_parcels(hub, now=T + 23 * H)).raised == 0
        assert await _open(hub) == {("returned", c)}
        await tracking.check_parcels(hub, now=T + 25 * H)
        assert await _open(hub) == {("not_collected", a), ("returned", c)}
        await tracking.check_parcels(hub, now=T + 26 * H)  # again: nothing twice
        await tracking.check_parcels(hub, now=T + 50 * H)
        assert await _open(hub) == {("not_collected", a), ("stalled", b), ("returned", c)}
        async with hub.database().session() as session:
            assert await session.scalar(select(FulfilmentExceptionRow.id).where(
                FulfilmentExceptionRow.kind == "stalled").order_by(FulfilmentExceptionRow.id)) is not None
            count = len(list((await session.execute(select(FulfilmentExceptionRow))).scalars()))
        assert count == 3

        # b moves again: its stall is resolved by the hub at once; a is collected: no longer "not collected".
        await _push(hub, "ZTB1", _event("ZTB1", TrackingState.IN_TRANSIT, T + 51 * H), now=T + 51 * H)
        await _push(hub, "ZTA1", _event("ZTA1", TrackingState.COLLECTED, T + 51 * H), now=T + 51 * H)
        assert await _open(hub) == {("returned", c)}
        async with hub.database().session() as session:
            resolvers = set((await session.execute(select(FulfilmentExceptionRow.resolved_by).where(
                FulfilmentExceptionRow.resolved_at.is_not(None)))).scalars())
        assert resolvers == {exceptions.AUTO_RESOLVER}

        # b stalls again: the same exception opens again; a is delivered before it could stall.
        await _push(hub, "ZTA1", _event("ZTA1", TrackingState.DELIVERED, T + 60 * H), now=T + 60 * H)
        await tracking.check_parcels(hub, now=T + 100 * H)
        assert await _open(hub) == {("stalled", b), ("returned", c)}

        # A person resolves b's stall: it stays resolved even though b is still not moving.
        async with hub.database().session() as session:
            stalled = (await session.execute(select(FulfilmentExceptionRow).where(
                FulfilmentExceptionRow.kind == "stalled"))).scalar_one()
        await exceptions.resolve(hub, stalled.id, actor="user:ops", note="courier says it is on the shelf")
        await tracking.check_parcels(hub, now=T + 120 * H)
        assert await _open(hub) == {("returned", c)}
        await hub.close_loop_resources()


async def test_scans_out_of_order_never_move_a_parcel_back(database_url: str) -> None:
    with running_hub(_config(database_url, callback_base_url=None), start_workers=False, relay=False) as hub:
        _, [pid] = await _ship(hub, ["ZTO9"])
        newer = await _push(hub, "ZTO9", _event("ZTO9", TrackingState.COLLECTED, T + H),
                            _event("ZTO9", TrackingState.OUT_FOR_DELIVERY, T + 9 * H), now=T + 9 * H)
        assert (newer.inserted, newer.state) == (2, "out_for_delivery")
        late = await _push(hub, "ZTO9", _event("ZTO9", TrackingState.IN_TRANSIT, T + 5 * H), now=T + 10 * H)
        assert (late.inserted, late.state) == (1, "out_for_delivery")
        row = await parcel(hub, pid)
        assert (row.tracking_state, row.tracking_at, row.collected_at) == ("out_for_delivery", T + 9 * H, T + H)
        again = await _push(hub, "ZTO9", _event("ZTO9", TrackingState.IN_TRANSIT, T + 5 * H), now=T + 10 * H)
        assert again.inserted == 0
        await hub.close_loop_resources()


async def test_an_abort_owes_a_new_subscription_after_the_wait(database_url: str) -> None:
    with running_hub(_config(database_url, resubscribe_after_minutes=30), start_workers=False, relay=False) as hub:
        _, [pid] = await _ship(hub, ["ZTAB1"])
        async with hub.database().transaction() as session:
            await session.execute(update(ParcelRow).where(ParcelRow.id == pid).values(subscribed_at=T))
        body = signed_callback({"status": "abort", "message": "3天查询无记录", "lastResult": {
            "nu": "ZTAB1", "com": "zhongtong", "state": "0", "status": "200", "data": []}})
        async with api_client(hub) as client:
            reply = await client.post(f"/webhooks/tracking/{COURIER}", content=body,
                                      headers={"content-type": "application/x-www-form-urlencoded"})
            assert reply.status_code == 200, reply.text
            bad = await client.post(f"/webhooks/tracking/{COURIER}", content=signed_callback({"x": 1}, "wrong"),
                                    headers={"content-type": "application/x-www-form-urlencoded"})
            assert bad.status_code == 401
        assert (await parcel(hub, pid)).subscribed_at is None
        async with hub.database().transaction() as session:
            await session.execute(update(ParcelRow).where(ParcelRow.id == pid).values(updated_at=T))
            await session.execute(OutboxRow.__table__.delete())
        assert (await tracking.check_parcels(hub, now=T + 29 * timedelta(minutes=1))).resubscribe == 0
        assert (await tracking.check_parcels(hub, now=T + 31 * timedelta(minutes=1))).resubscribe == 1
        async with hub.database().session() as session:
            owed = [r.args for r in (await session.execute(select(OutboxRow).where(
                OutboxRow.actor == tracking.SUBSCRIBE_ACTOR))).scalars()]
        assert owed == [[[pid]]]
        await hub.close_loop_resources()


async def test_the_exceptions_queue_over_the_api(database_url: str) -> None:
    with running_hub(_config(database_url, callback_base_url=None), start_workers=False, relay=False) as hub:
        order_a, _ = await _ship(hub, ["ZTQ1", "ZTQ2"])
        order_b, _ = await _ship(hub, ["ZTQ3"])
        await tracking.check_parcels(hub, now=T + 30 * H)
        viewer, operator = await new_key(hub, "viewer"), await new_key(hub, "operator", name="ops-anna")
        async with api_client(hub) as client:
            page = (await client.get("/api/v1/fulfilment/exceptions?limit=2", headers=bearer(viewer))).json()
            assert [i["kind"] for i in page["items"]] == ["not_collected", "not_collected"]
            rest = (await client.get(f"/api/v1/fulfilment/exceptions?limit=2&cursor={page['next_cursor']}",
                                     headers=bearer(viewer))).json()
            assert len(rest["items"]) == 1 and rest["next_cursor"] is None
            mine = (await client.get(f"/api/v1/fulfilment/exceptions?order_id={order_b}",
                                     headers=bearer(viewer))).json()["items"]
            assert [i["order_id"] for i in mine] == [order_b]
            none = (await client.get("/api/v1/fulfilment/exceptions?kind=stalled", headers=bearer(viewer))).json()
            assert none["items"] == []
            assert (await client.get("/api/v1/fulfilment/exceptions?cursor=nope",
                                     headers=bearer(viewer))).status_code == 400

            target = mine[0]["id"]
            url = f"/api/v1/fulfilment/exceptions/{target}/resolve"
            assert (await client.post(url, json={"note": "x"}, headers=bearer(viewer))).status_code == 403
            done = await client.post(url, json={"note": "re-sent by the courier"}, headers=bearer(operator))
            assert done.status_code == 200, done.text
            assert done.json()["resolved_by"].endswith("ops-anna")
            again = await client.post(url, json={}, headers=bearer(operator))
            assert again.status_code == 409 and "already resolved" in again.json()["detail"]
            assert (await client.post("/api/v1/fulfilment/exceptions/999999/resolve", json={},
                                      headers=bearer(operator))).status_code == 404
            resolved = (await client.get("/api/v1/fulfilment/exceptions?state=resolved",
                                         headers=bearer(viewer))).json()["items"]
            assert [i["id"] for i in resolved] == [target]
            open_a = (await client.get(f"/api/v1/fulfilment/exceptions?order_id={order_a}",
                                       headers=bearer(viewer))).json()["items"]
            assert len(open_a) == 2
        async with hub.database().session() as session:
            history = (await session.execute(select(OrderEventRow).where(
                OrderEventRow.order_id == order_b, OrderEventRow.kind == "fulfilment_exception_resolved"))).scalar_one()
            assert history.detail["note"] == "re-sent by the courier" and history.actor.endswith("ops-anna")
            entry = (await session.execute(select(AuditRow).where(
                AuditRow.action == "fulfilment_exception.resolved"))).scalar_one()
            assert entry.subject == f"fulfilment_exception:{target}"
        await hub.close_loop_resources()


async def test_an_order_is_delivered_only_when_its_last_parcel_is(database_url: str) -> None:
    with running_hub(_config(database_url, callback_base_url=None), start_workers=False, relay=False) as hub:
        order_id, _ = await _ship(hub, ["ZTD1", "ZTD2"])
        first = await _push(hub, "ZTD1", _event("ZTD1", TrackingState.DELIVERED, T + 5 * H), now=T + 5 * H)
        assert not first.order_delivered
        async with hub.database().session() as session:
            assert await session.scalar(select(OrderRow.status).where(OrderRow.id == order_id)) == "paid"
        last = await _push(hub, "ZTD2", _event("ZTD2", TrackingState.DELIVERED, T + 6 * H), now=T + 6 * H)
        assert last.order_delivered
        again = await _push(hub, "ZTD2", _event("ZTD2", TrackingState.DELIVERED, T + 6 * H), now=T + 7 * H)
        assert not again.order_delivered and again.inserted == 0
        async with hub.database().session() as session:
            assert await session.scalar(select(OrderRow.status).where(OrderRow.id == order_id)) == "delivered"
            moves = list((await session.execute(select(OrderEventRow.cause).where(
                OrderEventRow.order_id == order_id, OrderEventRow.kind == "status_changed"))).scalars())
        assert moves == ["tracking"]
        await hub.close_loop_resources()
