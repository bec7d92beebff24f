"""The fault suite's runner, shared by ``bench/faults.py`` and ``tests/faults/``: one scenario is
paid orders in four sandbox shops (Taobao, Tmall, Douyin, AliExpress under uvicorn in this
process), the hub as real ``hub serve`` + ``hub worker`` processes on a throw-away PostgreSQL
database and a ``redis-server`` of its own (``hub.testing.faults.PrivateRedis``: never the shared
server), some shipments recorded over the API, one fault in the middle, then a bounded wait until
the hub is quiet — and a ledger of what the sandboxes hold against what the hub holds.

Scenarios (``SCENARIOS``):

- ``worker-kill``: ``kill -9`` of the worker mid-run, another one started;
- ``broker-restart``: the Redis server killed and started again *empty* mid-run (down ``outage_s``);
- ``partner-faults``: ~``fault_rate`` of all partner calls fail (throttle / unavailable / slow)
  while the orders come in.

"Quiet" means every check of ``Ledger.problems`` holds; the wait ends early when they all hold,
or when nothing the ledger counts has changed for ``stall_s`` (stuck), or at ``deadline_s``. The
stall window must outlast the hub's own slow recoveries (``sweep_inbox`` every 30 s; a dead
worker's unacknowledged messages come back after dramatiq's 60 s heartbeat timeout; a shipment
confirmation a killed worker left mid-call is sent again only once its claim is older than
``[fulfilment] confirm_in_flight``, 150 s by default; pass a shorter ``confirm_timeout_s`` in
``Options.extra_config`` to shorten that wait, as the test suite does): ``STALL_S``.

Relies on sandbox internals to read what a partner shows (order status after a shipment): bench
and test code, not a contract. Not for timing anything.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench._flash_support import (
    POSTGRES_SERVER_URL,
    HubProcess,
    hub_processes,
    libpq_dsn,
    wait_http,
    write_toml,
)
from contracts.inventory import AllocationMode, StockPolicy
from hub.asgi_server import BackgroundServer, free_port
from hub.services.fulfilment.settings import FulfilmentSection
from hub.services.stock import allocation
from hub.testing.db import create_postgres_database, drop_postgres_database
from hub.testing.faults import PartnerFaults, PrivateRedis

SCENARIOS = ("worker-kill", "broker-restart", "partner-faults")
#: Give up when nothing the ledger counts moved for this long: past the slowest recovery the hub
#: makes on its own, a confirmation claim left by a killed worker (the default
#: ``confirm_in_flight``), with a margin.
STALL_S = FulfilmentSection().confirm_in_flight.total_seconds() + 15
PLATFORMS = ("taobao", "tmall", "douyin", "aliexpress")
WAREHOUSE = "main"
#: The status each sandbox gives an order once the hub's shipment confirmation landed.
SHIPPED_STATUS = {"taobao": "WAIT_BUYER_CONFIRM_GOODS", "tmall": "WAIT_BUYER_CONFIRM_GOODS", "douyin": "3",
                  "aliexpress": "WAIT_BUYER_ACCEPT_GOODS"}


@dataclass
class Options:
    """Sizes and bounds of one run; the defaults are the benchmark's (the test passes smaller)."""

    orders: int = 1_200
    shipments: int = 10
    rate: float = 40.0  # orders created per second (a steady shop day, not a burst)
    skus: tuple[str, ...] = ("FAULT-A", "FAULT-B")
    stock: int = 1_000_000
    threads: int = 2  # per worker process; keeps the PostgreSQL connections few
    outage_s: float = 3.0  # broker-restart: how long Redis stays down
    fault_rate: float = 0.3  # partner-faults: share of partner calls that fail
    deadline_s: float = 420.0
    stall_s: float = STALL_S
    settle_timeout_s: float = 120.0  # bounded waits before the fault (listings learnt, shipments' orders in)
    extra_config: dict[str, dict[str, Any]] = field(default_factory=dict)  # more TOML sections, e.g. [queue]
    postgres_server_url: str = POSTGRES_SERVER_URL  # where the throw-away database is created
    progress: Callable[[str], None] = lambda line: None


