"""Process entry points: ``hub serve`` (API), ``hub worker`` (actors + scheduler) and ``hub run``
(all of it in one process on the embedded default, optionally with demo sandboxes).

Order matters: the API's port is bound first (kept until uvicorn listens on it), then logging,
then the broker is built and the actors bound *before* anything sends a message; the API runs on
uvicorn's loop, actors on dramatiq's, and the scheduler and outbox relay on a loop of their own,
each with its own engine and clients (docs/architecture.md §5). Stopping goes the other way: the
API, then whatever starts work, then (embedded) a bounded wait for accepted work, then the relay
and the workers.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from hub.context import Hub, set_current_hub
from hub.errors import BadInputError, ConfigError
from hub.queue.actors import QUEUES
from hub.queue.relay import API_GRACE_S

log = structlog.get_logger(__name__)

ALL_QUEUES = list(QUEUES)
#: How often an idle dramatiq consumer wakes. It also releases delayed messages whose time has come
#: only when it wakes, so dramatiq's default (1000 ms) added up to a second to every delayed send —
#: the 200 ms stock-push coalescing window became ~1.2 s of oversell window (docs/architecture.md §6 wants < 1 s).
WORKER_POLL_MS = 100


def _setup_logging(hub: Hub) -> None:
    from hub.logging import configure_logging

    configure_logging(hub.config.hub.log_level, hub.config.hub.log_format)


def _migrate(hub: Hub) -> None:
    from hub.db.migrate import upgrade

    upgrade(hub.config.database_url)


ACTOR_MODULES = ("hub.pipeline.actors", "hub.pipeline.orders", "hub.pipeline.stock_actors",
                 "hub.pipeline.fulfilment_actors", "hub.pipeline.sweep_actors",
                 "hub.pipeline.aftersales", "hub.pipeline.service_orders", "hub.pipeline.operations")


def import_actor_modules() -> None:
    """Register every actor before a broker binds them (importing never touches a broker)."""
    for name in ACTOR_MODULES:
        importlib.import_module(name)


def start_runtime(hub: Hub) -> Any:
    """Build the broker, bind the actors and make ``hub`` the process's current hub."""
    from hub.queue.runtime import QueueRuntime, set_current_runtime

    import_actor_modules()
    runtime = QueueRuntime.create(
        broker_url=hub.config.broker_url,
        database_url=hub.config.database_url,
        namespace=hub.config.hub.redis_namespace,
        worker_threads=hub.config.hub.worker_threads,
        intake_threads=hub.config.queue.intake_threads,
    )
    runtime.on_worker_shutdown(hub.close_loop_resources)
    set_current_runtime(runtime)
    hub.runtime = runtime
    set_current_hub(hub)
    # What start-up built (modules, plugins, actors, the config) lives as long as the process: out
    # of the cyclic collector's reach, so its full collections stop re-traversing it.
    gc.collect()
    gc.freeze()
    return runtime


def periodic_jobs(hub: Hub) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    from hub.pipeline.actors import shop_jobs
    from hub.pipeline.aftersales import aftersales_jobs
    from hub.pipeline.fulfilment_actors import fulfilment_jobs
    from hub.pipeline.operations import operations_jobs
    from hub.pipeline.service_orders import service_order_jobs
    from hub.pipeline.stock_actors import inventory_jobs
    from hub.pipeline.sweep_actors import sweep_jobs

    return (shop_jobs(hub) + list(inventory_jobs(hub)) + sweep_jobs(hub) + fulfilment_jobs(hub)
            + aftersales_jobs(hub) + service_order_jobs(hub) + operations_jobs(hub))


