"""Messages through real workers: dramatiq's Worker on the RedisBroker (fresh namespace per test)
and on the in-process broker, with the real PostgreSQL and SQLite behind the actors.

What a merchant would notice: a flaky partner call is retried and its effect happens once; a
permanent failure lands in dead letters with its reason and input, untouched by retries, and can
be replayed once fixed; an exhausted budget is a dead letter with its attempts; a partner's
retry_after is respected; a busy lock never eats the retry budget; the outbox sends what committed
and nothing that rolled back; the workers' relay merges TMC consumes that arrive in a stream."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hub.db import dead_letters, outbox
from hub.db.engine import database_for_loop
from hub.db.tables import DeadLetterRow, IdempotencyKeyRow, InboxRow, OutboxRow, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import LockBusyError, PermanentError, RetryableError, ThrottledError
from hub.queue import relay as relay_module
from hub.queue.actors import hub_actor
from hub.queue.dead_letter_replay import replay_dead_letter
from hub.queue.relay import IngestPace, kick_relay, relay_outbox, run_relay_forever
from hub.queue.runtime import QueueRuntime
from hub.queue.testing import queue_runtimes, redis_namespace, redis_url  # noqa: F401
from hub.services.backlog import PROCESS_ACTOR, PUSH_PROCESS_ACTOR

pytestmark = pytest.mark.redis

# ``database_url`` / ``database`` come from hub.testing (a pytest plugin): SQLite and PostgreSQL.

# --------------------------------------------------------------------------- test actors

_attempts: dict[str, list[float]] = defaultdict(list)
_attempts_guard = threading.Lock()
_fixed: set[str] = set()


def attempt(token: str) -> int:
    with _attempts_guard:
        _attempts[token].append(time.monotonic())
        return len(_attempts[token])


def attempts_of(token: str) -> list[float]:
    with _attempts_guard:
        return list(_attempts[token])


async def write_effect(database_url: str, token: str) -> None:
    """The actor's effect: one row per token, written idempotently (insert-or-ignore)."""
    db = database_for_loop(database_url)
    async with db.transaction() as session:
        await session.execute(
            insert_ignore(IdempotencyKeyRow, db.dialect, ["key"]).values(key=f"effect:{token}", result={})
        )


@hub_actor(queue="fulfilment", max_retries=3, min_backoff_ms=50, max_backoff_ms=200, name="queue_test_flaky")
async def queue_test_flaky(database_url: str, token: str, failures: int) -> None:
    """Writes its effect, then fails ``failures`` times as a timed-out partner call would."""
    n = attempt(token)
    await write_effect(database_url, token)
    if n <= failures:
        raise RetryableError(f"partner timed out (attempt {n})")


@hub_actor(queue="stock", max_retries=3, min_backoff_ms=50, max_backoff_ms=200, name="queue_test_rejected")
async def queue_test_rejected(database_url: str, token: str, sku: str, inbox_id: int | None = None) -> None:
    attempt(token)
    if token not in _fixed:
        raise PermanentError(f"SKU {sku!r} is not mapped in shop 'tb-flagship'; map it, then replay")
    await write_effect(database_url, token)


@hub_actor(queue="default", max_retries=2, min_backoff_ms=50, max_backoff_ms=100, name="queue_test_unwell")
def queue_test_unwell(token: str) -> None:
    """A sync actor whose partner never recovers."""
    attempt(token)
    raise RetryableError("HTTP 503 from the warehouse")


@hub_actor(queue="default", max_retries=3, min_backoff_ms=50, max_backoff_ms=100, name="queue_test_throttled")
async def queue_test_throttled(database_url: str, token: str) -> None:
    if attempt(token) == 1:
        raise ThrottledError("TOP code 7: app call limit reached", retry_after=0.6)
    await write_effect(database_url, token)


@hub_actor(queue="ingest", max_retries=1, min_backoff_ms=50, max_backoff_ms=100, name="queue_test_locked")
async def queue_test_locked(database_url: str, token: str, busy_times: int) -> None:
    if attempt(token) <= busy_times:
        raise LockBusyError("order 7 is being updated by another worker")
    await write_effect(database_url, token)


@hub_actor(queue="default", max_retries=0, name="queue_test_effect")
async def queue_test_effect(database_url: str, token: str) -> None:
    attempt(token)
    await write_effect(database_url, token)


# --------------------------------------------------------------------------- fixtures & helpers