@dataclass
class Shop:
    platform: str
    name: str
    sandbox: Any
    server: BackgroundServer


@dataclass
class Created:
    shop: Shop
    external_id: str
    sku: str


@dataclass
class Ledger:
    """What the sandboxes hold against what the hub holds, once quiet (or given up on)."""

    scenario: str
    created: int = 0
    stored: int = 0
    missing: int = 0  # created in a sandbox, not stored in the hub
    duplicated: int = 0  # (shop, external id) stored more than once
    reserved: int = 0  # order lines reserved (active or consumed by a shipment)
    short: int = 0
    shipments_recorded: int = 0
    shipments_confirmed: int = 0  # the hub's shipments marked confirmed
    shipped_in_sandbox: int = 0  # orders the sandboxes show shipped
    shops_checked: int = 0  # (shop, SKU) pairs
    stock_mismatches: list[str] = field(default_factory=list)
    stock_dirty: int = 0
    inbox_pending: int = 0
    inbox_failed: int = 0
    inbox_dead: int = 0
    outbox_unpublished: int = 0
    shipments_pending: int = 0
    shipments_failed: int = 0
    dead_letters: int = 0
    quiet: bool = False
    waited_s: float = 0.0
    fault: str = ""
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # when not quiet: the stuck rows and dead letters' reasons
    max_connections: int = 0  # PostgreSQL connections to the hub's database, most seen at once

    def problems(self) -> list[str]:
        """Everything lost or stuck; empty when all matches."""
        found = []
        if self.missing:
            found.append(f"{self.missing} of {self.created} orders never stored")
        if self.duplicated:
            found.append(f"{self.duplicated} orders stored twice")
        if self.reserved != self.created:
            found.append(f"{self.created:,} paid orders → {self.reserved:,} reservations"
                         + (f" ({self.short} short)" if self.short else ""))
        if self.shipments_confirmed != self.shipments_recorded:
            found.append(f"{self.shipments_recorded - self.shipments_confirmed} of {self.shipments_recorded} "
                         f"shipments not confirmed ({self.shipments_pending} pending, {self.shipments_failed} failed)")
        if self.shipped_in_sandbox != self.shipments_recorded:
            found.append(f"{self.shipped_in_sandbox} of {self.shipments_recorded} shipments shown by the sandboxes")
        if self.stock_mismatches:
            found.append(f"{len(self.stock_mismatches)} of {self.shops_checked} shop stocks wrong: "
                         + "; ".join(self.stock_mismatches[:4]))
        if self.inbox_pending or self.inbox_failed or self.inbox_dead:
            found.append(f"inbox rows stuck: {self.inbox_pending} pending, {self.inbox_failed} failed, "
                         f"{self.inbox_dead} dead")
        if self.outbox_unpublished:
            found.append(f"{self.outbox_unpublished} outbox rows unpublished")
        if self.stock_dirty:
            found.append(f"{self.stock_dirty} shop stocks still to push")
        if self.dead_letters:
            found.append(f"{self.dead_letters} dead letters")
        return found

    def progress_key(self) -> tuple[Any, ...]:
        return (self.stored, self.reserved, self.short, self.shipments_confirmed, self.shipped_in_sandbox,
                tuple(self.stock_mismatches), self.stock_dirty, self.inbox_pending, self.inbox_failed,
                self.inbox_dead, self.outbox_unpublished, self.dead_letters)


# --------------------------------------------------------------------------- reading the hub


def _query(dsn: str, work: Callable[[asyncpg.Connection], Any]) -> Any:
    async def run() -> Any:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(run())


