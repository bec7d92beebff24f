"""How fast is the console's orders screen with 100,000 orders on PostgreSQL?

A throw-away PostgreSQL database (``hub_console_<hex>``, dropped at the end) is migrated and
filled with COPY (``hub.testing.bulk_orders``: 100,000 orders over 4 platforms / 8 shops, ~1.7
lines each, statuses, 180 days, ~3% held). One ``hub serve`` process (real uvicorn, Redis mode
under a namespace of its own so no in-process worker runs) serves the console; this process signs
in with an admin API key and times GETs over real HTTP, one at a time on a keep-alive connection:
the first page, one filtered page per filter, page 50 of several lists (cursor pages), and an
order's page. Each list case is also EXPLAINed (ANALYZE, on the same database, the SQL the screen
runs: ``page_statement`` from the same form values) to show which index serves it and how many
rows it read. Nothing asserts a speed; the last column is the p95 as a share of the 1 s target.

    python bench/console_orders.py              # 100,000 orders, 30 timed requests per case (~1 min)
    python bench/console_orders.py --orders 20000 --runs 10
    python bench/console_orders.py --baseline   # the same code with the indexes from before 0011
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._flash_support import (
    REDIS_SERVER_URL,
    HubProcess,
    libpq_dsn,
    percentile,
    throwaway_database,
    wait_http,
    write_toml,
)
from bench._support import machine_summary
from hub.asgi_server import free_port

TARGET_S = 1.0
PAGE = 50
ZONE = "Asia/Shanghai"


@dataclass
class Case:
    label: str
    params: dict[str, str] = field(default_factory=dict)  # filter form values
    page: int = 1  # 50 = after 49 pages of 50
    order_id: int | None = None  # an order's page instead of the list
    path: str = ""
    cursor: str | None = None


@dataclass
class Result:
    case: Case
    times_ms: list[float]
    rows: int
    plan: str = ""
    rows_read: int | None = None
    db_ms: float | None = None
    seq_scan: bool = False


# --------------------------------------------------------------------------- set-up


async def seed(database_url: str, orders: int) -> tuple[Any, str, int]:
    """Bulk orders, an admin key, and a held order with several lines (for the order page)."""
    import asyncpg

    from hub.db import api_keys
    from hub.db.engine import Database
    from hub.testing.bulk_orders import BulkShape, copy_orders

    summary = await copy_orders(libpq_dsn(database_url), BulkShape(orders=orders))
    database = Database.connect(database_url, pool_size=1)
    try:
        async with database.transaction() as session:
            key, _ = await api_keys.create_key(session, name="bench-console", role="admin")
    finally:
        await database.dispose()
    connection = await asyncpg.connect(libpq_dsn(database_url))
    try:
        order_id = await connection.fetchval(
            "SELECT o.id FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.on_hold "
            "GROUP BY o.id HAVING count(*) > 1 ORDER BY o.id DESC LIMIT 1")
    finally:
        await connection.close()
    return summary, key, int(order_id)


#: ``--baseline``: undo what migration 0011 did for speed (its table stays: the screen reads it).
BASELINE_SQL = (
    "DROP INDEX ix_orders_buyer", "DROP INDEX ix_orders_on_hold", "DROP INDEX ix_order_holds_open_orders",
    "DROP INDEX ix_order_lines_sku", "CREATE INDEX ix_order_lines_sku ON order_lines (merchant_sku)",
    "ALTER TABLE orders ALTER COLUMN buyer_nick SET STATISTICS -1",
    "ALTER TABLE order_lines ALTER COLUMN merchant_sku SET STATISTICS -1",
    "ANALYZE orders", "ANALYZE order_lines", "ANALYZE order_holds",
)


async def use_baseline_indexes(database_url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(libpq_dsn(database_url))
    try:
        for statement in BASELINE_SQL:
            await connection.execute(statement)
    finally:
        await connection.close()


def write_config(path: Path, port: int, shops: dict[str, str], namespace: str) -> None:
    from plugins.aliexpress.sandbox import AliExpressSandbox
    from plugins.douyin.sandbox import DouyinSandbox
    from plugins.taobao.sandbox import TaobaoSandbox
    from plugins.tmall.sandbox import TmallSandbox

    # Valid shop settings pointing nowhere: ``hub serve`` in Redis mode never calls a partner.
    boxes: dict[str, Any] = {"taobao": TaobaoSandbox(), "tmall": TmallSandbox(), "douyin": DouyinSandbox(),
                             "aliexpress": AliExpressSandbox()}
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": port, "log_level": "warning", "log_format": "json",
                "redis_namespace": namespace},
        "console": {"time_zone": ZONE, "session_secret": secrets.token_urlsafe(32)},
    }
    for name, platform in shops.items():
        sections[f"shops.{name}"] = {"platform": platform,
                                     "settings": boxes[platform].shop_settings(name, "http://127.0.0.1:9"),
                                     "poll_interval_s": 86_400.0}
    write_toml(path, sections)


def delete_namespace(namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_SERVER_URL)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=500))
        for first in range(0, len(keys), 500):
            client.delete(*keys[first:first + 500])
    finally:
        client.close()


# --------------------------------------------------------------------------- the cases


def cases(summary: Any, order_id: int) -> list[Case]:
    busy_day = summary.busy_day.isoformat()
    family = summary.busiest_sku.split("-")[0] + "-"
    return [
        Case("GET /healthz (HTTP floor)", path="/healthz"),
        Case("first page"),
        Case("status = cancelled", {"status": "cancelled"}),
        Case("shop = aliexpress-outlet", {"shop": "aliexpress-outlet"}),
        Case("platform = douyin", {"platform": "douyin"}),
        Case(f"day = {busy_day}", {"date": busy_day}),
        Case(f"buyer = {summary.rare_buyer} (1 order)", {"buyer": summary.rare_buyer}),
        Case(f"buyer starts {summary.rare_buyer[:-2]}", {"buyer": summary.rare_buyer[:-2]}),
        Case(f"SKU = {summary.rare_sku} (least sold)", {"sku": summary.rare_sku}),
        Case(f"SKU = {summary.busiest_sku} (best seller)", {"sku": summary.busiest_sku}),
        Case(f"SKU starts {family}", {"sku": family}),
        Case("held only", {"held": "1"}),
        Case("hold reason = cancel_requested", {"hold": "cancel_requested"}),
        Case("tmall + held (a saved view)", {"platform": "tmall", "held": "1"}),
        Case("page 50", page=50),
        Case("page 50, status = paid", {"status": "paid"}, page=50),
        Case("page 50, platform = aliexpress", {"platform": "aliexpress"}, page=50),
        Case("page 50, held only", {"held": "1"}, page=50),
        Case(f"order page #{order_id}", order_id=order_id),
    ]


async def resolve_cursors(database_url: str, todo: list[Case]) -> None:
    """The cursor a person reaches after 49 "Next page" clicks: the 2,450th row's id, asked of the
    database with the screen's own statement (OFFSET here only; the screen never uses one)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from hub.api.queries.order_form import order_filters
    from hub.api.queries.orders import encode_cursor, page_statement

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            for case in todo:
                if case.page > 1:
                    stmt = page_statement(order_filters(case.params, ZoneInfo(ZONE)), "postgresql")
                    stmt = stmt.limit(1).offset((case.page - 1) * PAGE - 1)
                    last = (await connection.execute(stmt)).scalars().first()  # the id column
                    case.cursor = encode_cursor(int(last)) if last is not None else None
    finally:
        await engine.dispose()


