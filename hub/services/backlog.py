"""Intake's flow control: how far processing is behind (the inbox backlog), whether intake should
hold back, and which queue a stored batch goes to.

``backlog(hub)`` is a cheap per-process view of the inbox rows waiting to be processed: one indexed,
bounded query (``ix_inbox_status``; it counts at most ``limit + 1`` rows, so its cost does not grow
with the backlog), cached and refreshed at most once per ``REFRESH_S`` per process whatever the
request rate. ``over_limit(hub)`` says whether that backlog is above ``[queue]
inbox_backlog_limit``: while it is, message channels are not drained (their messages wait safely at
the partner, which redelivers them) and polls wait; pushes are still stored (a platform retries a
refused push only a few times, then it is lost to the polling safety net at best). Not for
processing (``hub.services.ingest``) or storing messages (``hub.services.intake``)."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select

from hub.context import Hub
from hub.db.tables import InboxRow

log = structlog.get_logger(__name__)

#: The cached count is refreshed at most this often per process.
REFRESH_S = 1.0
#: What a refused push is told to wait (seconds): about how long a worker needs to take a few
#: batches off a backlog at the limit, and long enough that partners' retries do not add load.
RETRY_AFTER_S = 5

#: The actor that processes what message channels, polls and imports stored (queue ``ingest``).
PROCESS_ACTOR = "process_inbox_batch"
#: The same work for what webhooks stored, on queue ``webhooks`` (``hub.pipeline.actors``).
PUSH_PROCESS_ACTOR = "process_push_batch"


#: Most inbox ids one processing message carries, wherever intake hands ids over (TMC consume,
#: webhook groups, sweeps, a resume re-sending a shop's failed rows). The outbox relays merge
#: consecutive ``process_inbox_batch`` rows into messages of up to 1,000 ids
#: (``hub.db.outbox.INGEST_MERGED_IDS``); pushes stay at this size.
MAX_BATCH_IDS = 200


def id_batches(ids: list[int], size: int = MAX_BATCH_IDS) -> list[list[int]]:
    """``ids`` in consecutive slices of at most ``size``: one processing message each."""
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def processing_actor(source: str) -> str:
    """The actor (and so the queue) a batch of inbox ids stored from ``source`` goes to: pushes to
    ``webhooks``, everything else to ``ingest``, so a push storm does not queue ahead of TMC batches
    nor TMC ahead of pushes (a worker takes from both queues in turn)."""
    return PUSH_PROCESS_ACTOR if source == "push" else PROCESS_ACTOR


@dataclass
class _View:
    pending: int = 0
    capped: bool = False  # ``pending`` is a lower bound (the count stopped at limit + 1)
    fetched_at: float = float("-inf")
    refreshing: bool = False
    over: bool = False  # as last reported (transitions are logged once each way)


_views: weakref.WeakKeyDictionary[Hub, _View] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def limit(hub: Hub) -> int:
    """``[queue] inbox_backlog_limit`` (0: no limit)."""
    return int(hub.config.queue.inbox_backlog_limit)


def retry_after_s(hub: Hub) -> int:
    """Seconds a refused push should wait before it is sent again (the ``Retry-After`` value)."""
    return RETRY_AFTER_S


async def count_pending(hub: Hub, cap: int | None = None) -> int:
    """Inbox rows waiting to be processed (``status = 'pending'``), counting at most ``cap``."""
    rows = select(InboxRow.id).where(InboxRow.status == "pending")
    if cap is not None:
        rows = rows.limit(cap)
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(rows.subquery())) or 0)


async def backlog(hub: Hub, *, now: float | None = None) -> int:
    """The inbox backlog as this process last saw it, refreshed when older than ``REFRESH_S``.

    At most one refresh runs at a time per process: callers that come while one runs get the
    previous value at once instead of queueing behind it. Counts at most ``limit + 1`` rows.
    """
    moment = time.monotonic() if now is None else now
    with _guard:
        view = _views.get(hub)
        if view is None:
            view = _views[hub] = _View()
        if view.refreshing or moment - view.fetched_at < REFRESH_S:
            return view.pending
        view.refreshing = True
    try:
        cap = limit(hub) + 1 if limit(hub) else None
        pending = await count_pending(hub, cap)
    except (Exception, asyncio.CancelledError):
        with _guard:
            view.refreshing = False
        raise
    with _guard:
        view.pending, view.capped, view.fetched_at, view.refreshing = pending, cap is not None and pending >= cap, \
            moment, False
    return pending


async def over_limit(hub: Hub) -> bool:
    """True while the inbox backlog is above ``[queue] inbox_backlog_limit`` (never with limit 0).

    Cheap enough for every webhook request: a cached value, one bounded indexed query at most once
    a second per process. Never raises for a database error (the request's own insert will say
    so): intake is then not held back. Logs ``intake.backpressure_on`` / ``_off`` once each way.
    """
    cap = limit(hub)
    if not cap:
        return False
    try:
        pending = await backlog(hub)
    except Exception:
        log.warning("intake.backlog_unknown", exc_info=True)
        return False
    over = pending > cap
    view = _views[hub]
    with _guard:
        changed, view.over = view.over != over, over
    if changed:
        if over:
            log.warning("intake.backpressure_on", pending=f">{cap}", limit=cap,
                        detail="message channels are not drained and polls wait until processing "
                               "catches up")
        else:
            log.info("intake.backpressure_off", pending=pending, limit=cap)
    return over


def forget(hub: Hub) -> None:
    """Drop the cached view (tests, or after changing the limit)."""
    with _guard:
        _views.pop(hub, None)
