"""The queue as a process sees it: the broker, the bound actors, sending, and in-process workers.

``QueueRuntime.create`` builds the broker first and binds every registered actor to it, so import
the actor modules (``hub.pipeline.actors`` …) before creating the runtime. ``hub worker`` and the
embedded ``hub run`` start a ``dramatiq.Worker`` in their own process through ``start_workers``.
Not for the retry policy (``hub.queue.retry``) or the outbox (``hub.queue.relay``).
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

from hub.errors import NotFoundError
from hub.queue.actors import QUEUES, bind_actors
from hub.queue.broker import LoopHook, build_broker, worker_hooks
from hub.queue.retry import DatabaseDeadLetterSink

log = structlog.get_logger(__name__)


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
        self.worker: dramatiq.Worker | None = None
        self._sink = sink

    @classmethod
    def create(
        cls,
        *,
        redis_url: str | None,
        database_url: str,
        namespace: str = "hub",
        worker_threads: int = 4,
    ) -> QueueRuntime:
        """Build the broker (Redis if ``redis_url`` else in-process), then bind the registered actors.

        Dead letters go to ``database_url``; each worker loop closes its database engines when
        the worker stops.
        """
        sink = DatabaseDeadLetterSink(database_url)
        broker = build_broker(redis_url, namespace=namespace, dead_letter_sink=sink)
        worker_hooks(broker).on_shutdown.append(_dispose_loop_databases)
        actors = bind_actors(broker)
        log.info("queue.ready", broker=type(broker).__name__, namespace=namespace, actors=len(actors))
        return cls(broker, actors, database_url=database_url, worker_threads=worker_threads, sink=sink)

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

    def start_workers(self, queues: list[str] | None = None, *, worker_timeout_ms: int = 1000) -> dramatiq.Worker:
        """Start a dramatiq Worker in this process on ``queues`` (default: all of them)."""
        if self.worker is not None:
            raise RuntimeError("workers are already running in this process")
        unknown = sorted(set(queues or ()) - set(QUEUES))
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(unknown)}; queues are {', '.join(QUEUES)}")
        worker = dramatiq.Worker(
            self.broker,
            queues=set(queues) if queues else None,
            worker_threads=self.worker_threads,
            worker_timeout=worker_timeout_ms,
        )
        worker.start()
        self.worker = worker
        log.info("worker.started", queues=queues or list(QUEUES), threads=self.worker_threads)
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
        # On Redis, qsize counts the queue, its delay queue and unacknowledged messages.
        do_qsize = self.broker.do_qsize  # type: ignore[attr-defined]
        return sum(int(do_qsize(q)) for q in names)

    def _worker_idle(self, delayed: bool = True) -> bool:
        worker = self.worker
        if worker is None:
            return True
        if worker.work_queue.unfinished_tasks:
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