COUNTS = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM orders GROUP BY shop, external_id HAVING count(*) > 1) d) AS duplicated,
       (SELECT count(*) FROM reservations WHERE state IN ('active', 'consumed')) AS reserved,
       (SELECT count(*) FROM reservations WHERE state = 'short') AS short,
       (SELECT count(*) FROM shipments) AS shipments,
       (SELECT count(*) FROM shipments WHERE status = 'confirmed') AS confirmed,
       (SELECT count(*) FROM shipments WHERE status IN ('pending', 'created')) AS ship_pending,
       (SELECT count(*) FROM shipments WHERE status = 'failed') AS ship_failed,
       (SELECT count(*) FROM inbox WHERE status = 'pending') AS inbox_pending,
       (SELECT count(*) FROM inbox WHERE status = 'failed') AS inbox_failed,
       (SELECT count(*) FROM inbox WHERE status = 'dead') AS inbox_dead,
       (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS outbox_unpublished,
       (SELECT count(*) FROM dead_letters) AS dead_letters,
       (SELECT count(*) FROM channel_stock WHERE dirty) AS stock_dirty,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) - 1 AS connections
"""


def snapshot(scenario: str, dsn: str, shops: list[Shop], created: list[Created], options: Options) -> Ledger:
    async def read(connection: asyncpg.Connection) -> tuple[asyncpg.Record, set[tuple[str, str]]]:
        counts = await connection.fetchrow(COUNTS)
        stored = {(r["shop"], r["external_id"]) for r in await connection.fetch("SELECT shop, external_id FROM orders")}
        return counts, stored

    counts, stored = _query(dsn, read)
    ledger = Ledger(scenario, created=len(created), stored=len(stored))
    ledger.missing = sum(1 for c in created if (c.shop.name, c.external_id) not in stored)
    ledger.duplicated = counts["duplicated"]
    ledger.reserved, ledger.short = counts["reserved"], counts["short"]
    ledger.shipments_recorded, ledger.shipments_confirmed = counts["shipments"], counts["confirmed"]
    ledger.shipments_pending, ledger.shipments_failed = counts["ship_pending"], counts["ship_failed"]
    ledger.inbox_pending, ledger.inbox_failed, ledger.inbox_dead = (
        counts["inbox_pending"], counts["inbox_failed"], counts["inbox_dead"])
    ledger.outbox_unpublished, ledger.dead_letters = counts["outbox_unpublished"], counts["dead_letters"]
    ledger.stock_dirty, ledger.max_connections = counts["stock_dirty"], counts["connections"]
    for sku in options.skus:
        sold = sum(1 for c in created if c.sku == sku)
        targets = expected_shown(shops, sku, options.stock - sold)
        for shop in shops:
            ledger.shops_checked += 1
            shown = shop.sandbox.shown_stock(shop.name, sku)
            if shown != targets[shop.name]:
                ledger.stock_mismatches.append(f"{shop.platform} {sku} shows {shown}, expected {targets[shop.name]}")
    return ledger


#: What is left behind, row by row, for a run that did not come out quiet: the reasons, not counts.
LEFT_BEHIND = {
    "dead letter": "SELECT actor, queue, error_class, attempts, left(reason, 300) AS reason, inbox_id, args::text "
                   "AS args FROM dead_letters ORDER BY id LIMIT 20",
    "inbox row": "SELECT id, shop, topic, external_id, status, attempts, left(last_error, 300) AS last_error "
                 "FROM inbox WHERE status <> 'done' ORDER BY id LIMIT 20",
    "shipment": "SELECT s.id, o.shop, o.external_id, s.status, s.attempts, left(s.last_error, 300) AS last_error "
                "FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.status <> 'confirmed' "
                "ORDER BY s.id LIMIT 20",
    # Every listing, clean ones too: a shop showing the wrong value while the hub believes it pushed
    # the right one has a clean row, and its target, shown and pushed_at are the clue.
    "shop stock": "SELECT shop, merchant_sku, target, shown, dirty, pushed_at, pending_at, "
                  "left(last_error, 300) AS last_error FROM channel_stock ORDER BY shop, merchant_sku LIMIT 20",
    "outbox row": "SELECT id, actor, left(args::text, 200) AS args, created_at FROM outbox "
                  "WHERE published_at IS NULL ORDER BY id LIMIT 20",
}


def left_behind(dsn: str) -> list[str]:
    """One line per dead letter / unfinished inbox row / unconfirmed shipment / shop stock row /
    unpublished outbox row (the columns are ``hub/db/tables.py``'s)."""
    async def read(connection: asyncpg.Connection) -> list[str]:
        lines = []
        for what, sql in LEFT_BEHIND.items():
            try:
                rows = await connection.fetch(sql)
            except asyncpg.PostgresError as error:  # a column renamed: say so, keep the rest
                lines.append(f"{what}: cannot read ({error})")
                continue
            lines += [f"{what}: " + ", ".join(f"{k}={v}" for k, v in row.items()) for row in rows]
        return lines

    lines: list[str] = _query(dsn, read)
    return lines


def expected_shown(shops: list[Shop], sku: str, available: int) -> dict[str, int]:
    """What the hub should make each shop show at ``available`` (shared mode, default policies)."""
    shares = [allocation.ShopShare(s.name, s.platform, StockPolicy()) for s in shops]
    return allocation.allocate(sku, available, shares, AllocationMode.SHARED)


def shipped_in_sandbox(shop: Shop, external_id: str) -> bool:
    """Whether the sandbox shows the order shipped (sandbox internals; see the module docstring)."""
    box = shop.sandbox
    if shop.platform in ("taobao", "tmall"):
        with box.lock:
            status = box.shop(shop.name).trades[external_id]["status"]
    elif shop.platform == "douyin":
        status = box.book.order(shop.name, external_id).status
    else:
        with box._lock:
            status = box._shop(shop.name).orders[external_id].status
    return bool(status == SHIPPED_STATUS[shop.platform])


# --------------------------------------------------------------------------- set-up


def make_sandbox(platform: str) -> Any:
    from plugins.aliexpress.sandbox import AliExpressSandbox
    from plugins.douyin.sandbox import DouyinSandbox
    from plugins.taobao.sandbox import TaobaoSandbox
    from plugins.tmall.sandbox import TmallSandbox

    # Short redelivery: a TMC message consumed but never confirmed comes back within the run.
    return {"taobao": lambda: TaobaoSandbox(redelivery_seconds=2.0),
            "tmall": lambda: TmallSandbox(redelivery_seconds=2.0),
            "douyin": lambda: DouyinSandbox(push_interval_s=0.1),
            "aliexpress": lambda: AliExpressSandbox(redeliver_after=2.0)}[platform]()


def write_config(path: Path, shops: list[Shop], api_port: int, options: Options) -> None:
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": api_port, "log_level": "warning", "log_format": "json",
                "worker_threads": options.threads},
        f"warehouses.{WAREHOUSE}": {"platform": "manual"},
    }
    for shop in shops:
        sections[f"shops.{shop.name}"] = {
            "platform": shop.platform, "settings": shop.sandbox.shop_settings(shop.name, shop.server.base_url),
            "rate_limit_per_s": 200.0, "rate_limit_burst": 200, "poll_interval_s": 10.0, "poll_overlap_s": 120.0}
    sections.update(options.extra_config)
    write_toml(path, sections)