@pytest.fixture(params=["redis", "embedded"])
def runtime(request: pytest.FixtureRequest, database_url: str, redis_url: str,  # noqa: F811
            redis_namespace: str, queue_runtimes) -> QueueRuntime:  # noqa: F811
    """A runtime with its workers running, on Redis or on the in-process broker."""
    rt: QueueRuntime = queue_runtimes(
        redis_url=redis_url if request.param == "redis" else None,
        database_url=database_url,
        namespace=redis_namespace,
        worker_threads=2,
    )
    rt.start_workers(worker_timeout_ms=100)
    return rt


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 30) -> Any:
    """Poll ``check`` until it is truthy; the deadline is generous, so only a hang runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def effect_count(database, token: str) -> int:
    async with database.session() as session:
        return int(await session.scalar(
            select(func.count()).select_from(IdempotencyKeyRow).where(IdempotencyKeyRow.key == f"effect:{token}")
        ) or 0)


async def dead_letters_for(database, actor: str, token: str) -> list[DeadLetterRow]:
    async with database.session() as session:
        rows = await dead_letters.list_dead_letters(session, limit=100, include_replayed=True)
    return [row for row in rows if row.actor == actor and token in row.args]


def new_token() -> str:
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------- tests


async def test_transient_failures_are_retried_and_the_effect_happens_once(
    runtime: QueueRuntime, database, database_url: str
) -> None:
    token = new_token()
    runtime.send("queue_test_flaky", database_url, token, 2)

    assert await eventually(lambda: _attempt_count_at_least(token, 3))
    await asyncio.to_thread(runtime.join, 60_000)
    assert len(attempts_of(token)) == 3
    assert await effect_count(database, token) == 1
    assert await dead_letters_for(database, "queue_test_flaky", token) == []


async def _attempt_count_at_least(token: str, n: int) -> bool:
    return len(attempts_of(token)) >= n


async def test_a_permanent_failure_is_dead_lettered_at_once_and_replays_once_fixed(
    runtime: QueueRuntime, database, database_url: str
) -> None:
    token = new_token()
    async with database.transaction() as session:
        row = InboxRow(platform="taobao", shop="tb-flagship", message_id=f"tmc-{token}", source="message_channel",
                       kind="order", topic="taobao_trade_TradeBuyerPay", payload={})
        session.add(row)
        await session.flush()
        inbox_id = row.id

    runtime.send("queue_test_rejected", database_url, token, "A-1", inbox_id=inbox_id)

    letters = await eventually(lambda: dead_letters_for(database, "queue_test_rejected", token))
    [letter] = letters
    assert letter.reason == "SKU 'A-1' is not mapped in shop 'tb-flagship'; map it, then replay"
    assert letter.error_class == "PermanentError"
    assert letter.queue == "stock"
    assert letter.args == [database_url, token, "A-1"]
    assert letter.kwargs == {"inbox_id": inbox_id}
    assert (letter.attempts, letter.inbox_id) == (1, inbox_id)
    await asyncio.to_thread(runtime.join, 60_000)
    assert len(attempts_of(token)) == 1, "a permanent error must not be retried"
    async with database.session() as session:
        inbox_row = await session.get(InboxRow, inbox_id)
        assert inbox_row is not None and inbox_row.status == "dead"
    assert await effect_count(database, token) == 0

    _fixed.add(token)  # the operator maps the SKU
    await replay_dead_letter(database, runtime, letter.id, actor="test")

    assert await eventually(lambda: effect_count(database, token))
    async with database.session() as session:
        replayed = await dead_letters.get(session, letter.id)
    assert replayed is not None and replayed.replayed_at is not None and replayed.replay_count == 1
    assert len(attempts_of(token)) == 2


async def test_exhausted_retries_become_a_dead_letter_with_the_attempts_counted(
    runtime: QueueRuntime, database
) -> None:
    token = new_token()
    runtime.send("queue_test_unwell", token)

    [letter] = await eventually(lambda: dead_letters_for(database, "queue_test_unwell", token))
    assert (letter.attempts, letter.error_class) == (3, "RetryableError")
    assert letter.reason == "HTTP 503 from the warehouse"
    await asyncio.to_thread(runtime.join, 60_000)
    assert len(attempts_of(token)) == 3  # the first try and max_retries=2 retries, no more


async def test_a_partners_retry_after_is_respected(runtime: QueueRuntime, database, database_url: str) -> None:
    token = new_token()
    runtime.send("queue_test_throttled", database_url, token)

    assert await eventually(lambda: effect_count(database, token))
    first, second = attempts_of(token)
    assert second - first >= 0.6, "retried before the partner's retry_after elapsed"


async def test_a_busy_lock_requeues_without_spending_retries(
    runtime: QueueRuntime, database, database_url: str
) -> None:
    token = new_token()
    runtime.send("queue_test_locked", database_url, token, 3)  # max_retries=1, busy three times

    assert await eventually(lambda: effect_count(database, token))
    assert len(attempts_of(token)) == 4
    assert await dead_letters_for(database, "queue_test_locked", token) == []


async def test_the_outbox_sends_committed_rows_once(runtime: QueueRuntime, database, database_url: str) -> None:
    token = new_token()
    async with database.transaction() as session:
        outbox.add(session, "queue_test_effect", database_url, token)

    assert await relay_outbox(database, runtime) == 1
    assert await relay_outbox(database, runtime) == 0

    assert await eventually(lambda: effect_count(database, token))
    await asyncio.to_thread(runtime.join, 60_000)
    assert len(attempts_of(token)) == 1


class _Sent:
    """A runtime that only records what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def send(self, actor: str, *args: Any, **kwargs: Any) -> None:
        self.sent.append((actor, args, kwargs))


