"""Builds the hub's dramatiq broker: Redis or RabbitMQ in production, in-process (stub) on the
embedded default.

The middleware stack is dramatiq's defaults with ``Retries`` replaced by the hub's policy
(``hub.queue.retry``), plus ``AsyncIO`` for async actors, ``CurrentMessage``, and ``WorkerHooks``
which runs the app's per-loop set-up and tear-down on dramatiq's event-loop thread (docs/architecture.md §5: an
async engine or HTTP client must never cross loops); the same stack on every broker. Not for
binding actors (``hub.queue.actors``) or running workers (``hub.queue.runtime``). ``check_broker``
(``check_redis``) and ``BrokerOutage`` say clearly when the broker is not there at start and keep an
outage later to one line each way. With RabbitMQ (``amqp://``) the hub still needs Redis to
coordinate processes (leader lock, rate limits, breakers, flags): docs/operators.md.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import dramatiq
import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from hub.errors import HubError
from hub.logging import scrub_text
from hub.queue.retry import DeadLetterSink, HubRetries
from hub.queue.wakeup import HubRedisBroker

log = structlog.get_logger(__name__)

#: dramatiq's "the broker connection failed" error (renamed in dramatiq 2.x; the old name warns).
BROKER_CONNECTION_ERROR: type[Exception] = (getattr(dramatiq.errors, "BrokerConnectionError", None)
                                            or dramatiq.errors.ConnectionError)

LoopHook = Callable[[], Awaitable[None]]
M = TypeVar("M", bound=dramatiq.Middleware)


class WorkerHooks(dramatiq.Middleware):
    """Runs async set-up hooks on dramatiq's event-loop thread once a worker boots, and tear-down
    hooks there before the loop stops: the place to open and close per-loop resources."""

    def __init__(self) -> None:
        self.on_boot: list[LoopHook] = []
        self.on_shutdown: list[LoopHook] = []

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._run_all(self.on_boot, "boot")

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # emit_after walks the middleware in reverse, so this runs before AsyncIO stops the loop.
        self._run_all(self.on_shutdown, "shutdown")

    @staticmethod
    def _run_all(hooks: list[LoopHook], stage: str) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            log.warning("worker.hooks_skipped", stage=stage, detail="no AsyncIO event-loop thread")
            return
        for hook in hooks:
            try:
                loop_thread.run_coroutine(hook())
            except Exception:
                log.exception("worker.hook_failed", stage=stage, hook=getattr(hook, "__qualname__", repr(hook)))


class WorkerScopedTimeLimit(TimeLimit):
    """dramatiq's ``TimeLimit``, with its monitor thread living as long as the worker.

    Upstream starts a never-ending monitor at ``process_boot``, which only the ``dramatiq`` CLI
    emits; the hub runs ``Worker`` in its own process (``hub worker``, ``hub run``, tests), so the
    monitor starts at worker boot and stops at shutdown instead (no thread left behind).
    """

    def __init__(self, *, time_limit: float = 600_000, interval: int = 1000) -> None:
        super().__init__(time_limit=time_limit, interval=interval)
        self._interval_s = interval / 1000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        return None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="hub-time-limit", daemon=True)
        self._thread.start()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.manager._handle_deadlines()  # type: ignore[union-attr]  # upstream's check, our thread
            except Exception:  # pragma: no cover - mirrors upstream's guard
                log.exception("worker.time_limit_check_failed")


def hub_middleware(sink: DeadLetterSink | None = None) -> list[dramatiq.Middleware]:
    """The middleware stack, in order (``emit_after`` runs it in reverse: retries decide first)."""
    return [
        AsyncIO(),
        WorkerHooks(),
        AgeLimit(),
        WorkerScopedTimeLimit(time_limit=300_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        HubRetries(sink=sink),
    ]


def build_broker(
    url: str | None,
    *,
    namespace: str = "hub",
    dead_letter_sink: DeadLetterSink | None = None,
) -> dramatiq.Broker:
    """A RabbitmqBroker for an ``amqp://`` ``url`` (isolate hubs by virtual host: RabbitMQ has no key
    namespace), a Redis broker (keys under ``namespace``; consumers woken rather than polling,
    ``hub.queue.wakeup``) for any other URL, else a StubBroker that
    in-process worker threads consume (the embedded default).

    RabbitMQ publishes with confirms: a send returns only once the server has the message, as a
    Redis ``LPUSH`` does, so "sent after commit" means the same on both. ``dead_letter_sink`` can
    also be set later with ``retries_of(broker).sink = ...``.
    """
    middleware = hub_middleware(dead_letter_sink)
    broker: dramatiq.Broker
    if is_amqp(url):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=middleware, confirm_delivery=True)
    elif url:
        broker = HubRedisBroker(url=url, namespace=namespace, middleware=middleware)
    else:
        # fail_fast off: a failed message is already a dead_letters row, not a test explosion.
        broker = StubBroker(middleware=middleware, fail_fast_default=False)
    for queue in _queues():
        broker.declare_queue(queue)
    return broker


def is_amqp(url: str | None) -> bool:
    """True for a RabbitMQ URL (``amqp://`` or ``amqps://``)."""
    return bool(url) and str(url).split("://", 1)[0] in ("amqp", "amqps")


def check_broker(url: str, timeout_s: float = 3.0) -> None:
    """Raise ``BrokerUnreachable`` (what to do included) when the broker at ``url`` does not answer:
    a Redis PING, or opening and closing an AMQP connection."""
    if not is_amqp(url):
        check_redis(url, timeout_s)
        return
    import pika
    import pika.exceptions

    parameters = pika.URLParameters(url)
    parameters.socket_timeout = parameters.blocked_connection_timeout = timeout_s
    parameters.connection_attempts, parameters.retry_delay = 1, 0
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as exc:
        reason = _reason(exc) if str(exc) else type(exc).__name__
        raise BrokerUnreachable(f"cannot reach RabbitMQ at {scrub_text(url)}: {reason}; start it or set "
                                "HUB_BROKER_URL") from None
    except OSError as exc:
        raise BrokerUnreachable(f"cannot reach RabbitMQ at {scrub_text(url)}: {_reason(exc)}; start it or set "
                                "HUB_BROKER_URL") from None


def check_redis(url: str, timeout_s: float = 3.0) -> None:
    """Raise ``BrokerUnreachable`` (what to do included) when Redis at ``url`` does not answer a PING."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        reason = _reason(exc)
        raise BrokerUnreachable(f"cannot reach Redis at {scrub_text(url)}: {reason}; start it or set HUB_REDIS_URL") \
            from None
    finally:
        client.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "reset by peer" in text or "closed" in text:
        return "connection lost"
    if "refused" in text:
        return "connection refused"
    if "timeout" in text or "timed out" in text:
        return "no answer (timed out)"
    if "name or service" in text or "nodename" in text:
        return "unknown host"
    if "auth" in text or "password" in text or "access_refused" in text or "access refused" in text:
        return "authentication failed"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class BrokerUnreachable(HubError):
    """The queue broker (Redis or RabbitMQ), or the Redis that coordinates processes, cannot be reached."""


def _queues() -> tuple[str, ...]:
    from hub.queue.actors import QUEUES

    return QUEUES


def _find(broker: dramatiq.Broker, kind: type[M]) -> M:
    for middleware in broker.middleware:
        if isinstance(middleware, kind):
            return middleware
    raise LookupError(f"the broker has no {kind.__name__} middleware (was it built by build_broker?)")


def retries_of(broker: dramatiq.Broker) -> HubRetries:
    """The hub's retry middleware on ``broker``."""
    return _find(broker, HubRetries)


def worker_hooks(broker: dramatiq.Broker) -> WorkerHooks:
    """The worker-boot hooks on ``broker``: append async callables to ``on_boot`` / ``on_shutdown``."""
    return _find(broker, WorkerHooks)


class BrokerOutage(logging.Filter):
    """Turns a broker outage (Redis or RabbitMQ) after start-up into one warning line and one line
    when it is back.

    While the broker is away, every dramatiq consumer logs a critical line every few seconds and the
    scheduler and relay log tracebacks; they all reconnect by themselves. Installed on the hub's
    log handler, this filter lets the first connection failure through as ``queue.broker_unreachable``,
    drops the rest, and logs ``queue.broker_reconnected`` when a PING answers again.
    """

    def __init__(self, url: str, *, probe_interval_s: float = 1.0) -> None:
        super().__init__("broker-outage")
        self.url = url
        self.probe_interval_s = probe_interval_s
        self.down = threading.Event()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        failure = _connection_failure(record)
        if failure is None:
            return not (self.down.is_set() and record.getMessage().startswith("Restarting consumer"))
        with self._lock:
            first = not self.down.is_set()
            self.down.set()
        if first:
            threading.Thread(target=self._watch, name="hub-broker-outage", daemon=True).start()
            log.warning("queue.broker_unreachable", url=scrub_text(self.url), reason=_reason(failure),
                        detail="reconnecting; messages wait in the broker and are worked off once it is back")
        return False

    def _watch(self) -> None:
        while True:
            time.sleep(self.probe_interval_s)
            try:
                check_broker(self.url, timeout_s=self.probe_interval_s)
            except BrokerUnreachable:
                continue
            self.down.clear()
            log.info("queue.broker_reconnected", url=scrub_text(self.url))
            return


def _connection_failure(record: logging.LogRecord) -> BaseException | None:
    """The broker connection error (Redis or AMQP) a log record reports, if it reports one."""
    import redis

    message = record.getMessage() if not isinstance(record.msg, dict) else ""
    if message.startswith("Consumer encountered a connection error"):
        return ConnectionError(message)
    exc: BaseException | None = record.exc_info[1] if record.exc_info else None
    if exc is None and isinstance(record.msg, dict) and record.msg.get("exc_info"):
        exc = sys.exc_info()[1]  # structlog defers exc_info=True to the formatter, in this same thread
    kinds: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                                              BROKER_CONNECTION_ERROR, *_amqp_connection_errors())
    while exc is not None:
        if isinstance(exc, kinds):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _amqp_connection_errors() -> tuple[type[BaseException], ...]:
    try:
        import pika.exceptions
    except ImportError:  # RabbitMQ support not installed: no AMQP errors to recognise
        return ()
    return (pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError,
            pika.exceptions.ConnectionClosed, pika.exceptions.ChannelClosedByBroker)


def guard_broker_outages(url: str) -> BrokerOutage:
    """Install ``BrokerOutage`` on the hub's log handler (after ``configure_logging``)."""
    outage = BrokerOutage(url)
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "hub":
            handler.addFilter(outage)
    return outage
