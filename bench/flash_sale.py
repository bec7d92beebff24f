"""The flash-sale benchmark: one SKU with little stock, four shops (Taobao, Tmall, Douyin,
AliExpress sandboxes), many buyers at once — does the hub oversell, and how fast does stock move?

Per allocation mode (shared, partitioned), on a fresh PostgreSQL database and a Redis namespace of
its own, with the hub as real processes (``hub serve`` for Douyin's webhook pushes, ``hub worker``
for everything else) and the sandboxes under uvicorn in this process:

1. seed the catalogue (``define_sku`` + ``adjust_stock``: ``--stock`` units in warehouse ``main``);
2. one order per shop, so the hub learns each shop's listing; wait until every shop shows the
   hub's value (these four orders count as sold);
3. the sale: ``--orders`` buyers, each in a random shop, as fast as this process can create them
   (or ``--rate`` per second); a sandbox refuses an order when it shows too little (``SoldOut``);
4. wait until the hub has taken in every accepted order and pushed what follows;
5. read the hub's database; time a bare conditional UPDATE on one row of the same database with
   the same concurrency as the hub's reservations (``--workers`` × ``--threads``);
6. the follow-up alone (``--followup N``, after the hub stopped): N paid orders of a second SKU
   stored directly, then their follow-up (``order_flow.after_orders_change``: holds, reservations,
   platform decrements, dirty marks) run in this process, one order per call (as the single
   ``order_changed`` does) and then in batches of ``--followup-batch`` (as ``orders_changed``
   does), ``--workers`` × ``--threads`` calls at a time: reservations per second of that part on
   its own, whatever the ingest in front of it.

Timings print as figures and side-by-side ratios; they are not tests. Not for correctness checks
of single features (tests/ does that). Run: ``python bench/flash_sale.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._flash_support import (
    StockWatch,
    hub_processes,
    instrument,
    libpq_dsn,
    percentile,
    redis_namespace,
    throwaway_database,
    wait_http,
    write_toml,
)
from bench._support import CPU_GROUPS, CpuMeter
from contracts.inventory import AllocationMode, StockPolicy
from hub.asgi_server import BackgroundServer, free_port
from hub.services.stock import allocation

SKU = "FLASH-1"
FOLLOW_SKU = "FOLLOW-1"  # the follow-up measurement's SKU (step 6), listed in every shop
PLATFORMS = ("taobao", "tmall", "douyin", "aliexpress")
WAREHOUSE = "main"


def adjustable(platform: str) -> bool:
    """Whether the platform's connector takes stock changes (``Capability.ADJUST_STOCK``)."""
    from contracts.connectors import Capability
    from hub.plugins import build_plugin_manager

    cls = build_plugin_manager().channel_class(platform)
    return cls is not None and Capability.ADJUST_STOCK in cls.capabilities


def make_sandbox(platform: str) -> Any:
    from plugins.aliexpress.sandbox import AliExpressSandbox
    from plugins.douyin.sandbox import DouyinSandbox
    from plugins.taobao.sandbox import TaobaoSandbox
    from plugins.tmall.sandbox import TmallSandbox

    return {"taobao": TaobaoSandbox, "tmall": TmallSandbox, "douyin": DouyinSandbox,
            "aliexpress": AliExpressSandbox}[platform]()


@dataclass
class Shop:
    platform: str
    name: str
    sandbox: Any
    server: BackgroundServer
    accepted: int = 0
    refused: int = 0


@dataclass
class ModeResult:
    mode: str
    stock: int
    attempts: int = 0
    accepted: int = 0
    sale_s: float = 0.0
    settle_s: float = 0.0
    settled: bool = False
    orders_in_hub: int = 0
    reserved: int = 0
    short: int = 0
    latencies: list[float] = field(default_factory=list)  # per reservation needing propagation
    zero_latency: int = 0  # reservations every shop already reflected when they happened
    never: int = 0  # reservations some shop never reflected before the end
    per_shop: dict[str, dict[str, int]] = field(default_factory=dict)
    hub_rate: float | None = None
    decided_rate: float | None = None
    bare_rate: float | None = None
    followup_rates: dict[int, float] = field(default_factory=dict)  # batch size → reservations/s
    concurrency: int = 0
    cpu_wall_s: float = 0.0  # the sale and the settling, as the CPU meter saw them
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group over that time
    busy: float = 0.0  # the machine's busy share of all its CPUs over that time
    notes: list[str] = field(default_factory=list)

    @property
    def oversold(self) -> int:
        return max(0, self.accepted - self.stock)