async def test_a_burst_of_stored_push_batches_goes_out_as_one_processing_message(database) -> None:
    """Each webhook commit owes a processing message for its few inbox ids; a relay pass sends
    the pass's run of them as one message (up to 200 ids), so the worker reads each partner list
    page for many pushes rather than once per push."""
    async with database.transaction() as session:
        for ids in ([1, 2], [3], [4, 5]):
            outbox.add(session, PUSH_PROCESS_ACTOR, ids)
        outbox.add(session, "confirm_shipment", 9)
        outbox.add(session, PUSH_PROCESS_ACTOR, [6])
    runtime = _Sent()
    assert await relay_outbox(database, runtime) == 5
    assert runtime.sent == [(PUSH_PROCESS_ACTOR, ([1, 2, 3, 4, 5],), {}), ("confirm_shipment", (9,), {}),
                            (PUSH_PROCESS_ACTOR, ([6],), {})]
    assert await relay_outbox(database, runtime) == 0, "every row is marked published"


async def test_a_workers_relay_leaves_fresh_push_batches_to_the_apis_relay(database) -> None:
    """In ``hub worker`` the relay leaves push batches younger than the grace to ``hub serve``'s relay
    (when both took a push stream's rows as they came, the stream reached the worker as many small
    batches); everything else goes out at once, and push rows the API left are sent once stale."""
    async with database.transaction() as session:
        outbox.add(session, PUSH_PROCESS_ACTOR, [1, 2])
        outbox.add(session, PROCESS_ACTOR, [3])
        outbox.add(session, "confirm_shipment", 9)
        outbox.add(session, PUSH_PROCESS_ACTOR, [4])
    runtime = _Sent()
    assert await relay_outbox(database, runtime, api_grace_s=2.0) == 2
    assert runtime.sent == [(PROCESS_ACTOR, ([3],), {}), ("confirm_shipment", (9,), {})]
    assert await _unpublished(database) == 2, "the push rows are left unpublished, not lost"

    async with database.transaction() as session:  # the API's relay never sent them: they grow stale
        await session.execute(update(OutboxRow).values(created_at=utcnow() - timedelta(seconds=3)))
    assert await relay_outbox(database, runtime, api_grace_s=2.0) == 2
    assert runtime.sent[2:] == [(PUSH_PROCESS_ACTOR, ([1, 2, 4],), {})]
    assert await _unpublished(database) == 0


class _Clock:
    """The pacer's clock, moved by the test (monotonic seconds)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def _consume(database, first: int, count: int = 200) -> list[int]:
    """What a TMC consume commits: its inbox rows' processing message (ids ``first`` …)."""
    ids = list(range(first, first + count))
    async with database.transaction() as session:
        outbox.add(session, PROCESS_ACTOR, ids)
    return ids


async def _unpublished(database) -> int:
    async with database.session() as session:
        return await outbox.count_unpublished(session)


async def test_tmc_consumes_committed_while_a_stream_is_going_are_held_then_sent_as_one_batch(database) -> None:
    """The workers' relay: a lone consume's batch goes out at once; consumes committed less than
    the pace after it wait (unsent, unpublished) while anything else goes out, then leave as one
    message of all their ids, every row published, no id lost or sent twice."""
    clock = _Clock()
    pace = IngestPace(pace_s=0.25, now=clock)
    runtime = _Sent()

    first = await _consume(database, 1)
    assert await relay_outbox(database, runtime, pace=pace) == 1, "a lone batch waits for nothing"
    assert runtime.sent == [(PROCESS_ACTOR, (first,), {})]

    clock.t += 0.1  # the next consumes commit while the stream is going
    second = await _consume(database, 201)
    async with database.transaction() as session:
        outbox.add(session, "confirm_shipment", 9)
    assert await relay_outbox(database, runtime, pace=pace) == 1, "the shipment goes, the batch waits"
    assert runtime.sent[1:] == [("confirm_shipment", (9,), {})]
    assert pace.due == 1000.25 and len(pace.held) == 1
    clock.t += 0.1
    third = await _consume(database, 401)
    assert await relay_outbox(database, runtime, pace=pace) == 0
    assert len(pace.held) == 2 and await _unpublished(database) == 2, "held rows stay unpublished"
    assert len(runtime.sent) == 2

    clock.t = 1000.0 + pace.pace_s  # the pace since the first batch is over
    assert await relay_outbox(database, runtime, pace=pace) == 2
    assert runtime.sent[2:] == [(PROCESS_ACTOR, (second + third,), {})]
    assert pace.held == () and pace.due is None
    assert await _unpublished(database) == 0 and await relay_outbox(database, runtime, pace=pace) == 0

    clock.t += 5.0  # a quiet spell: the next consume goes out at once again
    fourth = await _consume(database, 601)
    assert await relay_outbox(database, runtime, pace=pace) == 1
    assert runtime.sent[3:] == [(PROCESS_ACTOR, (fourth,), {})]
    sent_ids = [i for actor, args, _ in runtime.sent if actor == PROCESS_ACTOR for i in args[0]]
    assert sent_ids == list(range(1, 801)), "every id once"