async def seed(config_path: Path, database_url: str, options: Options) -> str:
    """The SKUs with their stock, and a warehouse API key (returned) to record shipments with."""
    from hub.config import load_config
    from hub.context import build_hub
    from hub.db import api_keys
    from hub.services.stock import adjustments, skus

    config = load_config(config_path)
    config.hub.database_url = database_url
    hub = build_hub(config)
    try:
        async with hub.database().transaction() as session:
            for sku in options.skus:
                await skus.define_sku(session, sku, name=f"Fault suite item {sku}")
            key, _ = await api_keys.create_key(session, name="fault-suite-warehouse", role="warehouse")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(WAREHOUSE, sku, on_hand=options.stock)
                                             for sku in options.skus], actor="fault-suite", reference="seed")
        return str(key)
    finally:
        await hub.close_loop_resources()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.25) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached within {timeout_s:g} s")
        time.sleep(every_s)


def order_row(dsn: str, shop: str, external_id: str) -> asyncpg.Record | None:
    async def read(connection: asyncpg.Connection) -> Any:
        return await connection.fetchrow(
            "SELECT o.id, o.status, (SELECT count(*) FROM reservations r WHERE r.order_id = o.id "
            "AND r.state = 'active') AS reserved FROM orders o WHERE o.shop = $1 AND o.external_id = $2",
            shop, external_id)

    result: asyncpg.Record | None = _query(dsn, read)
    return result


