"""The outbox relay of the API process (``hub serve`` with Redis), paced for a stream of pushes.

A push commits its inbox rows with the ``process_inbox_batch`` message they are owed in the
outbox (``hub.services.intake``); this relay sends such messages from the API process at once,
rather than leaving them to a worker's relay, which polls. It runs on a thread and an event loop
of its own (the broker's client blocks). On PostgreSQL a pass is one ``UPDATE … RETURNING`` on the
asyncpg connection and one message per ``BATCH_IDS`` ids of consecutive ``process_*_batch`` rows
(``relay_pass_driver``); elsewhere it is the relay's own pass (``hub.queue.relay.relay_outbox``).
It wakes on every outbox commit, but passes at most once per ``PACE_S``: a pass costs a
transaction of its own whether it sends one message or fifty, and each message it sends is a
batch the worker fetches and applies as one (a list call, a transaction, a follow-up), so under a
stream of pushes one pass sends the ids of many group commits in a few large batches; a lone push
still waits for no timer. The workers' relays leave fresh push batches to this one
(``hub.queue.relay.API_GRACE_S``), so they do not split the stream between them. While the broker is
unreachable, passes back off (up to 30 s) and what is owed stays in the outbox. Not the workers'
relay (``hub.queue.relay.run_relay_forever``), which the runner starts in every ``hub worker`` and in
an embedded hub.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import structlog

from hub.api.errors import database_unreachable
from hub.context import Hub
from hub.db.outbox import ACKED_ACTORS, merged_messages
from hub.db.tables import utcnow
from hub.errors import NotFoundError

log = structlog.get_logger(__name__)

#: The shortest time between two passes while commits keep coming: at 0.05 s a flash sale's
#: 500 Douyin pushes reached the worker as 15–20 batches of 5–65 ids, at 0.2 s as about five
#: (``bench/README.md``, "Push streams in few batches"); a push in a stream waits at most this long.
PACE_S = 0.2
#: A pass at least this often without a kick (rows another API process committed, or left after a failure).
IDLE_S = 1.0
#: Rows per pass (a full pass is followed by another at once).
LIMIT = 500
MAX_BACKOFF_S = 30.0


class ApiRelay:
    """``start()`` the thread, ``stop()`` it (what is unsent stays in the outbox for the next relay)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.stop_event: asyncio.Event | None = None
        self.passes = 0
        self._kicked = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hub-api-relay", daemon=True)

    def start(self) -> ApiRelay:
        from hub.db.outbox import on_outbox_commit

        on_outbox_commit(self.kick)
        self.thread.start()
        self.ready.wait(10)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        loop, stop = self.loop, self.stop_event
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        self.thread.join(timeout_s)

    def kick(self) -> None:
        """After a commit that wrote outbox rows (any thread): wake the relay, once per pass."""
        loop, wake = self.loop, self.wake
        if self._kicked or loop is None or wake is None or loop.is_closed():
            return
        self._kicked = True
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # closed meanwhile: the relay stopped
            pass

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from hub.queue.relay import relay_outbox

        self.loop = asyncio.get_running_loop()
        self.wake, self.stop_event = asyncio.Event(), asyncio.Event()
        self.ready.set()
        runtime: Any = self.hub.runtime
        failures = 0
        try:
            while not self.stop_event.is_set():
                self.wake.clear()
                self._kicked = False
                try:
                    database = self.hub.database()
                    if database.dialect == "postgresql":
                        sent = await relay_pass_driver(database, runtime, LIMIT)
                    else:
                        sent = await relay_outbox(database, runtime, LIMIT)
                    failures = 0
                except Exception as exc:
                    failures += 1
                    # An unreachable database is an outage, said in one line per pass (the passes
                    # back off); anything else keeps its traceback.
                    log.warning("outbox.relay_failed", failures=failures, error_class=type(exc).__name__,
                                exc_info=not database_unreachable(exc))
                    sent = 0
                self.passes += 1
                if sent >= LIMIT:
                    continue
                if failures:  # the broker (or the database) is away: back off
                    await _wait([self.stop_event], min(MAX_BACKOFF_S, 0.2 * 2**failures))
                    continue
                await _wait([self.stop_event], PACE_S)  # let more commits gather for the next pass
                await _wait([self.stop_event, self.wake], IDLE_S)
        finally:
            await self.hub.close_loop_resources()


#: ``relay_pass_driver``'s statement: take and mark up to $2 rows in one round trip; other relays
#: skip the locked ones, and a rollback (a failed send) leaves them unpublished.
#: Rows of the acknowledging actors ($3, ``hub.db.outbox.ACKED_ACTORS``) stay owed (``done_at``
#: untouched) until their actor has run; the rest are done once published.
_TAKE_AND_MARK = (
    "UPDATE outbox SET published_at = $1, done_at = CASE WHEN actor = ANY($3::text[]) THEN done_at ELSE $1 END "
    "WHERE id IN ("
    "SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, actor, CAST(args AS TEXT), CAST(kwargs AS TEXT)"
)


async def relay_pass_driver(database: Any, runtime: Any, limit: int) -> int:
    """One pass of ``hub.queue.relay.relay_outbox`` on PostgreSQL, for this relay's stream of small
    rows: one ``UPDATE … RETURNING`` on the asyncpg connection takes and marks the rows, the sends
    follow, the commit last — a failed send rolls the marks back (at least once, as there).
    Consecutive ``process_*_batch`` rows go out as one message per ``BATCH_IDS`` ids. A row naming
    an actor this runtime does not know leaves the pass to ``relay_outbox``, which dead-letters it.
    Returns how many rows were handled."""
    from hub.queue.relay import relay_outbox

    async with database.engine.connect() as connection:
        fairy = await connection.get_raw_connection()
        driver: Any = fairy.driver_connection
        try:
            async with driver.transaction():
                rows = sorted(await driver.fetch(_TAKE_AND_MARK, utcnow(), limit, list(ACKED_ACTORS)),
                              key=lambda r: r[0])
                if not rows:
                    return 0
                known = getattr(runtime, "actors", None)
                if known is not None and any(row[1] not in known for row in rows):
                    raise _UnknownActor  # before sending anything
                for actor, args, kwargs in _merged(rows):
                    try:
                        runtime.send(actor, *args, **kwargs)
                    except NotFoundError as exc:
                        raise _UnknownActor from exc
        except _UnknownActor:
            return await relay_outbox(database, runtime, limit)
        except BaseException:
            # SQLAlchemy's pool does not know of this transaction: never hand the connection back
            # in an unknown state; the pool opens a fresh one.
            await connection.invalidate()
            raise
    log.debug("outbox.relayed", count=len(rows))
    return len(rows)


class _UnknownActor(Exception):
    pass


def _merged(rows: list[Any]) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """The messages of ``rows`` (id, actor, args JSON, kwargs JSON): ``hub.db.outbox.merged_messages``."""
    decoded = [(row_id, actor, json.loads(args_json) if args_json else [],
                json.loads(kwargs_json) if kwargs_json else {}) for row_id, actor, args_json, kwargs_json in rows]
    return [(actor, args, kwargs) for actor, args, kwargs, _ in merged_messages(decoded)]


async def _wait(events: list[asyncio.Event], timeout_s: float) -> None:
    """Until one of ``events`` is set or ``timeout_s`` passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
