"""The hub's retry and dead-letter policy, as a dramatiq middleware that replaces ``Retries``.

What happens to a message whose actor raised:

- ``PermanentError`` / ``BadInputError``: dead letter at once, no retry (retrying will not help).
- ``RetryableError``: counted retry after exponential backoff with jitter between the actor's
  ``min_backoff`` and ``max_backoff``; a partner's ``retry_after`` (seconds) is a floor.
- ``LockBusyError`` / ``ShopPausedError`` / ``ThrottledError``: put back *without* spending the
  retry budget (another worker holds the entity, the shop waits for its breaker/operator, or the
  partner asked us to slow down: nothing was done, so a non-idempotent call such as confirming a
  shipment keeps every attempt for real faults). A throttled message waits at least the partner's
  ``retry_after``; all are capped by ``busy_requeues`` so nothing circulates forever.
- a worker shutdown interrupting the actor: put back at once, nothing counted.
- anything else: counted retry.

Every reason is non-empty: an exception without a message (``TimeoutError()``) is described by
its class name and repr (``hub.errors.describe_error``).
- budget exhausted: dead letter.

A dead letter is a ``dead_letters`` row (actor, queue, args, kwargs, reason, error class,
attempts, inbox id) written by a ``DeadLetterSink``; the message is then failed so dramatiq never
retries it either. Not for deciding *what* is retryable: partner clients classify errors
(``hub.errors``); this module only acts on the classification.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog
from dramatiq import Broker, Middleware, Retry
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Shutdown, ShutdownNotifications, TimeLimit, TimeLimitExceeded

from hub.errors import (
    BadInputError,
    LockBusyError,
    PermanentError,
    RetryableError,
    ShopPausedError,
    ThrottledError,
    describe_error,
)

log = structlog.get_logger(__name__)

#: How many times a message may be put back for a busy lock or a paused shop before it is dead.
MAX_BUSY_REQUEUES = 1000
#: dramatiq's Redis broker refuses delays over 7 days; stay well inside.
MAX_DELAY_MS = 86_400_000
LOCK_BUSY_DELAY_MS = (100, 1000)
SHOP_PAUSED_DELAY_MS = (1000, 60_000)
SHOP_PAUSED_DEFAULT_MS = 30_000


# --------------------------------------------------------------------------- the decision (pure)


@dataclass(frozen=True)
class Decision:
    """``retry`` spends one retry; ``requeue`` does not; ``dead`` goes to dead letters."""

    action: Literal["retry", "requeue", "dead"]
    delay_ms: int = 0
    reason: str = ""


def backoff_ms(retries: int, min_backoff_ms: int, max_backoff_ms: int, rng: random.Random | None = None) -> int:
    """Exponential backoff with "equal jitter": the n-th retry waits between half and all of
    ``min * 2**n`` (capped at ``max``), never less than ``min``."""
    rand = rng or random
    ceiling = min(max_backoff_ms, min_backoff_ms * 2 ** min(retries, 40))
    return max(min_backoff_ms, int(rand.uniform(ceiling / 2, ceiling)))


def describe(error: BaseException) -> str:
    """The reason recorded for an error: its message (already secret-free by contract), or its
    class name and repr when it has none; never empty."""
    if isinstance(error, TimeLimitExceeded) and not str(error).strip():
        return "the actor exceeded its time limit (TimeLimitExceeded)"
    return describe_error(error)


def decide(
    error: BaseException,
    *,
    retries: int,
    busy_requeues: int,
    max_retries: int,
    min_backoff_ms: int,
    max_backoff_ms: int,
    max_busy_requeues: int = MAX_BUSY_REQUEUES,
    now: float | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """What to do with a message whose actor raised ``error`` after ``retries`` counted retries."""
    rand = rng or random
    reason = describe(error)
    if isinstance(error, PermanentError | BadInputError):
        return Decision("dead", reason=reason)
    if isinstance(error, Shutdown):
        return Decision("requeue", 0, reason)
    if isinstance(error, LockBusyError | ShopPausedError | ThrottledError):
        if busy_requeues >= max_busy_requeues:
            return Decision("dead", reason=f"still waiting after {busy_requeues} requeues: {reason}")
        if isinstance(error, ThrottledError):
            # Back off as a counted retry would (the n-th throttle waits longer), but never sooner
            # than the partner said; the counter is busy_requeues, so the retry budget is untouched.
            delay = backoff_ms(min(busy_requeues, 10), min_backoff_ms, max_backoff_ms, rng)
            if error.retry_after is not None:
                delay = max(delay, int(error.retry_after * 1000))
            return Decision("requeue", min(delay, MAX_DELAY_MS), reason)
        if isinstance(error, ShopPausedError):
            if error.until is not None:
                wait = int((error.until - (time.time() if now is None else now)) * 1000)
                delay = min(max(wait, SHOP_PAUSED_DELAY_MS[0]), SHOP_PAUSED_DELAY_MS[1])
            else:
                delay = SHOP_PAUSED_DEFAULT_MS
        else:
            delay = int(rand.uniform(*LOCK_BUSY_DELAY_MS))
        return Decision("requeue", delay, reason)
    if retries >= max_retries:
        return Decision("dead", reason=reason)
    if isinstance(error, Retry) and error.delay is not None:
        delay = int(error.delay)
    else:
        delay = backoff_ms(retries, min_backoff_ms, max_backoff_ms, rng)
    if isinstance(error, RetryableError) and error.retry_after is not None:
        # The partner said how long to wait: never come back sooner (TOP ISP errors, throttling).
        delay = max(delay, int(error.retry_after * 1000))
    return Decision("retry", min(delay, MAX_DELAY_MS), reason)


# --------------------------------------------------------------------------- dead letters


@dataclass(frozen=True)
class DeadLetter:
    actor: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    reason: str
    error_class: str
    attempts: int
    inbox_id: int | None = None
    message_id: str = ""


class DeadLetterSink(Protocol):
    """Stores a dead letter; called on a dramatiq worker thread. Returns the row id, if any."""

    def __call__(self, letter: DeadLetter) -> int | None: ...


class LoopBridge:
    """Runs coroutines for a worker thread: on dramatiq's event-loop thread when a worker runs
    (so they share that loop's engine with the async actors), else on a small loop of its own.

    Never runs a coroutine on a loop other than the one its resources were made on: each loop
    gets its own ``Database`` through ``database_for_loop`` (docs/architecture.md §5).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, factory: Callable[[], Coroutine[Any, Any, Any]], timeout_s: float = 60) -> Any:
        dramatiq_loop = get_event_loop_thread()
        if (
            dramatiq_loop is not None
            and dramatiq_loop.loop.is_running()
            and threading.current_thread() is not dramatiq_loop
        ):
            return dramatiq_loop.run_coroutine(factory())
        future: Future[Any] = asyncio.run_coroutine_threadsafe(factory(), self._own_loop())
        return future.result(timeout_s)

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="hub-queue-bridge", daemon=True)
                self._thread.start()
                ready.wait(5)
                self._loop = loop
            return self._loop

    def close(self, cleanup: Callable[[], Coroutine[Any, Any, Any]] | None = None) -> None:
        """Stop the bridge's own loop (after running ``cleanup`` on it), if it was ever started."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if cleanup is not None:
            try:
                asyncio.run_coroutine_threadsafe(cleanup(), loop).result(10)
            except Exception:
                log.warning("queue.bridge_cleanup_failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class DatabaseDeadLetterSink:
    """Writes dead letters to the ``dead_letters`` table (and marks the inbox row dead, if any, and
    the outbox row of a notification done, so the outbox sweep stops sending it)."""

    database_url: str
    bridge: LoopBridge = field(default_factory=LoopBridge)

    def __call__(self, letter: DeadLetter) -> int | None:
        return int(self.bridge.run(lambda: self._record(letter)))

    async def _record(self, letter: DeadLetter) -> int:
        from hub.db import dead_letters, inbox, outbox
        from hub.db.engine import database_for_loop

        database = database_for_loop(self.database_url)
        async with database.transaction() as session:
            row_id = await dead_letters.record(
                session,
                actor=letter.actor,
                queue=letter.queue,
                args=letter.args,
                kwargs=letter.kwargs,
                reason=letter.reason,
                error_class=letter.error_class,
                attempts=letter.attempts,
                inbox_id=letter.inbox_id,
            )
            if letter.inbox_id is not None:
                await inbox.mark_failed(session, letter.inbox_id, letter.reason, dead=True)
            outbox_id = outbox.outbox_id_of(letter.kwargs)
            if outbox_id is not None:  # a notification out of retries: the sweep sends it no more
                await outbox.mark_done(session, outbox_id)
        return row_id

    def close(self) -> None:
        self.bridge.close(_dispose_loop_databases)


async def _dispose_loop_databases() -> None:
    from hub.db import engine

    dispose = getattr(engine, "dispose_all_for_loop", None)
    if dispose is not None:
        await dispose()


def log_only_sink(letter: DeadLetter) -> None:
    """For a runtime without a database: the letter survives only in dramatiq's own dead queue."""
    log.error("message.dead_lettered", actor=letter.actor, queue=letter.queue, reason=letter.reason,
              error_class=letter.error_class, attempts=letter.attempts, message_id=letter.message_id)
    return None


