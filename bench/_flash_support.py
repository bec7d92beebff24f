"""Plumbing for ``bench/flash_sale.py``: a throw-away PostgreSQL database, a Redis namespace of its
own, the hub as real ``hub serve`` / ``hub worker`` processes, and the instruments that timestamp
what each sandbox shop shows. Not a test helper and not for the hub itself.

Redis isolation: ``hub serve`` and ``hub worker`` put every key under the fixed prefix ``hub:``
(dramatiq's namespace, stock-push flags, breakers, rate buckets, the leader lock) and have no
setting to change it, so a benchmark sharing the server with other sessions takes a whole logical
database instead: one that is empty when looked at, claimed with a marker key, and emptied of the
hub's keys (SCAN + DEL, never FLUSHDB) afterwards.
"""

from __future__ import annotations

import bisect
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from hub.testing.db import create_postgres_database, drop_postgres_database

POSTGRES_SERVER_URL = os.environ.get("HUB_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_SERVER_URL = os.environ.get("HUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
CLAIM_KEY = "hub-bench:claim"
HUB_BIN = str(Path(sys.executable).with_name("hub"))


# --------------------------------------------------------------------------- PostgreSQL


@contextmanager
def throwaway_database(prefix: str = "hub_flash_") -> Iterator[str]:
    """A fresh, empty database with a random name (its hub URL); dropped afterwards."""
    url = create_postgres_database(POSTGRES_SERVER_URL, prefix=prefix)
    try:
        yield url
    finally:
        drop_postgres_database(POSTGRES_SERVER_URL, url)


def libpq_dsn(url: str) -> str:
    """asyncpg's DSN for a hub database URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --------------------------------------------------------------------------- Redis


@contextmanager
def redis_namespace(ttl_s: int = 3600) -> Iterator[str]:
    """A Redis URL on a logical database nobody else uses right now; the hub's keys in it (and the
    claim) are deleted afterwards."""
    base = REDIS_SERVER_URL.rstrip("/")
    token = secrets.token_hex(6)
    chosen = None
    for db in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis.from_url(f"{base}/{db}")
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True, ex=ttl_s):
                chosen = db
                break
        finally:
            client.close()
    if chosen is None:
        raise RuntimeError("no empty Redis logical database (1-15) to run the hub in; try again later")
    url = f"{base}/{chosen}"
    try:
        yield url
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match="hub:*", count=500))
            for first in range(0, len(keys), 500):
                client.delete(*keys[first:first + 500])
            if client.get(CLAIM_KEY) == token.encode():
                client.delete(CLAIM_KEY)
        finally:
            client.close()


# --------------------------------------------------------------------------- config and processes


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    """``{"hub": {...}, "shops.x": {...}}`` → TOML tables of scalars and inline tables."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


