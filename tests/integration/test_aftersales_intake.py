"""After-sale intake on SQLite and PostgreSQL: status only forward; a newer report of the same
status refreshes the deadline, version and amount while an older one is ignored; lines stored and
linked to the order's lines; one history row per report that changed something; a case stored
before its order is linked when the inbox worker stores the order (and held, for a refund)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from contracts import AfterSaleStatus, AfterSaleType, InboundMessage, MessageKind, Money
from contracts.aftersales import AfterSale, AfterSaleLine
from hub.context import Hub
from hub.db.engine import Database
from hub.db.tables import (
    AfterSaleEventRow,
    AfterSaleLineRow,
    AfterSaleRow,
    OrderHoldRow,
    OrderLineRow,
    OrderRow,
    OutboxRow,
)
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.aftersales import intake
from hub.services.fulfilment import interception
from hub.services.ingest import accept_messages, process_inbox_rows
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config

T0 = datetime(2026, 11, 12, tzinfo=UTC)


def _case(order: Any, *, status: AfterSaleStatus = AfterSaleStatus.REQUESTED, at: datetime = T0,
          external_id: str = "RF-1", **update: Any) -> AfterSale:
    case = make_aftersale(order, external_id=external_id, status=status, updated_at=at,
                          type=AfterSaleType.RETURN_AND_REFUND)
    return case.model_copy(update={"deadline": T0 + timedelta(days=2), "version": "1", "reason": "size", **update})


async def _apply(database: Database, case: AfterSale, cause: str = "push") -> tuple[int, bool]:
    async with database.transaction() as session:
        return await intake.apply_aftersale(session, case, cause=cause)


async def _row(database: Database, case_id: int) -> AfterSaleRow:
    async with database.session() as session:
        return (await session.execute(select(AfterSaleRow).where(AfterSaleRow.id == case_id))).scalar_one()


async def _events(database: Database, case_id: int) -> list[tuple[str, str | None, str | None, str]]:
    async with database.session() as session:
        rows = (await session.execute(select(AfterSaleEventRow).where(AfterSaleEventRow.aftersale_id == case_id)
                                      .order_by(AfterSaleEventRow.id))).scalars().all()
    return [(r.kind, r.old_status, r.new_status, r.cause) for r in rows]


async def _lines(database: Database, case_id: int) -> list[AfterSaleLineRow]:
    async with database.session() as session:
        return list((await session.execute(select(AfterSaleLineRow).where(AfterSaleLineRow.aftersale_id == case_id)
                                           .order_by(AfterSaleLineRow.position))).scalars().all())


async def _store_order(database: Database, order: Any) -> int:
    async with database.transaction() as session:
        return (await orders.apply_order(session, order, cause="push")).order_id


async def _ingest_order(database_url: str, database: Database, order: Any) -> int:
    """Store ``order`` as the inbox worker does (the only place orders are created)."""
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    message = InboundMessage(message_id=f"trade-{order.ref.external_id}", kind=MessageKind.ORDER,
                             topic="trade_created", external_id=order.ref.external_id, order=order)
    ids = await accept_messages(hub, platform=order.ref.platform, shop=order.ref.shop, source="push",
                                messages=[message])
    outcome = await process_inbox_rows(hub, ids)
    assert outcome.done == ids, outcome
    async with database.session() as session:
        found = await session.scalar(select(OrderRow.id).where(OrderRow.external_id == order.ref.external_id))
    assert found is not None
    return int(found)


async def test_a_new_case_stores_its_columns_lines_and_one_history_row(database: Database) -> None:
    order = make_order(lines=[("SKU-A", 2), ("SKU-B", 1)])
    order_id = await _store_order(database, order)
    case = _case(order, lines=[AfterSaleLine(line_external_id=order.lines[1].external_id, quantity=1),
                               AfterSaleLine(merchant_sku="SKU-A", quantity=2,
                                             refund_amount=Money(amount="39.80", currency="CNY"))])
    case_id, changed = await _apply(database, case)
    row = await _row(database, case_id)
    assert changed and row.order_id == order_id
    assert (row.applied_at, row.deadline, row.version, row.reason) == (T0, T0 + timedelta(days=2), "1", "size")
    assert (row.refund_amount, row.currency) == (Decimal("59.70"), "CNY")
    async with database.session() as session:
        line_ids = {sku: i for i, sku in (await session.execute(
            select(OrderLineRow.id, OrderLineRow.merchant_sku).where(OrderLineRow.order_id == order_id))).all()}
    lines = await _lines(database, case_id)
    assert [(li.order_line_id, li.quantity) for li in lines] == [(line_ids["SKU-B"], 1), (line_ids["SKU-A"], 2)]
    assert lines[1].refund_amount == Decimal("39.80")
    assert await _events(database, case_id) == [("reported", None, "requested", "push")]


async def test_status_moves_only_forward_and_a_stale_report_leaves_no_history(database: Database) -> None:
    order = make_order()
    await _store_order(database, order)
    case_id, _ = await _apply(database, _case(order))
    await _apply(database, _case(order, status=AfterSaleStatus.REFUNDED, at=T0 + timedelta(hours=2)), "poll")
    _, changed = await _apply(database, _case(order, status=AfterSaleStatus.APPROVED, at=T0 + timedelta(hours=1)))
    assert not changed and (await _row(database, case_id)).status == "refunded"
    assert await _events(database, case_id) == [("reported", None, "requested", "push"),
                                                ("reported", "requested", "refunded", "poll")]


async def test_a_newer_same_status_report_refreshes_deadline_version_and_amount(database: Database) -> None:
    order = make_order()
    await _store_order(database, order)
    case_id, _ = await _apply(database, _case(order))
    async with database.transaction() as session:  # the deadline alert was raised for the old deadline
        await session.execute(update(AfterSaleRow).values(alerted_at=T0))
    later = T0 + timedelta(days=5)
    _, changed = await _apply(database, _case(order, at=T0 + timedelta(hours=1), deadline=later, version="2",
                                              refund_amount=Money(amount="10.00", currency="CNY")), "poll")
    row = await _row(database, case_id)
    assert changed and (row.deadline, row.version, row.refund_amount) == (later, "2", Decimal("10.00"))
    assert row.alerted_at is None
    events = await _events(database, case_id)
    assert events[-1] == ("reported", "requested", "requested", "poll") and len(events) == 2


async def test_an_older_same_status_report_is_ignored(database: Database) -> None:
    order = make_order()
    await _store_order(database, order)
    case_id, _ = await _apply(database, _case(order, at=T0 + timedelta(hours=1), version="5"))
    _, changed = await _apply(database, _case(order, at=T0, version="4", deadline=T0 + timedelta(days=9)))
    row = await _row(database, case_id)
    assert not changed and (row.version, row.deadline) == ("5", T0 + timedelta(days=2))
    assert len(await _events(database, case_id)) == 1


async def test_the_same_observation_again_changes_nothing(database: Database) -> None:
    order = make_order()
    await _store_order(database, order)
    case = _case(order)
    case_id, _ = await _apply(database, case, "message_channel")
    _, again = await _apply(database, case, "poll")
    _, restamped = await _apply(database, case.model_copy(update={"updated_at": T0 + timedelta(minutes=1)}), "poll")
    assert not again and not restamped
    assert len(await _events(database, case_id)) == 1
    async with database.session() as session:
        follow_ups = (await session.execute(select(OutboxRow.actor).where(OutboxRow.actor == "aftersale_changed"))
                      ).scalars().all()
    assert len(follow_ups) == 1


async def test_lines_are_replaced_by_a_newer_report_keeping_what_was_received(database: Database) -> None:
    order = make_order(lines=[("SKU-A", 3)])
    await _store_order(database, order)
    case_id, _ = await _apply(database, _case(order, lines=[AfterSaleLine(merchant_sku="SKU-A", quantity=3)]))
    async with database.transaction() as session:
        await session.execute(AfterSaleLineRow.__table__.update().values(received_good=1))
    await _apply(database, _case(order, at=T0 + timedelta(hours=1),
                                 lines=[AfterSaleLine(merchant_sku="SKU-A", quantity=2)]))
    lines = await _lines(database, case_id)
    assert [(li.quantity, li.received_good) for li in lines] == [(2, 1)]
    assert lines[0].order_line_id is not None
    # a report without lines (a list API that leaves them out) keeps the stored ones
    await _apply(database, _case(order, at=T0 + timedelta(hours=2), lines=[], version="3"))
    assert [li.quantity for li in await _lines(database, case_id)] == [2]


async def test_a_case_stored_before_its_order_is_linked_when_the_order_arrives(database_url: str,
                                                                              database: Database) -> None:
    order = make_order(lines=[("SKU-A", 1), ("SKU-B", 1)])
    case_id, _ = await _apply(database, _case(order, lines=[AfterSaleLine(merchant_sku="SKU-B", quantity=1)]))
    other = make_order()
    other_case, _ = await _apply(database, _case(other, external_id="RF-2"))
    assert (await _row(database, case_id)).order_id is None
    order_id = await _ingest_order(database_url, database, order)
    assert (await _row(database, case_id)).order_id == order_id
    assert (await _row(database, other_case)).order_id is None
    async with database.session() as session:
        sku_b = await session.scalar(select(OrderLineRow.id).where(OrderLineRow.order_id == order_id,
                                                                    OrderLineRow.merchant_sku == "SKU-B"))
    assert [li.order_line_id for li in await _lines(database, case_id)] == [sku_b]


async def test_a_refund_stored_before_its_order_holds_the_order_when_it_arrives(database_url: str,
                                                                                database: Database) -> None:
    order = make_order()
    case = make_aftersale(order, external_id="RF-EARLY")  # refund only, requested
    case_id, _ = await _apply(database, case)
    order_id = await _ingest_order(database_url, database, order)
    async with database.session() as session:
        holds = (await session.execute(select(OrderHoldRow.code).where(OrderHoldRow.order_id == order_id))
                 ).scalars().all()
        follow_ups = (await session.execute(select(OutboxRow.args).where(OutboxRow.actor == "aftersale_changed")
                                            .order_by(OutboxRow.id))).scalars().all()
    assert list(holds) == [interception.REFUND_HOLD]
    assert follow_ups[-1] == [case_id, order_id, "requested", "order_linked"]
