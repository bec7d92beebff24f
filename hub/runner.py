"""Process entry points: ``hub serve`` (API), ``hub worker`` (actors + scheduler) and ``hub run``
(all of it in one process on the embedded default, optionally with demo sandboxes).

Order matters: logging first, then the broker is built and the actors bound *before* anything
sends a message; the API runs on uvicorn's loop, actors on dramatiq's, and the scheduler and
outbox relay on a loop of their own, each with its own engine and clients (docs/architecture.md §5).
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from hub.context import Hub, set_current_hub
from hub.queue.actors import QUEUES

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


ACTOR_MODULES = ("hub.pipeline.actors", "hub.pipeline.stock_actors", "hub.pipeline.fulfilment_actors")


def import_actor_modules() -> None:
    """Register every actor before a broker binds them (importing never touches a broker)."""
    for name in ACTOR_MODULES:
        importlib.import_module(name)


def start_runtime(hub: Hub) -> Any:
    """Build the broker, bind the actors and make ``hub`` the process's current hub."""
    from hub.queue.runtime import QueueRuntime, set_current_runtime

    import_actor_modules()
    runtime = QueueRuntime.create(
        redis_url=hub.config.redis_url,
        database_url=hub.config.database_url,
        worker_threads=hub.config.hub.worker_threads,
    )
    runtime.on_worker_shutdown(hub.close_loop_resources)
    set_current_runtime(runtime)
    hub.runtime = runtime
    set_current_hub(hub)
    return runtime


def periodic_jobs(hub: Hub) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    from hub.pipeline.actors import shop_jobs
    from hub.pipeline.stock_actors import inventory_jobs

    return shop_jobs(hub) + list(inventory_jobs(hub))


class BackgroundLoop:
    """The scheduler (leader-elected) and the outbox relay, on their own thread and loop."""

    def __init__(self, hub: Hub, *, extra: Sequence[Callable[[asyncio.Event], Any]] | None = None,
                 schedule: bool = True) -> None:
        self.hub = hub
        self.extra = list(extra or [])
        self.schedule = schedule
        self.stop_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="hub-background", daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from hub.queue.leader import LeaderLock
        from hub.queue.relay import run_relay_forever
        from hub.queue.scheduler import PeriodicJob, Scheduler

        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.ready.set()
        runtime = self.hub.runtime
        assert runtime is not None, "start_runtime(hub) before the background loop"
        jobs = [PeriodicJob(name, interval, actor, args) for name, interval, actor, args in periodic_jobs(self.hub)]
        leader = LeaderLock(self.hub.redis(), "scheduler", ttl_s=10)
        tasks = [asyncio.create_task(run_relay_forever(self.hub.config.database_url, runtime, 0.2, self.stop_event))]
        if self.schedule:
            tasks.append(asyncio.create_task(Scheduler(runtime, leader, jobs).run(self.stop_event)))
        tasks += [asyncio.create_task(fn(self.stop_event)) for fn in self.extra]
        await self.stop_event.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.hub.close_loop_resources()

    def start(self) -> BackgroundLoop:
        self.thread.start()
        self.ready.wait(10)
        return self

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)


def _uvicorn(hub: Hub, app: Any) -> None:
    import uvicorn

    uvicorn.run(app, host=hub.config.hub.api_host, port=hub.config.hub.api_port, log_config=None,
                access_log=False)


def serve(hub: Hub) -> None:
    """The API process. With Redis it only enqueues; without, it also runs workers in-process."""
    from hub.api import create_app

    _setup_logging(hub)
    runtime = start_runtime(hub)
    background = None
    if not hub.config.redis_url:
        log.warning("serve.embedded", detail="no HUB_REDIS_URL: running workers in this process")
        _migrate(hub)
        runtime.start_workers(worker_timeout_ms=WORKER_POLL_MS)
        background = BackgroundLoop(hub).start()
    try:
        _uvicorn(hub, create_app(hub))
    finally:
        if background:
            background.stop()
        runtime.stop()


def work(hub: Hub, queues: list[str] | None = None) -> None:
    """A worker process: actors on the given queues, plus the leader-elected scheduler and relay."""
    _setup_logging(hub)
    runtime = start_runtime(hub)
    runtime.start_workers(queues or ALL_QUEUES, worker_timeout_ms=WORKER_POLL_MS)
    background = BackgroundLoop(hub).start()
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

        key = asyncio.run(seed_demo(hub))
        print(f"\nDemo API key (admin; shown once): {key}\n"
              f"  curl -H 'Authorization: Bearer {key}' http://{hub.config.hub.api_host}:{hub.config.hub.api_port}"
              "/api/v1/orders\n"
              f"  Console: http://{hub.config.hub.api_host}:{hub.config.hub.api_port}/console "
              "(sign in with this key)\n", flush=True)
    extra = [demo_env.drive] if demo_env else []
    background = BackgroundLoop(hub, extra=extra).start()
    log.info("hub.started", api=f"http://{hub.config.hub.api_host}:{hub.config.hub.api_port}", demo=demo)
    try:
        _uvicorn(hub, create_app(hub))
    finally:
        background.stop()
        runtime.stop()
        if demo_env:
            demo_env.stop()