# --------------------------------------------------------------------------- database reads


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(dsn, query, *args))


def hub_state(dsn: str) -> dict[str, int]:
    rows = fetch(dsn, """
        SELECT (SELECT count(*) FROM orders) AS orders,
               (SELECT count(*) FROM reservations WHERE merchant_sku = $1 AND state = 'active') AS reserved,
               (SELECT count(*) FROM reservations WHERE merchant_sku = $1 AND state = 'short') AS short,
               (SELECT count(*) FROM channel_stock WHERE dirty) AS dirty,
               (SELECT count(*) FROM listings WHERE merchant_sku = $1) AS listings,
               (SELECT count(*) FROM inbox WHERE status <> 'done') AS inbox_open""", SKU)
    return dict(rows[0])


# --------------------------------------------------------------------------- targets and latency


def targets_for(mode: AllocationMode, shops: list[Shop], available: int) -> dict[str, int]:
    """What the hub wants each shop to show at ``available`` (every shop on the default policy)."""
    shares = [allocation.ShopShare(s.name, s.platform, StockPolicy()) for s in shops]
    return allocation.allocate(SKU, available, shares, mode)


def propagation(result: ModeResult, mode: AllocationMode, shops: list[Shop], watch: StockWatch,
                ledger: list[asyncpg.Record], sale_start: float, stock: int) -> None:
    """Per reservation made during the sale: how long until *every* shop showed no more than the
    hub wants it to show after that reservation (its own buyers' orders count: a shop that sold
    down on its own needs no push). The instant is the reservation's ledger row (``at``).

    In partitioned mode only the shops whose platform takes stock changes are measured: the hub
    deliberately does not lower a shop that takes absolute values only (AliExpress) to its share
    (see the README), so the proportional share is no target for it."""
    measured = shops if mode is AllocationMode.SHARED else [s for s in shops if adjustable(s.platform)]
    on_hand = reserved = 0
    pointers = {s.name: 0 for s in shops}
    times = {s.name: [t for t, _ in watch.shown.get(s.name, [])] for s in shops}
    values = {s.name: [v for _, v in watch.shown.get(s.name, [])] for s in shops}
    for row in ledger:
        on_hand += row["on_hand_delta"]
        reserved += row["reserved_delta"]
        at = row["at"].timestamp()
        if row["cause"] != "order_reserved" or at < sale_start:
            continue
        targets = targets_for(mode, shops, on_hand - reserved)
        worst = 0.0
        for shop in measured:
            ts, vs = times[shop.name], values[shop.name]
            # Targets only fall during a sale and reservations come in time order: a forward scan.
            start = max(pointers[shop.name], max(0, _index_at(ts, at)))
            j = start
            while j < len(vs) and vs[j] > targets[shop.name]:
                j += 1
            if j == len(vs):
                pointers[shop.name] = start
                worst = float("inf")
                break
            pointers[shop.name] = j
            worst = max(worst, ts[j] - at)
        if worst == float("inf"):
            result.never += 1
        elif worst <= 0:
            result.zero_latency += 1
        else:
            result.latencies.append(worst)


def _index_at(times: list[float], at: float) -> int:
    import bisect

    return bisect.bisect_right(times, at) - 1


# --------------------------------------------------------------------------- the baseline


