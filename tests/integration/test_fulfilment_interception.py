"""Interception on SQLite and PostgreSQL: a refund before shipment holds the order in the
transaction that stores it and queues ``intercept_orders``; nothing sent → nothing cancelled; sent
→ the delivery orders cancelled (the delivery step's ``cancel_for_order``, replaced here by a fake)
and the issued waybills of their parcels; too late → one ``late_cancel`` exception, however often
the refund arrives or the actor runs; a withdrawn refund lifts the hold only while nothing was
cancelled; a channel cancellation after routing queues the same interception."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contracts import AfterSaleStatus, AfterSaleType, OrderStatus
from hub.context import Hub
from hub.db.tables import FulfilmentExceptionRow, OrderEventRow, OrderHoldRow, OrderRow, OutboxRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.aftersales import intake as aftersales
from hub.services.fulfilment import delivery_orders, interception, waybills
from hub.services.fulfilment.delivery_orders import CancelOutcome
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config
from hub.testing.merging_factories import approved_order, delivery_order, parcel


@dataclass
class FakeSteps:
    """Stands in for the delivery and waybill steps: records calls, answers as told."""

    cancelled: list[int] = field(default_factory=list)
    too_late: list[int] = field(default_factory=list)
    waybills_ok: bool = True
    cancel_calls: list[tuple[int, str, str | None]] = field(default_factory=list)
    waybill_calls: list[list[int]] = field(default_factory=list)

    async def cancel_for_order(self, hub: Hub, order_id: int, *, reason: str, actor: str | None) -> CancelOutcome:
        self.cancel_calls.append((order_id, reason, actor))
        return CancelOutcome(cancelled=list(self.cancelled), too_late=list(self.too_late))

    async def cancel_waybills(self, hub: Hub, parcel_ids: list[int], *, actor: str | None) -> list[int]:
        self.waybill_calls.append(list(parcel_ids))
        return list(parcel_ids) if self.waybills_ok else []


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> FakeSteps:
    fake = FakeSteps()
    monkeypatch.setattr(delivery_orders, "cancel_for_order", fake.cancel_for_order)
    monkeypatch.setattr(waybills, "cancel_waybills", fake.cancel_waybills)
    return fake


def _hub(database_url: str) -> Hub:
    return Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))


async def _order(hub: Hub, **kwargs: Any) -> tuple[int, Any]:
    order = make_order(shop="shop-a", **kwargs)
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="poll")
    return result.order_id, order


async def _refund(hub: Hub, order: Any, *, status: AfterSaleStatus = AfterSaleStatus.REQUESTED,
                  external_id: str = "RF-1", type: AfterSaleType = AfterSaleType.REFUND_ONLY) -> None:
    case = make_aftersale(order, external_id=external_id, status=status, type=type)
    async with hub.database().transaction() as session:
        await aftersales.apply_aftersale(session, case, cause="message_channel")


async def _holds(hub: Hub, order_id: int) -> dict[str, tuple[bool, str, str | None]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(OrderHoldRow.order_id == order_id))).scalars()
        return {h.code: (h.released_at is None, h.reason, h.released_by) for h in rows}


async def _count(hub: Hub, model: Any, *where: Any) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _events(hub: Hub, order_id: int) -> list[str]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderEventRow.kind).where(
            OrderEventRow.order_id == order_id).order_by(OrderEventRow.id))).scalars())


async def test_refund_before_routing_holds_at_once_and_sends_nothing(database_url: str, steps: FakeSteps) -> None:
    hub = _hub(database_url)
    order_id, order = await _order(hub)
    await _refund(hub, order)
    held = await _holds(hub, order_id)
    assert held["refund_requested"][0] and "RF-1" in held["refund_requested"][1]
    assert await _count(hub, OutboxRow, OutboxRow.actor == "intercept_orders") == 1
    async with hub.database().session() as session:
        assert (await session.get(OrderRow, order_id)).on_hold  # type: ignore[union-attr]
    results = await interception.intercept_orders(hub, [order_id])
    assert results[0]["nothing_sent"] and steps.cancel_calls == [] and steps.waybill_calls == []
    await interception.intercept_orders(hub, [order_id])
    assert (await _events(hub, order_id)).count("intercept_nothing_sent") == 1


async def test_after_the_delivery_went_out_it_is_cancelled_and_its_waybill_too(database_url: str,
                                                                                steps: FakeSteps) -> None:
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        order_id = await approved_order(session)
        do_id = await delivery_order(session, [order_id], status="sent")
        parcel_id = await parcel(session, do_id, order_id, status="issued")
        await parcel(session, do_id, order_id, status="shipped")
    order = make_order(shop="shop-a")  # only its ref matters for the case: point it at the stored order
    async with hub.database().session() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        order = order.model_copy(update={"ref": order.ref.model_copy(update={"external_id": row.external_id})})
    steps.cancelled = [do_id]
    await _refund(hub, order, type=AfterSaleType.RETURN_AND_REFUND)
    [result] = await interception.intercept_orders(hub, [order_id])
    assert steps.cancel_calls[0][0] == order_id and "refund_requested" in steps.cancel_calls[0][1]
    assert steps.waybill_calls == [[parcel_id]]
    assert result["cancelled"] == [do_id] and result["waybills_cancelled"] == [parcel_id]
    assert "intercept_cancelled" in await _events(hub, order_id)
    assert await _count(hub, FulfilmentExceptionRow) == 0
    # Withdrawn after something was cancelled: the hold stays for a person, its reason updated.
    await _refund(hub, order, status=AfterSaleStatus.CLOSED)
    open_, reason, _ = (await _holds(hub, order_id))["refund_requested"]
    assert open_ and "send the order again" in reason


async def test_too_late_is_one_exception_however_often_the_refund_comes(database_url: str, steps: FakeSteps) -> None:
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        order_id = await approved_order(session)
        do_id = await delivery_order(session, [order_id], status="shipped")
        await parcel(session, do_id, order_id, status="issued")
        external_id = (await session.get(OrderRow, order_id)).external_id  # type: ignore[union-attr]
    await orders_partially(hub, order_id)
    order = make_order(shop="shop-a", external_id=external_id)
    steps.too_late = [do_id]
    for _ in range(2):  # the same refund message twice (at least once delivery)
        await _refund(hub, order)
    for _ in range(2):  # and the actor run twice
        await interception.intercept_orders(hub, [order_id])
    assert await _count(hub, OrderHoldRow, OrderHoldRow.order_id == order_id,
                        OrderHoldRow.code == "refund_requested") == 1
    assert await _count(hub, OutboxRow, OutboxRow.actor == "intercept_orders") == 1
    async with hub.database().session() as session:
        exceptions = (await session.execute(select(FulfilmentExceptionRow))).scalars().all()
    assert [(e.kind, e.subject) for e in exceptions] == [("late_cancel", f"delivery_order:{do_id}")]
    assert "shipped" in exceptions[0].reason
    assert steps.waybill_calls == []  # its delivery order was not cancelled: its waybill is left alone
    assert (await _events(hub, order_id)).count("intercept_too_late") == 1
    assert await interception.due(hub) == []  # an open late_cancel: a person's, not the sweep's


async def orders_partially(hub: Hub, order_id: int) -> None:
    async with hub.database().transaction() as session:
        await orders.set_fulfilment_status(session, order_id, "partially_shipped", cause="system")


async def test_withdrawn_before_anything_was_cancelled_releases_the_hold(database_url: str, steps: FakeSteps) -> None:
    hub = _hub(database_url)
    order_id, order = await _order(hub)
    await _refund(hub, order)
    await _refund(hub, order, external_id="RF-2")
    await _refund(hub, order, status=AfterSaleStatus.CLOSED)
    assert (await _holds(hub, order_id))["refund_requested"][0]  # RF-2 still stands
    await _refund(hub, order, external_id="RF-2", status=AfterSaleStatus.REJECTED)
    open_, _, released_by = (await _holds(hub, order_id))["refund_requested"]
    assert not open_ and released_by == "system"


async def test_refund_after_shipment_or_not_a_refund_is_no_interception(database_url: str, steps: FakeSteps) -> None:
    hub = _hub(database_url)
    shipped_id, shipped = await _order(hub, status=OrderStatus.SHIPPED)
    await _refund(hub, shipped)
    other_id, other = await _order(hub)
    await _refund(hub, other, type=AfterSaleType.EXCHANGE, external_id="EX-1")
    assert await _holds(hub, shipped_id) == {} and await _holds(hub, other_id) == {}


async def test_a_refund_reported_after_the_platform_closed_the_order_holds_nothing(database_url: str,
                                                                                  steps: FakeSteps) -> None:
    """Messages arrive in any order: the refund's success can come after the trade's closing (a full
    refund before shipment); the closed order must not be held again for it."""
    hub = _hub(database_url)
    order_id, order = await _order(hub, status=OrderStatus.CLOSED)
    await _refund(hub, order, status=AfterSaleStatus.REFUNDING)
    assert await _holds(hub, order_id) == {}
    assert await _count(hub, OutboxRow, OutboxRow.actor == "intercept_orders") == 0


async def test_an_order_closed_while_its_delivery_was_being_stopped_is_not_held_again(
        database_url: str, steps: FakeSteps, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refund is approved and the platform closes the order (its holds lifted: nothing ships)
    while the interception is still stopping the delivery: recording the cancellation afterwards
    must not put a "send the order again" hold on the closed order."""
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        order_id = await approved_order(session)
        do_id = await delivery_order(session, [order_id], status="sent")
    async with hub.database().session() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        order = make_order(shop="shop-a")
        order = order.model_copy(update={"ref": order.ref.model_copy(update={"external_id": row.external_id})})
    await _refund(hub, order)

    async def closed_meanwhile(hub_: Hub, order_id_: int, *, reason: str, actor: str | None) -> CancelOutcome:
        async with hub.database().transaction() as session:
            await session.execute(update(OrderRow).where(OrderRow.id == order_id_).values(status="closed"))
            await orders.release_holds(session, "refund_requested", [order_id_], actor="system", cause="system")
        return CancelOutcome(cancelled=[do_id], too_late=[])

    monkeypatch.setattr(delivery_orders, "cancel_for_order", closed_meanwhile)
    [result] = await interception.intercept_orders(hub, [order_id])
    assert result["cancelled"] == [do_id]
    assert [code for code, (open_, _, _) in (await _holds(hub, order_id)).items() if open_] == []


