"""Routing and delivery orders end to end: approved orders of a merchant with a Qimen WMS (the
sandbox, real signatures over real HTTP) and an own warehouse are routed, sent once however often
the actor runs, held with the WMS's reason when it refuses, and cancelled. On SQLite and
PostgreSQL; the actors' service functions are called directly, so every step is deterministic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import (
    DeliveryLineRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderHoldRow,
    OrderRow,
    ParcelRow,
    ReservationRow,
    StockLedgerRow,
    utcnow,
)
from hub.errors import RetryableError
from hub.services import orders
from hub.services.fulfilment import delivery_orders, flow, planning
from hub.services.stock import effects as stock_effects
from hub.services.stock import levels, reservations
from hub.testing.fulfilment_delivery import (
    COURIERS,
    approved_order,
    delivery_orders_of,
    order_to,
    outbox_args,
    routed,
    stock,
    warehouses_config,
)
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub
from plugins.warehouse.sandbox import QimenWmsSandbox
from tests.e2e.qimen_support import served_wms

pytestmark = pytest.mark.e2e

ZHEJIANG = {"province": "浙江省"}


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    with served_wms() as served:
        yield served


def _config(database_url: str, sandbox: QimenWmsSandbox, base_url: str, *, couriers: bool = True) -> Any:
    return hub_config(database_url, warehouses=warehouses_config(
        sandbox.warehouse_settings(base_url), wms_regions=["浙江", "上海"]), couriers=COURIERS if couriers else {})


@contextmanager
def _hub(database_url: str, wms: tuple[QimenWmsSandbox, str]) -> Iterator[tuple[Hub, QimenWmsSandbox]]:
    """A hub (no workers, no relay) routing to the served WMS and the own warehouse; and the WMS."""
    sandbox, base_url = wms
    with running_hub(_config(database_url, sandbox, base_url), start_workers=False, relay=False) as hub:
        yield hub, sandbox


async def _fulfilment(hub: Hub, order_id: int) -> str:
    async with hub.database().session() as session:
        return str(await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id)))


async def _holds(hub: Hub, order_id: int) -> dict[str, str]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars()
        return {r.code: r.reason for r in rows}


async def _events(hub: Hub, order_id: int) -> list[tuple[str, str | None]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderEventRow).where(OrderEventRow.order_id == order_id)
                                      .order_by(OrderEventRow.id))).scalars()
        return [(e.kind, e.actor) for e in rows]


async def test_an_order_the_wms_covers_is_routed_and_sent_once_however_often_the_actor_runs(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("wms-hz", "SKU-2"): 10, ("own", "SKU-1"): 10})
        order_id = await approved_order(hub, order_to("浙江省", [("SKU-1", 2), ("SKU-2", 1)]))

        first = await flow.fulfil_orders(hub, [order_id])
        again = await flow.fulfil_orders(hub, [order_id])  # a repeated message routes nothing twice

        [do] = await delivery_orders_of(hub, order_id)
        assert first.routed == {order_id: [do.id]} and again.routed == {} and again.skipped == [order_id]
        assert (do.code, do.warehouse, do.kind, do.status) == (f"DO{order_id}-1", "wms-hz", "wms", "pending")
        assert "wms-hz has every line" in do.data["reason"]
        assert await _fulfilment(hub, order_id) == "routed"
        assert await outbox_args(hub, delivery_orders.SEND_ACTOR) == [[do.id]]

        sandbox.inject_fault("lost_reply")  # the WMS stores it, the answer is lost
        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "sent"}
        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "skipped"}  # redelivered

        assert list(sandbox.orders) == [do.code]
        assert [(item, qty) for _, item, qty in sandbox.orders[do.code].lines] == [("SKU-1", 2), ("SKU-2", 1)]
        assert sandbox.orders[do.code].receiver["province"] == "浙江省"
        [sent] = await delivery_orders_of(hub, order_id)
        assert (sent.status, sent.warehouse_order_id, sent.attempts) == ("sent", do.code, 1)
        assert await _fulfilment(hub, order_id) == "sent_to_warehouse"
        kinds = [k for k, _ in await _events(hub, order_id)]
        assert kinds.count("routed") == 1 and kinds.count("delivery_order_sent") == 1
        await hub.close_loop_resources()


async def test_a_transient_wms_fault_leaves_it_pending_and_the_retry_sends_it_once(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "上海", [("SKU-1", 1)])

        sandbox.inject_fault("unavailable", count=10)
        with pytest.raises(RetryableError):
            await delivery_orders.send_delivery_orders(hub, [do.id])
        [waiting] = await delivery_orders_of(hub, order_id)
        assert waiting.status == "pending" and waiting.attempts == 1 and "attempt 1" in (waiting.last_error or "")
        sandbox._faults.clear()

        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "sent"}
        assert list(sandbox.orders) == [do.code]
        await hub.close_loop_resources()


async def test_an_order_outside_the_wms_regions_goes_to_the_own_warehouse_with_a_pending_parcel(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-1"): 5})
        order_id = await approved_order(hub, order_to("北京市", [("SKU-1", 2)]))

        result = await flow.fulfil_orders(hub, [order_id], actor="user:ops")

        [do] = await delivery_orders_of(hub, order_id)
        assert (do.warehouse, do.kind, do.status, do.courier_code) == ("own", "own", "sent", "sf")
        async with hub.database().session() as session:
            [parcel] = (await session.execute(select(ParcelRow).where(ParcelRow.order_id == order_id))).scalars()
        assert (parcel.key, parcel.status, parcel.courier_account, parcel.delivery_order_id) == (
            f"P{do.id}-1", "pending", "sf", do.id)
        assert await outbox_args(hub, "issue_waybills") == [[parcel.id]]
        assert await outbox_args(hub, delivery_orders.SEND_ACTOR) == []
        assert sandbox.orders == {}
        assert result.routed == {order_id: [do.id]}
        assert await _fulfilment(hub, order_id) == "sent_to_warehouse"
        assert ("routed", "user:ops") in await _events(hub, order_id)
        await hub.close_loop_resources()


async def test_no_single_warehouse_with_everything_splits_by_line(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-2"): 10})
        order = order_to("浙江省", [("SKU-1", 1), ("SKU-2", 1)])
        order_id = await approved_order(hub, order)

        await flow.fulfil_orders(hub, [order_id])

        dos = await delivery_orders_of(hub, order_id)
        assert [(d.code, d.warehouse, d.status) for d in dos] == [
            (f"DO{order_id}-1", "wms-hz", "pending"), (f"DO{order_id}-2", "own", "sent")]
        async with hub.database().session() as session:
            lines = (await session.execute(select(DeliveryLineRow.delivery_order_id, DeliveryLineRow.merchant_sku)
                                           .where(DeliveryLineRow.order_id == order_id))).all()
        assert sorted(lines) == [(dos[0].id, "SKU-1"), (dos[1].id, "SKU-2")]
        assert await _fulfilment(hub, order_id) == "routed"  # the WMS part is not sent yet
        await delivery_orders.send_delivery_orders(hub, [dos[0].id])
        assert await _fulfilment(hub, order_id) == "sent_to_warehouse"
        await hub.close_loop_resources()


async def test_no_warehouse_for_the_region_or_no_courier_holds_the_order_with_the_reason(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    sandbox, base_url = wms
    config = hub_config(database_url, warehouses=warehouses_config(
        sandbox.warehouse_settings(base_url), wms_regions=["浙江"], own_regions=["江苏"]))
    with running_hub(config, start_workers=False, relay=False) as hub:
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-1"): 10})
        far = await approved_order(hub, order_to("新疆维吾尔自治区", [("SKU-1", 1)]))
        near_own = await approved_order(hub, order_to("江苏省", [("SKU-1", 1)]))

        result = await flow.fulfil_orders(hub, [far, near_own])

        assert result.held == {far: "no_warehouse", near_own: "no_courier"}
        assert "no warehouse ships to 新疆维吾尔自治区" in (await _holds(hub, far))["no_warehouse"]
        assert "no courier rule matches a parcel from own" in (await _holds(hub, near_own))["no_courier"]
        assert await delivery_orders_of(hub, far) == [] and await delivery_orders_of(hub, near_own) == []
        assert await _fulfilment(hub, far) == "unfulfilled"
        assert (await flow.fulfil_orders(hub, [far])).skipped == [far]  # held: left alone
        await hub.close_loop_resources()


async def test_a_wms_refusal_fails_the_delivery_order_holds_the_order_and_raises_an_exception(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "浙江省", [("SKU-1", 1)])

        sandbox.inject_fault("failure")  # flag=failure, and the WMS does not know the code
        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "failed"}

        [failed] = await delivery_orders_of(hub, order_id)
        assert failed.status == "failed" and "系统繁忙" in (failed.last_error or "")
        holds = await _holds(hub, order_id)
        assert "warehouse_refused" in holds and "系统繁忙" in holds["warehouse_refused"]
        async with hub.database().session() as session:
            [exc] = (await session.execute(select(FulfilmentExceptionRow).where(
                FulfilmentExceptionRow.order_id == order_id))).scalars()
        assert (exc.kind, exc.subject) == ("warehouse_refused", f"delivery_order:{do.id}")
        assert sandbox.orders == {}

        # A person releases the hold and routes again: a new delivery order under a new code.
        async with hub.database().transaction() as session:
            await orders.release_hold(session, order_id, "warehouse_refused", actor="user:ops")
        again = await flow.fulfil_orders(hub, [order_id], actor="user:ops", manual=True)
        [_, second] = await delivery_orders_of(hub, order_id)
        assert again.routed == {order_id: [second.id]} and second.code == f"DO{order_id}-2"
        assert await delivery_orders.send_delivery_orders(hub, [second.id]) == {second.id: "sent"}
        assert list(sandbox.orders) == [second.code]
        await hub.close_loop_resources()


async def test_cancel_for_order_cancels_at_the_wms_locally_and_reports_what_shipped(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-2"): 10})
        split = await approved_order(hub, order_to("浙江省", [("SKU-1", 1), ("SKU-2", 1)]))
        shipped = await approved_order(hub, order_to("浙江省", [("SKU-1", 1)]))
        await flow.fulfil_orders(hub, [split, shipped])
        at_wms, own = await delivery_orders_of(hub, split)
        [gone] = await delivery_orders_of(hub, shipped)
        await delivery_orders.send_delivery_orders(hub, [at_wms.id, gone.id])
        sandbox.ship(gone.code, "SF100")

        outcome = await delivery_orders.cancel_for_order(hub, split, reason="refund", actor="user:ops")
        again = await delivery_orders.cancel_for_order(hub, split, reason="refund", actor="user:ops")
        late = await delivery_orders.cancel_for_order(hub, shipped, reason="refund", actor="user:ops")

        assert sorted(outcome.cancelled) == sorted([at_wms.id, own.id]) and outcome.too_late == []
        assert again.cancelled == [] and again.too_late == []
        assert late.cancelled == [] and late.too_late == [gone.id]
        assert sandbox.orders[at_wms.code].status == "CANCELED"
        assert [d.status for d in await delivery_orders_of(hub, split)] == ["cancelled", "cancelled"]
        assert (await delivery_orders_of(hub, shipped))[0].status == "sent"
        async with hub.database().session() as session:
            parcel = (await session.execute(select(ParcelRow).where(ParcelRow.order_id == split))).scalar_one()
        assert parcel.status == "cancelled"
        events = await _events(hub, split)
        assert events.count(("delivery_order_cancelled", "user:ops")) == 2
        assert ("delivery_order_cancel_too_late", "user:ops") in await _events(hub, shipped)
        await hub.close_loop_resources()


async def test_a_cancel_that_overtakes_the_send_is_cancelled_at_the_wms_after(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "浙江省", [("SKU-1", 1)])
        attempt = await delivery_orders._begin(hub, do.id)  # the send claimed it and is calling the WMS
        assert attempt is not None
        assert await delivery_orders.cancel_delivery_order(hub, do.id, reason="refund", actor="user:ops")
        await hub.accounts().warehouse("wms-hz").create_delivery_order(attempt.order, attempt.lines, key=do.code)
        assert await delivery_orders._finish(hub, attempt, do.code)  # the send learns it was cancelled
        await delivery_orders._cancel_at_wms(hub, do.id, reason="cancelled while sent", actor="hub")

        assert sandbox.orders[do.code].status == "CANCELED"
        [cancelled] = await delivery_orders_of(hub, order_id)
        assert cancelled.status == "cancelled"
        await hub.close_loop_resources()


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


async def _until(check: Any, what: str, limit_s: float = 60.0) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached within {limit_s:g} s")


async def test_through_the_queue_the_review_outbox_row_ends_at_the_wms_once_and_the_sweep_recovers_a_lost_one(
    database_url: str, mode: str | None, wms: tuple[QimenWmsSandbox, str]
) -> None:
    sandbox, base_url = wms
    config = _config(database_url, sandbox, base_url).model_copy(update={"hub": hub_config(
        database_url, redis_url=mode).hub})
    with running_hub(config) as hub:
        await stock(hub, {("wms-hz", "SKU-1"): 3, ("own", "SKU-1"): 10})
        order_id = await approved_order(hub, order_to("浙江省", [("SKU-1", 3)]))

        async def reserved() -> bool:
            async with hub.database().session() as session:
                return (await reservations.count_reservations(session, order_id)).get("active", 0) == 1

        await _until(reserved, "the order's stock reserved (in wms-hz, the first by priority)")
        async with hub.database().transaction() as session:  # what the review writes for an approved order
            outbox.add(session, flow.FULFIL_ACTOR, [order_id])

        async def sent() -> list[Any]:
            found = await delivery_orders_of(hub, order_id)
            return found if found and found[0].status == "sent" else []

        [do] = await _until(sent, "the delivery order sent to the WMS")
        # Its own reservation counts as its own: wms-hz (3 on hand, 3 reserved by it) still has everything.
        assert do.warehouse == "wms-hz"
        hub.send(delivery_orders.SEND_ACTOR, [do.id])  # a redelivered message
        hub.send(flow.FULFIL_ACTOR, [order_id])
        hub.runtime.join(60_000)  # type: ignore[union-attr]
        assert list(sandbox.orders) == [do.code]
        assert [d.id for d in await delivery_orders_of(hub, order_id)] == [do.id]

        # An approved order whose message the broker lost: the sweep routes it.
        lost = await approved_order(hub, order_to("北京", [("SKU-1", 1)]))
        async with hub.database().transaction() as session:
            await session.execute(update(OrderRow).where(OrderRow.id == lost).values(
                reviewed_at=utcnow() - timedelta(hours=1)))
        swept = await flow.sweep(hub)
        assert swept.orders == [lost]

        async def routed() -> list[Any]:
            return await delivery_orders_of(hub, lost)

        [own] = await _until(routed, "the swept order routed")
        assert own.warehouse == "own" and own.status == "sent"
        await hub.close_loop_resources()


async def test_a_reservation_follows_its_line_to_the_warehouse_it_was_routed_to(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-1"): 10})
        order_id = await approved_order(hub, order_to("北京", [("SKU-1", 2)]))
        await stock_effects.reserve_order(hub, order_id)  # reserved in wms-hz, the first by priority

        async def reserved() -> dict[str, tuple[int, int]]:
            async with hub.database().session() as session:
                found = await levels.stock_of(session, ["SKU-1"])
            return {wh: (found["SKU-1"].on_hand[wh], found["SKU-1"].reserved[wh]) for wh in ("wms-hz", "own")}

        assert await reserved() == {"wms-hz": (10, 2), "own": (10, 0)}
        await flow.fulfil_orders(hub, [order_id])  # 北京 is outside wms-hz's regions: own ships it

        assert [d.warehouse for d in await delivery_orders_of(hub, order_id)] == ["own"]
        assert await reserved() == {"wms-hz": (10, 0), "own": (10, 2)}
        async with hub.database().session() as session:
            [row] = (await session.execute(select(ReservationRow).where(ReservationRow.order_id == order_id))).scalars()
            ledger = (await session.execute(select(StockLedgerRow.warehouse, StockLedgerRow.reserved_delta).where(
                StockLedgerRow.reference == f"order:{order_id}").order_by(StockLedgerRow.id))).all()
        assert (row.warehouse, row.state) == ("own", "active")
        assert [tuple(r) for r in ledger] == [("wms-hz", 2), ("wms-hz", -2), ("own", 2)]
        await hub.close_loop_resources()


async def test_a_delivery_order_of_an_order_held_meanwhile_waits_until_the_hold_is_released(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        await stock(hub, {("wms-hz", "SKU-1"): 10})
        order_id, do = await routed(hub, "浙江省", [("SKU-1", 1)])
        async with hub.database().transaction() as session:
            await orders.add_hold(session, order_id, Hold(code="address_check", reason="check it"), cause="api")

        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "skipped"}
        [waiting] = await delivery_orders_of(hub, order_id)
        assert waiting.status == "pending" and "on hold" in (waiting.last_error or "")
        assert sandbox.orders == {}

        async with hub.database().transaction() as session:
            await orders.release_hold(session, order_id, "address_check", actor="user:ops")
        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "sent"}
        assert list(sandbox.orders) == [do.code]
        await hub.close_loop_resources()


async def test_a_merged_group_is_one_delivery_order_with_the_lines_of_both_orders(
    database_url: str, wms: tuple[QimenWmsSandbox, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, base_url = wms

    async def merge_all(hub: Hub, session: Any, rows: list[OrderRow]) -> Any:
        groups, holds = await original(hub, session, rows)
        return [planning.DeliveryGroup(order_ids=[o for g in groups for o in g.order_ids],
                                       lines=[line for g in groups for line in g.lines], reason="same buyer")], holds

    original = planning.plan_groups
    monkeypatch.setattr(planning, "plan_groups", merge_all)
    with running_hub(_config(database_url, sandbox, base_url), start_workers=False, relay=False) as hub:
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("wms-hz", "SKU-2"): 10})
        first = await approved_order(hub, order_to("浙江省", [("SKU-1", 1)]))
        second = await approved_order(hub, order_to("浙江省", [("SKU-2", 2)]))

        result = await flow.fulfil_orders(hub, [first, second])

        [do] = await delivery_orders_of(hub, first)
        assert result.routed == {first: [do.id], second: [do.id]}
        assert do.data["group"] == "same buyer" and do.data["order_ids"] == [first, second]
        assert await delivery_orders.send_delivery_orders(hub, [do.id]) == {do.id: "sent"}
        sent = sandbox.orders[do.code]
        assert [(item, qty) for _, item, qty in sent.lines] == [("SKU-1", 1), ("SKU-2", 2)]
        assert all(no.startswith((f"{first}/", f"{second}/")) for no, _, _ in sent.lines)
        assert await _fulfilment(hub, first) == await _fulfilment(hub, second) == "sent_to_warehouse"
        outcome = await delivery_orders.cancel_for_order(hub, second, reason="refund", actor="user:ops")
        assert outcome.cancelled == [do.id] and sandbox.orders[do.code].status == "CANCELED"
        await hub.close_loop_resources()
