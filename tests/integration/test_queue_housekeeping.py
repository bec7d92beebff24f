"""Queue housekeeping: two hubs sharing one Redis under different namespaces never see each
other's messages, locks or flags; a new scheduler leader continues the schedule (and staggers
jobs it has no record of) instead of firing every job at once; published outbox rows are purged
after their retention, in batches, and unpublished ones never."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from hub.config import QueueSection
from hub.context import Hub
from hub.db.tables import OutboxRow
from hub.plugins import build_plugin_manager
from hub.queue.leader import LeaderLock
from hub.queue.scheduler import LocalScheduleMemory, PeriodicJob, Scheduler
from hub.queue.testing import queue_runtimes, redis_client, redis_namespace, redis_url  # noqa: F401
from hub.runner import import_actor_modules
from hub.services import sweepers
from hub.services.stock import scheduling
from hub.testing.hub import hub_config


def _hub(database_url: str, redis: str | None, namespace: str, **sections: Any) -> Hub:
    config = hub_config(database_url, redis_url=redis, **sections)
    config.hub.redis_namespace = namespace
    return Hub(config, build_plugin_manager(load_entry_points=False))


@pytest.mark.redis
async def test_two_hubs_with_different_namespaces_share_one_redis_without_seeing_each_other(
    redis_url: str, redis_namespace: str, redis_client, queue_runtimes  # noqa: F811
) -> None:
    import_actor_modules()
    first, second = (_hub("sqlite+aiosqlite:///:memory:", redis_url, f"{redis_namespace}:{side}")
                     for side in ("a", "b"))
    runtimes = [queue_runtimes(redis_url=redis_url, database_url="sqlite+aiosqlite:///:memory:",
                               namespace=hub.config.hub.redis_namespace) for hub in (first, second)]

    runtimes[0].send("sweep_orders")
    assert (runtimes[0].broker.do_qsize("default"), runtimes[1].broker.do_qsize("default")) == (1, 0)

    locks = [LeaderLock(redis_client, "scheduler", ttl_s=5, key_prefix=hub.redis_key("leader:"))
             for hub in (first, second)]
    assert [await lock.acquire() for lock in locks] == [True, True], "each hub elects its own leader"

    first.config.shops, second.config.shops = {}, {}
    assert await scheduling._claim_flag(first, "shop-1") is True
    assert await scheduling._claim_flag(second, "shop-1") is True, "a pending push in one hub blocks none in the other"
    assert await scheduling._claim_flag(first, "shop-1") is False

    written = {key for key in await redis_client.keys(f"{redis_namespace}:*")}
    assert written, "the hubs wrote nothing?"
    assert all(key.startswith((f"{redis_namespace}:a:", f"{redis_namespace}:b:")) for key in written), written
    for lock in locks:
        await lock.release()
    await first.close_loop_resources()
    await second.close_loop_resources()


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, actor_name: str, *args: Any, delay_ms: int | None = None, **kwargs: Any) -> None:
        self.sent.append(args[0])


class Clock:
    def __init__(self, at: float = 1_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def test_a_new_leader_continues_the_schedule_instead_of_firing_every_job_at_once() -> None:
    jobs = [PeriodicJob(f"poll:{n}", 60.0, "poll_shop", (f"shop-{n}",)) for n in range(5)]
    name = f"scheduler-{uuid.uuid4().hex[:6]}"
    memory = LocalScheduleMemory(name)
    clock = Clock()
    start = clock.at

    first_sent = Recorder()
    first = Scheduler(first_sent, LeaderLock(None, name, ttl_s=30), jobs, memory=memory, clock=clock, stagger_s=10)
    await first.tick()
    assert first_sent.sent == ["shop-0"], "a fresh leader staggers the jobs it has no record of"
    for second in range(1, 11):
        clock.at = start + second
        await first.tick()
    assert sorted(first_sent.sent) == [f"shop-{n}" for n in range(5)], "every job ran within the stagger"

    # The leader goes away half-way through the interval; a successor takes over.
    await first.leader.release()
    clock.at = start + 30
    successor_sent = Recorder()
    successor = Scheduler(successor_sent, LeaderLock(None, name, ttl_s=30), jobs, memory=memory, clock=clock,
                          stagger_s=10)
    await successor.tick()
    assert successor.is_leader
    assert successor_sent.sent == [], "nothing is due yet: the successor continues the schedule"
    clock.at = start + 60
    await successor.tick()
    assert successor_sent.sent == ["shop-0"], "each job runs once per interval across the handover"
    await successor.leader.release()


async def test_overdue_jobs_of_a_new_leader_are_spread_over_the_stagger() -> None:
    jobs = [PeriodicJob(f"job-{n}", 60.0, "poll_shop", (f"shop-{n}",)) for n in range(4)]
    name = f"scheduler-{uuid.uuid4().hex[:6]}"
    memory = LocalScheduleMemory(name)
    clock = Clock()
    for job in jobs:
        await memory.ran(job.name, clock.at - 3600)  # the last leader died an hour ago
    sent = Recorder()
    scheduler = Scheduler(sent, LeaderLock(None, name, ttl_s=30), jobs, memory=memory, clock=clock, stagger_s=8)
    await scheduler.tick()
    assert sent.sent == ["shop-0"]
    assert [scheduler.due_at(job.name) for job in jobs[1:]] == [clock.at + 2, clock.at + 4, clock.at + 6]
    await scheduler.leader.release()


async def test_published_outbox_rows_are_purged_after_retention_in_batches(database_url: str) -> None:
    hub = _hub(database_url, None, "hub", queue=QueueSection(outbox_retention_days=7, sweep_batch=2))
    now = datetime.now(UTC)
    rows = {
        "old-1": now - timedelta(days=10), "old-2": now - timedelta(days=9), "old-3": now - timedelta(days=8),
        "recent": now - timedelta(days=1), "unpublished": None,
    }
    async with hub.database().transaction() as session:
        for actor, published in rows.items():
            session.add(OutboxRow(actor=actor, args=[], kwargs={}, created_at=now - timedelta(days=30),
                                  published_at=published))
    assert await sweepers.purge_outbox(hub, now) == 3
    async with hub.database().session() as session:
        kept = sorted((await session.execute(select(OutboxRow.actor))).scalars())
    assert kept == ["recent", "unpublished"]
    assert await sweepers.purge_outbox(hub, now) == 0
    await hub.close_loop_resources()


async def test_notifications_still_owed_are_kept_past_their_publication_until_the_retention_since_created(
    database_url: str,
) -> None:
    """The purge deletes a notification whose actor never finished only once it was created longer
    ago than the retention, and says so; one done, or of another actor, goes by its publication."""
    hub = _hub(database_url, None, "hub", queue=QueueSection(outbox_retention_days=7, sweep_batch=2))
    now = datetime.now(UTC)
    old = now - timedelta(days=10)
    rows = [  # (actor, created, published, done)
        ("orders_changed", now - timedelta(days=2), old, None),  # owed, young: kept
        ("shipment_changed", now - timedelta(days=30), old, None),  # owed, past retention: deleted, logged
        ("aftersale_changed", now - timedelta(days=30), old, old),  # done: deleted
        ("process_inbox_batch", now - timedelta(days=30), old, None),  # not acknowledged: deleted
        ("orders_changed", now - timedelta(days=30), None, None),  # unpublished: kept
    ]
    async with hub.database().transaction() as session:
        for actor, created, published, done in rows:
            session.add(OutboxRow(actor=actor, args=[], kwargs={}, created_at=created, published_at=published,
                                  done_at=done))
    with capture_logs() as logs:
        assert await sweepers.purge_outbox(hub, now) == 3
    async with hub.database().session() as session:
        kept = sorted((await session.execute(select(OutboxRow.actor, OutboxRow.published_at.is_(None)))).all())
    assert kept == [("orders_changed", False), ("orders_changed", True)]
    expired = [entry for entry in logs if entry["event"] == "outbox.owed_expired"]
    assert [(entry["count"], entry["actors"]) for entry in expired] == [(1, ["shipment_changed"])]
    await hub.close_loop_resources()
