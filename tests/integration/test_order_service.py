"""The order service on SQLite and the real PostgreSQL: one stored order per channel order,
monotonic status whatever the delivery order, every report in the history, holds for late
cancellations."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from contracts import OrderStatus
from hub.db.tables import Binding, OrderEventRow, OrderHoldRow, OrderRow
from hub.services import orders
from hub.testing.factories import make_order, next_external_id

LIFE = [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
        OrderStatus.COMPLETED]


def _report(external_id: str, status: OrderStatus, step: int):  # type: ignore[no-untyped-def]
    base = make_order(external_id=external_id, status=status)
    return base.model_copy(update={"updated_at": base.created_at + timedelta(minutes=step)})


async def _apply_all(database, reports) -> None:  # type: ignore[no-untyped-def]
    for report in reports:
        async with database.transaction() as session:
            await orders.apply_order(session, report, cause="message_channel")


async def test_order_created_once_and_history_kept(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    reports = [_report(external_id, s, i) for i, s in enumerate(LIFE)]
    await _apply_all(database, [*reports, reports[1]])  # a late duplicate of "paid"
    async with database.session() as session:
        rows = (await session.execute(select(OrderRow).where(OrderRow.external_id == external_id))).scalars().all()
        assert len(rows) == 1 and rows[0].status == "completed"
        events = (await session.execute(
            select(OrderEventRow).where(OrderEventRow.order_id == rows[0].id).order_by(OrderEventRow.id)
        )).scalars().all()
        # The channel's "shipped" moves fulfilment too, once, in the same history.
        assert [e.kind for e in events] == ["created", "status_changed", "status_changed", "fulfilment_changed",
                                            "status_changed", "status_changed", "stale"]
        assert events[-1].old_status == "completed" and events[-1].new_status == "paid"
        bindings = await session.scalar(select(func.count()).select_from(Binding).where(
            Binding.external_id == external_id, Binding.kind == "order"))
        assert bindings == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(LIFE), st.lists(st.integers(0, 4), max_size=4))
async def test_any_delivery_order_with_duplicates_ends_completed_without_stepping_back(
    database, order_of_delivery, duplicates  # type: ignore[no-untyped-def]
) -> None:
    external_id = next_external_id()
    step = {s: i for i, s in enumerate(LIFE)}
    reports = [_report(external_id, s, step[s]) for s in order_of_delivery]
    reports += [reports[i] for i in duplicates]
    await _apply_all(database, reports)
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.external_id == external_id))).scalar_one()
        assert row.status == "completed"
        events = (await session.execute(
            select(OrderEventRow).where(OrderEventRow.order_id == row.id).order_by(OrderEventRow.id)
        )).scalars().all()
        reported = [e for e in events if e.kind != "fulfilment_changed"]
        assert len(reported) == len(reports)  # every report is in the history
        assert row.fulfilment_status == "shipped"
        assert [e.kind for e in events].count("fulfilment_changed") == 1  # moved once, never back
        applied = [OrderStatus(e.new_status) for e in events if e.kind in ("created", "status_changed")]
        assert [s.progress for s in applied] == sorted(s.progress for s in applied)


async def test_concurrent_first_reports_create_one_order(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()

    async def deliver() -> None:
        async with database.transaction() as session:
            await orders.apply_order(session, _report(external_id, OrderStatus.PAID, 1), cause="push")

    await asyncio.gather(*(deliver() for _ in range(8)), return_exceptions=False)
    async with database.session() as session:
        count = await session.scalar(select(func.count()).select_from(OrderRow).where(
            OrderRow.external_id == external_id))
    assert count == 1


async def test_cancellation_after_fulfilment_started_becomes_a_hold(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    async with database.transaction() as session:
        result = await orders.apply_order(session, _report(external_id, OrderStatus.PAID, 1), cause="poll")
        await orders.set_fulfilment_status(session, result.order_id, "sent_to_warehouse", cause="fulfilment")
    async with database.transaction() as session:
        late = await orders.apply_order(session, _report(external_id, OrderStatus.CLOSED, 2), cause="push")
    assert late.change is orders.Change.CANCEL_REQUESTED and late.new_status is OrderStatus.PAID
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == result.order_id))).scalar_one()
        hold = (await session.execute(select(OrderHoldRow).where(OrderHoldRow.order_id == row.id))).scalar_one()
    assert row.status == "paid" and row.on_hold
    assert hold.code == "cancel_requested" and "closed" in hold.reason
    async with database.transaction() as session:
        assert await orders.release_hold(session, row.id, "cancel_requested", actor="ops@shop")
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == result.order_id))).scalar_one()
    assert not row.on_hold


async def test_cancellation_before_fulfilment_is_applied(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    await _apply_all(database, [_report(external_id, OrderStatus.PAID, 1), _report(external_id, OrderStatus.CLOSED, 2)])
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.external_id == external_id))).scalar_one()
    assert row.status == "closed" and not row.on_hold


async def _fulfilment(database, external_id: str) -> tuple[str, list[dict]]:  # type: ignore[no-untyped-def,type-arg]
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.external_id == external_id))).scalar_one()
        moves = (await session.execute(select(OrderEventRow.detail).where(
            OrderEventRow.order_id == row.id, OrderEventRow.kind == "fulfilment_changed")
            .order_by(OrderEventRow.id))).scalars().all()
    return row.fulfilment_status, [dict(m) for m in moves]


async def test_fulfilment_follows_the_channel_when_it_says_shipped(database) -> None:  # type: ignore[no-untyped-def]
    """The merchant shipped in the seller centre: the hub recorded no shipment, but the order is
    no longer unfulfilled."""
    external_id = next_external_id()
    await _apply_all(database, [_report(external_id, OrderStatus.PAID, 1)])
    assert (await _fulfilment(database, external_id))[0] == "unfulfilled"
    await _apply_all(database, [_report(external_id, OrderStatus.PARTIALLY_SHIPPED, 2)])
    assert (await _fulfilment(database, external_id))[0] == "partially_shipped"
    await _apply_all(database, [_report(external_id, OrderStatus.SHIPPED, 3)])
    status, moves = await _fulfilment(database, external_id)
    assert status == "shipped"
    assert moves[-1] == {"from": "partially_shipped", "to": "shipped", "reported_by_channel": "SHIPPED"}


async def test_an_order_first_seen_already_shipped_is_shipped(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    await _apply_all(database, [_report(external_id, OrderStatus.DELIVERED, 1)])
    assert (await _fulfilment(database, external_id))[0] == "shipped"


async def test_fulfilment_never_moves_backwards(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    await _apply_all(database, [_report(external_id, OrderStatus.SHIPPED, 2),
                                _report(external_id, OrderStatus.PARTIALLY_SHIPPED, 1),
                                _report(external_id, OrderStatus.PAID, 0)])
    async with database.transaction() as session:
        order_id = await session.scalar(select(OrderRow.id).where(OrderRow.external_id == external_id))
        # A partial shipment recorded by a warehouse after the channel said shipped.
        await orders.set_fulfilment_status(session, order_id, "partially_shipped", cause="shipment")
    status, moves = await _fulfilment(database, external_id)
    assert status == "shipped" and len(moves) == 1


async def test_a_repeated_shipped_report_heals_an_order_left_unfulfilled(database) -> None:  # type: ignore[no-untyped-def]
    """Orders stored shipped before fulfilment followed the channel catch up on the next report."""
    external_id = next_external_id()
    await _apply_all(database, [_report(external_id, OrderStatus.SHIPPED, 1)])
    async with database.transaction() as session:
        await session.execute(update(OrderRow).where(OrderRow.external_id == external_id)
                              .values(fulfilment_status="unfulfilled"))
    await _apply_all(database, [_report(external_id, OrderStatus.SHIPPED, 1)])
    assert (await _fulfilment(database, external_id))[0] == "shipped"


async def test_big_ids_and_buyer_data_survive_storage(database) -> None:  # type: ignore[no-untyped-def]
    external_id = "163288460521879179"
    async with database.transaction() as session:
        result = await orders.apply_order(session, _report(external_id, OrderStatus.PAID, 1), cause="poll")
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == result.order_id))).scalar_one()
    stored = orders.stored_order(row)
    assert stored.ref.external_id == external_id
    assert stored.shipping_address is not None and stored.shipping_address.phone == "13812345678"
    assert stored.masked().shipping_address.phone == "138****5678"  # type: ignore[union-attr]


async def test_forward_move_with_an_older_timestamp_takes_the_status_keeps_fresher_details(database) -> None:  # type: ignore[no-untyped-def]
    external_id = next_external_id()
    paid = _report(external_id, OrderStatus.PAID, 5).model_copy(update={"seller_note": "fresh memo"})
    shipped_but_older = _report(external_id, OrderStatus.SHIPPED, 3)
    await _apply_all(database, [paid, shipped_but_older])
    async with database.session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.external_id == external_id))).scalar_one()
    assert row.status == "shipped"
    assert orders.stored_order(row).seller_note == "fresh memo"
    assert orders.stored_order(row).status is OrderStatus.SHIPPED