# --------------------------------------------------------------------------- one scenario


@dataclass
class Run:
    """The live pieces of one scenario."""

    scenario: str
    options: Options
    dsn: str
    redis: PrivateRedis
    shops: list[Shop]
    processes: list[HubProcess]
    api: str
    key: str
    created: list[Created] = field(default_factory=list)
    shipped_ids: set[str] = field(default_factory=set)  # external ids of the orders shipped
    faults: PartnerFaults | None = None

    def create(self, count: int, skus: Iterator[str], shops: Iterator[Shop]) -> None:
        """``count`` paid orders, round-robin over shops and SKUs, at ``options.rate`` per second."""
        interval = 1.0 / self.options.rate if self.options.rate > 0 else 0.0
        started = time.monotonic()
        for n in range(count):
            shop, sku = next(shops), next(skus)
            external_id = shop.sandbox.create_order(shop.name, sku, 1)
            self.created.append(Created(shop, external_id, sku))
            if interval:
                delay = started + (n + 1) * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise RuntimeError(f"hub {process.name} died:\n{process.tail()}")

    def record_shipments(self, orders: list[Created]) -> None:
        """Wait (bounded) until each order is stored, paid and reserved, then POST its shipment."""
        ids: dict[int, int] = {}

        def ready() -> bool:
            self.check_alive()
            for n, order in enumerate(orders):
                if n in ids:
                    continue
                row = order_row(self.dsn, order.shop.name, order.external_id)
                if row is not None and row["status"] == "paid" and row["reserved"] >= 1:
                    ids[n] = row["id"]
            return len(ids) == len(orders)

        wait_until(ready, self.options.settle_timeout_s, f"the {len(orders)} orders to ship stored and reserved")
        with httpx.Client(base_url=self.api, timeout=30.0, headers={"Authorization": f"Bearer {self.key}"}) as client:
            for n in range(len(orders)):
                body = {"warehouse": WAREHOUSE,
                        "parcels": [{"courier_code": "SF", "tracking_number": f"SF{9_000_000 + n}"}]}
                answer = client.post(f"/api/v1/orders/{ids[n]}/shipments", json=body)
                if answer.status_code not in (200, 201):
                    raise RuntimeError(f"recording a shipment of order {ids[n]} answered "
                                       f"{answer.status_code}: {answer.text[:300]}")

    def ledger(self) -> Ledger:
        ledger = snapshot(self.scenario, self.dsn, self.shops, self.created, self.options)
        shipped = [c for c in self.created if c.external_id in self.shipped_ids]
        ledger.shipped_in_sandbox = sum(1 for c in shipped if shipped_in_sandbox(c.shop, c.external_id))
        return ledger

    def fault(self) -> str:
        """The scenario's fault, in the middle of the run; returns what was done."""
        if self.scenario == "worker-kill":
            victim = next(p for p in self.processes if p.name.startswith("worker") and p.alive())
            assert victim.proc is not None
            victim.proc.kill()  # SIGKILL, this pid only
            victim.proc.wait(10)
            replacement = HubProcess(f"worker-after-{victim.name}", victim.args, victim.env,
                                     victim.log_path.with_name("worker-replacement.log")).start()
            self.processes.remove(victim)
            self.processes.append(replacement)
            return f"kill -9 {victim.name} (pid {victim.proc.pid}), another worker started"
        if self.scenario == "broker-restart":
            self.redis.restart_empty(self.options.outage_s)
            return f"redis-server killed, down {self.options.outage_s:g} s, restarted empty"
        if self.scenario == "partner-faults":
            self.faults = PartnerFaults([s.sandbox for s in self.shops], rate=self.options.fault_rate).start()
            return f"~{self.options.fault_rate:.0%} of partner calls fail (throttle/unavailable/slow)"
        raise ValueError(f"unknown scenario {self.scenario!r}; expected one of {', '.join(SCENARIOS)}")

    def wait_quiet(self) -> Ledger:
        """Bounded wait: until all matches, nothing moved for ``stall_s``, or ``deadline_s``."""
        started = time.monotonic()
        last_key: tuple[Any, ...] | None = None
        last_change = started
        most_connections = 0
        while True:
            self.check_alive()
            ledger = self.ledger()
            most_connections = max(most_connections, ledger.max_connections)
            now = time.monotonic()
            if not ledger.problems():
                ledger.quiet = True
                break
            if ledger.progress_key() != last_key:
                last_key, last_change = ledger.progress_key(), now
            elif now - last_change >= self.options.stall_s:
                ledger.notes.append(f"nothing moved for {self.options.stall_s:g} s: stuck")
                break
            if now - started >= self.options.deadline_s:
                ledger.notes.append(f"still moving at the {self.options.deadline_s:g} s deadline")
                break
            time.sleep(0.5)
        ledger.waited_s = time.monotonic() - started
        ledger.max_connections = most_connections
        if not ledger.quiet:
            ledger.details = left_behind(self.dsn) + self.log_errors()
        return ledger

    def log_errors(self, lines: int = 15) -> list[str]:
        """The hub processes' last warnings and errors, and where their whole logs are."""
        found = []
        for process in self.processes:
            try:
                text = process.log_path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            loud = [line for line in text if '"level": "warning"' in line or '"level": "error"' in line
                    or "Traceback" in line or "ERROR" in line or "WARNING" in line]
            found += [f"{process.name} log: {line[:400]}" for line in loud[-lines:]]
            found.append(f"{process.name} log: whole log in {process.log_path}")
        return found


