"""The scale-out benchmark: orders stored per second with 1, 2 and 4 ``hub worker`` processes, on
Redis and on RabbitMQ, and where the time goes (CPU by process group) when it stops growing.

Each cell of the table is the TMC phase of ``bench/ingest.py`` on a fresh set-up: a throw-away
PostgreSQL database, an empty Redis logical database, for RabbitMQ a throw-away virtual host
(``HUB_BROKER_URL=amqp://…``; Redis still coordinates), the Taobao sandbox under uvicorn in this
process, one ``hub serve`` and N ``hub worker`` processes (``--threads`` each). ``--orders`` paid
orders are created in the sandbox (two TMC messages each); the cell's figure is canonical orders
stored per second from the first create to the last order row. Over the phase, the CPU of every
process on the machine is taken from /proc and grouped (hub serve, hub workers, PostgreSQL, Redis,
RabbitMQ, this process — the sandbox and the counting —, and everything else, i.e. the other
sessions on a shared machine), as cores used on average; the machine's busy share says whether
the CPUs were the limit; ``pg_stat_activity`` sampled four times a second says what PostgreSQL's
sessions were doing (running, waiting for I/O or a lock, or waiting for the hub). ``--profile DIR``
also records the first worker with py-spy per cell.

Run: ``python bench/scaleout.py`` (``--quick``: fewer orders; ``--workers 1,2``, ``--brokers redis``
to choose cells). Results and their explanation: bench/README.md, "Scale-out".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._flash_support import hub_processes, libpq_dsn, redis_namespace, throwaway_database, wait_http
from bench._support import CPU_GROUPS, CpuMeter, machine_summary, rabbitmq_vhost
from bench.ingest import SKU, seed_catalogue, start_profiler, stop_profiler, taobao_phase, write_config
from hub.asgi_server import BackgroundServer, free_port
from plugins.taobao.sandbox import TaobaoSandbox


class PgSampler:
    """Samples ``pg_stat_activity`` of one database every ``every_s`` on a thread of its own: what
    the hub's sessions are doing — running (on CPU, or waiting for I/O, a lock or the WAL) or
    waiting for the hub (``ClientRead``: the application has not sent the next statement yet)."""

    def __init__(self, dsn: str, database: str, every_s: float = 0.25) -> None:
        self.dsn, self.database, self.every_s = dsn, database, every_s
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="pg-sampler", daemon=True)

    def __enter__(self) -> PgSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            while not self._stop.is_set():
                rows = await connection.fetch(
                    """SELECT state, wait_event_type, wait_event FROM pg_stat_activity
                       WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'""",
                    self.database)
                self.samples += 1
                for row in rows:
                    self.counts[_activity(row["state"], row["wait_event_type"], row["wait_event"])] += 1
                await asyncio.sleep(self.every_s)
        finally:
            await connection.close()

    def per_sample(self) -> dict[str, float]:
        """Sessions in each activity, on average over the samples."""
        return {name: n / self.samples for name, n in self.counts.most_common()} if self.samples else {}


def _activity(state: str | None, kind: str | None, event: str | None) -> str:
    if state == "idle":
        return "idle (in the pool)"
    if state and state.startswith("idle in transaction"):
        return "in a transaction, waiting for the hub"
    if kind is None:
        return "running on CPU"
    if kind == "Client":
        return "waiting for the hub"
    if kind in ("Lock", "LWLock") and event not in ("WALWrite", "WALInsert"):
        return f"waiting: {kind} {event}"
    if kind == "IO" or event in ("WALWrite", "WALInsert"):
        return "waiting: I/O, WAL"
    return f"waiting: {kind}"


