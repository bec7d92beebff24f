"""Nothing lost when the broker forgets: committed paid orders, a recorded shipment, a failed
inbox row, a lifted stock-short hold and pushes stored the way ``hub serve`` stores them, whose
messages the broker lost (relayed, then the queue dropped, as a Redis restart without
persistence does), are found by the sweepers and their follow-ups happen exactly once.
The sweepers run directly with a clock moved past ``sweep_after_s``: no sleeping on windows.
On SQLite with the in-process queue and on PostgreSQL with the real Redis."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from contracts import InboundMessage, MessageKind, OrderStatus
from contracts.shipments import Parcel
from hub.api.outbox_relay import relay_pass_driver
from hub.context import Hub
from hub.db import inbox
from hub.db.tables import InboxRow, OrderRow, OutboxRow, ReservationRow, ShipmentRow
from hub.plugin_api import hookimpl
from hub.queue.dead_letter_replay import replay_dead_letter
from hub.queue.relay import relay_outbox
from hub.queue.retry import DatabaseDeadLetterSink, DeadLetter
from hub.queue.testing import delete_namespace
from hub.services import orders, sweepers
from hub.services.aftersales import intake as aftersales
from hub.services.fulfilment import shipments as fulfilment
from hub.services.intake import accept_messages
from hub.services.stock import adjustments, effects, levels, skus
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_fulfilment_flow import Channel, Plugin, _reset, mode

__all__ = ["_reset", "mode"]

ORDERS = 30


def _config(database_url: str, redis_url: str | None) -> Any:
    shop = f"sweep-{secrets.token_hex(3)}"
    return hub_config(database_url, redis_url=redis_url, shops={shop: {"platform": "shipshop"}},
                      warehouses={"main": {"platform": "manual"}})


def _later(hub: Hub) -> datetime:
    """A moment past the in-flight window of everything the test just committed."""
    return datetime.now(UTC) + timedelta(seconds=hub.config.queue.sweep_after_s + 1)


async def _stock(hub: Hub, on_hand: int = 100) -> None:
    async with hub.database().transaction() as session:
        await skus.define_sku(session, "SKU-1")
    await adjustments.adjust_stock(
        hub, [adjustments.Adjustment(warehouse="main", merchant_sku="SKU-1", on_hand=on_hand)], actor="test")


async def _paid_orders(hub: Hub, count: int) -> list[int]:
    shop = next(iter(hub.config.shops))
    ids = []
    for _ in range(count):
        order = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
        async with hub.database().transaction() as session:
            ids.append((await orders.apply_order(session, order, cause="test")).order_id)
    return ids


async def _broker_forgets(hub: Hub) -> None:
    """Relay the outbox (rows marked published), then lose everything the broker holds."""
    while await relay_outbox(hub.database(), hub.runtime):
        pass
    runtime = hub.runtime
    assert runtime is not None
    if runtime.embedded:
        runtime.broker.flush_all()
    else:
        assert hub.config.redis_url
        delete_namespace(hub.config.redis_url, hub.config.hub.redis_namespace)


async def _work_off(hub: Hub) -> None:
    """Run the workers until the queue is empty, relaying what the work writes to the outbox."""
    runtime = hub.runtime
    assert runtime is not None
    if runtime.worker is None:
        runtime.start_workers()
    while True:
        await asyncio.to_thread(runtime.join, 60_000)
        if not await relay_outbox(hub.database(), runtime):
            return


async def _reservations(hub: Hub, state: str) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(ReservationRow)
                                         .where(ReservationRow.state == state)) or 0)


async def _sweep_all(hub: Hub, now: datetime) -> int:
    return (await sweepers.sweep_orders(hub, now) + await sweepers.sweep_shipments(hub, now)
            + await sweepers.sweep_inbox(hub, now))


async def test_paid_orders_whose_messages_the_broker_lost_are_each_reserved_once(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub)
        await _paid_orders(hub, ORDERS)
        await _broker_forgets(hub)
        await _work_off(hub)
        assert await _reservations(hub, "active") == 0, "the broker was meant to have lost every order_changed"

        assert await sweepers.sweep_orders(hub, _later(hub)) == ORDERS
        await _work_off(hub)
        assert await _reservations(hub, "active") == ORDERS
        async with hub.database().session() as session:
            stock = (await levels.stock_of(session, ["SKU-1"]))["SKU-1"]
        assert sum(stock.reserved.values()) == ORDERS, "each order reserved exactly once"

        # Nothing is owed any more: later sweeps enqueue nothing.
        assert await _sweep_all(hub, _later(hub) + timedelta(hours=1)) == 0
        await hub.close_loop_resources()


async def test_work_just_committed_or_just_swept_is_in_flight_and_left_alone(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub)
        await _paid_orders(hub, 3)
        await _broker_forgets(hub)
        assert await sweepers.sweep_orders(hub) == 0, "orders changed moments ago are still in flight"
        later = _later(hub)
        assert await sweepers.sweep_orders(hub, later) == 3
        # Not worked off yet: re-enqueued moments ago, so the next sweeps leave them alone ...
        assert await sweepers.sweep_orders(hub, later + timedelta(seconds=1)) == 0
        # ... until that message, too, has had sweep_after_s to arrive.
        assert await sweepers.sweep_orders(hub, later + timedelta(seconds=hub.config.queue.sweep_after_s + 1)) == 3
        await _work_off(hub)
        assert await _reservations(hub, "active") == 3, "two sweeps of the same orders still reserve once"
        await hub.close_loop_resources()


async def test_a_shipment_whose_messages_the_broker_lost_is_confirmed_once_and_its_stock_consumed(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub, on_hand=10)
        [order_id] = await _paid_orders(hub, 1)
        await effects.reserve_order(hub, order_id)
        recorded = await fulfilment.record_shipment(
            hub, order_id, [Parcel(courier_code="SF", tracking_number="SF-LOST-1")], actor="test")
        await _broker_forgets(hub)
        await _work_off(hub)
        assert Channel.calls == [], "the broker was meant to have lost confirm_shipment"

        assert await sweepers.sweep_shipments(hub, _later(hub)) == 1
        assert await sweepers.sweep_orders(hub, _later(hub)) == 1  # shipped in full, stock still reserved
        await _work_off(hub)
        assert len(Channel.calls) == 1
        async with hub.database().session() as session:
            shipment_id = recorded.shipment.id
            row = (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one()
            stock = (await levels.stock_of(session, ["SKU-1"]))["SKU-1"]
        assert row.status == "confirmed"
        assert await _reservations(hub, "consumed") == 1
        assert (sum(stock.on_hand.values()), sum(stock.reserved.values())) == (9, 0)

        assert await _sweep_all(hub, _later(hub) + timedelta(hours=1)) == 0
        await _work_off(hub)
        assert len(Channel.calls) == 1, "the channel is told once"
        await hub.close_loop_resources()


async def test_failed_inbox_rows_due_for_retry_and_pending_ones_are_processed_once(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub)
        shop = next(iter(hub.config.shops))
        placed = [make_order(platform="shipshop", shop=shop, lines=[("SKU-1", 1)]) for _ in range(2)]
        messages = [InboundMessage(message_id=f"m-{o.ref.external_id}", kind=MessageKind.ORDER, topic="poll",
                                   external_id=o.ref.external_id, order=o) for o in placed]
        async with hub.database().transaction() as session:
            failed, pending = await inbox.record_messages(session, platform="shipshop", shop=shop, source="poll",
                                                          messages=messages)
            await inbox.bump_attempts(session, failed)
            await inbox.mark_failed(session, failed, "RetryableError: the platform was busy")
        await _broker_forgets(hub)  # the delayed retry and the first enqueue were both lost

        assert await sweepers.sweep_inbox(hub, _later(hub)) == 2
        await _work_off(hub)
        async with hub.database().session() as session:
            statuses = dict((await session.execute(select(InboxRow.id, InboxRow.status))).all())
            stored = int(await session.scalar(select(func.count()).select_from(OrderRow)) or 0)
        assert statuses == {failed: "done", pending: "done"}
        assert stored == 2
        assert await _reservations(hub, "active") == 2
        assert await _sweep_all(hub, _later(hub) + timedelta(hours=1)) == 0
        await hub.close_loop_resources()


async def test_a_short_order_whose_hold_was_lifted_is_reserved_when_the_broker_lost_the_retry(
    database_url: str, mode: str | None
) -> None:
    """A person lifts the stock-short hold of a paid order once stock is back (here: another order
    was cancelled); the re-reservation that lifting owes (``order_hold_released``) is lost with
    the broker. The order is paid, not on hold and still short: the sweep reserves it."""
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub, on_hand=1)
        shop = next(iter(hub.config.shops))
        first = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
        second = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
        async with hub.database().transaction() as session:
            first_id = (await orders.apply_order(session, first, cause="test")).order_id
            second_id = (await orders.apply_order(session, second, cause="test")).order_id
        await effects.reserve_order(hub, first_id)
        await effects.reserve_order(hub, second_id)
        assert (await _reservations(hub, "active"), await _reservations(hub, "short")) == (1, 1)
        async with hub.database().transaction() as session:
            await orders.apply_order(session, first.model_copy(update={"status": OrderStatus.CANCELLED}),
                                     cause="test")
        await effects.release_order(hub, first_id)  # the unit is back on the shelf
        async with hub.database().transaction() as session:
            assert await orders.release_hold(session, second_id, effects.STOCK_SHORT, actor="test")
        await _broker_forgets(hub)
        await _work_off(hub)
        assert await _reservations(hub, "short") == 1, "the broker was meant to have lost order_hold_released"

        assert await sweepers.sweep_orders(hub, _later(hub)) == 1
        await _work_off(hub)
        assert (await _reservations(hub, "active"), await _reservations(hub, "short")) == (1, 0)
        async with hub.database().session() as session:
            row = (await session.execute(select(OrderRow).where(OrderRow.id == second_id))).scalar_one()
            stock = (await levels.stock_of(session, ["SKU-1"]))["SKU-1"]
        assert not row.on_hold
        assert sum(stock.reserved.values()) == 1
        assert await _sweep_all(hub, _later(hub) + timedelta(hours=1)) == 0
        await hub.close_loop_resources()


async def _api_relay_then_broker_forgets(hub: Hub) -> None:
    """As ``_broker_forgets``, but relayed as ``hub serve`` relays pushes (on PostgreSQL one
    ``UPDATE … RETURNING`` pass merging the ``process_*_batch`` rows)."""
    database = hub.database()
    relay = relay_pass_driver if database.dialect == "postgresql" else relay_outbox
    while await relay(database, hub.runtime, 500):
        pass
    await _broker_forgets(hub)


async def _work_then_stop(hub: Hub, *, relay: bool) -> None:
    """Run the workers until the queue is empty (relaying what the work writes to the outbox, or
    leaving it there), then stop them, so a broker that forgets next takes nothing a worker holds."""
    runtime = hub.runtime
    assert runtime is not None
    if relay:
        await _work_off(hub)
    else:
        if runtime.worker is None:
            runtime.start_workers()
        await asyncio.to_thread(runtime.join, 60_000)
    worker, runtime.worker = runtime.worker, None
    assert worker is not None
    await asyncio.to_thread(worker.stop, 30_000)


async def test_pushes_and_their_batch_follow_up_lost_by_the_broker_are_stored_and_reserved_once(
    database_url: str, mode: str | None
) -> None:
    """The intake path as ``hub serve`` runs it: pushes stored with their ``process_push_batch`` owed
    in the outbox, relayed by the API's relay, lost with the broker; then the ``orders_changed``
    row the processing writes for the whole batch, lost too. The inbox sweep, the order sweep and
    the outbox sweep bring both back: every order stored once and reserved once."""
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub)
        shop = next(iter(hub.config.shops))
        placed = [make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
                  for _ in range(ORDERS)]
        messages = [InboundMessage(message_id=f"push-{o.ref.external_id}", kind=MessageKind.ORDER, topic="push",
                                   external_id=o.ref.external_id, order=o) for o in placed]
        ids = await accept_messages(hub, platform="shipshop", shop=shop, source="push", messages=messages)
        assert len(ids) == ORDERS
        async with hub.database().session() as session:
            actors = set((await session.execute(select(OutboxRow.actor))).scalars())
        assert actors == {"process_push_batch"}
        await _api_relay_then_broker_forgets(hub)
        await _work_then_stop(hub, relay=True)
        async with hub.database().session() as session:
            stored = int(await session.scalar(select(func.count()).select_from(OrderRow)) or 0)
        assert stored == 0, "the broker was meant to have lost process_push_batch"

        sent: list[str] = []
        send = hub.send

        def recording_send(actor: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(actor)
            return send(actor, *args, **kwargs)

        hub.send = recording_send  # type: ignore[method-assign]
        try:
            assert await sweepers.sweep_inbox(hub, _later(hub)) == ORDERS
        finally:
            hub.send = send  # type: ignore[method-assign]
        assert set(sent) == {"process_push_batch"}, "swept pushes go back to the webhooks queue, not behind TMC"
        await _work_then_stop(hub, relay=False)
        async with hub.database().session() as session:
            stored = int(await session.scalar(select(func.count()).select_from(OrderRow)) or 0)
            owed = list((await session.execute(select(OutboxRow.actor).where(OutboxRow.published_at.is_(None))))
                        .scalars())
        assert stored == ORDERS
        assert "orders_changed" in owed
        await _api_relay_then_broker_forgets(hub)
        await _work_then_stop(hub, relay=True)
        assert await _reservations(hub, "active") == 0, "the broker was meant to have lost orders_changed"

        assert await sweepers.sweep_orders(hub, _later(hub)) == ORDERS
        # The lost orders_changed rows are owed too: the outbox sweep sends the originals again,
        # racing the order sweep's batch; the stock still moves once.
        assert await sweepers.sweep_outbox(hub, _later(hub)) >= 1
        await _work_off(hub)
        assert await _reservations(hub, "active") == ORDERS
        async with hub.database().session() as session:
            stock = (await levels.stock_of(session, ["SKU-1"]))["SKU-1"]
            statuses = set((await session.execute(select(InboxRow.status))).scalars())
        assert sum(stock.reserved.values()) == ORDERS, "each order reserved exactly once"
        assert statuses == {"done"}
        much_later = _later(hub) + timedelta(hours=2)
        assert await _sweep_all(hub, much_later) + await sweepers.sweep_outbox(hub, much_later) == 0
        await hub.close_loop_resources()


class Listener:
    """A plugin that records the notifications it hears."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, int, str]] = []

    @hookimpl
    def order_changed(self, order_id: int, order: Any, old_status: str | None, new_status: str, cause: str) -> None:
        self.heard.append(("order", order_id, f"{old_status}->{new_status}"))

    @hookimpl
    def aftersale_changed(self, aftersale_id: int, order_id: int | None, status: str) -> None:
        self.heard.append(("aftersale", aftersale_id, status))