def case_path(case: Case) -> str:
    from urllib.parse import urlencode

    if case.path:
        return case.path
    if case.order_id is not None:
        return f"/console/orders/{case.order_id}"
    query = dict(case.params)
    if case.cursor:
        query["cursor"] = case.cursor
    return "/console/orders" + (f"?{urlencode(query)}" if query else "")


# --------------------------------------------------------------------------- EXPLAIN


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if "Scan" in node["Node Type"] else []
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def describe(plan: dict[str, Any]) -> tuple[str, int, bool]:
    """(access paths, rows the scans read, any sequential scan of a big table)."""
    parts, read, seq = [], 0, False
    for scan in _scans(plan):
        loops = int(scan.get("Actual Loops", 1))
        read += (int(scan.get("Actual Rows", 0)) + int(scan.get("Rows Removed by Filter", 0))) * loops
        kind = scan["Node Type"].replace("Index Only Scan", "index-only").replace("Bitmap Index Scan", "bitmap") \
            .replace("Index Scan", "index")
        if scan["Node Type"] == "Seq Scan":
            seq = True
            parts.append(f"SEQ SCAN {scan.get('Relation Name')}")
        elif scan["Node Type"] != "Bitmap Heap Scan":
            parts.append(f"{kind} {scan.get('Index Name', '')}".strip() + (" ↓" if scan.get(
                "Scan Direction") == "Backward" else ""))
    return " + ".join(parts), read, seq


async def explain(database_url: str, todo: list[Case]) -> dict[str, tuple[str, int, float, bool]]:
    import asyncpg
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from hub.api.queries.order_form import order_filters
    from hub.api.queries.orders import page_statement
    from hub.db.tables import OrderEventRow, OrderHoldRow, OrderLineRow, OrderRow, ShipmentRow

    dialect = postgresql.dialect()
    out: dict[str, tuple[str, int, float, bool]] = {}
    connection = await asyncpg.connect(libpq_dsn(database_url))
    try:
        for case in todo:
            if case.path:
                continue
            if case.order_id is not None:
                oid = case.order_id
                statements = [select(OrderRow).where(OrderRow.id == oid)] + [
                    select(table).where(table.order_id == oid).order_by(table.id)
                    for table in (OrderLineRow, OrderHoldRow, OrderEventRow, ShipmentRow)]
            else:
                statements = [page_statement(order_filters(case.params, ZoneInfo(ZONE)), "postgresql",
                                             limit=PAGE, cursor=case.cursor)]
            paths, read, ms, seq = [], 0, 0.0, False
            for stmt in statements:
                sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                plan = json.loads(await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))[0]
                path, rows, has_seq = describe(plan["Plan"])
                paths.append(path)
                read += rows
                ms += float(plan["Execution Time"])
                seq = seq or has_seq
            out[case.label] = ("; ".join(paths), read, ms, seq)
    finally:
        await connection.close()
    return out


