"""The promotion-night replay ("Double 11"): a burst of orders across four sandbox shops, then a
tail — is anything lost or oversold, how fast does the hub store orders end to end, how fast does
stock move, and does each hub process's memory stay flat?

On a fresh PostgreSQL database and a Redis logical database of its own, with the hub as real
processes (``hub serve`` takes Douyin's signed pushes, ``hub worker`` does everything else) and the
Taobao, Tmall, Douyin and AliExpress sandboxes under uvicorn in this process:

1. catalogue: ``--skus`` SKUs with ample stock (more than the whole replay sells: no stock-short
   noise) and ``--hot-skus`` hot SKUs with little stock in a stock group of mode ``--hot-mode``
   (partitioned by default); every shop lists every SKU (stock 0), the hub binds them by its
   listing sync and pushes its values; the replay starts once every shop shows them;
2. the burst: ``--burst-share`` of ``--orders`` created as fast as the sandboxes take them, each
   in a shop picked by ``--weights``, for a SKU picked with a mild skew (``--hot-share`` of the
   buyers try a hot SKU; a shop showing too little refuses the order);
3. the tail: the rest at ``--tail-rate`` orders/s;
4. settle: until every created order is stored and nothing is left to process or push (or nothing
   moved for ``--stall`` s, or ``--timeout``).

Orders reach the hub as in production: Taobao and Tmall over TMC (the worker's
``consume_channel``), Douyin by signed pushes to ``hub serve``'s webhook, AliExpress by the hub's
poll (its app has no TMC subscription here; ``--aliexpress-via tmc`` to use TMC instead).

Prints a report (``bench/README.md`` explains each figure); exits 1 when an order was lost or
stored twice, or a hot SKU was oversold in partitioned mode. Run:
``python bench/double11.py --quick`` (3,000 orders), ``python bench/double11.py`` (100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._double11_support import (
    CallSource,
    CreatedLog,
    Propagation,
    RssFigures,
    Sampler,
    ShopRef,
    best_window_rate,
    propagation,
    rss_figures,
    scalable_aliexpress,
    scalable_taobao,
    stock_getters,
    watch_stock,
)
from bench._flash_support import (
    StockWatch,
    hub_processes,
    libpq_dsn,
    percentile,
    redis_namespace,
    throwaway_database,
    wait_http,
    write_toml,
)
from bench._support import cpu_seconds, machine_summary
from contracts.inventory import AllocationMode
from hub.asgi_server import BackgroundServer, free_port

PLATFORMS = ("taobao", "tmall", "douyin", "aliexpress")
WAREHOUSE = "main"
SKUS_PER_ITEM = 5  # SKUs (sizes, colours) per listed item/product
HOT_GROUP = "hot"
#: Fewer orders than this after warm-up give no memory slope: start-up growth would dominate it.
MIN_SLOPE_ORDERS = 1_000
#: Issue #12's memory target for each hub process during the replay.
RSS_TARGET_MB = 500


@dataclass
class Shop:
    platform: str
    name: str
    sandbox: Any
    server: BackgroundServer
    path: str  # how its orders reach the hub
    refused: int = 0


@dataclass
class ShopFigures:
    created: int = 0
    refused: int = 0
    stored: int = 0
    lost: int = 0
    lost_sample: list[str] = field(default_factory=list)
    p50: float | None = None
    p99: float | None = None
    max: float | None = None
    calls: dict[str, int] = field(default_factory=dict)


@dataclass
class Result:
    shops: dict[str, ShopFigures] = field(default_factory=dict)  # platform → figures, plus "all"
    setup_s: float = 0.0
    burst_orders: int = 0
    burst_s: float = 0.0
    tail_orders: int = 0
    tail_s: float = 0.0
    settle_s: float = 0.0
    settled: str = ""  # "yes", "stalled …", "timeout …"
    burst_rate: float | None = None  # orders stored /s from the first create until the burst's last order was stored
    burst_window_s: float | None = None
    overall_rate: float | None = None
    overall_s: float | None = None
    best_10s: float | None = None
    stored_twice: int = 0
    hot_accepted: dict[str, int] = field(default_factory=dict)
    hot_reserved: int = 0
    hot_short: int = 0
    prop_shared: Propagation = field(default_factory=Propagation)
    prop_hot: Propagation = field(default_factory=Propagation)
    watched_shared: int = 0
    douyin_posts: Counter[str] = field(default_factory=Counter)
    inbox: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    dirty_left: int = 0
    waiting_left: int = 0  # dirty listings waiting for units another shop holds (``DIRTY_SPLIT``)
    rss: dict[str, RssFigures] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, first create → settled
    replay_s: float = 0.0
    warm_orders: int = 0
    samples: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.shops["all"].lost if "all" in self.shops else 0


# --------------------------------------------------------------------------- set-up


def make_sandbox(platform: str, args: argparse.Namespace) -> Any:
    from plugins.aliexpress.sandbox import AliExpressSandbox
    from plugins.douyin.sandbox import DouyinSandbox
    from plugins.taobao.sandbox import TaobaoSandbox
    from plugins.tmall.sandbox import TmallSandbox

    if platform == "taobao":
        return scalable_taobao(TaobaoSandbox(redelivery_seconds=30.0), 30.0)
    if platform == "tmall":
        return scalable_taobao(TmallSandbox(redelivery_seconds=30.0), 30.0)
    if platform == "douyin":
        return DouyinSandbox(push_batch_size=args.douyin_batch)
    return scalable_aliexpress(AliExpressSandbox(redeliver_after=30.0), publish_tmc=args.aliexpress_via == "tmc")


def list_catalogue(shop: Shop, skus: list[str]) -> None:
    """Every SKU listed in the shop at stock 0 (the hub pushes its values), ``SKUS_PER_ITEM`` to an item."""
    box = shop.sandbox
    for first in range(0, len(skus), SKUS_PER_ITEM):
        group = skus[first:first + SKUS_PER_ITEM]
        if shop.platform in ("taobao", "tmall"):
            box.add_listing(shop.name, group, stock=0, title=f"Double 11 {group[0]}")
        elif shop.platform == "douyin":
            for sku in group:
                box.listing(shop.name, sku, stock=0)
        else:
            product = box.ensure_listing(shop.name, group[0])
            for sku in group:
                box.ensure_listing(shop.name, sku, product_id=product)
                box._shop(shop.name).listings[product][sku] = 0


def write_config(path: Path, shops: list[Shop], api_port: int, hot: list[str], args: argparse.Namespace) -> None:
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": api_port, "log_level": args.log_level, "log_format": "json",
                "worker_threads": args.threads},
        f"warehouses.{WAREHOUSE}": {"platform": "manual"},
    }
    for shop in shops:
        polled = shop.path == "poll"
        interval = args.poll_interval if polled else (args.safety_poll or 86_400.0)
        settings = shop.sandbox.shop_settings(shop.name, shop.server.base_url)
        if shop.platform == "aliexpress" and args.ae_page_size:
            settings["page_size"] = args.ae_page_size
        sections[f"shops.{shop.name}"] = {
            "platform": shop.platform, "settings": settings,
            "rate_limit_per_s": float(args.shop_rate), "rate_limit_burst": max(1, int(args.shop_rate)),
            "poll_interval_s": float(interval),
            "poll_overlap_s": float(args.poll_overlap if polled or args.safety_poll else 0.0),
        }
    if hot:
        sections[f"stock_groups.{HOT_GROUP}"] = {"mode": args.hot_mode, "skus": hot}
    if args.push_window_ms is not None:
        sections["rules"] = {"stock_push_window_ms": args.push_window_ms}
    write_toml(path, sections)


async def seed(config_path: Path, database_url: str, stock: dict[str, int], shops: list[Shop]) -> dict[str, str]:
    """Catalogue and stock through the hub's services, then each shop's listing sync (binds the
    listings by merchant code and marks them for a push). Returns each shop's sync outcome."""
    from hub.config import load_config
    from hub.context import build_hub
    from hub.services import listings
    from hub.services.stock import adjustments, skus

    config = load_config(config_path)
    config.hub.database_url = database_url
    hub = build_hub(config)
    outcome = {}
    try:
        async with hub.database().transaction() as session:
            for sku in stock:
                await skus.define_sku(session, sku, name=f"Double 11 {sku}")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(WAREHOUSE, sku, on_hand=n)
                                             for sku, n in stock.items()], actor="bench", reference="double11-seed")
        for shop in shops:
            report = await listings.sync_shop(hub, shop.name, actor="bench")
            outcome[shop.name] = str(report)[:300]
    finally:
        await hub.close_loop_resources()
    return outcome


