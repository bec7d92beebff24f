"""A running hub for tests: config + plugins + queue runtime with real workers.

``running_hub(config, extra_plugins=[...])`` builds the ``Hub``, binds the actors to a *fresh*
broker (in-process, RabbitMQ as ``[queue] broker_url`` names it, or Redis under a random namespace
that is deleted afterwards), starts
workers and makes it the current hub; ``hub_config(database_url, shops=...)`` builds a config
without any file. Used by the hub's own integration tests and by plugin authors. Not for
production start-up (``hub.runner`` does that).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, set_current_hub
from hub.plugins import build_plugin_manager
from hub.queue.testing import delete_namespace
from hub.runner import WORKER_POLL_MS, BackgroundLoop, import_actor_modules

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The two ways the hub runs in the tests that cover both: ``embedded`` (SQLite, the in-process
#: queue) and ``redis`` (PostgreSQL with the real Redis, as in production).
QUEUE_MODES = ("embedded", "redis")


_REDIS_WITH_SQLITE = "Redis mode runs with PostgreSQL, as in production"
_EMBEDDED_WITH_POSTGRES = "embedded mode is SQLite"


def redis_url_for_mode(mode: str, database_url: str) -> str | None:
    """The Redis URL of ``mode`` (one of ``QUEUE_MODES``) for a test on ``database_url``, skipping
    the pairs that are not run: Redis with SQLite, the embedded queue with PostgreSQL."""
    if mode == "redis" and database_url.startswith("sqlite"):
        pytest.skip(_REDIS_WITH_SQLITE)
    if mode == "embedded" and not database_url.startswith("sqlite"):
        pytest.skip(_EMBEDDED_WITH_POSTGRES)
    return DEFAULT_REDIS_URL if mode == "redis" else None


def skip_unrun_pairings(items: list[pytest.Item]) -> None:
    """Mark skipped, at collection, the tests ``redis_url_for_mode`` would skip: a fixture
    parametrised over ``QUEUE_MODES`` that takes ``database_url`` paired with the other backend.

    Same outcome and reason as the skip in the fixture, but before any fixture runs: the test's
    database is not made or emptied for nothing, and under pytest-xdist it reserves no PostgreSQL
    connections (``hub.testing.pg_budget``), which it used to wait for (up to 20 s on a busy run)
    only to be skipped. Call it from a conftest's ``pytest_collection_modifyitems``."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if callspec is None or callspec.params.get("database_url") not in ("sqlite", "postgresql"):
            continue
        on_sqlite = callspec.params["database_url"] == "sqlite"
        for name, value in callspec.params.items():
            definitions = fixtures.get(name) or ()
            if not definitions or tuple(definitions[-1].params or ()) != QUEUE_MODES:
                continue
            if "database_url" not in definitions[-1].argnames:
                continue
            if value == "redis" and on_sqlite:
                item.add_marker(pytest.mark.skip(reason=_REDIS_WITH_SQLITE))
            elif value == "embedded" and not on_sqlite:
                item.add_marker(pytest.mark.skip(reason=_EMBEDDED_WITH_POSTGRES))


def hub_config(database_url: str, *, redis_url: str | None = None, shops: dict[str, Any] | None = None,
               **sections: Any) -> HubConfig:
    """A ``HubConfig`` for tests; ``shops`` maps name → ShopConfig or a dict of its fields."""
    shop_configs = {
        name: value if isinstance(value, ShopConfig) else ShopConfig(**value) for name, value in (shops or {}).items()
    }
    return HubConfig(hub=HubSection(database_url=database_url, redis_url=redis_url, worker_threads=4),
                     shops=shop_configs, **sections)


def _import_actor_modules() -> None:
    import hub.pipeline.actors
    import hub.pipeline.orders

    try:
        import hub.pipeline.stock_actors  # noqa: F401
    except ImportError:  # pragma: no cover
        pass


@contextmanager
def running_hub(
    config: HubConfig,
    *,
    extra_plugins: list[Any] | tuple[Any, ...] = (),
    load_entry_points: bool = True,
    start_workers: bool = True,
    queues: list[str] | None = None,
    relay: bool = True,
    schedule: bool = False,
) -> Iterator[Hub]:
    """A hub with a fresh broker and real workers for the duration of the block.

    ``relay`` runs the outbox relay (so follow-up work such as ``order_changed`` happens);
    ``schedule`` also runs the leader-elected periodic jobs (polls, message channels, stock sweeps).
    """
    from hub.queue.runtime import QueueRuntime, set_current_runtime

    import_actor_modules()
    plugins = build_plugin_manager(extra=list(extra_plugins), load_entry_points=load_entry_points)
    namespace = config.hub.redis_namespace
    if namespace == HubSection.model_fields["redis_namespace"].default:
        # Every key the test's hub writes (queues, locks, flags, buckets) goes under a namespace
        # of its own, deleted afterwards; a test that chose a namespace keeps it.
        namespace = f"hubtest-{secrets.token_hex(4)}"
        config = config.model_copy(update={"hub": config.hub.model_copy(update={"redis_namespace": namespace})})
    hub = Hub(config, plugins)
    runtime = QueueRuntime.create(broker_url=config.broker_url, database_url=config.database_url,
                                  namespace=namespace, worker_threads=config.hub.worker_threads,
                                  intake_threads=config.queue.intake_threads)
    runtime.on_worker_shutdown(hub.close_loop_resources)
    hub.runtime = runtime
    set_current_hub(hub)
    set_current_runtime(runtime)
    background = None
    try:
        if start_workers:
            runtime.start_workers(queues, worker_timeout_ms=WORKER_POLL_MS)
        if relay or schedule:
            background = BackgroundLoop(hub, schedule=schedule).start()
        yield hub
    finally:
        if background is not None:
            background.stop()
        runtime.close()
        set_current_hub(None)
        set_current_runtime(None)
        if config.redis_url:
            delete_namespace(config.redis_url, namespace)