async def test_channel_cancellation_after_routing_queues_the_interception(database_url: str,
                                                                          steps: FakeSteps) -> None:
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        order_id = await approved_order(session)
        do_id = await delivery_order(session, [order_id], status="sent")
        external_id = (await session.get(OrderRow, order_id)).external_id  # type: ignore[union-attr]
    from datetime import UTC, datetime

    cancelled = make_order(shop="shop-a", external_id=external_id, status=OrderStatus.CLOSED,
                           updated_at=datetime(2026, 11, 20, tzinfo=UTC))
    for _ in range(2):
        async with hub.database().transaction() as session:
            await orders.apply_order(session, cancelled, cause="push")
    assert (await _holds(hub, order_id))["cancel_requested"][0]
    async with hub.database().session() as session:
        messages = (await session.execute(select(OutboxRow.args).where(
            OutboxRow.actor == "intercept_orders"))).scalars().all()
    assert messages == [[[order_id]]]
    assert await interception.due(hub) == [order_id]
    steps.cancelled = [do_id]
    await interception.intercept_orders(hub, [order_id])
    assert steps.cancel_calls[0][0] == order_id


async def test_a_cancelled_merged_delivery_holds_the_other_order(database_url: str, steps: FakeSteps) -> None:
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        do_id = await delivery_order(session, [a, b], status="sent")
        await interception.request(session, a, actor="api-key:1:alice", reason="buyer phoned")
    steps.cancelled = [do_id]
    await interception.intercept_orders(hub, [a])
    assert (await _holds(hub, b))["merged_delivery_cancelled"][0]
    assert (await _holds(hub, a))["intercept_requested"][1] == "buyer phoned"
    async with hub.database().session() as session:
        view = await interception.view(session, a)
    assert view.delivery_orders == {do_id: "sent"} and [e["kind"] for e in view.events] == ["intercept_cancelled"]


async def test_the_worker_runs_the_interception_the_refund_queued(database_url: str, steps: FakeSteps) -> None:
    import asyncio
    import time

    from hub.testing.hub import running_hub

    with running_hub(hub_config(database_url)) as hub:
        order_id, order = await _order(hub)
        await _refund(hub, order)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the relay sends intercept_orders after the commit; a worker runs it
            if "intercept_nothing_sent" in await _events(hub, order_id):
                break
            await asyncio.sleep(0.05)
        assert "intercept_nothing_sent" in await _events(hub, order_id)
