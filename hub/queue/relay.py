"""The outbox relay: sends the messages that committed transactions wrote to ``outbox``.

A service writes an outbox row in the same transaction as the change that causes it; the relay
sends it only once that commit is visible, so a rolled-back change never produces a message and a
crash between commit and send never loses one (at-least-once: send, then mark published). Rows
of the acknowledging actors (``hub.db.outbox.ACKED_ACTORS``) go out with their id as ``outbox_id``.
``kick_relay()`` after a commit wakes the relays at once, so latency stays well under the poll
interval. Not for sending messages that need no transaction: use ``QueueRuntime.send``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog

from hub.errors import NotFoundError

log = structlog.get_logger(__name__)

_wakers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_wakers_guard = threading.Lock()


def kick_relay() -> None:
    """Wake every relay loop in this process now (safe from any thread or loop)."""
    with _wakers_guard:
        wakers = list(_wakers)
    for loop, event in wakers:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def _install_commit_hook() -> None:
    from hub.db.outbox import on_outbox_commit

    on_outbox_commit(kick_relay)


_install_commit_hook()


async def relay_outbox(database: Any, runtime: Any, limit: int = 500) -> int:
    """Send up to ``limit`` committed, unpublished outbox rows; returns how many were handled.
    Consecutive rows of a batch-processing actor go out as one message of up to 200 ids
    (``hub.db.outbox.merged_messages``): a burst of pushes is processed in a few large batches.

    Rows whose actor this runtime does not know (a plugin removed since) become dead letters
    rather than blocking the outbox.
    """
    from hub.db import dead_letters, outbox

    async with database.transaction() as session:
        rows = await outbox.take_unpublished(session, limit)
        if not rows:
            return 0
        unknown: list[int] = []
        by_id = {row.id: row for row in rows}
        messages = outbox.merged_messages([(row.id, row.actor, list(row.args or []), dict(row.kwargs or {}))
                                           for row in rows])
        for actor, args, kwargs, row_ids in messages:
            try:
                runtime.send(actor, *args, **kwargs)
            except NotFoundError as exc:
                for row_id in row_ids:
                    row = by_id[row_id]
                    log.error("outbox.unknown_actor", outbox_id=row.id, actor=row.actor)
                    await dead_letters.record(
                        session, actor=row.actor, queue="unknown", args=list(row.args or []),
                        kwargs=dict(row.kwargs or {}), reason=str(exc), error_class=type(exc).__name__, attempts=0,
                    )
                    unknown.append(row.id)
        await outbox.mark_published(session, [row.id for row in rows])
        for row_id in unknown:  # a dead letter now: owed no more
            await outbox.mark_done(session, row_id)
    log.debug("outbox.relayed", count=len(rows))
    return len(rows)


#: The longest pause between two polls of an idle outbox: commits in this process wake the relay at
#: once (``kick_relay``), so polling is only for rows other processes commit (the API's, in Redis
#: mode), which wait at most this long when nothing has been relayed for a while.
IDLE_INTERVAL_S = 1.0


async def run_relay_forever(
    database_url: str,
    runtime: Any,
    interval_s: float = 0.2,
    stop_event: asyncio.Event | None = None,
    *,
    limit: int = 500,
) -> None:
    """Relay until ``stop_event`` is set (or the task is cancelled): every ``interval_s`` (doubling
    up to ``IDLE_INTERVAL_S`` while polls find nothing), at once after ``kick_relay()``, and back to
    back while there is a backlog."""
    from hub.db.engine import database_for_loop

    database = database_for_loop(database_url)
    stop = stop_event or asyncio.Event()
    wake = asyncio.Event()
    waker = (asyncio.get_running_loop(), wake)
    with _wakers_guard:
        _wakers.add(waker)
    failures = 0
    idle = 0  # polls in a row that found nothing
    try:
        while not stop.is_set():
            wake.clear()
            try:
                sent = await relay_outbox(database, runtime, limit)
                failures = 0
            except Exception:
                failures += 1
                log.warning("outbox.relay_failed", failures=failures, exc_info=True)
                sent = 0
            if sent >= limit:
                continue
            idle = 0 if sent else min(idle + 1, 16)
            if failures:
                pause = min(30.0, interval_s * 2**failures)
            else:
                pause = max(interval_s, min(IDLE_INTERVAL_S, interval_s * 2 ** max(idle - 1, 0)))
            await _first_of(stop, wake, pause)
            if wake.is_set():
                idle = 0
    finally:
        with _wakers_guard:
            _wakers.discard(waker)


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout_s: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