async def bare_updates(dsn: str, count: int, concurrency: int) -> float:
    """Updates per second of ``UPDATE stock SET reserved = reserved + 1 WHERE id = $1 AND
    on_hand - reserved >= 1`` on one row, ``concurrency`` connections, each statement its own
    transaction (as each hub reservation is)."""
    setup = await asyncpg.connect(dsn)
    try:
        row_id = await setup.fetchval(
            "INSERT INTO stock (warehouse, merchant_sku, on_hand, reserved, updated_at) "
            "VALUES ('bench-baseline', 'BASELINE-1', $1, 0, now()) RETURNING id", count)
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    left = count
    done = 0

    async def one_connection() -> None:
        nonlocal left, done
        async with pool.acquire() as connection:
            while left > 0:
                left -= 1
                status = await connection.execute(
                    "UPDATE stock SET reserved = reserved + 1 WHERE id = $1 AND on_hand - reserved >= 1", row_id)
                done += status == "UPDATE 1"

    try:
        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return done / elapsed if elapsed > 0 else float("nan")


async def followup_rates(config_path: Path, database_url: str, shops: list[Shop], count: int, batches: list[int],
                         concurrency: int) -> dict[int, float]:
    """Reservations per second of the order follow-up alone, per batch size: for each size,
    ``count`` paid one-unit orders of ``FOLLOW_SKU`` (as many units on hand, spread over the
    shops' listings) stored directly, then ``after_orders_change`` over them in batches of that
    size, ``concurrency`` batches at a time; the rate is reservations made ÷ wall time of the run
    (a batch's ledger rows share one timestamp, so their span would flatter it)."""
    from sqlalchemy import func, select

    from contracts.orders import OrderStatus
    from hub.config import load_config
    from hub.context import build_hub
    from hub.db.tables import StockLedgerRow
    from hub.services import order_flow, orders
    from hub.services.stock import adjustments, channel_listings, skus
    from hub.testing.factories import make_order

    config = load_config(config_path)
    config.hub.database_url = database_url
    hub = build_hub(config)
    rates: dict[int, float] = {}
    try:
        async with hub.database().transaction() as session:
            await skus.define_sku(session, FOLLOW_SKU, name="Follow-up measurement")
            for shop in shops:
                await channel_listings.add_listing(session, shop.name, FOLLOW_SKU, f"follow-{shop.platform}", "1")
        for size in batches:
            await adjustments.adjust_stock(hub, [adjustments.Adjustment(WAREHOUSE, FOLLOW_SKU, delta=count)],
                                           actor="bench", reference=f"follow-seed-{size}")
            order_ids: list[int] = []
            for first in range(0, count, 100):
                async with hub.database().transaction() as session:
                    for n in range(first, min(count, first + 100)):
                        shop = shops[n % len(shops)]
                        order = make_order(platform=shop.platform, shop=shop.name, lines=[(FOLLOW_SKU, 1)],
                                           created_at=datetime.now(UTC))
                        order = order.model_copy(update={"lines": [line.model_copy(update={
                            "channel_item_id": f"follow-{shop.platform}", "channel_sku_id": "1"})
                            for line in order.lines]})
                        order_ids.append((await orders.apply_order(session, order, cause="bench")).order_id)
            chunks = [order_ids[i:i + size] for i in range(0, len(order_ids), size)]
            started = datetime.now(UTC)

            async def runner(mine: list[list[int]]) -> None:
                for chunk in mine:
                    if len(chunk) == 1:  # what the single order_changed actor runs
                        await order_flow.after_order_change(hub, chunk[0], None, OrderStatus.PAID, "bench")
                    else:
                        await order_flow.after_orders_change(hub, [[oid, None, "paid", "bench"] for oid in chunk])

            clock = time.perf_counter()
            await asyncio.gather(*(runner(chunks[i::concurrency]) for i in range(concurrency)))
            elapsed = time.perf_counter() - clock
            async with hub.database().session() as session:
                reserved = await session.scalar(select(func.count()).select_from(StockLedgerRow).where(
                    StockLedgerRow.merchant_sku == FOLLOW_SKU, StockLedgerRow.cause == "order_reserved",
                    StockLedgerRow.at >= started))
            rates[size] = (reserved or 0) / elapsed
    finally:
        await hub.close_loop_resources()
    return rates


# --------------------------------------------------------------------------- one mode


