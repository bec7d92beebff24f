"""Redis consumers that wait to be woken instead of polling an empty queue.

dramatiq's Redis consumer runs its fetch script (a heartbeat, now and then maintenance, an
``LRANGE``) every time it finds nothing to do, backing off to the worker timeout
(``hub.runner.WORKER_POLL_MS``, 100 ms): a worker consuming seven queues and their seven delay
queues ran ~190 scripts a second while idle, and under load the empty queues' consumers kept
taking the GIL from the event loop. Here:

- one watcher thread per worker (``QueueWakeups``) reads every consumed queue's length in one
  pipeline each ``WATCH_POLL_S`` and wakes the consumers whose queue holds messages;
- a send from the same process, an acknowledgement (a prefetch slot freed) and a stop wake a
  consumer at once;
- an idle consumer still fetches every ``IDLE_FETCH_S``: that keeps the worker's heartbeat, which
  tells the other workers it is alive (dramatiq's timeout is 60 s), and dramatiq's maintenance
  (giving a dead worker's unacknowledged messages back to their queue) going. Fetches are ~13×
  rarer when idle, so ``MAINTENANCE_CHANCE`` is ten times dramatiq's per fetch.
- a delay-queue consumer holding delayed messages polls as upstream does, since the consumer thread
  moves each one to its queue when due only between fetches.

RabbitMQ's consumers are pushed their messages and the in-process broker's block on a queue: only
the Redis broker needs this. The key names (``<namespace>:<queue>``, the list of waiting message
ids) are those documented in dramatiq's ``dispatch.lua``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

log = structlog.get_logger(__name__)

#: How often the watcher reads the consumed queues' lengths: the longest a message sent by another
#: process waits before a consumer fetches it (dramatiq's idle backoff reached 100 ms).
WATCH_POLL_S = 0.05
#: How often an idle consumer fetches anyway (its heartbeat and maintenance).
IDLE_FETCH_S = 1.0
#: dramatiq's maintenance chance per fetch, out of 1,000,000 (its default is 1,000).
MAINTENANCE_CHANCE = 10_000


class QueueWakeups:
    """The wake-up events of one broker's consumers, by queue name, and the watcher thread that
    sets them when a queue holds messages."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def event_for(self, queue_name: str) -> threading.Event:
        """The event that wakes ``queue_name``'s consumer (one per queue and process); the first
        consumer starts the watcher."""
        with self._lock:
            event = self._events.setdefault(queue_name, threading.Event())
        self.start()
        return event

    def wake(self, queue_name: str) -> None:
        """Wake ``queue_name``'s consumer, if this process has one."""
        event = self._events.get(queue_name)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        for event in list(self._events.values()):
            event.set()

    def start(self, poll_s: float = WATCH_POLL_S) -> None:
        """Start watching (once; a call while it runs does nothing)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, args=(poll_s,), name="hub-queue-watch",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching and wake every consumer, so each sees that it is stopping."""
        self._stop.set()
        self.wake_all()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _watch(self, poll_s: float) -> None:
        failing = False
        while not self._stop.wait(poll_s):
            try:
                self.check()
            except Exception as exc:  # the watcher must outlive any error; a Redis outage is the usual one
                # The consumers' own fetches report the outage (and fetch every IDLE_FETCH_S anyway).
                if not failing:
                    log.warning("queue.watch_failed", error=type(exc).__name__)
                failing = True
            else:
                if failing:
                    log.info("queue.watch_recovered")
                failing = False

    def check(self) -> list[str]:
        """Read the watched queues' lengths once and wake those that hold messages; their names."""
        names = list(self._events)
        if not names:
            return []
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"{self._namespace}:{name}")
        waiting = [name for name, length in zip(names, pipe.execute(), strict=True) if length]
        for name in waiting:
            self._events[name].set()
        return waiting


class WakeableRedisConsumer(_RedisConsumer):
    """dramatiq's Redis consumer, waiting on its wake-up event where upstream sleeps and polls."""

    def __init__(self, broker: HubRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self._wakeup = broker.wakeups.event_for(queue_name)
        self._delay_queue = queue_name.endswith(".DQ")

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)
        finally:
            self._wakeup.set()

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)
        finally:
            self._wakeup.set()

    def __next__(self) -> Any:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # upstream skips these too (dramatiq #266)
                        continue
                    self.misses = 0
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                # Cleared before the fetch, so a wake-up that comes after it is not lost.
                self._wakeup.clear()
                if self.outstanding_message_count < self.prefetch:
                    self.message_cache = self.broker.do_fetch(
                        self.queue_name, self.prefetch - self.outstanding_message_count)
                    if self.message_cache:
                        continue
                self._idle()
                return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None

    def _idle(self) -> None:
        if self._delay_queue and self.outstanding_message_count:
            # Holding delayed messages: the consumer thread moves each when due, between fetches.
            self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
            time.sleep(backoff_ms / 1000)
        else:
            self._wakeup.wait(IDLE_FETCH_S)


class HubRedisBroker(RedisBroker):
    """dramatiq's Redis broker with consumers that wait to be woken (``QueueWakeups``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_chance", MAINTENANCE_CHANCE)
        super().__init__(**kwargs)
        self.wakeups = QueueWakeups(self.client, self.namespace)

    @property
    def consumer_class(self) -> type[WakeableRedisConsumer]:
        return WakeableRedisConsumer

    def close(self) -> None:
        self.wakeups.stop()
        super().close()

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        sent = super().enqueue(message, delay=delay)
        self.wakeups.wake(sent.queue_name)
        return sent