def run_scenario(scenario: str, options: Options) -> Ledger:
    """One scenario from scratch (fresh database, fresh Redis server, fresh sandboxes)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    with ExitStack() as stack:
        database_url = create_postgres_database(options.postgres_server_url, prefix="hub_faults_")
        stack.callback(drop_postgres_database, options.postgres_server_url, database_url)
        dsn = libpq_dsn(database_url)
        redis = stack.enter_context(PrivateRedis())
        shops: list[Shop] = []
        for platform in PLATFORMS:
            sandbox = make_sandbox(platform)
            server = BackgroundServer(sandbox.app).start()
            stack.callback(server.stop)
            shops.append(Shop(platform, f"faults-{platform}", sandbox, server))
        api_port = free_port()
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-faults-")))
        config_path = workdir / "hub.toml"
        write_config(config_path, shops, api_port, options)
        # ``hub_processes`` stops every process in this list when done: the run swaps a killed
        # worker for its replacement in it.
        processes = stack.enter_context(hub_processes(config_path, database_url, redis.url, threads=options.threads))
        key = asyncio.run(seed(config_path, database_url, options))
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz", processes=processes)
        for shop in shops:
            shop.sandbox.set_push_target(shop.name, f"{api}/webhooks/{shop.platform}/{shop.name}")
        run = Run(scenario, options, dsn, redis, shops, processes, api, key)
        try:
            return _drive(run)
        except RuntimeError as error:  # a bounded wait gave up (or a process died): say what was left
            raise RuntimeError("\n".join([str(error), *left_behind(dsn), *run.log_errors()])) from error


def _drive(run: Run) -> Ledger:
    """The scenario's steps on a started hub: listings, orders, shipments, the fault, the wait."""
    scenario, options, shops, dsn, say = run.scenario, run.options, run.shops, run.dsn, run.options.progress
    # Listings: one order per shop and SKU; wait until every shop shows the hub's value.
    say(f"{scenario}: learning listings")
    run.create(len(shops) * len(options.skus), itertools.cycle(options.skus),
               itertools.cycle(s for s in shops for _ in options.skus))

    def listings_pushed() -> bool:
        run.check_alive()
        return not snapshot(scenario, dsn, shops, run.created, options).stock_mismatches

    wait_until(listings_pushed, options.settle_timeout_s, "every shop showing the hub's stock")

    skus, cycle = itertools.cycle(options.skus), itertools.cycle(shops)
    first_half = options.orders // 2
    to_ship_from = len(run.created)
    say(f"{scenario}: creating {first_half} orders")
    run.create(first_half, skus, cycle)
    to_ship = run.created[to_ship_from:to_ship_from + min(options.shipments, first_half)]
    run.shipped_ids = {c.external_id for c in to_ship}
    say(f"{scenario}: recording {len(to_ship)} shipments")
    run.record_shipments(to_ship)
    fault = run.fault()
    say(f"{scenario}: {fault}; creating {options.orders - first_half} more orders")
    run.create(options.orders - first_half, skus, cycle)
    if run.faults is not None:
        run.faults.stop()
    say(f"{scenario}: waiting until quiet (stall {options.stall_s:g} s, deadline {options.deadline_s:g} s)")
    ledger = run.wait_quiet()
    ledger.fault = fault
    if run.faults is not None:
        ledger.notes.append("faults injected: " + ", ".join(f"{k} {v}" for k, v in run.faults.injected.items()))
    return ledger


