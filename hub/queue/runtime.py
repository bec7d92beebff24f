"""The queue as a process sees it: the broker, the bound actors, sending, and in-process workers.

``QueueRuntime.create`` builds the broker first and binds every registered actor to it, so import
the actor modules (``hub.pipeline.actors`` …) before creating the runtime. ``hub worker`` and the
embedded ``hub run`` start a ``HubWorker`` (a ``dramatiq.Worker`` with reserved threads for intake
and bounded prefetch) in their own process through ``start_workers``. Not for the retry policy
(``hub.queue.retry``) or the outbox (``hub.queue.relay``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from queue import PriorityQueue
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, q_name
from dramatiq.worker import ConsumerThread, WorkerThread, _WorkerMiddleware, _WorkQueueItem

from hub.errors import NotFoundError
from hub.queue.actors import INTAKE_QUEUES, QUEUES, bind_actors
from hub.queue.broker import BROKER_CONNECTION_ERROR, LoopHook, build_broker, is_amqp, worker_hooks
from hub.queue.retry import DatabaseDeadLetterSink
from hub.queue.wakeup import HubRedisBroker

log = structlog.get_logger(__name__)

#: Messages each consumer (one per queue) holds at most beyond what is running: per worker thread.
#: dramatiq's default too, set here so it is a known bound (RabbitMQ: the channel's ``basic.qos``;
#: Redis: the consumer's unacknowledged set). A message held is not lost if the process dies: it is
#: requeued (RabbitMQ) or recovered from the unacked set (Redis) — docs/operators.md.
PREFETCH_PER_THREAD = 2
#: Delayed messages (retries in their backoff, coalesced stock pushes) a delay-queue consumer holds
#: until they are due, per worker thread, and at most ``DELAY_PREFETCH_MAX``. Held in memory until
#: due, so this is what bounds a worker's memory when many retries wait.
DELAY_PREFETCH_PER_THREAD = 250
DELAY_PREFETCH_MAX = 4_000


class HubWorker(dramatiq.Worker):
    """A ``dramatiq.Worker`` whose ``reserved`` queues have worker threads of their own.

    Upstream, every consumer feeds one work queue and any thread takes any message: with all threads
    busy on long ``ingest`` batches, a ``consume_channel`` message (priority or not) waits until one
    finishes. Here each reserved queue (``channels``) gets its own work queue and its own threads,
    so intake never waits behind processing; the other queues share the remaining threads as
    upstream does. Prefetch is bounded (``PREFETCH_PER_THREAD``, ``DELAY_PREFETCH_*``).
    """

    def __init__(self, broker: dramatiq.Broker, *, queues: set[str] | None, worker_threads: int,
                 worker_timeout: int, reserved: Mapping[str, int] | None = None) -> None:
        super().__init__(broker, queues=queues, worker_threads=worker_threads, worker_timeout=worker_timeout)
        self.queue_prefetch = PREFETCH_PER_THREAD * worker_threads
        self.delay_prefetch = min(DELAY_PREFETCH_MAX, DELAY_PREFETCH_PER_THREAD * worker_threads)
        self.reserved = {name: threads for name, threads in (reserved or {}).items() if threads > 0}
        self.lane_queues: dict[str, PriorityQueue[_WorkQueueItem]] = {name: PriorityQueue() for name in self.reserved}

    def _work_queue_for(self, queue_name: str) -> PriorityQueue[_WorkQueueItem]:
        return self.lane_queues.get(q_name(queue_name), self.work_queue)

    def all_work_queues(self) -> list[PriorityQueue[_WorkQueueItem]]:
        return [self.work_queue, *self.lane_queues.values()]

    def start(self) -> None:
        self.broker.emit_before("worker_boot", self)
        self.broker.add_middleware(_WorkerMiddleware(self))
        for _ in range(self.worker_threads):
            self._add_worker()
        for name, threads in self.reserved.items():
            for _ in range(threads):
                self._add_lane_worker(self.lane_queues[name])
        self.broker.emit_after("worker_boot", self)

    def _add_lane_worker(self, work_queue: PriorityQueue[_WorkQueueItem]) -> None:
        worker = WorkerThread(broker=self.broker, consumers=self.consumers, work_queue=work_queue,
                              worker_timeout=self.worker_timeout)
        worker.start()
        self.workers.append(worker)

    def _add_consumer(self, queue_name: str, *, delay: bool = False) -> None:
        # Upstream's, with the work queue chosen per queue (a reserved lane or the shared one).
        if queue_name in self.consumers:
            return
        canonical = q_name(queue_name)
        if self.consumer_whitelist and canonical not in self.consumer_whitelist:
            return
        lane_threads = self.reserved.get(canonical)
        prefetch = (self.delay_prefetch if delay
                    else PREFETCH_PER_THREAD * lane_threads if lane_threads else self.queue_prefetch)
        consumer = self.consumers[queue_name] = ConsumerThread(
            broker=self.broker, queue_name=queue_name, prefetch=prefetch,
            work_queue=self._work_queue_for(queue_name), worker_timeout=self.worker_timeout)
        consumer.start()

    def stop(self, timeout: int = 600_000) -> None:
        # Upstream's, requeueing what is still in memory from every work queue, lanes included.
        self.broker.emit_before("worker_shutdown", self)
        for thread in self.workers:
            thread.stop()
        dramatiq.worker.join_all(self.workers, timeout)
        for consumer in self.consumers.values():
            consumer.stop()
        if isinstance(self.broker, HubRedisBroker):
            self.broker.wakeups.stop()  # wakes the consumers waiting for work, so they see the stop
        dramatiq.worker.join_all(self.consumers.values(), timeout)
        by_queue: dict[str, list[Any]] = defaultdict(list)
        for work_queue in self.all_work_queues():
            for item in dramatiq.worker.iter_queue(work_queue):
                by_queue[item.message.queue_name].append(item.message)
        for queue_name, messages in by_queue.items():
            try:
                self.consumers[queue_name].requeue_messages(messages)
            except BROKER_CONNECTION_ERROR:
                log.warning("worker.requeue_failed", queue=queue_name, messages=len(messages), exc_info=True)
        for consumer in self.consumers.values():
            consumer.close()
        self.broker.emit_after("worker_shutdown", self)

    def join(self) -> None:
        while True:
            for consumer in self.consumers.values():
                consumer.delay_queue.join()
            for work_queue in self.all_work_queues():
                work_queue.join()
            if any(c.delay_queue.unfinished_tasks for c in self.consumers.values()):
                continue
            if not any(q.unfinished_tasks for q in self.all_work_queues()):
                return


def reserved_threads(queues: Iterable[str] | None, intake_threads: int) -> dict[str, int]:
    """The threads kept for intake queues when a worker consumes them *and* other queues: a worker
    that consumes only intake queues (``--queues channels``) or only others needs no lane."""
    chosen = set(queues or QUEUES)
    intake = chosen & set(INTAKE_QUEUES)
    if not intake_threads or not intake or not chosen - intake:
        return {}
    return {name: intake_threads for name in sorted(intake)}


class QueueRuntime:
    """One per process: holds the broker, the actors bound to it, and the worker if started."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        actors: dict[str, dramatiq.Actor[Any, Any]],
        *,
        database_url: str | None,
        worker_threads: int = 4,
        sink: DatabaseDeadLetterSink | None = None,
    ) -> None:
        self.broker = broker
        self.actors = actors
        self.database_url = database_url
        self.worker_threads = worker_threads
        self.worker: HubWorker | None = None
        self.intake_threads = 1
        self._sink = sink

    @classmethod
    def create(
        cls,
        *,
        redis_url: str | None = None,
        database_url: str,
        namespace: str = "hub",
        worker_threads: int = 4,
        broker_url: str | None = None,
        intake_threads: int = 1,
    ) -> QueueRuntime:
        """Build the broker (``broker_url``, else ``redis_url``: RabbitMQ for ``amqp://``, Redis for
        another URL, in-process for none), then bind the registered actors.

        Dead letters go to ``database_url``; each worker loop closes its database engines when
        the worker stops. ``intake_threads``: see ``reserved_threads``.
        """
        url = broker_url or redis_url
        sink = DatabaseDeadLetterSink(database_url)
        broker = build_broker(url, namespace=namespace, dead_letter_sink=sink)
        worker_hooks(broker).on_shutdown.append(_dispose_loop_databases)
        actors = bind_actors(broker)
        log.info("queue.ready", broker=type(broker).__name__, namespace=None if is_amqp(url) else namespace,
                 actors=len(actors))
        runtime = cls(broker, actors, database_url=database_url, worker_threads=worker_threads, sink=sink)
        runtime.intake_threads = intake_threads
        return runtime

    @property
    def embedded(self) -> bool:
        """True on the in-process broker (no Redis): workers must run in this process."""
        return isinstance(self.broker, StubBroker)

    # -- sending -----------------------------------------------------------------------------

    def send(self, actor_name: str, *args: Any, delay_ms: int | None = None, **kwargs: Any) -> dramatiq.Message[Any]:
        """Enqueue a message for ``actor_name`` (args must be JSON values: ids, not payloads)."""
        actor = self.actors.get(actor_name)
        if actor is None:
            raise NotFoundError(
                f"no actor named {actor_name!r} is bound to this queue runtime; "
                "import the module that defines it before QueueRuntime.create"
            )
        return actor.send_with_options(args=args, kwargs=kwargs, delay=delay_ms)

    # -- workers -----------------------------------------------------------------------------

    def on_worker_boot(self, hook: LoopHook) -> None:
        """Run ``hook()`` on the worker's event loop when it boots (open per-loop resources)."""
        worker_hooks(self.broker).on_boot.append(hook)

    def on_worker_shutdown(self, hook: LoopHook) -> None:
        """Run ``hook()`` on the worker's event loop before it stops (close per-loop resources)."""
        worker_hooks(self.broker).on_shutdown.insert(0, hook)

    def start_workers(self, queues: list[str] | None = None, *, worker_timeout_ms: int = 1000) -> HubWorker:
        """Start a ``HubWorker`` in this process on ``queues`` (default: all of them), with
        ``intake_threads`` of its own for the intake queues when it also consumes others."""
        if self.worker is not None:
            raise RuntimeError("workers are already running in this process")
        unknown = sorted(set(queues or ()) - set(QUEUES))
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(unknown)}; queues are {', '.join(QUEUES)}")
        reserved = reserved_threads(queues, self.intake_threads)
        worker = HubWorker(
            self.broker,
            queues=set(queues) if queues else None,
            worker_threads=self.worker_threads,
            worker_timeout=worker_timeout_ms,
            reserved=reserved,
        )
        worker.start()
        self.worker = worker
        log.info("worker.started", queues=queues or list(QUEUES), threads=self.worker_threads,
                 reserved_threads=reserved or None, prefetch=worker.queue_prefetch,
                 delay_prefetch=worker.delay_prefetch)
        return worker

    def stop(self, timeout_ms: int = 30_000) -> None:
        """Stop the worker (in-flight messages finish or go back to the queue) and the bridge."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop(timeout=timeout_ms)
        if self._sink is not None:
            self._sink.close()

    def close(self) -> None:
        """Stop everything and close the broker's connections."""
        self.stop()
        self.broker.close()
        client = getattr(self.broker, "client", None)
        if client is not None:
            client.close()

    def join(self, timeout_ms: int = 30_000, *, queues: list[str] | None = None, delayed: bool = True) -> None:
        """Wait until the queues (and, with ``delayed``, their delay queues) are empty and the
        worker is idle.

        For tests and the embedded mode. Dead-lettered messages do not raise here: they are rows in
        ``dead_letters``. Raises ``TimeoutError`` if work is still pending after ``timeout_ms``.
        ``delayed=False`` (in-process broker only) does not wait for messages sent for later —
        retries in their backoff, coalesced pushes — only for those due now.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        names = queues or list(QUEUES)
        quiet_rounds = 0
        while quiet_rounds < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues {names} still busy after {timeout_ms} ms")
            if self._pending(names, delayed) == 0 and self._worker_idle(delayed):
                quiet_rounds += 1
            else:
                quiet_rounds = 0
            time.sleep(0.02)

    def _pending(self, names: list[str], delayed: bool = True) -> int:
        if isinstance(self.broker, StubBroker):
            wanted = [name for q in names for name in ((q, dq_name(q)) if delayed else (q,))]
            return sum(self.broker.queues[name].unfinished_tasks for name in wanted if name in self.broker.queues)
        counts = getattr(self.broker, "get_queue_message_counts", None)
        if counts is not None:
            # RabbitMQ: ready messages of the queue and its delay queue (unacknowledged ones are
            # in some worker's memory: this process's show in _worker_idle).
            return sum(sum(counts(q)[:2]) for q in names)
        # On Redis, qsize counts the queue, its delay queue and unacknowledged messages.
        do_qsize = self.broker.do_qsize  # type: ignore[attr-defined]
        return sum(int(do_qsize(q)) for q in names)

    def _worker_idle(self, delayed: bool = True) -> bool:
        worker = self.worker
        if worker is None:
            return True
        if any(work_queue.unfinished_tasks for work_queue in worker.all_work_queues()):
            return False
        return not delayed or not any(consumer.delay_queue.unfinished_tasks
                                      for consumer in worker.consumers.values())


async def _dispose_loop_databases() -> None:
    from hub.db import engine

    dispose = getattr(engine, "dispose_all_for_loop", None)
    if dispose is not None:
        await dispose()


_current: QueueRuntime | None = None


def set_current_runtime(runtime: QueueRuntime | None) -> None:
    """Make ``runtime`` the one actors and services send through (``None`` to clear it)."""
    global _current
    _current = runtime


def current_runtime() -> QueueRuntime:
    """The process's queue runtime; raises if none was created."""
    if _current is None:
        raise RuntimeError("no queue runtime in this process (QueueRuntime.create + set_current_runtime first)")
    return _current