async def test_notifications_the_broker_lost_reach_the_plugins_after_a_sweep_and_only_once(
    database_url: str, mode: str | None
) -> None:
    """A channel reports a paid order shipped and an after-sale on it; the broker loses both
    notifications (``orders_changed`` and ``aftersale_changed``, relayed as ``hub serve`` relays),
    which no business table shows as missing. The outbox sweep makes them owed again and the
    workers' relay sends them: the plugin hears each once, and later sweeps send nothing."""
    listener = Listener()
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin(), listener], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        await _stock(hub)
        shop = next(iter(hub.config.shops))
        order = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
        async with hub.database().transaction() as session:
            order_id = (await orders.apply_order(session, order, cause="test")).order_id
        await _work_then_stop(hub, relay=True)
        assert listener.heard == [("order", order_id, "None->paid")]
        assert await _reservations(hub, "active") == 1
        listener.heard.clear()

        async with hub.database().transaction() as session:
            await orders.apply_order(session, order.model_copy(update={"status": OrderStatus.SHIPPED}), cause="test")
            aftersale_id, _ = await aftersales.apply_aftersale(session, make_aftersale(order), cause="test")
        await _api_relay_then_broker_forgets(hub)
        await _work_then_stop(hub, relay=True)
        assert listener.heard == [], "the broker was meant to have lost both notifications"

        assert await sweepers.sweep_outbox(hub) == 0, "published moments ago: still in flight"
        later = _later(hub)
        assert await sweepers.sweep_outbox(hub, later) == 2
        assert await sweepers.sweep_outbox(hub, later + timedelta(seconds=1)) == 0, "swept once per window"
        assert await sweepers.sweep_orders(hub, later) == 1  # shipped, stock still reserved: settled, not notified
        await _work_off(hub)
        assert sorted(listener.heard) == [("aftersale", aftersale_id, "requested"),
                                          ("order", order_id, "paid->shipped")]
        assert await _reservations(hub, "consumed") == 1

        much_later = _later(hub) + timedelta(hours=1)
        assert await _sweep_all(hub, much_later) + await sweepers.sweep_outbox(hub, much_later) == 0
        await _work_off(hub)
        assert len(listener.heard) == 2, "each notification heard once"
        async with hub.database().session() as session:
            owed = int(await session.scalar(select(func.count()).select_from(OutboxRow)
                                            .where(OutboxRow.done_at.is_(None))) or 0)
        assert owed == 0
        await hub.close_loop_resources()