def wait_for(check: Any, timeout_s: float, every_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return False


# --------------------------------------------------------------------------- the replay


class Buyers:
    """Who buys what: a shop by ``--weights``, a hot SKU with ``--hot-share``, else an ample SKU
    with a mild Zipf skew (a few best sellers, a long tail)."""

    def __init__(self, shops: list[Shop], ample: list[str], hot: list[str], args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.shops, self.ample, self.hot, self.hot_share = shops, ample, hot, args.hot_share
        self.shop_weights = list(args.weights)
        self.sku_cum = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(ample))))

    def next(self) -> tuple[Shop, str]:
        shop = self.rng.choices(self.shops, weights=self.shop_weights)[0]
        if self.hot and self.rng.random() < self.hot_share:
            return shop, self.rng.choice(self.hot)
        return shop, self.rng.choices(self.ample, cum_weights=self.sku_cum)[0]


def buy(shop: Shop, sku: str, log: CreatedLog, watches: dict[str, StockWatch], getters: dict[str, Any],
        hot_accepted: Counter[str]) -> None:
    try:
        external_id = shop.sandbox.create_order(shop.name, sku, 1)
    except Exception as exc:
        if type(exc).__name__ != "SoldOut":
            raise
        shop.refused += 1
        return
    log.add(shop.name, external_id, time.time())
    if sku in hot_accepted:
        hot_accepted[sku] += 1
    watch = watches.get(sku)
    if watch is not None:
        watch.saw(shop.name, getters[sku][shop.name]())