def write_config(path: Path, shops: list[Shop], api_port: int, mode: str, args: argparse.Namespace) -> None:
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": api_port, "log_level": "warning", "log_format": "json",
                "worker_threads": args.threads},
        f"warehouses.{WAREHOUSE}": {"platform": "manual"},
    }
    for shop in shops:
        sections[f"shops.{shop.name}"] = {
            "platform": shop.platform, "settings": shop.sandbox.shop_settings(shop.name, shop.server.base_url),
            "rate_limit_per_s": float(args.shop_rate), "rate_limit_burst": max(1, int(args.shop_rate)),
            "poll_interval_s": 30.0, "poll_overlap_s": 120.0,
        }
    if mode == "partitioned":
        sections["stock_groups.flash"] = {"mode": "partitioned", "skus": [SKU, FOLLOW_SKU]}
    write_toml(path, sections)


async def seed_catalogue(config_path: Path, database_url: str, stock: int) -> None:
    from hub.config import load_config
    from hub.context import build_hub
    from hub.services.stock import adjustments, skus

    config = load_config(config_path)
    config.hub.database_url = database_url
    hub = build_hub(config)
    try:
        async with hub.database().transaction() as session:
            await skus.define_sku(session, SKU, name="Flash sale item")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(WAREHOUSE, SKU, on_hand=stock)],
                                       actor="bench", reference="flash-seed")
    finally:
        await hub.close_loop_resources()


def buy(shop: Shop, watch: StockWatch) -> bool:
    try:
        shop.sandbox.create_order(shop.name, SKU, 1)
    except Exception as exc:
        if type(exc).__name__ != "SoldOut":
            raise
        shop.refused += 1
        return False
    finally:
        watch.saw(shop.name, shop.sandbox.shown_stock(shop.name, SKU))
    shop.accepted += 1
    return True