# --------------------------------------------------------------------------- the middleware


class HubRetries(Middleware):
    """Replaces dramatiq's ``Retries`` with the hub's policy (see the module docstring)."""

    def __init__(
        self,
        *,
        sink: DeadLetterSink | None = None,
        max_busy_requeues: int = MAX_BUSY_REQUEUES,
        rng: random.Random | None = None,
    ) -> None:
        self.sink: DeadLetterSink = sink or log_only_sink
        self.max_busy_requeues = max_busy_requeues
        self.rng = rng

    @property
    def actor_options(self) -> set[str]:
        return {"max_retries", "min_backoff", "max_backoff", "busy_requeues", "throws"}

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is None:
            return
        self._disarm_interrupts(broker)
        try:
            actor_options = broker.get_actor(message.actor_name).options
        except ActorNotFound:  # a message for an actor this process does not have: keep it as a letter
            actor_options = {"max_retries": 0}

        def option(name: str, default: int) -> int:
            return int(message.options.get(name, actor_options.get(name, default)))

        retries = int(message.options.get("retries", 0))
        busy = int(message.options.get("busy_requeues", 0))
        decision = decide(
            exception,
            retries=retries,
            busy_requeues=busy,
            max_retries=option("max_retries", 0),
            min_backoff_ms=option("min_backoff", 1000),
            max_backoff_ms=option("max_backoff", 300_000),
            max_busy_requeues=self.max_busy_requeues,
            rng=self.rng,
        )
        fields = {"actor": message.actor_name, "message_id": message.message_id,
                  "error_class": type(exception).__name__}
        if decision.action == "retry":
            message.options["retries"] = retries + 1
            message.options["requeue_timestamp"] = int(time.time() * 1000)
            log.info("message.retrying", retries=retries + 1, delay_ms=decision.delay_ms, reason=decision.reason,
                     **fields)
            broker.enqueue(message, delay=decision.delay_ms)
        elif decision.action == "requeue":
            if not isinstance(exception, Shutdown):
                message.options["busy_requeues"] = busy + 1
            log.debug("message.requeued", delay_ms=decision.delay_ms, reason=decision.reason, **fields)
            broker.enqueue(message, delay=decision.delay_ms)
        else:
            self._dead_letter(message, exception, decision.reason, attempts=retries + 1)

    def _dead_letter(self, message: Any, exception: BaseException, reason: str, *, attempts: int) -> None:
        kwargs = dict(message.kwargs)
        inbox_id = kwargs.get("inbox_id")
        letter = DeadLetter(
            actor=message.actor_name,
            queue=message.queue_name.removesuffix(".DQ"),
            args=list(message.args),
            kwargs=kwargs,
            reason=reason,
            error_class=type(exception).__name__,
            attempts=attempts,
            inbox_id=inbox_id if isinstance(inbox_id, int) else None,
            message_id=message.message_id,
        )
        # Failed, with its budget shown as spent, so neither dramatiq nor a stray Retries retries it;
        # on Redis a failed message also stays in dramatiq's own dead queue for a week, which keeps
        # it if writing the row below fails.
        message.options["retries"] = attempts - 1
        message.options["max_retries"] = 0
        message.options["dead_lettered"] = True
        message.fail()
        try:
            row_id = self.sink(letter)
        except BaseException:
            log.critical("message.dead_letter_lost", actor=letter.actor, message_id=letter.message_id,
                         reason=reason, exc_info=True)
            return
        log.warning("message.dead_lettered", actor=letter.actor, queue=letter.queue, dead_letter_id=row_id,
                    error_class=letter.error_class, attempts=attempts, reason=reason, message_id=letter.message_id)

    @staticmethod
    def _disarm_interrupts(broker: Broker) -> None:
        """Stop TimeLimit / shutdown interrupts from hitting this thread while the policy runs.

        ``emit_after`` calls this middleware before TimeLimit's own cleanup, and a late
        ``TimeLimitExceeded`` raised into the dead-letter write would lose the letter.
        """
        ident = threading.get_ident()
        for middleware in broker.middleware:
            if isinstance(middleware, TimeLimit):
                middleware.manager.remove_timeout(ident)
            elif isinstance(middleware, ShutdownNotifications):
                middleware.manager.remove_notification()