async def pushes_left(dsn: str) -> int:
    """Listings the hub has not pushed yet, or must push again."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM channel_stock WHERE dirty OR shown IS NULL"))
    finally:
        await connection.close()


async def shown_by_hub(dsn: str, skus: list[str]) -> dict[tuple[str, str], int | None]:
    """What the hub last pushed to (or read back from) each shop, for ``skus``."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await connection.fetch("SELECT shop, merchant_sku, shown FROM channel_stock "
                                      "WHERE merchant_sku = ANY($1::text[])", skus)
    finally:
        await connection.close()
    return {(r["shop"], r["merchant_sku"]): r["shown"] for r in rows}


#: Dirty listings, split into those the hub can still push and those of a partitioned SKU that
#: want more than they hold while nothing is free (available − every shop's exposure ≤ 0): they
#: wait for units another shop holds — one that takes absolute values only is not lowered
#: without room for its lower value — and move when that shop sells or the stock changes.
DIRTY_SPLIT = """
    WITH free AS (
        SELECT cs.merchant_sku,
               (SELECT coalesce(sum(s.on_hand - s.reserved), 0) FROM stock s WHERE s.merchant_sku = cs.merchant_sku)
               - sum(coalesce(cs.exposure, 0)) AS free
        FROM channel_stock cs GROUP BY cs.merchant_sku)
    SELECT count(*) FILTER (WHERE NOT waiting) AS dirty, count(*) FILTER (WHERE waiting) AS waiting
    FROM (SELECT coalesce(cs.exposure < cs.target AND f.free <= 0, false) AS waiting
          FROM channel_stock cs JOIN free f ON f.merchant_sku = cs.merchant_sku WHERE cs.dirty) listed"""


async def hub_counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        row = await connection.fetchrow(
            """SELECT (SELECT count(*) FROM orders) AS orders,
                      (SELECT count(*) FROM inbox WHERE status IN ('pending', 'failed')) AS inbox_open,
                      (SELECT count(*) FROM outbox) AS outbox""")
        split = await connection.fetchrow(DIRTY_SPLIT)
        return {**dict(row), "dirty": int(split["dirty"]), "waiting": int(split["waiting"])}
    finally:
        await connection.close()


def settle(dsn: str, created: int, processes: list[Any], args: argparse.Namespace) -> str:
    """Wait until every created order is stored and nothing is left to process or push; gives up
    after ``--stall`` s without progress or at ``--timeout``. Returns how it ended."""
    deadline = time.monotonic() + args.timeout
    last_change, last = time.monotonic(), None
    note = time.monotonic()
    while True:
        for process in processes:
            if not process.alive():
                raise RuntimeError(f"hub {process.name} died:\n{process.tail()}")
        counts = asyncio.run(hub_counts(dsn))
        if counts["orders"] >= created and counts["inbox_open"] == 0 and counts["dirty"] == 0:
            return "yes"
        key = tuple(counts.values())
        if key != last:
            last, last_change = key, time.monotonic()
        elif time.monotonic() - last_change > args.stall:
            return f"stalled (nothing moved for {args.stall:g} s: {counts})"
        if time.monotonic() > deadline:
            return f"timeout after {args.timeout:g} s ({counts})"
        if time.monotonic() - note > 10:
            note = time.monotonic()
            print(f"  … {counts['orders']:,}/{created:,} stored, inbox open {counts['inbox_open']:,}, "
                  f"stock rows to push {counts['dirty']:,}", file=sys.stderr, flush=True)
        time.sleep(1.0)