def wait_for(check: Any, timeout_s: float, every_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return False


def run_mode(mode_name: str, args: argparse.Namespace) -> ModeResult:
    mode = AllocationMode(mode_name)
    result = ModeResult(mode_name, args.stock)
    watch = StockWatch(SKU)
    rng = random.Random(args.seed)
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database())
        dsn = libpq_dsn(database_url)
        redis_url = stack.enter_context(redis_namespace())
        shops: list[Shop] = []
        for platform in PLATFORMS:
            sandbox = make_sandbox(platform)
            server = BackgroundServer(sandbox.app).start()
            stack.callback(server.stop)
            shop = Shop(platform, f"flash-{platform}", sandbox, server)
            stack.callback(instrument(platform, sandbox, shop.name, watch))
            shops.append(shop)
        api_port = free_port()
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-flash-")))
        config_path = workdir / "hub.toml"
        write_config(config_path, shops, api_port, mode_name, args)
        processes = stack.enter_context(hub_processes(config_path, database_url, redis_url,
                                                      workers=args.workers, threads=args.threads,
                                                      stock_workers=args.stock_workers))
        asyncio.run(seed_catalogue(config_path, database_url, args.stock))
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz", processes=processes)
        for shop in shops:
            shop.sandbox.set_push_target(shop.name, f"{api}/webhooks/{shop.platform}/{shop.name}")

        # Listings: one order per shop, then wait for the hub to push its value to every shop.
        for shop in shops:
            buy(shop, watch)
        seeded = targets_for(mode, shops, args.stock - len(shops))
        if not wait_for(lambda: all(s.sandbox.shown_stock(s.name, SKU) == seeded[s.name] for s in shops),
                        args.timeout):
            shown = {s.name: s.sandbox.shown_stock(s.name, SKU) for s in shops}
            raise RuntimeError(f"the hub did not push the seeded values {seeded} in {args.timeout:g} s: "
                               f"shops show {shown}; hub: {hub_state(dsn)}")

        profilers = start_profilers(processes, args.profile, mode_name) if args.profile else []

        # The sale.
        meter = CpuMeter({p.proc.pid: ("hub serve" if p.name == "serve" else "hub workers")
                          for p in processes if p.proc is not None})
        sale_start = time.time()
        interval = 1.0 / args.rate if args.rate else 0.0
        for n in range(args.orders):
            buy(rng.choices(shops, weights=args.weights)[0], watch)
            if interval:
                delay = sale_start + (n + 1) * interval - time.time()
                if delay > 0:
                    time.sleep(delay)
        result.sale_s = time.time() - sale_start
        result.attempts = args.orders + len(shops)
        result.accepted = sum(s.accepted for s in shops)

        # Settle: every accepted order in the hub, decided, and nothing left to push.
        def settled() -> bool:
            for process in processes:
                if not process.alive():
                    raise RuntimeError(f"hub {process.name} died:\n{process.tail()}")
            state = hub_state(dsn)
            return (state["orders"] >= result.accepted and state["reserved"] + state["short"] >= result.accepted
                    and state["dirty"] == 0)

        result.settled = wait_for(settled, args.timeout, every_s=0.5)
        result.cpu_wall_s, result.cpu, result.busy = meter.stop()
        time.sleep(1.0)  # pushes in flight land
        result.settle_s = time.time() - sale_start - result.sale_s
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            profiler.wait(60)
        if not result.settled:
            result.notes.append(f"not settled within {args.timeout:g} s: {hub_state(dsn)}")
        # Read the hub's database while it still exists (the stack drops it).
        state = hub_state(dsn)
        result.orders_in_hub, result.reserved, result.short = state["orders"], state["reserved"], state["short"]
        ledger = fetch(dsn, "SELECT at, on_hand_delta, reserved_delta, cause FROM stock_ledger "
                            "WHERE merchant_sku = $1 ORDER BY at, id", SKU)
        propagation(result, mode, shops, watch, ledger, sale_start, args.stock)
        if mode is AllocationMode.PARTITIONED:
            absolute = [s.platform for s in shops if not adjustable(s.platform)]
            if absolute:
                result.notes.append(f"propagation measured without {', '.join(absolute)} (absolute values only: "
                                    "not lowered to its share, see bench/README.md)")
        for shop in shops:
            pushes = watch.pushes.get(shop.name, [])
            sale_pushes = sum(1 for t, _ in pushes if t >= sale_start)
            result.per_shop[shop.platform] = {"accepted": shop.accepted, "refused": shop.refused,
                                              "stock_calls": sale_pushes, "all_stock_calls": len(pushes),
                                              "final_shown": shop.sandbox.shown_stock(shop.name, SKU) or 0}
        reserved_at = [r["at"].timestamp() for r in ledger if r["cause"] == "order_reserved"
                       and r["at"].timestamp() >= sale_start]
        if len(reserved_at) > 1:
            result.hub_rate = len(reserved_at) / (max(reserved_at) - min(reserved_at))
        decided = fetch(dsn, "SELECT min(created_at) AS first, max(created_at) AS last, count(*) AS n "
                             "FROM reservations WHERE created_at >= $1", datetime.fromtimestamp(sale_start, UTC))
        if decided and decided[0]["n"] > 1:
            span = (decided[0]["last"] - decided[0]["first"]).total_seconds()
            result.decided_rate = decided[0]["n"] / span if span > 0 else None
        if args.dump:
            dump(Path(args.dump), mode_name, sale_start, watch, ledger, dsn)
        # Stop the hub first, so the baseline has the database and the cores to itself.
        for process in processes:
            process.stop()
        result.concurrency = args.workers * args.threads
        result.bare_rate = asyncio.run(bare_updates(dsn, args.stock, result.concurrency))
        if args.followup:
            result.followup_rates = asyncio.run(followup_rates(
                config_path, database_url, shops, args.followup, sorted({1, args.followup_batch}),
                result.concurrency))
    return result


# --------------------------------------------------------------------------- diagnosis