class BackgroundLoop:
    """The scheduler (leader-elected) and the outbox relay, on their own thread and loop.

    ``extra`` tasks (the demo's order driver) run beside the scheduler: like it, they start new
    work, so ``quiesce()`` ends them while the relay goes on sending what was committed.
    ``api_grace_s``: push batches younger than that are left to the API's relay
    (``hub.queue.relay.API_GRACE_S``; a ``hub worker``).
    """

    def __init__(self, hub: Hub, *, extra: Sequence[Callable[[asyncio.Event], Any]] | None = None,
                 schedule: bool = True, api_grace_s: float = 0.0) -> None:
        self.hub = hub
        self.api_grace_s = api_grace_s
        self.extra = list(extra or [])
        self.schedule = schedule
        self.stop_event: asyncio.Event | None = None
        self.quiet_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="hub-background", daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from hub.queue.leader import LeaderLock
        from hub.queue.relay import run_relay_forever
        from hub.queue.scheduler import PeriodicJob, Scheduler, schedule_memory

        self.loop = asyncio.get_running_loop()
        self.stop_event, self.quiet_event = asyncio.Event(), asyncio.Event()
        self.ready.set()
        runtime = self.hub.runtime
        assert runtime is not None, "start_runtime(hub) before the background loop"
        jobs = [PeriodicJob(name, interval, actor, args) for name, interval, actor, args in periodic_jobs(self.hub)]
        leader = LeaderLock(self.hub.redis(), "scheduler", ttl_s=10, key_prefix=self.hub.redis_key("leader:"))
        memory = schedule_memory(self.hub.redis(), self.hub.redis_key("scheduler:last_run"))
        relay = asyncio.create_task(run_relay_forever(self.hub.config.database_url, runtime, 0.2, self.stop_event,
                                                      api_grace_s=self.api_grace_s))
        starters = []
        if self.schedule:
            starters.append(asyncio.create_task(Scheduler(runtime, leader, jobs, memory=memory).run(self.quiet_event)))
        starters += [asyncio.create_task(fn(self.quiet_event)) for fn in self.extra]
        await self.quiet_event.wait()
        await _cancel(starters)
        await self.stop_event.wait()
        await _cancel([relay])
        await self.hub.close_loop_resources()

    def start(self) -> BackgroundLoop:
        self.thread.start()
        self.ready.wait(10)
        return self

    def quiesce(self) -> None:
        """Start no new work (the scheduler and the extra tasks end); the relay goes on."""
        if self.loop is not None and self.quiet_event is not None:
            self.loop.call_soon_threadsafe(self.quiet_event.set)

    def unpublished(self, timeout_s: float = 5.0) -> int:
        """Outbox rows committed and not yet relayed (asked on the loop, with its engine)."""
        from hub.db import outbox

        async def count() -> int:
            async with self.hub.database().session() as session:
                return await outbox.count_unpublished(session)

        assert self.loop is not None, "start() the background loop first"
        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(timeout_s)

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None and self.quiet_event is not None:
            self.loop.call_soon_threadsafe(self.quiet_event.set)
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


#: How long a stopping embedded hub lets accepted work finish before it stops anyway.
DRAIN_S = 10.0


def drain(background: BackgroundLoop, runtime: Any, timeout_s: float = DRAIN_S) -> bool:
    """Finish what was accepted before an embedded hub stops: start nothing new, then wait until
    every committed outbox row is relayed and the in-process queues have no work due (twice in a
    row). Returns False when work remained at the deadline.

    The in-process queue forgets its messages when the process ends; what the relay had not sent
    yet and what was queued waited for the next start's relay and sweepers — for the demo, until
    after its sandboxes were replaced by new ones that know none of those orders or items. Work
    sent for later (retries in their backoff, coalesced stock pushes) is not waited for.
    """
    background.quiesce()
    started = time.monotonic()
    deadline = started + timeout_s
    quiet_rounds = 0
    try:
        while quiet_rounds < 2:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise TimeoutError
            runtime.join(remaining_ms, delayed=False)
            quiet_rounds = quiet_rounds + 1 if background.unpublished() == 0 else 0
    except TimeoutError:
        log.warning("hub.drain_incomplete", waited_s=timeout_s,
                    detail="work still queued is taken up again by the sweepers at the next start")
        return False
    log.info("hub.drained", waited_s=round(time.monotonic() - started, 2))
    return True


def _uvicorn(hub: Hub, app: Any, sock: socket.socket, on_started: Callable[[], None] | None = None) -> None:
    """Serve ``app`` in the foreground on ``sock`` (``reserve_port``); ``on_started()`` runs once
    the port is listening."""
    import uvicorn

    from hub.uvicorn_limits import server_options

    config = uvicorn.Config(app, host=hub.config.hub.api_host, port=hub.config.hub.api_port, log_config=None,
                            access_log=False, **server_options(hub.config.limits))
    server = uvicorn.Server(config)
    if on_started is not None:
        def announce() -> None:
            while not server.started:
                if server.should_exit or not main.is_alive():
                    return
                time.sleep(0.05)
            on_started()

        main = threading.current_thread()
        threading.Thread(target=announce, name="hub-announce", daemon=True).start()
    server.run(sockets=[sock])


def reserve_port(hub: Hub) -> socket.socket:
    """The API's port, bound before anything else starts (a port checked, then bound seconds later,
    could meanwhile go to one of the process's own outgoing connections); refuses a taken port,
    naming the option that changes it."""
    from hub.asgi_server import PortUnavailable, bind_port

    host, port = hub.config.hub.api_host, hub.config.hub.api_port
    try:
        return bind_port(host, port)
    except PortUnavailable as exc:
        raise BadInputError(f"port {port} on {host} is {exc}; choose another with --port") from None