@dataclass
class HubProcess:
    """One ``hub`` subprocess with its output in a temp file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen([HUB_BIN, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (workers finish what they hold), then SIGKILL after ``timeout_s``; this pid only."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def hub_processes(config_path: Path, database_url: str, redis_url: str, *, workers: int = 1,
                  threads: int = 4, stock_workers: int = 0,
                  broker_url: str | None = None) -> Iterator[list[HubProcess]]:
    """``hub db upgrade``, then ``hub serve``, ``workers`` × ``hub worker`` and ``stock_workers`` ×
    ``hub worker --queues stock`` (the others then leave the stock queue alone: a worker that also
    takes stock jobs queues them behind its own backlog); stopped afterwards. ``broker_url``
    (``HUB_BROKER_URL``, e.g. RabbitMQ) carries the queues instead of Redis, which still coordinates."""
    env = {**os.environ, "HUB_CONFIG": str(config_path), "HUB_DATABASE_URL": database_url,
           "HUB_REDIS_URL": redis_url}
    env.pop("HUB_BROKER_URL", None)
    if broker_url:
        env["HUB_BROKER_URL"] = broker_url
    logs = Path(tempfile.mkdtemp(prefix="hub-flash-logs-"))
    upgrade = subprocess.run([HUB_BIN, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    if upgrade.returncode != 0:
        raise RuntimeError(f"hub db upgrade failed: {upgrade.stdout}{upgrade.stderr}")
    started: list[HubProcess] = []
    try:
        started.append(HubProcess("serve", ["serve"], env, logs / "serve.log").start())
        for n in range(workers):
            queues = ["--queues", "ingest,webhooks,fulfilment,bulk,default"] if stock_workers else []
            started.append(HubProcess(f"worker{n + 1}", ["worker", *queues, "--threads", str(threads)], env,
                                      logs / f"worker{n + 1}.log").start())
        for n in range(stock_workers):
            started.append(HubProcess(f"stock-worker{n + 1}", ["worker", "--queues", "stock", "--threads", "2"],
                                      env, logs / f"stock-worker{n + 1}.log").start())
        yield started
    finally:
        for process in started:
            process.stop()


def wait_http(url: str, timeout_s: float = 30.0, processes: list[HubProcess] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes or []:
            if not process.alive():
                raise RuntimeError(f"hub {process.name} exited:\n{process.tail()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


# --------------------------------------------------------------------------- instruments


@dataclass
class StockWatch:
    """What each sandbox shop shows for one SKU, as timelines of (unix time, value).

    ``shown`` gets an entry at every change, from both causes there are: an order the benchmark
    created (it calls ``saw`` right after) and a stock update the hub sent (the sandbox's own
    handler is wrapped, see ``instrument``). ``pushes`` has one entry per stock-update call that
    landed, with the value the shop showed right after it.
    """

    sku: str
    shown: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    pushes: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, shop: str, value: int | None, *, push: bool = False) -> None:
        if value is None:
            return
        at = time.time()
        with self.lock:
            timeline = self.shown.setdefault(shop, [])
            if not timeline or timeline[-1][1] != value:
                timeline.append((at, value))
            if push:
                self.pushes.setdefault(shop, []).append((at, value))

    def value_at(self, shop: str, at: float) -> int | None:
        timeline = self.shown.get(shop, [])
        i = bisect.bisect_right([t for t, _ in timeline], at) - 1
        return timeline[i][1] if i >= 0 else None


def instrument(platform: str, sandbox: Any, shop: str, watch: StockWatch) -> Callable[[], None]:
    """Wrap the sandbox's stock-update handler(s) so each landing push is timestamped with the
    value it left; returns a function that undoes it (``after_stock_calls``)."""
    return after_stock_calls(platform, sandbox,
                             lambda: watch.saw(shop, sandbox.shown_stock(shop, watch.sku), push=True))


def after_stock_calls(platform: str, sandbox: Any, seen: Callable[[], None]) -> Callable[[], None]:
    """Call ``seen()`` after each stock-update call the sandbox handles; returns the undo. Relies on
    each sandbox's internals (bench code, not a contract): TOP gateway handlers, Douyin's handler
    table, AliExpress's method."""
    if platform in ("taobao", "tmall"):
        gateway = sandbox.gateway
        originals = {m: entry for m, entry in gateway.handlers.items() if "quantity.update" in m}
        for method, (handler, needs_session) in originals.items():
            def wrapped(call: Any, _handler: Any = handler) -> Any:
                result = _handler(call)
                seen()
                return result
            gateway.handlers[method] = (wrapped, needs_session)
        return lambda: gateway.handlers.update(originals)
    if platform == "douyin":
        from plugins.douyin import sandbox_api

        table = sandbox_api.HANDLERS
        saved = {m: h for m, h in table.items() if m.startswith("sku.syncStock")}
        for method, handler in saved.items():
            def wrapped_dy(book: Any, emulated: Any, params: Any, _handler: Any = handler) -> Any:
                result = _handler(book, emulated, params)
                seen()
                return result
            table[method] = wrapped_dy
        return lambda: table.update(saved)
    if platform == "aliexpress":
        original = sandbox._inventory

        def wrapped_ae(box: Any, form: Any) -> Any:
            result = original(box, form)
            seen()
            return result
        sandbox._inventory = wrapped_ae
        return lambda: delattr(sandbox, "_inventory")
    raise ValueError(f"no stock instrument for platform {platform!r}")


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]