async def test_a_paced_relay_sends_full_batches_and_holds_only_the_last(database) -> None:
    """Six consumes that met while a stream was going: the first five (1,000 ids) go, the sixth
    waits for more; a pass without a pacer (the API's relay) sends everything it takes."""
    clock = _Clock()
    pace = IngestPace(now=clock, last_sent=clock.t)  # a batch went out just now
    runtime = _Sent()
    ids = [i for n in range(6) for i in await _consume(database, 1 + 200 * n)]

    assert await relay_outbox(database, runtime, pace=pace) == 5
    assert runtime.sent == [(PROCESS_ACTOR, (ids[:1000],), {})]
    assert len(pace.held) == 1
    assert await relay_outbox(database, runtime) == 1, "no pacer: nothing held"
    assert runtime.sent[1:] == [(PROCESS_ACTOR, (ids[1000:],), {})]
    assert await _unpublished(database) == 0


async def test_the_workers_relay_wakes_itself_when_held_batches_fall_due(
    database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No kick and an hour's interval: only the relay's own timer for the held rows can send them."""
    passes = _counted_passes(monkeypatch)
    clock = _Clock()
    pace = IngestPace(pace_s=0.05, now=clock)
    runtime = _Sent()
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay_forever(database_url, runtime, 3600.0, stop, pace=pace))
    try:
        await eventually(_async(lambda: passes() >= 1))
        first = await _consume(database, 1)  # its commit kicks the relay
        assert await eventually(_async(lambda: len(runtime.sent) == 1))
        second = await _consume(database, 201)  # within the pace (the clock stands still): held
        assert await eventually(_async(lambda: len(pace.held) == 1))
        assert len(runtime.sent) == 1
        clock.t = 1000.0 + pace.pace_s  # due now (the first send + the pace); nothing kicks the relay
        assert await eventually(_async(lambda: len(runtime.sent) == 2))
        assert runtime.sent == [(PROCESS_ACTOR, (first,), {}), (PROCESS_ACTOR, (second,), {})]
        assert await _unpublished(database) == 0
    finally:
        stop.set()
        kick_relay()
        await relay


async def test_the_outbox_never_sends_a_rolled_back_change(
    runtime: QueueRuntime, database, database_url: str
) -> None:
    token = new_token()
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            outbox.add(session, "queue_test_effect", database_url, token)
            await session.flush()
            raise RuntimeError("stock reservation failed")

    assert await relay_outbox(database, runtime) == 0
    await asyncio.to_thread(runtime.join, 60_000)
    assert attempts_of(token) == []


async def test_kicking_the_relay_sends_a_commit_without_waiting_for_the_interval(
    runtime: QueueRuntime, database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes = _counted_passes(monkeypatch)
    stop = asyncio.Event()
    # An hour between passes: if the row goes out during the test, the kick sent it.
    relay = asyncio.create_task(run_relay_forever(database_url, runtime, 3600.0, stop))
    await eventually(_async(lambda: passes() >= 1))  # the relay's first (empty) pass is over
    token = new_token()
    async with database.transaction() as session:
        outbox.add(session, "queue_test_effect", database_url, token)
    started = time.monotonic()
    kick_relay()

    assert await eventually(lambda: effect_count(database, token))
    print(f"kicked relay delivered in {time.monotonic() - started:.2f}s")
    assert passes() >= 2
    stop.set()
    kick_relay()
    await relay


def _counted_passes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the relay loop's passes (its ``relay_outbox`` calls); the callable says how many so far."""
    passes = 0

    async def counted_pass(*args: Any, **kwargs: Any) -> int:
        nonlocal passes
        passes += 1
        return await relay_outbox(*args, **kwargs)

    monkeypatch.setattr(relay_module, "relay_outbox", counted_pass)
    return lambda: passes


def _async(check: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def checked() -> Any:
        return check()

    return checked