def start_profilers(processes: list[Any], directory: str, mode: str) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` on every hub process for the sale and the settling (speedscope files)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([spy, "record", "--pid", str(p.proc.pid), "--format", "speedscope", "--rate", "50",
                              "--output", str(out / f"{mode}-{p.name}.speedscope.json"), "--nonblocking"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for p in processes if p.proc is not None]


def dump(path: Path, mode: str, sale_start: float, watch: StockWatch, ledger: list[asyncpg.Record],
         dsn: str) -> None:
    """Timelines for a closer look: what each shop showed, each push, the ledger, each order's trip,
    each inbox row's (received, processed)."""
    orders = fetch(dsn, "SELECT o.shop, o.external_id, o.channel_created_at, o.created_at, r.created_at AS decided, "
                        "r.state FROM orders o LEFT JOIN reservations r ON r.order_id = o.id ORDER BY o.id")
    inbox = fetch(dsn, "SELECT shop, source, attempts, received_at, processed_at FROM inbox ORDER BY id")
    data = {"sale_start": sale_start, "shown": watch.shown, "pushes": watch.pushes,
            "inbox": [[r["shop"], r["source"], r["attempts"], r["received_at"].timestamp(),
                       r["processed_at"].timestamp() if r["processed_at"] else None] for r in inbox],
            "ledger": [[r["at"].timestamp(), r["reserved_delta"], r["cause"]] for r in ledger],
            "orders": [[r["shop"], r["external_id"], r["channel_created_at"].timestamp(), r["created_at"].timestamp(),
                        r["decided"].timestamp() if r["decided"] else None, r["state"]] for r in orders]}
    target = path.with_name(f"{path.stem}-{mode}{path.suffix or '.json'}")
    target.write_text(json.dumps(data))
    print(f"  timelines written to {target}", file=sys.stderr)


# --------------------------------------------------------------------------- output


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def report(results: list[ModeResult], args: argparse.Namespace) -> str:
    lines = [f"flash sale: {args.orders:,} buyers over 4 shops, stock {args.stock:,}, "
             f"{'as fast as possible' if not args.rate else f'{args.rate:g} orders/s'}, "
             f"{_weights_text(args.weights)}"
             f"hub: 1 serve + {args.workers} worker x {args.threads} threads"
             f"{f' + {args.stock_workers} stock-only worker' if args.stock_workers else ''}, "
             f"per-shop API rate {args.shop_rate:g}/s", ""]
    header = f"{'':34}" + "".join(f"{r.mode:>16}" for r in results)
    lines.append(header)

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"{label:34}" + "".join(f"{c:>16}" for c in cells))

    row("orders tried (incl. 4 seed)", [f"{r.attempts:,}" for r in results])
    row("accepted by the shops", [f"{r.accepted:,}" for r in results])
    row("OVERSOLD (accepted - stock)", [f"{r.oversold:,}" for r in results])
    row("left unsold (stock - accepted)", [f"{max(0, r.stock - r.accepted):,}" for r in results])
    row("shops show at the end (sum)", [f"{sum(s.get('final_shown', 0) for s in r.per_shop.values()):,}"
                                        for r in results])
    row("sale took", [f"{r.sale_s:.2f} s" for r in results])
    row("hub settled after the sale", [f"{r.settle_s:.1f} s" + ("" if r.settled else " (!)") for r in results])
    row("hub: orders taken in", [f"{r.orders_in_hub:,}" for r in results])
    row("hub: reservations made", [f"{r.reserved:,}" for r in results])
    row("hub: lines short (on hold)", [f"{r.short:,}" for r in results])
    row("hub: reserved beyond stock", [f"{max(0, r.reserved - r.stock):,}" for r in results])
    row("reservations reflected at once", [f"{r.zero_latency:,}" for r in results])
    row("reservations needing a push", [f"{len(r.latencies):,}" for r in results])
    row("  propagation p50", [_ms(percentile(r.latencies, 50)) for r in results])
    row("  propagation p99", [_ms(percentile(r.latencies, 99)) for r in results])
    row("  propagation max", [_ms(max(r.latencies) if r.latencies else None) for r in results])
    row("  never reflected before the end", [f"{r.never:,}" for r in results])
    for platform in PLATFORMS:
        cells = []
        for r in results:
            shop = r.per_shop.get(platform, {})
            calls, orders = shop.get("stock_calls", 0), shop.get("accepted", 0)
            factor = f"{orders / calls:.1f}" if calls else "-"
            cells.append(f"{orders}/{calls} = {factor}")
        row(f"{platform}: orders/stock calls", cells)
    total = []
    for r in results:
        orders = sum(s.get("accepted", 0) for s in r.per_shop.values())
        calls = sum(s.get("stock_calls", 0) for s in r.per_shop.values())
        total.append(f"{orders}/{calls} = {orders / calls:.1f}" if calls else f"{orders}/0")
    row("all shops: orders/stock calls", total)
    row("hub reservations/s (ledger span)", [_rate(r.hub_rate) for r in results])
    row("hub lines decided/s (incl. short)", [_rate(r.decided_rate) for r in results])
    row("bare conditional UPDATE/s", [_rate(r.bare_rate) + f" c={r.concurrency}" for r in results])
    row("hub reservations / bare UPDATE", [
        f"{r.hub_rate / r.bare_rate:.3f}" if r.hub_rate and r.bare_rate else "-" for r in results])
    if args.followup:
        for size in sorted({1, args.followup_batch}):
            row(f"follow-up alone, {size:,}/batch: res/s", [_rate(r.followup_rates.get(size)) for r in results])
            row("  / bare UPDATE", [f"{r.followup_rates[size] / r.bare_rate:.3f}"
                                    if r.followup_rates.get(size) and r.bare_rate else "-" for r in results])
    # Where the two cores went from the sale's start until the hub had settled (shares of one core).
    for group in (g for g in CPU_GROUPS if g != "RabbitMQ"):  # the sale runs on Redis
        row(f"CPU, {group} (cores)", [f"{r.cpu.get(group, 0.0) / r.cpu_wall_s:.2f}" if r.cpu_wall_s else "-"
                                      for r in results])
    row("machine busy (all CPUs)", [f"{100 * r.busy:.0f}%" for r in results])
    for r in results:
        lines += [f"note ({r.mode}): {note}" for note in r.notes]
    return "\n".join(lines)


def _weights_text(weights: list[float]) -> str:
    return "" if len(set(weights)) == 1 else "shop weights " + ",".join(f"{w:g}" for w in weights) + ", "


def _weights(text: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != len(PLATFORMS) or any(v < 0 for v in values) or not any(values):
        raise argparse.ArgumentTypeError(f"give {len(PLATFORMS)} weights >= 0, e.g. 5,1,1,1")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="buyers in the sale (default 10,000)")
    parser.add_argument("--stock", type=int, default=1_000, help="units on hand (default 1,000)")
    parser.add_argument("--modes", default="shared,partitioned", help="comma-separated: shared, partitioned")
    parser.add_argument("--quick", action="store_true", help="2,000 buyers, stock 200 (about a minute a mode)")
    parser.add_argument("--rate", type=float, default=0.0, help="orders per second (default: as fast as possible)")
    parser.add_argument("--workers", type=int, default=1, help="hub worker processes (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--stock-workers", type=int, default=0,
                        help="extra `hub worker --queues stock` processes (default 0)")
    parser.add_argument("--shop-rate", type=float, default=200.0,
                        help="the hub's per-shop API token bucket, calls/s (hub default 10; bench default 200)")
    parser.add_argument("--timeout", type=float, default=180.0, help="longest wait for the hub to settle, s")
    parser.add_argument("--dump", help="write timelines to this JSON path (one file per mode) for diagnosis")
    parser.add_argument("--profile", help="py-spy record the hub processes into this directory")
    parser.add_argument("--followup", type=int, default=1_000,
                        help="after the sale, time the order follow-up alone over this many orders, one per call "
                             "and in batches (default 1,000; 0: skip)")
    parser.add_argument("--followup-batch", type=int, default=100,
                        help="orders per follow-up batch for that measurement (default 100)")
    parser.add_argument("--seed", type=int, default=20240611, help="random seed for the buyers' shops")
    parser.add_argument("--weights", type=_weights, default=[1.0] * len(PLATFORMS),
                        help="how buyers pick a shop, relative weights in the order taobao,tmall,douyin,aliexpress "
                             "(default 1,1,1,1; e.g. 5,1,1,1: most buyers in Taobao, so its share runs low and is "
                             "topped up from the others)")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders, args.stock = min(args.orders, 2_000), min(args.stock, 200)
        args.timeout = min(args.timeout, 90.0)
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in args.mode_list:
        AllocationMode(mode)  # fails with the valid names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    for mode in args.mode_list:
        started = time.time()
        print(f"running {mode} ...", file=sys.stderr, flush=True)
        results.append(run_mode(mode, args))
        print(f"  {mode} done in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    print(report(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
