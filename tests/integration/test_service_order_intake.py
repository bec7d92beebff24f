"""Service-order intake on SQLite and PostgreSQL: a platform's work card stored typed by the code
table (else the words of its name), linked to its order and line, with its deadlines, a history row
and a follow-up; reports move it forward only, a newer report of the same status changes the
appointment; platform alerts stored once per alert id, whether they came before or after their
card, raising its level and telling the plugins after commit; a card that came before its order is
linked when the inbox worker stores the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from contracts import InboundMessage, MessageKind
from contracts.refs import ChannelRef
from contracts.service_orders import (
    ServiceAlert,
    ServiceAlertLevel,
    ServiceOrder,
    ServiceOrderStatus,
    ServiceOrderType,
)
from hub.context import Hub
from hub.db.engine import Database
from hub.db.tables import OrderLineRow, OutboxRow, ServiceAlertRow, ServiceOrderEventRow, ServiceOrderRow
from hub.pipeline.service_orders import service_order_alerted
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.ingest import accept_messages, process_inbox_rows
from hub.services.service_orders import intake
from hub.services.service_orders.settings import ServiceOrdersSection
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub
from hub.testing.service_orders import make_service_order

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SETTINGS = ServiceOrdersSection(service_codes={"ZZ_FIX": ServiceOrderType.REPAIR})


async def _apply(database: Database, work: ServiceOrder, cause: str = "push") -> tuple[int, bool]:
    async with database.transaction() as session:
        return await intake.apply_service_order(session, work, cause=cause, settings=SETTINGS)


async def _alert(database: Database, alert_id: str, level: ServiceAlertLevel, card: str) -> tuple[int | None, bool]:
    async with database.transaction() as session:
        return await intake.apply_service_alert(session, _make_alert(alert_id, level, card), cause="message_channel")


def _make_alert(alert_id: str, level: ServiceAlertLevel, card: str) -> ServiceAlert:
    return ServiceAlert(ref=ChannelRef(platform="tmall", shop="tm", external_id=card), alert_id=alert_id, level=level,
                        rule_id="R1", content="未按时预约" * 100, raised_at=T0 + timedelta(hours=1))


async def _row(database: Database, service_order_id: int) -> ServiceOrderRow:
    async with database.session() as session:
        return (await session.execute(select(ServiceOrderRow).where(ServiceOrderRow.id == service_order_id))
                ).scalar_one()


async def _events(database: Database, service_order_id: int) -> list[tuple[str, str | None, str | None]]:
    async with database.session() as session:
        rows = (await session.execute(select(ServiceOrderEventRow)
                                      .where(ServiceOrderEventRow.service_order_id == service_order_id)
                                      .order_by(ServiceOrderEventRow.id))).scalars().all()
    return [(r.kind, r.old_status, r.new_status) for r in rows]


async def _outbox(database: Database, actor: str) -> list[tuple[int, list[Any]]]:
    async with database.session() as session:
        rows = (await session.execute(select(OutboxRow.id, OutboxRow.args).where(OutboxRow.actor == actor)
                                      .order_by(OutboxRow.id))).all()
    return [(int(i), list(a)) for i, a in rows]


async def _ingest(hub: Hub, message: InboundMessage, platform: str = "tmall", shop: str = "tm") -> None:
    ids = await accept_messages(hub, platform=platform, shop=shop, source="push", messages=[message])
    outcome = await process_inbox_rows(hub, ids)
    assert outcome.done == ids, outcome


async def test_a_new_card_is_typed_linked_and_given_deadlines_history_and_a_follow_up(database: Database) -> None:
    order = make_order(platform="tmall", shop="tm", external_id="T1001", lines=[("AC-1", 1), ("AC-2", 1)])
    async with database.transaction() as session:
        order_id = (await orders.apply_order(session, order, cause="push")).order_id
    # The code table wins over the name's words (安装) and the connector's reading (other).
    card = make_service_order(external_id="WC-1", service_code="ZZ_FIX", service_name="空调安装",
                              kind=ServiceOrderType.OTHER, line_external_id="T10011", assignee="王师傅",
                              expected_at=T0 + timedelta(days=1), sla_deadline=T0 + timedelta(hours=48))
    card_id, changed = await _apply(database, card)
    # No code in the table: the words of the name type it.
    by_name, _ = await _apply(database, make_service_order(external_id="WC-2", service_name="上门安装",
                                                           kind=ServiceOrderType.OTHER))
    row = await _row(database, card_id)
    async with database.session() as session:
        line_id = await session.scalar(select(OrderLineRow.id).where(OrderLineRow.order_id == order_id,
                                                                     OrderLineRow.external_id == "T10011"))
    assert changed and (row.type, row.status, row.origin, row.version) == ("repair", "new", "channel", 1)
    assert (await _row(database, by_name)).type == "installation"
    assert (row.order_id, row.order_line_id) == (order_id, line_id)
    assert (row.region_city, row.region_district, row.assignee, row.service_code) == ("杭州市", "西湖区", "王师傅",
                                                                                        "ZZ_FIX")
    assert row.expected_at == T0 + timedelta(days=1) and row.data["ref"]["external_id"] == "WC-1"
    # Repair promises contact in 24 h and completion in 96 h; the platform's 48 h deadline comes first.
    assert (row.contact_due_at, row.complete_due_at) == (T0 + timedelta(hours=24), T0 + timedelta(hours=48))
    assert (row.due_at, row.due_milestone, row.sla_state) == (T0 + timedelta(hours=24), "contact", "ok")
    assert await _events(database, card_id) == [("reported", None, "new")]
    assert [args for _, args in await _outbox(database, "service_order_changed")] == [
        [card_id, "new", "push"], [by_name, "new", "push"]]


async def test_reports_move_forward_only_and_a_newer_same_status_report_changes_the_appointment(
        database: Database) -> None:
    def report(status: ServiceOrderStatus, hours: float, **fields: Any) -> ServiceOrder:
        return make_service_order(external_id="WC-9", status=status, updated_at=T0 + timedelta(hours=hours), **fields)

    slot = (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2))
    card_id, _ = await _apply(database, report(ServiceOrderStatus.NEW, 0))
    assert (await _apply(database, report(ServiceOrderStatus.BOOKED, 1, appointment_start=slot[0],
                                          appointment_end=slot[1])))[1]
    assert not (await _apply(database, report(ServiceOrderStatus.ASSIGNED, 2)))[1]  # never back
    row = await _row(database, card_id)
    assert (row.status, row.booked_at, row.assigned_at, row.version) == ("booked", T0 + timedelta(hours=1), None, 2)
    assert (row.due_milestone, row.due_at) == ("on_site", T0 + timedelta(hours=48))
    # Rebooked on the platform: same status, newer report.
    later = (slot[0] + timedelta(days=1), slot[1] + timedelta(days=1))
    assert (await _apply(database, report(ServiceOrderStatus.BOOKED, 3, appointment_start=later[0],
                                          appointment_end=later[1], assignee="李师傅")))[1]
    # The same report again, and an older one with another slot, change nothing.
    assert not (await _apply(database, report(ServiceOrderStatus.BOOKED, 3, appointment_start=later[0],
                                              appointment_end=later[1], assignee="李师傅")))[1]
    assert not (await _apply(database, report(ServiceOrderStatus.BOOKED, 2, appointment_start=slot[0])))[1]
    row = await _row(database, card_id)
    assert (row.appointment_start, row.appointment_end, row.assignee, row.version) == (*later, "李师傅", 3)
    assert (await _apply(database, report(ServiceOrderStatus.COMPLETED, 30, rating=5)))[1]
    row = await _row(database, card_id)
    assert (row.status, row.closed_at, row.rating, row.due_at, row.sla_state) == (
        "completed", T0 + timedelta(hours=30), 5, None, "met")
    assert await _events(database, card_id) == [
        ("reported", None, "new"), ("reported", "new", "booked"), ("reported", "booked", "booked"),
        ("reported", "booked", "completed")]
    assert [args[1] for _, args in await _outbox(database, "service_order_changed")] == ["new", "booked", "completed"]


class _Pager:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def service_order_due(self, service_order_id: int, shop: str, deadline: datetime, milestone: str,
                          level: str) -> None:
        self.calls.append({"id": service_order_id, "shop": shop, "deadline": deadline, "milestone": milestone,
                           "level": level})
        raise RuntimeError("pager down")  # logged; the row is still done


async def test_alerts_before_and_after_the_card_end_on_it_once_each(database_url: str, database: Database) -> None:
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    early = InboundMessage(message_id="alert-A1", kind=MessageKind.SERVICE_ALERT, topic="service_monitor",
                           external_id="WC-7", service_alert=_make_alert("A1", ServiceAlertLevel.WARNING, "WC-7"))
    await _ingest(hub, early)  # through the inbox worker, before the card
    assert await _alert(database, "A1", ServiceAlertLevel.WARNING, "WC-7") == (None, False)  # sent twice
    card_id, _ = await _apply(database, make_service_order(external_id="WC-7"))
    assert (await _row(database, card_id)).alert_level == 1
    assert await _alert(database, "A2", ServiceAlertLevel.CRITICAL, "WC-7") == (card_id, True)
    assert await _alert(database, "A2", ServiceAlertLevel.CRITICAL, "WC-7") == (card_id, False)
    assert await _alert(database, "A3", ServiceAlertLevel.ALERT, "WC-7") == (card_id, True)
    row = await _row(database, card_id)
    assert (row.alert_level, row.alerted_at) == (3, T0 + timedelta(hours=1))
    async with database.session() as session:
        stored = (await session.execute(select(ServiceAlertRow.alert_id, ServiceAlertRow.service_order_id)
                                        .order_by(ServiceAlertRow.alert_id))).all()
        details = (await session.execute(select(ServiceOrderEventRow.detail).where(
            ServiceOrderEventRow.kind == "alert").order_by(ServiceOrderEventRow.id))).scalars().all()
    assert [tuple(r) for r in stored] == [("A1", card_id), ("A2", card_id), ("A3", card_id)]
    assert [d["level"] for d in details] == ["warning", "critical", "alert"]
    assert len(details[0]["content"]) == intake.ALERT_CONTENT_CHARS
    owed = await _outbox(database, "service_order_alerted")
    assert [args[:2] for _, args in owed] == [[card_id, "warning"], [card_id, "critical"], [card_id, "alert"]]
    # After commit the plugins are told; one that raises is logged and the row is done all the same.
    pager = _Pager()
    with running_hub(hub_config(database_url), extra_plugins=[pager], load_entry_points=False,
                     start_workers=False, relay=False):
        outbox_id, args = owed[1]
        await service_order_alerted(args[0], args[1], args[2], outbox_id=outbox_id)
    assert pager.calls == [{"id": card_id, "shop": "tm", "deadline": T0 + timedelta(hours=1),
                            "milestone": "platform", "level": "critical"}]
    async with database.session() as session:
        assert await session.scalar(select(OutboxRow.done_at).where(OutboxRow.id == outbox_id)) is not None


async def test_a_card_that_came_before_its_order_is_linked_when_the_order_is_stored(
        database_url: str, database: Database) -> None:
    card_id, _ = await _apply(database, make_service_order(external_id="WC-5", order_external_id="T2001",
                                                           line_external_id="T20011"))
    other_id, _ = await _apply(database, make_service_order(external_id="WC-6", order_external_id="T2999"))
    assert (await _row(database, card_id)).order_id is None
    order = make_order(platform="tmall", shop="tm", external_id="T2001", lines=[("AC-1", 1), ("AC-2", 1)])
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    await _ingest(hub, InboundMessage(message_id="trade-T2001", kind=MessageKind.ORDER, topic="trade_created",
                                      external_id="T2001", order=order))
    async with database.session() as session:
        order_id, line_id = (await session.execute(
            select(OrderLineRow.order_id, OrderLineRow.id).where(OrderLineRow.external_id == "T20011"))).one()
    row = await _row(database, card_id)
    assert (row.order_id, row.order_line_id) == (order_id, line_id)
    assert (await _row(database, other_id)).order_id is None
