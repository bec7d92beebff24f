"""Periodic work (polling, reconcile, sweeps, housekeeping) enqueued by one leader, so ten workers
don't poll ten times.

Every ``hub worker`` runs a ``Scheduler``; only the one holding the ``LeaderLock`` sends, and it
renews the lock well within its TTL. Each send is remembered (``ScheduleMemory``: in Redis under
the hub's namespace, or in this process on the embedded default), so a new leader continues the
schedule where the old one left off instead of firing every job at once; jobs it has no record
of (a first start, a Redis that forgot) start staggered over ``stagger_s``. Not for running the
jobs: they are actors.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from hub.queue.leader import LeaderLock

log = structlog.get_logger(__name__)

#: A new leader spreads the first runs of jobs it has no record of over this many seconds (or
#: the job's interval, if shorter): 300 shops' polls must not hit the partners in one second.
STAGGER_S = 10.0


class Sender(Protocol):
    def send(self, actor_name: str, *args: Any, delay_ms: int | None = None, **kwargs: Any) -> Any: ...


class ScheduleMemory(Protocol):
    """When each job was last sent (wall-clock seconds), shared by every would-be leader."""

    async def last_runs(self) -> dict[str, float]: ...

    async def ran(self, job: str, at: float) -> None: ...


class RedisScheduleMemory:
    """Last-run times in one Redis hash (``<namespace>:scheduler:last_run``)."""

    def __init__(self, redis_client: Any, key: str) -> None:
        self.redis = redis_client
        self.key = key

    async def last_runs(self) -> dict[str, float]:
        raw = await self.redis.hgetall(self.key)
        return {_text(name): float(_text(at)) for name, at in raw.items()}

    async def ran(self, job: str, at: float) -> None:
        await self.redis.hset(self.key, job, repr(at))


_local_runs: dict[str, dict[str, float]] = {}
_local_guard = threading.Lock()


class LocalScheduleMemory:
    """Last-run times in this process (the embedded default: every scheduler is in one process)."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def last_runs(self) -> dict[str, float]:
        with _local_guard:
            return dict(_local_runs.get(self.key, {}))

    async def ran(self, job: str, at: float) -> None:
        with _local_guard:
            _local_runs.setdefault(self.key, {})[job] = at


def schedule_memory(redis_client: Any | None, key: str) -> ScheduleMemory:
    """Redis-backed memory when there is a Redis, else the in-process one."""
    return RedisScheduleMemory(redis_client, key) if redis_client is not None else LocalScheduleMemory(key)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class PeriodicJob:
    """Send ``actor_name(*args, **kwargs)`` every ``interval_s`` seconds."""

    name: str
    interval_s: float
    actor_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Sends due jobs while this process is the leader.

    ``clock`` (wall-clock seconds) is injectable so tests drive the schedule with ``tick()``
    instead of sleeping.
    """

    def __init__(self, runtime: Sender, leader: LeaderLock, jobs: list[PeriodicJob], *,
                 memory: ScheduleMemory | None = None, clock: Callable[[], float] = time.time,
                 stagger_s: float = STAGGER_S) -> None:
        names = [job.name for job in jobs]
        if len(names) != len(set(names)):
            raise ValueError("periodic job names must be unique")
        if any(job.interval_s <= 0 for job in jobs):
            raise ValueError("periodic job intervals must be positive")
        self.runtime = runtime
        self.leader = leader
        self.jobs = list(jobs)
        self.memory = memory or LocalScheduleMemory(leader.key)
        self.clock = clock
        self.stagger_s = stagger_s
        self.is_leader = False
        self._due: dict[str, float] = {}
        self._next_lease_check = 0.0

    @property
    def _renew_every_s(self) -> float:
        return self.leader.ttl_s / 3

    async def run(self, stop_event: asyncio.Event) -> None:
        """Until ``stop_event`` is set: hold or seek leadership, and send the jobs that are due."""
        try:
            while not stop_event.is_set():
                wake_at = await self.tick()
                try:
                    await asyncio.wait_for(stop_event.wait(), timeout=max(0.01, wake_at - self.clock()))
                except TimeoutError:
                    pass
        finally:
            if self.is_leader:
                self.is_leader = False
                await self.leader.release()
                log.info("scheduler.leadership_released", lock=self.leader.name)

    async def tick(self) -> float:
        """Check the lease if it is time, send what is due; returns when to tick next."""
        now = self.clock()
        if now >= self._next_lease_check:
            await self._check_leadership(now)
            self._next_lease_check = now + self._renew_every_s
        if self.is_leader:
            await self._send_due(now)
            return min([self._next_lease_check, *self._due.values()])
        return self._next_lease_check

    def due_at(self, job_name: str) -> float | None:
        """When ``job_name`` is next sent (None while not the leader)."""
        return self._due.get(job_name) if self.is_leader else None

    async def _check_leadership(self, now: float) -> None:
        try:
            held = await (self.leader.renew() if self.is_leader else self.leader.acquire())
        except Exception:
            # Redis unreachable: stop sending (another process may take over once it expires).
            log.warning("scheduler.lease_check_failed", lock=self.leader.name, exc_info=True)
            held = False
        if held and not self.is_leader:
            self._due = await self._first_runs(now)
            log.info("scheduler.leadership_acquired", lock=self.leader.name, jobs=len(self.jobs))
        elif self.is_leader and not held:
            log.warning("scheduler.leadership_lost", lock=self.leader.name)
        self.is_leader = held

    async def _first_runs(self, now: float) -> dict[str, float]:
        """Continue each job's schedule from its last run; spread the overdue and unknown ones."""
        try:
            last = await self.memory.last_runs()
        except Exception:
            log.warning("scheduler.memory_unreadable", lock=self.leader.name, exc_info=True)
            last = {}
        due: dict[str, float] = {}
        count = len(self.jobs)
        for index, job in enumerate(self.jobs):
            offset = min(job.interval_s, self.stagger_s) * index / count
            previous = last.get(job.name)
            scheduled = previous + job.interval_s if previous is not None and previous <= now else now
            due[job.name] = max(scheduled, now + offset)
        return due

    async def _send_due(self, now: float) -> None:
        for job in self.jobs:
            if self._due.get(job.name, now) > now:
                continue
            try:
                self.runtime.send(job.actor_name, *job.args, **job.kwargs)
            except Exception:
                log.exception("scheduler.send_failed", job=job.name, actor=job.actor_name)
            self._due[job.name] = now + job.interval_s
            try:
                await self.memory.ran(job.name, now)
            except Exception:
                log.warning("scheduler.memory_unwritable", job=job.name, exc_info=True)