def start_profilers(processes: list[Any], directory: str) -> list[subprocess.Popen[bytes]]:
    """``py-spy record --idle`` on every hub process for the replay and the settling (speedscope
    files): idle samples too, so a thread waiting (a dramatiq thread on its coroutine, the event
    loop in ``select``) shows where it waits, not only where it burns CPU."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([spy, "record", "--pid", str(p.proc.pid), "--format", "speedscope", "--rate", "50",
                              "--output", str(out / f"double11-{p.name}.speedscope.json"), "--nonblocking", "--idle"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for p in processes if p.proc is not None]


# --------------------------------------------------------------------------- reading the results


async def analyse(dsn: str, log: CreatedLog, shops: list[Shop], result: Result, first_create: float,
                  hot: list[str]) -> None:
    """Created vs stored, end-to-end latency per shop and overall, the burst's sustained rate —
    set-based, in the hub's database (``bench_created`` is a temporary table of this connection)."""
    platform_of = {s.name: s.platform for s in shops}
    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        await log.copy_to(connection)
        rows = await connection.fetch(
            """SELECT c.shop, count(*) AS created, count(o.id) AS stored,
                      percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at) - c.created) AS p50,
                      percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at) - c.created) AS p99,
                      max(extract(epoch FROM o.created_at) - c.created) AS max
               FROM bench_created c
               LEFT JOIN orders o ON o.shop = c.shop AND o.external_id = c.external_id
               GROUP BY GROUPING SETS ((c.shop), ())""")
        for row in rows:
            key = platform_of[row["shop"]] if row["shop"] else "all"
            figures = result.shops.setdefault(key, ShopFigures())
            figures.created, figures.stored = int(row["created"]), int(row["stored"])
            figures.lost = figures.created - figures.stored
            figures.p50, figures.p99 = _float(row["p50"]), _float(row["p99"])
            figures.max = _float(row["max"])
        for row in await connection.fetch(
                """SELECT shop, external_id FROM (
                       SELECT c.shop, c.external_id, row_number() OVER (PARTITION BY c.shop ORDER BY c.created) AS n
                       FROM bench_created c WHERE NOT EXISTS (
                           SELECT 1 FROM orders o WHERE o.shop = c.shop AND o.external_id = c.external_id)) lost
                   WHERE n <= 5 ORDER BY shop, n"""):
            result.shops[platform_of[row["shop"]]].lost_sample.append(row["external_id"])
        result.stored_twice = int(await connection.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM orders GROUP BY shop, external_id HAVING count(*) > 1) d"))
        spans = await connection.fetchrow(
            """SELECT (SELECT max(extract(epoch FROM o.created_at)) FROM bench_created c
                       JOIN orders o ON o.shop = c.shop AND o.external_id = c.external_id WHERE c.burst) AS burst_done,
                      (SELECT max(extract(epoch FROM created_at)) FROM orders) AS last_stored""")
        if spans["burst_done"] is not None:
            burst_done = float(spans["burst_done"])
            result.burst_window_s = burst_done - first_create
            stored = await connection.fetchval(
                "SELECT count(*) FROM orders WHERE created_at <= to_timestamp($1)", burst_done)
            result.burst_rate = stored / result.burst_window_s if result.burst_window_s > 0 else None
        if spans["last_stored"] is not None:
            result.overall_s = float(spans["last_stored"]) - first_create
            total = result.shops["all"].stored
            result.overall_rate = total / result.overall_s if result.overall_s > 0 else None
        if hot:
            states = await connection.fetchrow(
                """SELECT count(*) FILTER (WHERE state = 'active') AS reserved,
                          count(*) FILTER (WHERE state = 'short') AS short
                   FROM reservations WHERE merchant_sku = ANY($1::text[])""", hot)
            result.hot_reserved, result.hot_short = int(states["reserved"]), int(states["short"])
        inbox = await connection.fetch("SELECT status, count(*) AS n FROM inbox GROUP BY status")
        result.inbox = {r["status"]: int(r["n"]) for r in inbox}
        result.dead_letters = int(await connection.fetchval("SELECT count(*) FROM dead_letters"))
        split = await connection.fetchrow(DIRTY_SPLIT)
        result.dirty_left, result.waiting_left = int(split["dirty"]), int(split["waiting"])
    finally:
        await connection.close()