# --------------------------------------------------------------------------- the table


def table(ledgers: list[Ledger]) -> str:
    """The ledgers side by side; "all must match"."""
    width = max(18, *(len(ledger.scenario) + 2 for ledger in ledgers))
    lines = [f"{'':44}" + "".join(f"{ledger.scenario:>{width}}" for ledger in ledgers)]

    def row(label: str, cell: Callable[[Ledger], str]) -> None:
        lines.append(f"{label:44}" + "".join(f"{cell(ledger):>{width}}" for ledger in ledgers))

    row("orders in sandboxes / stored in the hub", lambda x: f"{x.created:,} / {x.stored:,}")
    row("  never stored / stored twice", lambda x: f"{x.missing} / {x.duplicated}")
    row("reservations (paid order lines) / short", lambda x: f"{x.reserved:,} / {x.short}")
    row("shipments recorded / confirmed by the hub", lambda x: f"{x.shipments_recorded} / {x.shipments_confirmed}")
    row("  shown shipped by the sandboxes", lambda x: f"{x.shipped_in_sandbox}")
    row("shop stocks as expected (shop x SKU)",
        lambda x: f"{x.shops_checked - len(x.stock_mismatches)} of {x.shops_checked}")
    row("stuck: inbox pending / failed / dead", lambda x: f"{x.inbox_pending} / {x.inbox_failed} / {x.inbox_dead}")
    row("stuck: outbox unpublished", lambda x: f"{x.outbox_unpublished}")
    row("stuck: shipments pending / failed", lambda x: f"{x.shipments_pending} / {x.shipments_failed}")
    row("stuck: shop stocks still to push", lambda x: f"{x.stock_dirty}")
    row("dead letters", lambda x: f"{x.dead_letters}")
    row("waited for quiet", lambda x: f"{x.waited_s:.0f} s")
    row("PostgreSQL connections (most at once)", lambda x: f"{x.max_connections}")
    row("ALL MATCH", lambda x: "yes" if not x.problems() else "NO")
    for ledger in ledgers:
        lines.append(f"{ledger.scenario}: {ledger.fault}")
        lines += [f"  LOST/STUCK: {problem}" for problem in ledger.problems()]
        lines += [f"  note: {note}" for note in ledger.notes]
        lines += [f"  left behind: {detail}" for detail in ledger.details]
    return "\n".join(lines)
