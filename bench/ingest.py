"""The ingest benchmark: how fast do orders and partner messages get into the hub?

One ``hub serve`` and ``--workers`` (default 1) ``hub worker`` processes on PostgreSQL + Redis, or
with ``--broker rabbitmq`` the queues on RabbitMQ (a throw-away virtual host) and Redis still
coordinating (a throw-away database and a Redis logical database of their own unless
``--database-url``/``--redis-url`` are given), the Taobao
and Douyin sandboxes under uvicorn in this process, and, for comparison, a bare FastAPI ``POST
/noop`` under uvicorn in a subprocess (one process, like ``hub serve``). In one run it measures:

1. orders created in the Taobao sandbox per second (``create_order`` in a loop: the source rate);
2. canonical orders stored per second: ``orders`` rows of the Taobao shop, from the first create
   to the last row stored (TMC → inbox → ``process_inbox_batch`` → ``trade.fullinfo.get`` →
   ``apply_order``);
3. TMC messages accepted per second: inbox rows written by the worker's ``consume_channel`` (two
   messages per order, TradeCreate and TradeBuyerPay), from the first create to the last row;
4. Douyin pushes accepted per second: signed POSTs (``plugins.douyin.push.event_sign``) of 1 and of
   10 messages to ``/webhooks/douyin/{shop}``; accepted = 200 (signature verified, inbox rows
   written — the inbox count is checked at the end). The worker is paused (SIGSTOP) meanwhile, so
   the API process and the baseline have the same machine to themselves; it resumes afterwards;
5. the bare ``POST /noop``, driven by the same load generator, so each HTTP figure is also a ratio
   to what the framework alone does on this machine.

Timings print as figures and side-by-side ratios; they are not tests and nothing asserts speed.
Run: ``python bench/ingest.py [--quick] [--workers N] [--broker rabbitmq]`` (``--help`` for sizes).
The TMC phase alone for 1, 2 and 4 workers on both brokers: ``bench/scaleout.py``. Results:
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
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

from bench._flash_support import hub_processes, libpq_dsn, redis_namespace, throwaway_database, wait_http, write_toml
from bench._support import (
    BodyMaker,
    LoadResult,
    cpu_seconds,
    machine_summary,
    noop_server,
    post_load,
    rabbitmq_vhost,
    run_load,
    wait_for_http,
)
from hub.asgi_server import BackgroundServer, free_port
from hub.logging import scrub_text
from plugins.douyin.client import canonical_json
from plugins.douyin.push import encode_messages, event_sign
from plugins.douyin.sandbox import DouyinSandbox
from plugins.taobao.sandbox import TaobaoSandbox

SKU = "BENCH-INGEST-1"
BROKER_LABEL = {"redis": "Redis", "rabbitmq": "RabbitMQ (queues) + Redis (coordination)"}
WAREHOUSE = "main"
HUB_STOCK = 10_000_000
#: TMC messages per order the Taobao sandbox publishes for a paid order (TradeCreate, TradeBuyerPay).
TMC_PER_ORDER = 2


@dataclass
class TmcFigures:
    orders: int = 0
    create_s: float = 0.0
    stored: int = 0
    stored_s: float | None = None  # first create → last order row
    messages: int = 0
    inbox_s: float | None = None  # first create → last inbox row
    first_inbox_s: float | None = None
    processed_s: float | None = None  # first create → last inbox row marked done
    worker_cpu_s: float = 0.0  # CPU the worker processes used from the first create to the end
    commits: int = 0  # PostgreSQL transactions committed / rolled back in the hub's database meanwhile
    rollbacks: int = 0
    partner_calls: dict[str, int] = field(default_factory=dict)  # TOP methods the sandbox served
    wall_s: float = 0.0  # first create → the end of the phase
    complete: bool = False

    @property
    def create_rate(self) -> float:
        return self.orders / self.create_s if self.create_s > 0 else 0.0


@dataclass
class HttpFigures:
    rounds: dict[str, list[LoadResult]] = field(default_factory=dict)  # label → one run per round

    @property
    def runs(self) -> dict[str, LoadResult]:
        """The best round of each target: on a shared machine, the one least disturbed."""
        return {label: max(runs, key=lambda r: r.rate) for label, runs in self.rounds.items()}
    pushed_messages: int = 0  # messages in 200-answered pushes, warm-ups included
    inbox_rows: int = 0


# --------------------------------------------------------------------------- set-up


def write_config(path: Path, api_port: int, shops: dict[str, tuple[str, dict[str, Any]]],
                 args: argparse.Namespace) -> None:
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": api_port, "log_level": args.log_level, "log_format": "json",
                "worker_threads": args.threads},
        f"warehouses.{WAREHOUSE}": {"platform": "manual"},
        # The HTTP runs pause the worker (SIGSTOP) and store hundreds of thousands of pushes it
        # does not work off: backpressure would answer them 503 past the default 20,000-row backlog.
        "queue": {"inbox_backlog_limit": 0},
    }
    for name, (platform, settings) in shops.items():
        # No safety-net poll during the run: every order must come in over TMC or a push.
        sections[f"shops.{name}"] = {"platform": platform, "settings": settings,
                                     "rate_limit_per_s": float(args.shop_rate),
                                     "rate_limit_burst": max(1, int(args.shop_rate)),
                                     "poll_interval_s": 86_400.0, "poll_overlap_s": 0.0}
    write_toml(path, sections)


def broker_for(args: argparse.Namespace, stack: ExitStack) -> str | None:
    """``HUB_BROKER_URL`` for the hub processes: None for Redis (HUB_REDIS_URL carries the queues),
    else ``--broker-url`` or a throw-away RabbitMQ virtual host (deleted when ``stack`` closes)."""
    if args.broker != "rabbitmq":
        return None
    return str(args.broker_url or stack.enter_context(rabbitmq_vhost()))


async def seed_catalogue(config_path: Path, database_url: str) -> None:
    """The benchmark SKU with far more stock than any run sells (reservations, not holds)."""
    from hub.config import load_config
    from hub.context import build_hub
    from hub.services.stock import adjustments, skus

    config = load_config(config_path)
    config.hub.database_url = database_url
    hub = build_hub(config)
    try:
        async with hub.database().transaction() as session:
            await skus.define_sku(session, SKU, name="Ingest benchmark item")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(WAREHOUSE, SKU, on_hand=HUB_STOCK)],
                                       actor="bench", reference="ingest-seed")
    finally:
        await hub.close_loop_resources()


# --------------------------------------------------------------------------- Taobao: TMC → orders


async def _taobao_counts(connection: asyncpg.Connection, shop: str) -> asyncpg.Record:
    return await connection.fetchrow(
        """SELECT (SELECT count(*) FROM orders WHERE shop = $1) AS orders,
                  (SELECT count(*) FROM inbox WHERE shop = $1 AND source = 'message_channel') AS inbox,
                  (SELECT count(*) FROM inbox WHERE shop = $1 AND source = 'message_channel'
                                                AND status = 'done') AS done""", shop)


async def _transactions(connection: asyncpg.Connection) -> tuple[int, int]:
    """(committed, rolled back) transactions of the current database so far (pg_stat_database;
    its counters lag by up to PostgreSQL's stats flush interval, fine over tens of seconds)."""
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    row = await connection.fetchrow(
        "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()")
    return int(row["xact_commit"]), int(row["xact_rollback"])


async def taobao_phase(sandbox: TaobaoSandbox, shop: str, dsn: str, args: argparse.Namespace,
                       alive: Any, worker_pids: list[int]) -> TmcFigures:
    figures = TmcFigures(orders=args.orders)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        worker_cpu = sum(cpu_seconds(pid) for pid in worker_pids)
        xacts = await _transactions(connection)
        calls_before = len(sandbox.gateway.calls)
        started_wall = time.time()
        started = time.perf_counter()
        for _ in range(args.orders):
            sandbox.create_order(shop, SKU, 1)
        figures.create_s = time.perf_counter() - started
        want_orders, want_inbox = args.orders, args.orders * TMC_PER_ORDER
        deadline = time.monotonic() + args.timeout
        last_note = time.monotonic()
        counts = await _taobao_counts(connection, shop)
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError("a hub process died during the TMC phase (see its log)")
            counts = await _taobao_counts(connection, shop)
            if counts["orders"] >= want_orders and counts["inbox"] >= want_inbox and counts["done"] >= want_inbox:
                figures.complete = True
                break
            if time.monotonic() - last_note > 5:
                last_note = time.monotonic()
                print(f"  … {counts['orders']:,}/{want_orders:,} orders, {counts['inbox']:,}/{want_inbox:,} inbox, "
                      f"{counts['done']:,} processed, TMC backlog {sandbox.gateway.tmc.pending('12345678'):,}",
                      file=sys.stderr, flush=True)
            await asyncio.sleep(0.2)
        figures.worker_cpu_s = sum(cpu_seconds(pid) for pid in worker_pids) - worker_cpu
        figures.wall_s = time.time() - started_wall
        commits, rollbacks = await _transactions(connection)
        figures.commits, figures.rollbacks = commits - xacts[0], rollbacks - xacts[1]
        figures.partner_calls = dict(Counter(sandbox.gateway.calls[calls_before:]))
        spans = await connection.fetchrow(
            """SELECT (SELECT max(created_at) FROM orders WHERE shop = $1) AS last_order,
                      (SELECT min(received_at) FROM inbox WHERE shop = $1 AND source = 'message_channel') AS first_in,
                      (SELECT max(received_at) FROM inbox WHERE shop = $1 AND source = 'message_channel') AS last_in,
                      (SELECT max(processed_at) FROM inbox WHERE shop = $1 AND source = 'message_channel')
                          AS last_done""", shop)
    finally:
        await connection.close()
    figures.stored, figures.messages = int(counts["orders"]), int(counts["inbox"])

    def since(at: datetime | None) -> float | None:
        return None if at is None else at.timestamp() - started_wall

    figures.stored_s = since(spans["last_order"])
    figures.first_inbox_s, figures.inbox_s = since(spans["first_in"]), since(spans["last_in"])
    figures.processed_s = since(spans["last_done"])
    return figures


async def wait_quiet(dsn: str, timeout_s: float) -> None:
    """Until no inbox row is waiting and the outbox is empty (bounded): the TMC phase's follow-up
    work (order_changed, stock pushes) should not run into the HTTP measurements."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            busy = await connection.fetchval(
                "SELECT (SELECT count(*) FROM inbox WHERE status IN ('pending', 'failed')) "
                "+ (SELECT count(*) FROM outbox)")
            if not busy:
                break
            await asyncio.sleep(0.25)
    finally:
        await connection.close()
    await asyncio.sleep(1.0)


# --------------------------------------------------------------------------- Douyin: pushes


def douyin_templates(sandbox: DouyinSandbox, shop: str, count: int) -> list[tuple[str, str]]:
    """(tag, data JSON) of the messages the platform would push for ``count`` new paid orders,
    taken from the sandbox's own event list (real orders the worker could fetch later)."""
    sandbox.listing(shop, SKU, stock=count + 100)
    for _ in range(count):
        sandbox.book.create_order(shop, SKU, 1, True)
    with sandbox.book.lock:
        events, sandbox.book.events = sandbox.book.events, []
    return [(tag, canonical_json(data)) for event_shop, tag, data in events if event_shop == shop]


def push_bodies(app_key: str, app_secret: str, templates: list[tuple[str, str]], per_post: int,
                msg_ids: Any) -> BodyMaker:
    """Request ``n``: ``per_post`` messages with fresh ``msg_id``s, signed as Douyin signs pushes."""
    def make(n: int) -> tuple[bytes, dict[str, str], int]:
        messages = []
        for i in range(per_post):
            tag, data = templates[(n * per_post + i) % len(templates)]
            messages.append({"tag": tag, "msg_id": str(next(msg_ids)), "data": data})
        body = encode_messages(messages)
        headers = {"content-type": "application/json", "app-id": app_key,
                   "event-sign": event_sign(app_key, body, app_secret)}
        return body, headers, per_post
    return make


async def http_phase(api: str, noop_url: str, noop_pid: int, serve_pid: int, dy_shop: str,
                     sandbox: DouyinSandbox, templates: list[tuple[str, str]],
                     args: argparse.Namespace) -> HttpFigures:
    figures = HttpFigures()
    msg_ids = itertools.count(7_500_000_000_000_000_001)
    webhook = f"{api}/webhooks/douyin/{dy_shop}"
    runs: list[tuple[str, str, int, int]] = [("bare FastAPI POST /noop", noop_url, noop_pid, 10)]
    for per_post in args.per_post:
        runs.append((f"Douyin push, {per_post} msg/POST", webhook, serve_pid, per_post))
    for round_no in range(1, args.rounds + 1):
        for label, url, pid, per_post in runs:
            make = push_bodies(sandbox.app_key, sandbox.app_secret, templates, per_post, msg_ids)
            if round_no == 1:
                warm = await post_load(url, make, total=args.warmup, concurrency=args.concurrency, time_limit_s=10.0)
                if url == webhook:
                    figures.pushed_messages += warm.items_ok
            run = await post_load(url, make, total=args.requests, concurrency=args.concurrency,
                                  time_limit_s=args.http_seconds, label=label, server_pid=pid)
            print(f"  round {round_no}, {label}: {run.ok:,}/{run.sent:,} ok in {run.elapsed_s:.1f} s = "
                  f"{run.rate:,.0f}/s {dict(run.statuses)}", file=sys.stderr, flush=True)
            figures.rounds.setdefault(label, []).append(run)
            if url == webhook:
                figures.pushed_messages += run.items_ok
    connection = await asyncpg.connect(args.dsn, timeout=10)
    try:
        figures.inbox_rows = int(await connection.fetchval(
            "SELECT count(*) FROM inbox WHERE shop = $1 AND source = 'push'", dy_shop))
    finally:
        await connection.close()
    return figures


# --------------------------------------------------------------------------- diagnosis


def start_profiler(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """``py-spy record`` of one process into ``path`` (collapsed stacks); stop it with ``stop_profiler``."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
                             "--output", str(path), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None and profiler.poll() is None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            profiler.wait(60)
        except subprocess.TimeoutExpired:
            profiler.kill()


# --------------------------------------------------------------------------- output


def _rate(count: float, seconds: float | None) -> str:
    return f"{count / seconds:>9,.0f}/s" if seconds and seconds > 0 else f"{'-':>11}"


def report(tmc: TmcFigures, http: HttpFigures, args: argparse.Namespace) -> str:
    lines = [f"load average before the run: {args.load_before}",
             f"ingest: {args.orders:,} Taobao orders over TMC; HTTP runs of at most {args.requests:,} POSTs or "
             f"{args.http_seconds:g} s over {args.concurrency} connections; hub: 1 serve + {args.workers} worker(s) "
             f"x {args.threads} threads, PostgreSQL + {BROKER_LABEL[args.broker]}; per-shop partner-call limit "
             f"{args.shop_rate:g}/s; "
             f"log level {args.log_level}", ""]
    lines.append(f"{'figure':44}{'count':>9}{'elapsed':>10}{'rate':>12}{'vs noop':>9}{'srv CPU':>9}{'gen CPU':>9}")

    def row(label: str, count: int, seconds: float | None, ratio: str = "", srv: str = "", gen: str = "") -> None:
        elapsed = f"{seconds:.2f} s" if seconds is not None else "-"
        lines.append(f"{label:44}{count:>9,}{elapsed:>10}{_rate(count, seconds):>12}{ratio:>9}{srv:>9}{gen:>9}")

    row("1. Taobao sandbox: orders created", tmc.orders, tmc.create_s)
    row("2. canonical orders stored (from 1st create)", tmc.stored, tmc.stored_s)
    row("3. TMC messages into the inbox (from 1st create)", tmc.messages, tmc.inbox_s)
    if tmc.first_inbox_s is not None and tmc.inbox_s is not None and tmc.inbox_s > tmc.first_inbox_s:
        row("   … from the first inbox row", tmc.messages, tmc.inbox_s - tmc.first_inbox_s)
    row("   TMC messages processed (inbox done)", tmc.messages, tmc.processed_s,
        srv=f"{tmc.worker_cpu_s / tmc.wall_s:.0%}" if tmc.wall_s else "")
    noop = http.runs.get("bare FastAPI POST /noop")
    for label, run in http.runs.items():
        ratio = f"{run.rate / noop.rate:.2f}" if noop and noop.rate and run is not noop else ("1.00" if run is noop
                                                                                               else "-")
        number = "5." if run is noop else "4."
        srv, gen = f"{run.cpu_share(run.server_cpu_s):.0%}", f"{run.cpu_share(run.generator_cpu_s):.0%}"
        row(f"{number} {label}: requests", run.ok, run.elapsed_s, ratio, srv, gen)
        if run is not noop:
            row(f"   {label}: messages", run.items_ok, run.elapsed_s)
    if len(next(iter(http.rounds.values()), [])) > 1:
        lines.append("HTTP rows show the best of " + str(args.rounds) + " alternating rounds; every round, requests/s: "
                     + "; ".join(f"{label.split(',')[0].removeprefix('bare FastAPI ')}"
                                 f"{label.split(',')[1] if ',' in label else ''}: "
                                 + ", ".join(f"{r.rate:,.0f}" for r in runs) for label, runs in http.rounds.items()))
    lines.append("")
    if tmc.orders:
        calls = ", ".join(f"{method.removeprefix('taobao.')} {n / tmc.orders:.2f}"
                          for method, n in sorted(tmc.partner_calls.items()))
        lines.append(f"per Taobao order (TMC phase): PostgreSQL commits {tmc.commits / tmc.orders:.1f}, "
                     f"rollbacks {tmc.rollbacks / tmc.orders:.1f} (incl. pool pre-pings); partner calls: {calls}")
    verdict = "matches" if http.inbox_rows == http.pushed_messages else "DOES NOT MATCH"
    lines.append(f"inbox check: {http.inbox_rows:,} Douyin push rows stored for {http.pushed_messages:,} messages "
                 f"in 200-answered pushes (warm-ups included): {verdict}")
    failures = {label: {k: v for k, v in run.statuses.items() if k != "200"} for label, run in http.runs.items()}
    failures = {k: v for k, v in failures.items() if v}
    if failures:
        lines.append(f"non-200 answers: {failures}")
    if not tmc.complete:
        lines.append(f"NOTE: the TMC phase did not finish within {args.timeout:g} s; figures 2-3 are partial")
    lines.append("srv CPU / gen CPU: CPU used by the server process (for TMC: the worker) / by this process "
                 "(the load generator), as a share of one core over the run")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_000, help="Taobao orders over TMC (default 2,000)")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="most POSTs in one HTTP run (default 100,000; a run also stops at --http-seconds)")
    parser.add_argument("--http-seconds", type=float, default=10.0, help="time limit of one HTTP run (default 10)")
    parser.add_argument("--per-post", default="1,10", help="Douyin messages per POST, comma-separated (default 1,10)")
    parser.add_argument("--concurrency", type=int, default=32, help="load-generator connections (default 32)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds of the HTTP runs; the table shows each target's best (default 2)")
    parser.add_argument("--warmup", type=int, default=200, help="POSTs before each HTTP run, not timed (default 200)")
    parser.add_argument("--threads", type=int, default=4, help="hub worker threads (default 4, the hub default)")
    parser.add_argument("--workers", type=int, default=1, help="hub worker processes (default 1)")
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis",
                        help="the queue's broker: Redis (default) or RabbitMQ (HUB_BROKER_URL=amqp://…, on a "
                             "throw-away virtual host unless --broker-url is given; Redis still coordinates)")
    parser.add_argument("--broker-url", help="with --broker rabbitmq: use this amqp:// URL as it is")
    parser.add_argument("--shop-rate", type=float, default=1_000.0,
                        help="per-shop partner-call limit, calls/s (hub default 10; bench default 1,000 so the "
                             "hub, not the quota, is measured)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="the hub processes' log level (default info, the hub default)")
    parser.add_argument("--timeout", type=float, default=240.0, help="longest wait for the TMC phase, s")
    parser.add_argument("--quick", action="store_true", help="about a minute: 400 orders, HTTP runs of at most 4 s")
    parser.add_argument("--database-url", help="use this database as it is (default: a throw-away PostgreSQL "
                                               "database on 127.0.0.1:5432, dropped at the end)")
    parser.add_argument("--redis-url", help="use this Redis URL as it is (default: an empty logical database on "
                                            "127.0.0.1:6379, the hub's keys deleted at the end)")
    parser.add_argument("--profile", help="py-spy record the worker (TMC phase) and the API (push runs) into this "
                                          "directory, as collapsed stacks")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders, args.requests, args.rounds = min(args.orders, 400), min(args.requests, 50_000), 1
        args.http_seconds, args.warmup, args.timeout = min(args.http_seconds, 4.0), min(args.warmup, 100), 90.0
    args.per_post = [int(n) for n in args.per_post.split(",") if n.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = secrets.token_hex(3)
    tb_shop, dy_shop = f"bench-tb-{token}", f"bench-dy-{token}"
    began = time.time()
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with ExitStack() as stack:
        database_url = args.database_url or stack.enter_context(throwaway_database(prefix="hub_ingest_"))
        args.dsn = libpq_dsn(database_url)
        redis_url = args.redis_url or stack.enter_context(redis_namespace())
        broker_url = broker_for(args, stack)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-ingest-")))

        taobao = TaobaoSandbox(redelivery_seconds=30.0)
        taobao_server = BackgroundServer(taobao.app).start()
        stack.callback(taobao_server.stop)
        douyin = DouyinSandbox(auto_deliver=False)
        douyin_server = BackgroundServer(douyin.app).start()
        stack.callback(douyin_server.stop)
        taobao.add_listing(tb_shop, [SKU], stock=args.orders * 2 + 100)

        api_port = free_port()
        config_path = workdir / "hub.toml"
        write_config(config_path, api_port, {
            tb_shop: ("taobao", taobao.shop_settings(tb_shop, taobao_server.base_url)),
            dy_shop: ("douyin", douyin.shop_settings(dy_shop, douyin_server.base_url)),
        }, args)
        print(f"starting hub serve + {args.workers} hub worker(s) (database {database_url.rsplit('/', 1)[-1]}, "
              f"redis {redis_url}, broker {scrub_text(broker_url or redis_url)})", file=sys.stderr, flush=True)
        processes = stack.enter_context(hub_processes(config_path, database_url, redis_url, workers=args.workers,
                                                      threads=args.threads, broker_url=broker_url))
        serve, worker, *_ = processes
        assert serve.proc is not None and worker.proc is not None
        worker_pids = [p.proc.pid for p in processes[1:] if p.proc is not None]
        asyncio.run(seed_catalogue(config_path, database_url))
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz", processes=processes)
        noop_port = free_port()
        noop = stack.enter_context(noop_server(noop_port, workdir / "noop.log"))
        noop_url = f"http://127.0.0.1:{noop_port}/noop"
        wait_for_http(noop_url, alive=lambda: noop.poll() is None)
        time.sleep(2.0)  # let the worker's scheduler take the lead and start its consume cycle
        profile_dir = Path(args.profile) if args.profile else None
        if profile_dir:
            profile_dir.mkdir(parents=True, exist_ok=True)

        print(f"TMC phase: {args.orders:,} Taobao orders …", file=sys.stderr, flush=True)
        profiler = start_profiler(worker.proc.pid, profile_dir / "worker-tmc.txt") if profile_dir else None
        try:
            tmc = asyncio.run(taobao_phase(taobao, tb_shop, args.dsn, args,
                                           alive=lambda: all(p.alive() for p in processes),
                                           worker_pids=worker_pids))
        finally:
            stop_profiler(profiler)
        asyncio.run(wait_quiet(args.dsn, 30.0))

        print("HTTP phase (worker paused) …", file=sys.stderr, flush=True)
        templates = douyin_templates(douyin, dy_shop, 500)
        for pid in worker_pids:
            os.kill(pid, signal.SIGSTOP)
        stack.callback(lambda: [os.kill(pid, signal.SIGCONT) for pid in worker_pids
                                if any(p.alive() and p.proc is not None and p.proc.pid == pid for p in processes)])
        profiler = start_profiler(serve.proc.pid, profile_dir / "serve-push.txt") if profile_dir else None
        try:
            http = run_load(http_phase(api, noop_url, noop.pid, serve.proc.pid, dy_shop, douyin, templates,
                                          args))
        finally:
            stop_profiler(profiler)
            for pid in worker_pids:
                os.kill(pid, signal.SIGCONT)
    print(f"(whole run {time.time() - began:.0f} s)", file=sys.stderr)
    print(report(tmc, http, args))
    machine = machine_summary()
    print(f"\nmachine: nproc {machine['nproc']}, {machine['cpu']}, Python {machine['python']}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(machine["free -h"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