@dataclass
class Cell:
    broker: str
    workers: int
    load_before: str
    orders: int = 0
    stored: int = 0
    stored_s: float | None = None
    inbox_s: float | None = None
    complete: bool = False
    wall_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    busy: float = 0.0
    pg: dict[str, float] = field(default_factory=dict)
    commits: int = 0  # PostgreSQL transactions committed in the hub's database over the phase

    @property
    def rate(self) -> float:
        return self.stored / self.stored_s if self.stored_s else 0.0

    def cores(self, group: str) -> float:
        return self.cpu.get(group, 0.0) / self.wall_s if self.wall_s else 0.0


def run_cell(broker: str, workers: int, args: argparse.Namespace) -> Cell:
    cell = Cell(broker, workers, " ".join(f"{x:.2f}" for x in os.getloadavg()))
    shop = f"bench-tb-{secrets.token_hex(3)}"
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(prefix="hub_scale_"))
        dsn = libpq_dsn(database_url)
        redis_url = stack.enter_context(redis_namespace())
        broker_url = stack.enter_context(rabbitmq_vhost()) if broker == "rabbitmq" else None
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-scale-")))
        taobao = TaobaoSandbox(redelivery_seconds=30.0)
        server = BackgroundServer(taobao.app).start()
        stack.callback(server.stop)
        taobao.add_listing(shop, [SKU], stock=args.orders * 2 + 100)
        api_port = free_port()
        config_path = workdir / "hub.toml"
        write_config(config_path, api_port, {shop: ("taobao", taobao.shop_settings(shop, server.base_url))}, args)
        processes = stack.enter_context(hub_processes(config_path, database_url, redis_url, workers=workers,
                                                      threads=args.threads, broker_url=broker_url))
        asyncio.run(seed_catalogue(config_path, database_url))
        wait_http(f"http://127.0.0.1:{api_port}/healthz", timeout_s=180.0, processes=processes)
        time.sleep(2.0)  # let a worker's scheduler take the lead and start the consume cycle
        pids = {p.proc.pid: ("hub serve" if p.name == "serve" else "hub workers")
                for p in processes if p.proc is not None}
        worker_pid = next(pid for pid, name in pids.items() if name == "hub workers")
        profiler = None
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            profiler = start_profiler(worker_pid, Path(args.profile) / f"worker1-{broker}-{workers}w.txt")
        meter = CpuMeter(pids)
        sampler = PgSampler(dsn, database_url.rsplit("/", 1)[-1])
        try:
            with sampler:
                figures = asyncio.run(taobao_phase(
                    taobao, shop, dsn, args, alive=lambda: all(p.alive() for p in processes),
                    worker_pids=[pid for pid, n in pids.items() if n == "hub workers"]))
        finally:
            cell.wall_s, cell.cpu, cell.busy = meter.stop()
            cell.pg = sampler.per_sample()
            stop_profiler(profiler)
    cell.orders, cell.stored, cell.stored_s = figures.orders, figures.stored, figures.stored_s
    cell.inbox_s, cell.complete, cell.commits = figures.inbox_s, figures.complete, figures.commits
    return cell