# --------------------------------------------------------------------------- timing


def sign_in(client: httpx.Client, key: str) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no form token on the sign-in page"
    response = client.post("/console/login", data={"csrf_token": token.group(1), "api_key": key, "next": "/console"})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")


def time_case(client: httpx.Client, case: Case, runs: int, warmup: int) -> Result:
    path = case_path(case)
    times: list[float] = []
    body = ""
    for n in range(warmup + runs):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{case.label}: GET {path} answered {response.status_code}: {response.text[:300]}")
        if n >= warmup:
            times.append(elapsed)
        body = response.text
    rows = len(set(re.findall(r'<a href="/console/orders/(\d+)', body))) if not case.path else 0
    return Result(case, times, rows)


def report(results: list[Result], args: argparse.Namespace, orders: int, summary: Any) -> str:
    lines = [f"console orders screen{' (BASELINE: indexes before 0011)' if args.baseline else ''}: "
             f"{orders:,} orders ({summary.lines:,} lines, {summary.holds:,} holds) on "
             f"PostgreSQL; 1 hub serve (uvicorn); {args.runs} timed GETs per case after {args.warmup} warm-up, "
             "one at a time over one keep-alive connection, signed-in session cookie", ""]
    header = f"{'case':42} {'rows':>4} {'median':>8} {'p95':>8} {'p95/1 s':>8}  {'db ms':>6} {'rows read':>9}  plan"
    lines += [header, "-" * len(header)]
    for r in results:
        median, p95 = statistics.median(r.times_ms), percentile(r.times_ms, 95) or 0.0
        db = f"{r.db_ms:6.2f}" if r.db_ms is not None else "     -"
        read = f"{r.rows_read:9,}" if r.rows_read is not None else "        -"
        rows = f"{r.rows:4}" if not r.case.path and r.case.order_id is None else "   -"
        lines.append(f"{r.case.label:42} {rows} {median:6.1f}ms {p95:6.1f}ms {p95 / (TARGET_S * 1000):8.3f}  "
                     f"{db} {read}  {r.plan}{'  <-- SEQUENTIAL SCAN' if r.seq_scan else ''}")
    lines += ["", "rows: orders on the page (of 50); median/p95: wall time of the GET, client side; db ms / rows read: "
              "EXPLAIN ANALYZE of the screen's SQL (sum over the order page's 5 queries), rows read = rows the scans "
              "returned + removed by a filter; plan: index used (↓ backward), in query order"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30, help="timed GETs per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed GETs per case first")
    parser.add_argument("--keep", action="store_true", help="print the database URL and keep the database")
    parser.add_argument("--baseline", action="store_true",
                        help="drop the indexes migration 0011 added (the same code, the old indexes)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_summary()
    print(f"machine: nproc {machine['nproc']}, {machine['cpu']}, Python {machine['python']}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    namespace = f"hub-bench-console-{secrets.token_hex(4)}"
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(prefix="hub_console_"))
        if args.keep:
            stack.pop_all()
            print(f"database kept: {database_url}")
        from hub.db.migrate import upgrade

        upgrade(database_url)
        started = time.perf_counter()
        summary, key, order_id = asyncio.run(seed(database_url, args.orders))
        print(f"seeded {summary.orders:,} orders, {summary.lines:,} lines, {summary.holds:,} holds, "
              f"{summary.events:,} events with COPY in {time.perf_counter() - started:.1f} s", flush=True)
        if args.baseline:
            asyncio.run(use_baseline_indexes(database_url))
            print("baseline: indexes and statistics as before migration 0011", flush=True)
        todo = cases(summary, order_id)
        asyncio.run(resolve_cursors(database_url, todo))
        workdir = Path(tempfile.mkdtemp(prefix="hub-bench-console-"))
        port = free_port()
        write_config(workdir / "hub.toml", port, summary.shops, namespace)
        stack.callback(delete_namespace, namespace)
        env = {**os.environ, "HUB_CONFIG": str(workdir / "hub.toml"), "HUB_DATABASE_URL": database_url,
               "HUB_REDIS_URL": f"{REDIS_SERVER_URL.rstrip('/')}/0"}
        serve = HubProcess("serve", ["serve"], env, workdir / "serve.log").start()
        stack.callback(serve.stop)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", 60, [serve])
        results: list[Result] = []
        with httpx.Client(base_url=base, timeout=30.0, follow_redirects=False) as client:
            sign_in(client, key)
            for case in todo:
                results.append(time_case(client, case, args.runs, args.warmup))
        plans = asyncio.run(explain(database_url, todo))
        for result in results:
            if result.case.label in plans:
                result.plan, result.rows_read, result.db_ms, result.seq_scan = plans[result.case.label]
        print(report(results, args, args.orders, summary))
        if not serve.alive():
            print(f"hub serve exited early:\n{serve.tail()}")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