async def test_a_dead_lettered_notification_is_not_swept_and_its_replay_is_owed_again(
    database_url: str, mode: str | None
) -> None:
    """A notification out of retries is a dead letter: the outbox sweep stops sending it. Replayed
    from the dead letters, it reaches the plugin, and its row is done again."""
    listener = Listener()
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin(), listener], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        shop = next(iter(hub.config.shops))
        order = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
        async with hub.database().transaction() as session:
            aftersale_id, _ = await aftersales.apply_aftersale(session, make_aftersale(order), cause="test")
        await _broker_forgets(hub)
        async with hub.database().session() as session:
            row = (await session.execute(select(OutboxRow).where(OutboxRow.actor == "aftersale_changed"))).scalar_one()
        sink = DatabaseDeadLetterSink(hub.config.database_url)
        try:
            dead_letter_id = await asyncio.to_thread(sink, DeadLetter(
                actor="aftersale_changed", queue="default", args=list(row.args), kwargs={"outbox_id": row.id},
                reason="plugin kept failing", error_class="RuntimeError", attempts=6))
        finally:
            sink.close()
        assert await sweepers.sweep_outbox(hub, _later(hub)) == 0, "a dead letter is not sent again by the sweep"

        assert dead_letter_id is not None
        await replay_dead_letter(hub.database(), hub.runtime, dead_letter_id, actor="test")
        async with hub.database().session() as session:
            done = await session.scalar(select(OutboxRow.done_at).where(OutboxRow.id == row.id))
        assert done is None, "the replay is owed until it has run"
        await _work_off(hub)
        assert listener.heard == [("aftersale", aftersale_id, "requested")]
        async with hub.database().session() as session:
            done = await session.scalar(select(OutboxRow.done_at).where(OutboxRow.id == row.id))
        assert done is not None
        assert await sweepers.sweep_outbox(hub, _later(hub) + timedelta(hours=1)) == 0
        await hub.close_loop_resources()