def report(cells: list[Cell], args: argparse.Namespace) -> str:
    lines = [f"scale-out: {args.orders:,} Taobao orders over TMC per cell; hub: 1 serve + N workers x {args.threads} "
             f"threads; PostgreSQL + the broker (RabbitMQ cells: Redis coordinates); per-shop partner-call limit "
             f"{args.shop_rate:g}/s", ""]
    head = f"{'broker':9}{'workers':>8}{'orders/s':>10}{'vs 1':>6}{'TMC in/s':>10}{'busy':>6}  " \
           + "".join(f"{g.split(' (')[0][:11]:>12}" for g in CPU_GROUPS) + f"{'unseen':>12}" + "   load avg before"
    lines += [head, "-" * len(head)]
    base: dict[str, float] = {}
    for cell in cells:
        base.setdefault(cell.broker, cell.rate)
        ratio = f"{cell.rate / base[cell.broker]:.2f}" if base[cell.broker] else "-"
        tmc = f"{cell.orders * 2 / cell.inbox_s:,.0f}" if cell.inbox_s else "-"
        gone = max(0.0, cell.busy * (os.cpu_count() or 1) - sum(cell.cores(g) for g in CPU_GROUPS))
        cores = "".join(f"{cell.cores(g):>12.2f}" for g in CPU_GROUPS) + f"{gone:>12.2f}"
        flag = "" if cell.complete else "  (INCOMPLETE)"
        lines.append(f"{cell.broker:9}{cell.workers:>8}{cell.rate:>10,.0f}{ratio:>6}{tmc:>10}{cell.busy:>6.0%}  "
                     f"{cores}   {cell.load_before}{flag}")
    lines += ["", "CPU per stored order (ms): hub workers / PostgreSQL / broker (Redis + RabbitMQ) / hub serve; "
                  "PostgreSQL commits per order"]
    for cell in cells:
        if cell.stored:
            per = [cell.cpu.get(g, 0.0) * 1000 / cell.stored for g in ("hub workers", "PostgreSQL")]
            per.append((cell.cpu.get("Redis", 0.0) + cell.cpu.get("RabbitMQ", 0.0)) * 1000 / cell.stored)
            per.append(cell.cpu.get("hub serve", 0.0) * 1000 / cell.stored)
            lines.append(f"  {cell.broker} x{cell.workers}: " + " / ".join(f"{v:.1f}" for v in per)
                         + f"; {cell.commits / cell.stored:.1f} commits")
    lines += ["", "PostgreSQL sessions of the hub's database, on average over the phase (pg_stat_activity every "
                  "0.25 s):"]
    for cell in cells:
        lines.append(f"  {cell.broker} x{cell.workers}: " + ", ".join(f"{name} {n:.1f}" for name, n in cell.pg.items()))
    lines += ["", "orders/s: canonical orders stored per second, first create to last order row; TMC in/s: TMC "
                  "messages into the inbox per second; busy: the machine's CPUs busy over the phase (100% = every "
                  "core); the next columns: cores used on average over the phase by each group of processes "
                  "(other = processes outside this run, e.g. other sessions on a shared machine; unseen = the rest "
                  "of the busy CPU: processes that started and ended within the phase, e.g. other sessions' test "
                  "runs, and the kernel)."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_000, help="Taobao orders per cell (default 2,000)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated (default 1,2,4)")
    parser.add_argument("--brokers", default="redis,rabbitmq", help="brokers, comma-separated (default redis,rabbitmq)")
    parser.add_argument("--threads", type=int, default=4, help="threads per hub worker (default 4, the hub default)")
    parser.add_argument("--shop-rate", type=float, default=1_000.0, help="per-shop partner-call limit, calls/s")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for one cell's TMC phase, s")
    parser.add_argument("--profile", help="py-spy record the first worker of each cell into this directory")
    parser.add_argument("--quick", action="store_true", help="600 orders per cell")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders = min(args.orders, 600)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    args.broker_names = [b.strip() for b in args.brokers.split(",") if b.strip()]
    unknown = set(args.broker_names) - {"redis", "rabbitmq"}
    if unknown:
        parser.error(f"--brokers: unknown {', '.join(sorted(unknown))} (redis, rabbitmq)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.time()
    cells = []
    for broker in args.broker_names:
        for workers in args.worker_counts:
            print(f"{broker}, {workers} worker(s): {args.orders:,} orders …", file=sys.stderr, flush=True)
            try:
                cells.append(run_cell(broker, workers, args))
            except Exception as exc:  # one cell failing (a loaded machine) must not lose the others
                print(f"  FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            print("\n".join(line for line in report(cells[-1:], args).splitlines()
                            if line.startswith((broker, f"  {broker}"))), file=sys.stderr, flush=True)
    print(f"(whole run {time.time() - began:.0f} s)", file=sys.stderr)
    print(report(cells, args))
    machine = machine_summary()
    print(f"\nmachine: nproc {machine['nproc']}, {machine['cpu']}, Python {machine['python']}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
