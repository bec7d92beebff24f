"""The outbox relay: sends the messages that committed transactions wrote to ``outbox``.

A service writes an outbox row in the same transaction as the change that causes it; the relay
sends it only once that commit is visible, so a rolled-back change never produces a message and a
crash between commit and send never loses one (at-least-once: send, then mark published). Rows
of the acknowledging actors (``hub.db.outbox.ACKED_ACTORS``) go out with their id as ``outbox_id``.
``kick_relay()`` after a commit wakes the relays at once, so latency stays well under the poll
interval. Not for sending messages that need no transaction: use ``QueueRuntime.send``.

Consecutive ``process_*_batch`` rows of a pass go out as one message (``hub.db.outbox.merged_messages``,
up to 1,000 ids for ingest, 200 for pushes). The workers' relay (``run_relay_forever``) also paces
ingest batches (``IngestPace``): each TMC consume commits one row of 200 ids and kicks the relay, so
sent at once every row would be its own message. The first ``process_inbox_batch`` after a quiet
spell goes out at once; while a stream is going (this relay sent one less than ``INGEST_PACE_S``
ago) the pass's ingest rows are merged among themselves and the last message, if still below the
cap, is held back — left unpublished — until ``INGEST_PACE_S`` after that send, when the relay
wakes by itself and sends it merged with the consumes committed meanwhile. Everything else goes out
at once. Held rows are only left unpublished: another relay may send them (at least once either way).

A ``hub worker`` beside ``hub serve`` leaves push batches younger than ``API_GRACE_S`` to the API's
relay (``hub.api.outbox_relay``), which the commit that stored them wakes: when both relays took a
push stream's rows as they came, each sent small messages in turn and the worker processed the
stream in many small batches (a list call, a transaction and a follow-up each). It still sends push
batches the API's relay has left (an API process that stopped between commit and send).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
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


#: While this relay sent a ``process_inbox_batch`` less than this long ago (a stream is going), the
#: last ingest message of a pass, if below ``hub.db.outbox.INGEST_MERGED_IDS``, waits until this long
#: after that send. TMC consumes commit every 50–150 ms in a burst, so a message gathers 4–10 of them
#: (0.25 s gathered too few once the workers' consumers were woken at once: ``bench/README.md``,
#: "An idle hub"); a lone batch (no ingest message sent for this long) goes out at once.
INGEST_PACE_S = 0.5
#: In a ``hub worker`` (pushes reach ``hub serve``, whose relay sends them), how old a push batch
#: row must be before this relay takes it (``run_relay_forever(api_grace_s=…)``).
API_GRACE_S = 2.0
#: Added to a held message's due time before the relay wakes for it, so that the pass it wakes for
#: finds it due (timers may fire a hair early) instead of holding it again.
_DUE_SLACK_S = 0.002


@dataclass
class IngestPace:
    """One relay's pacing of ``process_inbox_batch`` messages (``relay_outbox(pace=…)``): when it
    last sent one and what its last pass held back. ``now`` is its clock (monotonic seconds; a test
    passes its own)."""

    pace_s: float = INGEST_PACE_S
    now: Callable[[], float] = time.monotonic
    #: When this relay last sent a ``process_inbox_batch`` (``now()``), None before the first.
    last_sent: float | None = None
    #: When the rows the last pass held back fall due (``now()``), None when it held none.
    due: float | None = None
    #: The ids of the outbox rows the last pass held back.
    held: tuple[int, ...] = ()

    def streaming(self, at: float) -> bool:
        """Whether an ingest message went out less than ``pace_s`` before ``at`` (compared with
        ``last_sent + pace_s``, the due time held rows get, so at their due time they go)."""
        return self.last_sent is not None and at < self.last_sent + self.pace_s


async def relay_outbox(database: Any, runtime: Any, limit: int = 500, *, pace: IngestPace | None = None,
                       api_grace_s: float = 0.0) -> int:
    """Send up to ``limit`` committed, unpublished outbox rows; returns how many were handled
    (sent, or dead-lettered). Consecutive rows of a batch-processing actor go out as one message
    (``hub.db.outbox.merged_messages``: up to 1,000 ids for ingest, 200 for pushes): a burst of
    pushes is processed in a few large batches.

    With ``pace`` (the workers' relay) the pass's ``process_inbox_batch`` rows are merged among
    themselves, and while a stream is going (``IngestPace.streaming``) the last of those messages,
    if below the cap and the pass was not full, is held back: not sent, not marked published, not
    counted; ``pace.held`` and ``pace.due`` say which rows and until when. Without ``pace`` every
    row taken is sent now.

    With ``api_grace_s`` push batch rows younger than that are left to the API's relay.

    Rows whose actor this runtime does not know (a plugin removed since) become dead letters
    rather than blocking the outbox.
    """
    from hub.db import dead_letters, outbox
    from hub.db.tables import utcnow

    held: list[int] = []
    pushes_after = utcnow() - timedelta(seconds=api_grace_s) if api_grace_s > 0 else None
    async with database.transaction() as session:
        rows = await outbox.take_unpublished(session, limit, pushes_after=pushes_after)
        if not rows:
            if pace is not None:
                pace.held, pace.due = (), None
            return 0
        unknown: list[int] = []
        by_id = {row.id: row for row in rows}
        entries = [(row.id, row.actor, list(row.args or []), dict(row.kwargs or {})) for row in rows]
        now = 0.0
        if pace is None:
            messages = outbox.merged_messages(entries)
        else:
            now = pace.now()
            messages, held = _paced_messages(entries, pace, now, full=len(rows) >= limit)
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
        handled = [row_id for _, _, _, row_ids in messages for row_id in row_ids]
        await outbox.mark_published(session, handled)
        for row_id in unknown:  # a dead letter now: owed no more
            await outbox.mark_done(session, row_id)
    if pace is not None:
        if any(actor == outbox.INGEST_ACTOR for actor, _, _, _ in messages):
            pace.last_sent = now
        # Set once the pass is over, so the relay loop (or a test) never sees half a pass. Held
        # rows fall due the pace after the latest send (this pass's, if it sent a full batch).
        pace.held = tuple(held)
        pace.due = pace.last_sent + pace.pace_s if held and pace.last_sent is not None else None
    log.debug("outbox.relayed", count=len(handled), held=len(held))
    return len(handled)


def _paced_messages(entries: list[tuple[int, str, list[Any], dict[str, Any]]], pace: IngestPace, now: float, *,
                    full: bool) -> tuple[list[tuple[str, list[Any], dict[str, Any], list[int]]], list[int]]:
    """The messages to send now for ``entries`` under ``pace``, and the ids of the rows held back:
    the ingest rows merged among themselves (rows of other actors between them do not split them:
    messages on different queues keep no order anyway), the rest as ``merged_messages`` has them;
    while a stream is going, the last ingest message is held back if it is below the cap and the
    pass was not full (a full pass means more rows wait: the relay passes again at once, and a
    held run could fill a pass on its own and spin it)."""
    from hub.db import outbox

    def ingest(entry: tuple[int, str, list[Any], dict[str, Any]]) -> bool:
        _, actor, args, kwargs = entry
        return actor == outbox.INGEST_ACTOR and not kwargs and len(args) == 1 and isinstance(args[0], list)

    batches = outbox.merged_messages([entry for entry in entries if ingest(entry)])
    held: list[int] = []
    if batches and not full and pace.streaming(now) and len(batches[-1][1][0]) < outbox.INGEST_MERGED_IDS:
        held = batches.pop()[3]
    others = outbox.merged_messages([entry for entry in entries if not ingest(entry)])
    return sorted(others + batches, key=lambda message: message[3][0]), held


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
    pace: IngestPace | None = None,
    api_grace_s: float = 0.0,
) -> None:
    """Relay until ``stop_event`` is set (or the task is cancelled): every ``interval_s`` (doubling
    up to ``IDLE_INTERVAL_S`` while polls find nothing), at once after ``kick_relay()``, back to
    back while there is a backlog, and when ingest rows it held back fall due (``pace``, by default
    a fresh ``IngestPace``: see the module's docstring). ``api_grace_s``: see ``API_GRACE_S``."""
    from hub.db.engine import database_for_loop

    database = database_for_loop(database_url)
    pace = pace if pace is not None else IngestPace()
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
                sent = await relay_outbox(database, runtime, limit, pace=pace, api_grace_s=api_grace_s)
                failures = 0
            except Exception:
                failures += 1
                log.warning("outbox.relay_failed", failures=failures, exc_info=True)
                sent = 0
            if sent >= limit:
                continue
            idle = 0 if sent or pace.held else min(idle + 1, 16)
            if failures:
                pause = min(30.0, interval_s * 2**failures)
            else:
                pause = max(interval_s, min(IDLE_INTERVAL_S, interval_s * 2 ** max(idle - 1, 0)))
                if pace.due is not None:  # held ingest rows: pass again when they fall due
                    pause = min(pause, max(0.0, pace.due - pace.now()) + _DUE_SLACK_S)
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
