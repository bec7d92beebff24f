"""Periodic work (polling, reconcile, SLA checks) enqueued by one leader, so ten workers don't
poll ten times.

Every ``hub worker`` runs a ``Scheduler``; only the one holding the ``LeaderLock`` sends, and it
renews the lock well within its TTL. A new leader sends every job at once: the jobs are idempotent
(an extra poll is harmless), a missed poll is not. Not for running the jobs: they are actors.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from hub.queue.leader import LeaderLock

log = structlog.get_logger(__name__)


class Sender(Protocol):
    def send(self, actor_name: str, *args: Any, delay_ms: int | None = None, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class PeriodicJob:
    """Send ``actor_name(*args, **kwargs)`` every ``interval_s`` seconds."""

    name: str
    interval_s: float
    actor_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Sends due jobs while this process is the leader."""

    def __init__(self, runtime: Sender, leader: LeaderLock, jobs: list[PeriodicJob]) -> None:
        names = [job.name for job in jobs]
        if len(names) != len(set(names)):
            raise ValueError("periodic job names must be unique")
        if any(job.interval_s <= 0 for job in jobs):
            raise ValueError("periodic job intervals must be positive")
        self.runtime = runtime
        self.leader = leader
        self.jobs = list(jobs)
        self.is_leader = False
        self._due: dict[str, float] = {}

    @property
    def _renew_every_s(self) -> float:
        return self.leader.ttl_s / 3

    async def run(self, stop_event: asyncio.Event) -> None:
        """Until ``stop_event`` is set: hold or seek leadership, and send the jobs that are due."""
        next_lease_check = 0.0
        try:
            while not stop_event.is_set():
                now = time.monotonic()
                if now >= next_lease_check:
                    await self._check_leadership()
                    next_lease_check = now + self._renew_every_s
                if self.is_leader:
                    self._send_due(now)
                wake_at = min([next_lease_check, *self._due.values()]) if self.is_leader else next_lease_check
                try:
                    await asyncio.wait_for(stop_event.wait(), timeout=max(0.01, wake_at - time.monotonic()))
                except TimeoutError:
                    pass
        finally:
            if self.is_leader:
                self.is_leader = False
                await self.leader.release()
                log.info("scheduler.leadership_released", lock=self.leader.name)

    async def _check_leadership(self) -> None:
        try:
            held = await (self.leader.renew() if self.is_leader else self.leader.acquire())
        except Exception:
            # Redis unreachable: stop sending (another process may take over once it expires).
            log.warning("scheduler.lease_check_failed", lock=self.leader.name, exc_info=True)
            held = False
        if held and not self.is_leader:
            log.info("scheduler.leadership_acquired", lock=self.leader.name, jobs=len(self.jobs))
            self._due = {job.name: time.monotonic() for job in self.jobs}
        elif self.is_leader and not held:
            log.warning("scheduler.leadership_lost", lock=self.leader.name)
        self.is_leader = held

    def _send_due(self, now: float) -> None:
        for job in self.jobs:
            if self._due.get(job.name, now) > now:
                continue
            try:
                self.runtime.send(job.actor_name, *job.args, **job.kwargs)
            except Exception:
                log.exception("scheduler.send_failed", job=job.name, actor=job.actor_name)
            self._due[job.name] = now + job.interval_s