def check_services(hub: Hub) -> None:
    """Refuse to start, saying what to do, when the broker or the coordinating Redis does not
    answer (with RabbitMQ as the broker, Redis is still needed: docs/operators.md)."""
    from hub.queue.broker import check_broker, check_redis

    broker_url, redis_url = hub.config.broker_url, hub.config.redis_url
    if broker_url:
        check_broker(broker_url)
    if redis_url and redis_url != broker_url:
        check_redis(redis_url)


def _guard_outages(hub: Hub) -> None:
    from hub.queue.broker import guard_broker_outages

    if hub.config.broker_url:
        guard_broker_outages(hub.config.broker_url)
        if hub.config.broker_kind == "rabbitmq":
            log.info("queue.coordination", broker="rabbitmq", redis="required",
                     detail="RabbitMQ carries the queues; Redis keeps the leader lock, rate limits, breakers "
                            "and stock-push flags")


def serve(hub: Hub) -> None:
    """The API process. With a broker it only enqueues (and relays its outbox); without, it also
    runs workers in-process."""
    from hub.api import create_app
    from hub.api.outbox_relay import ApiRelay

    sock = reserve_port(hub)
    if hub.config.redis_url:
        check_services(hub)
    _setup_logging(hub)
    if hub.config.redis_url:
        _guard_outages(hub)
    runtime = start_runtime(hub)
    background: BackgroundLoop | ApiRelay
    if not hub.config.redis_url:
        log.warning("serve.embedded", detail="no HUB_REDIS_URL: running workers in this process")
        _migrate(hub)
        runtime.start_workers(worker_timeout_ms=WORKER_POLL_MS)
        background = BackgroundLoop(hub).start()
    else:
        # Pushes are stored with their process_inbox_batch owed in the outbox: send it from here,
        # woken by the commit, rather than waiting for a worker's relay to poll.
        background = ApiRelay(hub).start()
    try:
        _uvicorn(hub, create_app(hub), sock)
    finally:
        if isinstance(background, BackgroundLoop):
            drain(background, runtime)
        background.stop()
        runtime.stop()


def work(hub: Hub, queues: list[str] | None = None) -> None:
    """A worker process: actors on the given queues, plus the leader-elected scheduler and relay."""
    if not hub.config.redis_url:
        raise ConfigError("hub worker takes its messages from a broker: set HUB_REDIS_URL (or [hub] redis_url), "
                          "and HUB_BROKER_URL=amqp://… for RabbitMQ; without one, `hub serve` and `hub run` "
                          "work the queue in their own process")
    check_services(hub)
    _setup_logging(hub)
    _guard_outages(hub)
    runtime = start_runtime(hub)
    runtime.start_workers(queues or ALL_QUEUES, worker_timeout_ms=WORKER_POLL_MS)
    # Pushes reach `hub serve`, whose relay sends their batches: this one takes only what it left.
    background = BackgroundLoop(hub, api_grace_s=API_GRACE_S).start()
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    log.info("worker.started", queues=queues or ALL_QUEUES)
    stopped.wait()
    background.stop()
    runtime.stop()
    log.info("worker.stopped")


def run_all(hub: Hub, *, demo: bool = False) -> None:
    """Everything in one process on the embedded default (SQLite, in-process queue)."""
    from hub.api import create_app
    from hub.banner import print_banner

    sock = reserve_port(hub)
    _setup_logging(hub)
    demo_env = None
    if demo:
        from hub.demo import start_demo

        demo_env = start_demo(hub)
    _migrate(hub)
    runtime = start_runtime(hub)
    runtime.start_workers(worker_timeout_ms=WORKER_POLL_MS)
    if demo_env:
        from hub.demo import seed_demo

        asyncio.run(seed_demo(hub, demo_env))
    extra = [demo_env.drive] if demo_env else []
    background = BackgroundLoop(hub, extra=extra).start()
    log.info("hub.started", api=f"http://{hub.config.hub.api_host}:{hub.config.hub.api_port}", demo=demo)
    try:
        _uvicorn(hub, create_app(hub), sock, on_started=lambda: print_banner(hub, demo_env))
    finally:
        if not hub.config.redis_url:  # Redis keeps its messages; the in-process queue does not
            drain(background, runtime)  # while the demo's sandboxes still answer for their orders
        background.stop()
        runtime.stop()
        if demo_env:
            demo_env.stop()
