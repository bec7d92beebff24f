"""The running hub: config, plugins, and the per-event-loop resources built from them.

One ``Hub`` per process, built by ``build_hub``; the API, the workers, the scheduler and the CLI
all reach the database, Redis and connector instances through it. Resources bound to an asyncio
loop (async engine, Redis client, connectors' HTTP clients) are created once *per loop*: the API
runs on uvicorn's loop and async actors on dramatiq's, and asyncpg connections must never cross
loops (docs/architecture.md §5). Not for business logic: services take a ``Hub`` and do the work.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING, Any

from hub.config import HubConfig, load_config
from hub.plugins import HubPlugins, build_plugin_manager
from hub.services.search.hashing import remember_config

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from hub.accounts import AccountRegistry
    from hub.db.engine import Database
    from hub.queue.runtime import QueueRuntime


class Hub:
    """Everything a part of the hub needs, reachable from any loop or thread."""

    def __init__(self, config: HubConfig, plugins: HubPlugins) -> None:
        self.config = config
        self.plugins = plugins
        self.runtime: QueueRuntime | None = None
        self._lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        remember_config(config)  # stored orders are hashed for search with this hub's key

    # -- per-loop resources -------------------------------------------------------------------

    def _loop_slot(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        with self._lock:
            slot = self._per_loop.get(loop)
            if slot is None:
                slot = {}
                self._per_loop[loop] = slot
            return slot

    def database(self) -> Database:
        """The database for the running loop."""
        from hub.db.engine import database_for_loop

        return database_for_loop(self.config.database_url)

    def redis(self) -> aioredis.Redis | None:
        """A Redis client for the running loop, or None on the embedded default."""
        if not self.config.redis_url:
            return None
        slot = self._loop_slot()
        client = slot.get("redis")
        if client is None:
            import redis.asyncio as aioredis

            client = aioredis.from_url(self.config.redis_url, decode_responses=True)
            slot["redis"] = client
        return client

    def redis_key(self, suffix: str) -> str:
        """``suffix`` under this hub's Redis namespace (``hub.redis_namespace``, default ``hub``):
        every key the hub writes goes through here, so two hubs can share one Redis."""
        return f"{self.config.hub.redis_namespace}:{suffix}"

    def accounts(self) -> AccountRegistry:
        """Connector instances (one per configured account) for the running loop."""
        from hub.accounts import AccountRegistry

        slot = self._loop_slot()
        registry = slot.get("accounts")
        if registry is None:
            registry = AccountRegistry(self)
            slot["accounts"] = registry
        return registry

    async def close_loop_resources(self) -> None:
        """Close what was opened on the running loop (call before the loop stops)."""
        slot = self._loop_slot()
        accounts = slot.pop("accounts", None)
        if accounts is not None:
            await accounts.aclose()
        client = slot.pop("redis", None)
        if client is not None:
            await client.aclose()
        from hub.db.engine import dispose_all_for_loop

        await dispose_all_for_loop()

    # -- queue -----------------------------------------------------------------------------------

    def send(self, actor_name: str, *args: Any, delay_ms: int | None = None, **kwargs: Any) -> None:
        """Enqueue a message now (use the outbox instead when it must follow a commit)."""
        if self.runtime is None:
            raise RuntimeError("the queue runtime is not started in this process")
        self.runtime.send(actor_name, *args, delay_ms=delay_ms, **kwargs)


_current: Hub | None = None


def build_hub(config: HubConfig | None = None, *, plugins: HubPlugins | None = None) -> Hub:
    """Build the process's hub from config (``HUB_CONFIG`` + env) and the installed plugins."""
    cfg = config or load_config()
    plugs = plugins or build_plugin_manager(
        disabled=cfg.hub.disabled_plugins, strict=cfg.hub.strict_plugins
    )
    return Hub(cfg, plugs)


def set_current_hub(hub: Hub | None) -> None:
    global _current
    _current = hub
    if hub is not None:
        remember_config(hub.config)  # the running hub's key hashes what it stores


def current_hub() -> Hub:
    if _current is None:
        raise RuntimeError("no hub is running in this process (build_hub + set_current_hub first)")
    return _current