async def ledger_of(dsn: str, skus: list[str]) -> dict[str, list[tuple[float, int, int, str]]]:
    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        rows = await connection.fetch(
            "SELECT merchant_sku, extract(epoch FROM at) AS at, on_hand_delta, reserved_delta, cause "
            "FROM stock_ledger WHERE merchant_sku = ANY($1::text[]) ORDER BY at, id", skus)
    finally:
        await connection.close()
    out: dict[str, list[tuple[float, int, int, str]]] = {sku: [] for sku in skus}
    for r in rows:
        out[r["merchant_sku"]].append((float(r["at"]), r["on_hand_delta"], r["reserved_delta"], r["cause"]))
    return out


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def adjustable(platform: str) -> bool:
    from contracts.connectors import Capability
    from hub.plugins import build_plugin_manager

    cls = build_plugin_manager().channel_class(platform)
    return cls is not None and Capability.ADJUST_STOCK in cls.capabilities


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> Result:
    result = Result()
    began = time.time()
    ample = [f"D11-{n:04d}" for n in range(args.skus)]
    hot = [f"D11-HOT-{n}" for n in range(args.hot_skus)]
    stock = {**{sku: args.ample_stock for sku in ample}, **{sku: args.hot_stock for sku in hot}}
    hot_mode = AllocationMode(args.hot_mode)
    watched_ample = ample[:: max(1, len(ample) // args.watch_skus)][: args.watch_skus] if args.watch_skus else []
    watched = watched_ample + hot
    watches = {sku: StockWatch(sku) for sku in watched}
    log = CreatedLog()
    hot_accepted: Counter[str] = Counter({sku: 0 for sku in hot})
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(prefix="hub_double11_"))
        dsn = libpq_dsn(database_url)
        redis_url = stack.enter_context(redis_namespace(ttl_s=int(max(3600, args.timeout * 2))))
        shops: list[Shop] = []
        for platform in PLATFORMS:
            sandbox = make_sandbox(platform, args)
            server = BackgroundServer(sandbox.app).start()
            stack.callback(server.stop)
            path = {"taobao": "TMC", "tmall": "TMC", "douyin": "push",
                    "aliexpress": "poll" if args.aliexpress_via == "poll" else "TMC"}[platform]
            shop = Shop(platform, f"d11-{platform}", sandbox, server, path)
            list_catalogue(shop, ample + hot)
            shops.append(shop)
        # O(1) readers of what each shop shows, for the watched SKUs (after listing, before the hub).
        getters: dict[str, dict[str, Any]] = {sku: {} for sku in watched}
        for shop in shops:
            for sku, get in stock_getters(shop.platform, shop.sandbox, shop.name, watched).items():
                getters[sku][shop.name] = get
            stack.callback(watch_stock(shop.platform, shop.sandbox, shop.name,
                                       {sku: g[shop.name] for sku, g in getters.items()}, watches))
        api_port = free_port()
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-double11-")))
        config_path = workdir / "hub.toml"
        write_config(config_path, shops, api_port, hot, args)
        print(f"starting the hub (database {database_url.rsplit('/', 1)[-1]}, redis {redis_url}) …",
              file=sys.stderr, flush=True)
        processes = stack.enter_context(hub_processes(config_path, database_url, redis_url, workers=args.workers,
                                                      threads=args.threads))
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz", processes=processes)
        for shop in shops:
            shop.sandbox.set_push_target(shop.name, f"{api}/webhooks/{shop.platform}/{shop.name}")
        outcome = asyncio.run(seed(config_path, database_url, stock, shops))
        refs = [ShopRef(s.name, s.platform) for s in shops]
        if not wait_for(lambda: asyncio.run(pushes_left(dsn)) == 0, args.setup_timeout):
            raise RuntimeError(f"the hub did not push its stock to every listing in {args.setup_timeout:g} s "
                               f"({asyncio.run(pushes_left(dsn))} left); listing sync: {outcome}")
        time.sleep(1.0)  # the last pushes land
        hub_shown = asyncio.run(shown_by_hub(dsn, watched))
        off = {f"{s.name}:{sku}": (s.sandbox.shown_stock(s.name, sku), hub_shown.get((s.name, sku)))
               for s in shops for sku in watched if s.sandbox.shown_stock(s.name, sku) != hub_shown.get((s.name, sku))}
        if off:
            result.notes.append(f"before the replay, shops did not show what the hub pushed (shown, pushed): {off}")
        result.setup_s = time.time() - began

        pids = {p.name: p.proc.pid for p in processes if p.proc is not None}
        pids["bench"] = os.getpid()
        sources = []
        for shop in shops:
            box = shop.sandbox
            sources.append(CallSource(shop.platform, box.gateway.calls if shop.platform in ("taobao", "tmall")
                                      else box.calls))
        douyin = next(s for s in shops if s.platform == "douyin").sandbox
        sources.append(CallSource("douyin-push", douyin.deliveries,
                                  key=lambda d: "200" if d.status == 200 else str(d.status or d.error)))
        sampler = Sampler(pids, dsn, log.total, sources, every_s=args.sample_every)
        sampler.drain()  # set-up calls (listing sync, first pushes) are not the replay's
        for counter in sampler.calls.values():
            counter.clear()
        sampler.start()
        profilers = start_profilers(processes, args.profile) if args.profile else []

        # The burst, then the tail.
        buyers = Buyers(shops, ample, hot, args)
        burst_n = round(args.orders * args.burst_share)
        print(f"burst: {burst_n:,} orders …", file=sys.stderr, flush=True)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        start = time.time()
        for _ in range(burst_n):
            shop, sku = buyers.next()
            buy(shop, sku, log, watches, getters, hot_accepted)
        result.burst_s = time.time() - start
        result.burst_orders = log.total()
        log.mark_burst_end()
        tail_n = args.orders - burst_n
        print(f"tail: {tail_n:,} orders at {args.tail_rate:g}/s …", file=sys.stderr, flush=True)
        tail_start = time.time()
        for n in range(tail_n):
            shop, sku = buyers.next()
            buy(shop, sku, log, watches, getters, hot_accepted)
            delay = tail_start + (n + 1) / args.tail_rate - time.time()
            if delay > 0:
                time.sleep(delay)
        result.tail_s = time.time() - tail_start
        result.tail_orders = log.total() - result.burst_orders
        created = log.total()
        print(f"settling: {created:,} created …", file=sys.stderr, flush=True)
        settle_start = time.time()
        result.settled = settle(dsn, created, processes, args)
        time.sleep(1.0)  # pushes in flight land
        result.settle_s = time.time() - settle_start
        result.replay_s = time.time() - start
        result.cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            profiler.wait(60)
        sampler.stop()
        if sampler.error:
            result.notes.append(f"sampler: {sampler.error}")
        result.samples = sampler.samples

        # Figures, while the database exists.
        first_create = log.first_time() or start
        asyncio.run(analyse(dsn, log, shops, result, first_create, hot))
        for shop in shops:
            figures = result.shops.setdefault(shop.platform, ShopFigures())
            figures.refused = shop.refused
            figures.calls = dict(sampler.calls.get(shop.platform, {}))
        result.shops["all"].refused = sum(s.refused for s in shops)
        result.douyin_posts = sampler.calls.get("douyin-push", Counter())
        result.hot_accepted = dict(hot_accepted)
        ledgers = asyncio.run(ledger_of(dsn, watched))
        measured_hot = [r for r in refs if adjustable(r.platform)] if hot_mode is AllocationMode.PARTITIONED else refs
        for sku in watched_ample:
            result.prop_shared.add(propagation(sku, AllocationMode.SHARED, refs, refs, watches[sku], ledgers[sku],
                                               start))
        for sku in hot:
            result.prop_hot.add(propagation(sku, hot_mode, refs, measured_hot, watches[sku], ledgers[sku], start))
        result.watched_shared = len(watched_ample)
        if hot_mode is AllocationMode.PARTITIONED:
            absolute = sorted({r.platform for r in refs} - {r.platform for r in measured_hot})
            if absolute:
                result.notes.append(f"hot-SKU propagation measured without {', '.join(absolute)} (absolute values "
                                    "only: not lowered to its share, see bench/README.md)")
        result.warm_orders = warm_orders(created)
        for name in pids:
            result.rss[name] = rss_figures(result.samples, name, result.warm_orders)
        if args.dump:
            dump(Path(args.dump), result, watches, start)
    return result


def warm_orders(total: int) -> int:
    """Orders stored before memory counts as warmed up: 10% of the replay, at least 500 (or half)."""
    return max(min(500, total // 2), total // 10)


def dump(path: Path, result: Result, watches: dict[str, StockWatch], start: float) -> None:
    data = {"start": start,
            "samples": [[s.at, s.created, s.stored, s.rss_kb] for s in result.samples],
            "shops": {k: vars(v) for k, v in result.shops.items()},
            "propagation": {"shared": result.prop_shared.latencies, "hot": result.prop_hot.latencies},
            "shown": {sku: w.shown for sku, w in watches.items()}}
    path.write_text(json.dumps(data, default=str))
    print(f"  samples and timelines written to {path}", file=sys.stderr)


# --------------------------------------------------------------------------- output


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def report(result: Result, args: argparse.Namespace) -> str:
    weights = ", ".join(f"{p} {w / sum(args.weights):.0%}" for p, w in zip(PLATFORMS, args.weights, strict=True))
    lines = [
        f"double11: {args.orders:,} orders over 4 shops ({weights}); burst {args.burst_share:.0%} then a tail at "
        f"{args.tail_rate:g}/s; {args.skus} SKUs with ample stock"
        + (f" + {args.hot_skus} hot SKUs ({args.hot_mode}, stock {args.hot_stock:,} each, {args.hot_share:.0%} of "
           "buyers)" if args.hot_skus else "")
        + f"; hub: 1 serve + {args.workers} worker x "
        f"{args.threads} threads, PostgreSQL + Redis; per-shop partner-call limit {args.shop_rate:g}/s; "
        f"AliExpress by {args.aliexpress_via} (every {args.poll_interval:g} s, overlap {args.poll_overlap:g} s)",
        f"load average before the run: {args.load_before}; after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        f"set-up {result.setup_s:.0f} s; burst {result.burst_orders:,} orders created in {result.burst_s:.1f} s; "
        f"tail {result.tail_orders:,} in {result.tail_s:.1f} s; settled: {result.settled} "
        f"({result.settle_s:.0f} s after the last create)",
        "",
        f"{'shop':12}{'path':>6}{'created':>10}{'refused':>9}{'stored':>10}{'LOST':>7}"
        f"{'e2e p50':>10}{'e2e p99':>10}{'e2e max':>10}",
    ]
    paths = {"taobao": "TMC", "tmall": "TMC", "douyin": "push",
             "aliexpress": "poll" if args.aliexpress_via == "poll" else "TMC", "all": ""}
    for key in (*PLATFORMS, "all"):
        f = result.shops.get(key)
        if f is None:
            continue
        lines.append(f"{key:12}{paths[key]:>6}{f.created:>10,}{f.refused:>9,}{f.stored:>10,}{f.lost:>7,}"
                     f"{_s(f.p50):>10}{_s(f.p99):>10}{_s(f.max):>10}")
    for key in PLATFORMS:
        f = result.shops.get(key)
        if f and f.lost:
            lines.append(f"  lost in {key}: {f.lost:,}, e.g. {', '.join(f.lost_sample)}")
    lines.append(f"stored twice: {result.stored_twice}; inbox {dict(sorted(result.inbox.items()))}; "
                 f"dead letters {result.dead_letters}; stock rows still to push {result.dirty_left}, "
                 f"waiting for units another shop holds {result.waiting_left}")
    lines.append("")
    lines.append("orders stored /s (sustained):")
    if result.burst_rate is not None and result.burst_window_s is not None:
        lines.append(f"  during the burst's backlog {result.burst_rate:>9,.1f}/s  (first create → the burst's last "
                     f"order stored, {result.burst_window_s:.1f} s, tail orders stored meanwhile included)")
    if result.overall_rate is not None and result.overall_s is not None:
        lines.append(f"  overall                    {result.overall_rate:>9,.1f}/s  (first create → last order "
                     f"stored, {result.overall_s:.1f} s)")
    if result.best_10s is not None:
        lines.append(f"  best 10 s                  {result.best_10s:>9,.1f}/s")
    lines.append("")
    if result.hot_accepted:
        accepted = sum(result.hot_accepted.values())
        stock = args.hot_stock * len(result.hot_accepted)
        oversold = sum(max(0, n - args.hot_stock) for n in result.hot_accepted.values())
        lines.append(f"hot SKUs ({args.hot_mode}): accepted by the shops {accepted:,} of stock {stock:,} → OVERSOLD "
                     f"{oversold:,}; hub reservations {result.hot_reserved:,}, lines short {result.hot_short:,}")
    for label, prop, count in (("shared SKUs", result.prop_shared, result.watched_shared),
                               (f"hot SKUs ({args.hot_mode})", result.prop_hot, len(result.hot_accepted))):
        if not count:
            continue
        lines.append(f"stock propagation, {label} ({count} watched): p50 {_s(percentile(prop.latencies, 50))}, "
                     f"p99 {_s(percentile(prop.latencies, 99))}, max {_s(max(prop.latencies, default=None))} "
                     f"over {len(prop.latencies):,} reservations needing a push; {prop.zero:,} reflected at once, "
                     f"{prop.never:,} never before the end")
    lines.append("")
    lines.append("partner calls per order created (replay and settling):")
    for key in PLATFORMS:
        f = result.shops.get(key)
        if f is None or not f.created:
            continue
        calls = ", ".join(f"{method} {n / f.created:.2f}" for method, n in sorted(f.calls.items()))
        lines.append(f"  {key:10} {sum(f.calls.values()) / f.created:5.2f}  {calls}")
    if result.douyin_posts:
        lines.append(f"  douyin pushes (POSTs by answer): {dict(result.douyin_posts)}")
    lines.append("")
    lines.append(f"memory, VmRSS MB (warm-up = the first {result.warm_orders:,} orders stored; slope = least squares "
                 f"of RSS over orders stored after warm-up):")
    lines.append(f"  {'process':10}{'start':>8}{'warm':>8}{'peak':>8}{'end':>8}{'MB/10k orders':>15}"
                 f"{'2nd half':>10}{'over':>10}{'CPU':>7}")
    for name, r in result.rss.items():
        shown = r.slope_orders >= MIN_SLOPE_ORDERS
        slope = "-" if r.slope_mb_per_10k is None or not shown else f"{r.slope_mb_per_10k:+.2f}"
        late = "-" if r.late_slope_mb_per_10k is None or not shown else f"{r.late_slope_mb_per_10k:+.2f}"
        cpu = f"{result.cpu[name] / result.replay_s:.0%}" if name in result.cpu and result.replay_s else "-"
        lines.append(f"  {name:10}{_mb(r.start_mb):>8}{_mb(r.warm_mb):>8}{_mb(r.peak_mb):>8}{_mb(r.end_mb):>8}"
                     f"{slope:>15}{late:>10}{r.slope_orders:>10,}{cpu:>7}")
    over = [name for name, r in result.rss.items() if name != "bench" and (r.peak_mb or 0) >= RSS_TARGET_MB]
    lines.append(f"  target: every hub process's peak < {RSS_TARGET_MB} MB — "
                 + (f"EXCEEDED by {', '.join(over)}" if over else "met"))
    lines.append(f"  (slope shown over at least {MIN_SLOPE_ORDERS:,} orders, and over their second half; CPU = share "
                 "of one core from the first create until settled)")
    lines.append("  (bench = this process: the four sandboxes, which keep every order as a platform does, and "
                 "the load)")
    lines.append("")
    lines += timeline(result)
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def timeline(result: Result, rows: int = 20) -> list[str]:
    """About ``rows`` evenly spaced samples: created, stored, backlog, each process's RSS."""
    samples = result.samples
    if not samples:
        return []
    names = list(samples[0].rss_kb)
    t0 = samples[0].at
    step = max(1, len(samples) // rows)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    out = ["timeline (RSS in MB):",
           f"  {'t s':>7}{'created':>10}{'stored':>10}{'backlog':>10}" + "".join(f"{n:>10}" for n in names)]
    for s in picked:
        rss = "".join(f"{(s.rss_kb[n] or 0) / 1024:>10,.0f}" for n in names)
        out.append(f"  {s.at - t0:>7.1f}{s.created:>10,}{s.stored:>10,}{s.created - s.stored:>10,}{rss}")
    return out


# --------------------------------------------------------------------------- main


def _weights(text: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != len(PLATFORMS) or any(v < 0 for v in values) or not any(values):
        raise argparse.ArgumentTypeError(f"give {len(PLATFORMS)} weights >= 0, e.g. 4,3,2,1")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the replay (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="3,000 orders (a few minutes on today's hub)")
    parser.add_argument("--burst-share", type=float, default=0.8,
                        help="share of the orders created at once at the start (default 0.8)")
    parser.add_argument("--tail-rate", type=float, default=100.0, help="orders/s after the burst (default 100)")
    parser.add_argument("--weights", type=_weights, default=[4.0, 3.0, 2.0, 1.0],
                        help="how buyers pick a shop: taobao,tmall,douyin,aliexpress (default 4,3,2,1)")
    parser.add_argument("--skus", type=int, default=300, help="SKUs with ample stock (default 300)")
    parser.add_argument("--ample-stock", type=int, default=0,
                        help="units of each ample SKU (default: 10,000,000 or 10 x orders, whichever is more)")
    parser.add_argument("--hot-skus", type=int, default=3, help="hot SKUs with little stock (default 3; 0: none)")
    parser.add_argument("--hot-share", type=float, default=0.05, help="share of buyers after a hot SKU (default 0.05)")
    parser.add_argument("--hot-stock", type=int, default=0,
                        help="units of each hot SKU (default: half of what its buyers want, at least 20)")
    parser.add_argument("--hot-mode", choices=["partitioned", "shared"], default="partitioned",
                        help="allocation mode of the hot SKUs' stock group (default partitioned; shared oversells "
                             "by design in a burst)")
    parser.add_argument("--watch-skus", type=int, default=10,
                        help="ample SKUs whose shown stock is timestamped for propagation (default 10)")
    parser.add_argument("--aliexpress-via", choices=["poll", "tmc"], default="poll",
                        help="how AliExpress orders reach the hub (default poll)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="AliExpress poll period, s (default 5)")
    parser.add_argument("--poll-overlap", type=float, default=30.0, help="poll window overlap, s (default 30)")
    parser.add_argument("--ae-page-size", type=int, default=0,
                        help="AliExpress poll page size (plugin default 50; a small one reaches the poll's "
                             "200-page cap with few orders)")
    parser.add_argument("--safety-poll", type=float, default=0.0,
                        help="also poll the TMC/push shops every N s (default 0: off, so 'lost' measures the "
                             "primary path)")
    parser.add_argument("--douyin-batch", type=int, default=5, help="messages per Douyin push POST (sandbox default 5)")
    parser.add_argument("--workers", type=int, default=1, help="hub worker processes (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--shop-rate", type=float, default=1_000.0,
                        help="per-shop partner-call limit, calls/s (hub default 10; bench default 1,000)")
    parser.add_argument("--push-window-ms", type=int, default=None,
                        help="[rules] stock_push_window_ms, the per-shop coalescing window (hub default 200)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="longest settling wait, s (default: 120 + 0.2 s per order, i.e. a 5 orders/s floor; "
                             "--stall ends it sooner when nothing moves)")
    parser.add_argument("--stall", type=float, default=180.0,
                        help="stop settling after this long without progress, s (default 180)")
    parser.add_argument("--setup-timeout", type=float, default=0.0,
                        help="longest wait for the hub's first stock pushes, s (default 120 + 0.2 s per SKU)")
    parser.add_argument("--sample-every", type=float, default=0.5, help="RSS sampling period, s (default 0.5)")
    parser.add_argument("--profile", help="py-spy record the hub processes into this directory (speedscope)")
    parser.add_argument("--dump", help="write the samples, per-shop figures and stock timelines to this JSON file")
    parser.add_argument("--seed", type=int, default=20261111, help="random seed of the buyers")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders = min(args.orders, 3_000)
    if args.orders < 1 or not 0 <= args.burst_share <= 1 or args.tail_rate <= 0:
        parser.error("--orders must be >= 1, --burst-share in [0, 1], --tail-rate > 0")
    args.ample_stock = args.ample_stock or max(10_000_000, args.orders * 10)
    if args.hot_skus and not args.hot_stock:
        args.hot_stock = max(20, math.ceil(args.orders * args.hot_share / args.hot_skus / 2))
    args.timeout = args.timeout or 120.0 + 0.2 * args.orders
    args.setup_timeout = args.setup_timeout or 120.0 + 0.2 * (args.skus + args.hot_skus)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the hub processes stopped, the database dropped, Redis emptied.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    began = time.time()
    result = run(args)
    result.best_10s = best_window_rate(result.samples)
    print(f"(whole run {time.time() - began:.0f} s)", file=sys.stderr)
    print(report(result, args))
    machine = machine_summary()
    print(f"\nmachine: nproc {machine['nproc']}, {machine['cpu']}, Python {machine['python']}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(machine["free -h"])
    failed = failures(result, args)
    print("\nverdict: " + ("; ".join(failed) if failed else "nothing lost, nothing oversold"))
    return 1 if failed else 0


def failures(result: Result, args: argparse.Namespace) -> list[str]:
    """What makes the run fail: orders lost or stored twice, units oversold in partitioned mode."""
    oversold = sum(max(0, n - args.hot_stock) for n in result.hot_accepted.values())
    failed = []
    if result.lost:
        when = "" if result.settled == "yes" else f" (not stored when settling ended: {result.settled.split(' (')[0]})"
        failed.append(f"{result.lost:,} orders lost{when}")
    if result.stored_twice:
        failed.append(f"{result.stored_twice:,} orders stored twice")
    if oversold and args.hot_mode == "partitioned":
        failed.append(f"{oversold:,} units oversold in partitioned mode")
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
