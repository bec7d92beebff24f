"""Redis consumers wait to be woken (``hub.queue.wakeup``), on the real Redis.

What an operator would notice: an idle worker no longer runs a fetch script per queue every ~75 ms,
yet a message sent by another process, by this one, or a slot freed by an acknowledgement still
reaches its consumer at once, and a worker whose consumers are all waiting stops at once. The
consumers' idle fetch is set to an hour in the tests that wait, so a wake-up that did not happen
shows as a hang (the join's limit), never as a slow pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from hub.queue import wakeup
from hub.queue.broker import build_broker
from hub.queue.testing import redis_namespace, redis_url  # noqa: F401
from hub.queue.wakeup import HubRedisBroker, WakeableRedisConsumer

pytestmark = pytest.mark.redis

QUEUE = "stock"


@pytest.fixture
def brokers(redis_url: str, redis_namespace: str  # noqa: F811
            ) -> Iterator[tuple[HubRedisBroker, HubRedisBroker]]:
    """Two brokers on one namespace, as a worker process and another process sending see it."""
    made = [build_broker(redis_url, namespace=redis_namespace) for _ in range(2)]
    assert all(isinstance(broker, HubRedisBroker) for broker in made)
    yield made[0], made[1]
    for broker in made:
        broker.close()


def a_message(queue_name: str = QUEUE) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=queue_name, actor_name="queue_wakeup_probe", args=(), kwargs={},
                            options={})


def fetches_counted(broker: HubRedisBroker) -> list[str]:
    """Record the queue of every fetch script the broker runs."""
    fetched: list[str] = []
    do_fetch = broker.do_fetch

    def counting(queue_name: str, *args: Any) -> Any:
        fetched.append(queue_name)
        return do_fetch(queue_name, *args)

    broker.do_fetch = counting
    return fetched


def next_in_thread(consumer: WakeableRedisConsumer) -> tuple[threading.Thread, list[Any]]:
    """Call ``next(consumer)`` until it yields a message, in a thread; the message lands in the list."""
    got: list[Any] = []

    def run() -> None:
        while not got:
            message = next(consumer)
            if message is not None:
                got.append(message)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def test_an_idle_consumer_waits_instead_of_fetching_again(
        brokers: tuple[HubRedisBroker, HubRedisBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    worker_side, _ = brokers
    monkeypatch.setattr(wakeup, "IDLE_FETCH_S", 0.5)
    fetched = fetches_counted(worker_side)
    consumer = worker_side.consume(QUEUE, prefetch=2, timeout=100)
    started = time.monotonic()
    assert next(consumer) is None
    # One fetch, then the idle wait (upstream backed off for at most the 100 ms worker timeout).
    assert fetched == [QUEUE]
    assert time.monotonic() - started >= 0.5
    consumer.close()


def test_a_message_from_another_process_wakes_the_waiting_consumer(
        brokers: tuple[HubRedisBroker, HubRedisBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    worker_side, sender = brokers
    monkeypatch.setattr(wakeup, "IDLE_FETCH_S", 3600)
    consumer = worker_side.consume(QUEUE, prefetch=2, timeout=100)
    assert worker_side.wakeups.check() == []  # nothing waiting yet
    thread, got = next_in_thread(consumer)
    sent = sender.enqueue(a_message())
    thread.join(60)
    assert [message.message_id for message in got] == [sent.message_id]
    consumer.close()


def test_the_watcher_names_the_queues_that_hold_messages(brokers: tuple[HubRedisBroker, HubRedisBroker]) -> None:
    worker_side, sender = brokers
    for name in (QUEUE, "ingest", "ingest.DQ"):
        worker_side.wakeups.event_for(name)
    sender.enqueue(a_message("ingest"), delay=60_000)  # a delayed send waits in the delay queue
    assert worker_side.wakeups.check() == ["ingest.DQ"]
    assert worker_side.wakeups.event_for("ingest.DQ").is_set()
    assert not worker_side.wakeups.event_for(QUEUE).is_set()


def test_a_send_from_the_same_process_wakes_its_consumer_without_the_watcher(
        brokers: tuple[HubRedisBroker, HubRedisBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    worker_side, _ = brokers
    monkeypatch.setattr(wakeup, "IDLE_FETCH_S", 3600)
    consumer = worker_side.consume(QUEUE, prefetch=2, timeout=100)
    worker_side.wakeups.stop()  # only the send itself can wake it now
    thread, got = next_in_thread(consumer)
    sent = worker_side.enqueue(a_message())
    thread.join(60)
    assert [message.message_id for message in got] == [sent.message_id]
    consumer.close()


def test_an_acknowledgement_frees_a_prefetch_slot_and_wakes_the_consumer(
        brokers: tuple[HubRedisBroker, HubRedisBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    worker_side, sender = brokers
    monkeypatch.setattr(wakeup, "IDLE_FETCH_S", 3600)
    first, second = sender.enqueue(a_message()), sender.enqueue(a_message())
    consumer = worker_side.consume(QUEUE, prefetch=1, timeout=100)
    worker_side.wakeups.stop()  # the queue is never empty: only the acknowledgement may wake it
    held = next(consumer)
    assert held.message_id == first.message_id
    thread, got = next_in_thread(consumer)  # full: it waits for a slot
    consumer.ack(held)
    thread.join(60)
    assert [message.message_id for message in got] == [second.message_id]
    consumer.close()


def test_a_worker_whose_consumers_all_wait_stops_and_leaves_no_thread(
        redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from hub.queue.runtime import HubWorker

    monkeypatch.setattr(wakeup, "IDLE_FETCH_S", 3600)
    broker = build_broker(redis_url, namespace=redis_namespace)
    worker = HubWorker(broker, queues={QUEUE}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        assert [t.name for t in threading.enumerate() if t.name == "hub-queue-watch"]
    finally:
        stopper = threading.Thread(target=worker.stop, daemon=True)
        stopper.start()
        stopper.join(60)
        broker.close()
    assert not stopper.is_alive()
    assert not [t.name for t in threading.enumerate() if t.name == "hub-queue-watch"]
