"""Does an export stay flat in memory as the list grows? 100,000 orders exported as CSV and XLSX.

A throw-away database (SQLite in a temporary folder; PostgreSQL too with ``--database-url``, a
server URL under which a database ``hub_export_<hex>`` is made and dropped) is migrated and filled
with ``hub.testing.bulk_orders`` (100,000 orders, ~1.7 lines each, 8 shops) by a child process, so
its memory does not count. Then ``hub.services.export`` exports the orders list (PII masked) as
CSV and XLSX, first a one-shop slice (~10,000 rows), then everything, and prints rows/s, the
resident memory before each export, how far it rose during it (``/proc/self/statm`` sampled at
every block sent) and the growth of the process's peak RSS (``resource.getrusage``). If memory
were held per row, the 100,000-row export would rise about ten times as much as the 10,000-row
one; kept flat, both stay at one chunk plus the XLSX writer's buffers.

    python bench/export.py                       # SQLite, 100,000 orders (~8 min on 2 busy cores)
    python bench/export.py --orders 20000
    python bench/export.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import machine_summary

ZONE = ZoneInfo("Asia/Shanghai")


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (``ru_maxrss`` is in kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


async def fill_sqlite(url: str, orders: int) -> None:
    """The bulk orders written through SQLAlchemy Core (COPY is PostgreSQL's only)."""
    from sqlalchemy import insert

    from hub.db.engine import Database
    from hub.db.tables import OrderLineRow, OrderRow
    from hub.testing.bulk_orders import LINE_COLUMNS, ORDER_COLUMNS, BulkShape, generate

    database = Database.connect(url)
    try:
        for rows, _ in generate(BulkShape(orders=orders)):
            order_values = []
            for record in rows.orders:
                values = dict(zip(ORDER_COLUMNS, record, strict=True))
                values["data"], values["tags"] = json.loads(values["data"]), []
                order_values.append(values)
            async with database.transaction() as session:
                await session.execute(insert(OrderRow), order_values)
                await session.execute(insert(OrderLineRow), [dict(zip(LINE_COLUMNS, r, strict=True))
                                                             for r in rows.lines])
    finally:
        await database.engine.dispose()


async def fill_postgres(url: str, orders: int) -> None:
    from bench._flash_support import libpq_dsn
    from hub.testing.bulk_orders import BulkShape, copy_orders

    await copy_orders(libpq_dsn(url), BulkShape(orders=orders))


async def run_exports(url: str, slice_shop: str) -> list[dict[str, Any]]:
    from hub.db.engine import Database
    from hub.services.export.run import prepare

    database = Database.connect(url)
    results: list[dict[str, Any]] = []
    try:
        for label, params in (("one shop", {"shop": [slice_shop]}), ("all", {})):
            for fmt in ("csv", "xlsx"):
                export = prepare("orders", fmt, params, database=database, principal=None, reveal=False, zone=ZONE)
                before, peak_before = rss_mb(), peak_rss_mb()
                highest = before
                started = time.perf_counter()
                size = 0
                async for block in export.body():
                    size += len(block)
                    highest = max(highest, rss_mb())
                seconds = time.perf_counter() - started
                results.append({"rows": export.rows_written, "slice": label, "format": fmt, "seconds": seconds,
                                "rows_per_s": export.rows_written / seconds, "mb": size / 1e6, "rss_mb": before,
                                "rss_growth_mb": highest - before,
                                "peak_rss_growth_mb": peak_rss_mb() - peak_before})
    finally:
        await database.engine.dispose()
    return results


def report(backend: str, results: list[dict[str, Any]]) -> None:
    print(f"\n{backend}")
    print(f"{'slice':<9} {'format':<6} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'file MB':>8} {'RSS MB':>7} "
          f"{'RSS +MB':>8} {'peak +MB':>9}")
    for r in results:
        print(f"{r['slice']:<9} {r['format']:<6} {r['rows']:>8,} {r['seconds']:>8.1f} {r['rows_per_s']:>8,.0f} "
              f"{r['mb']:>8.1f} {r['rss_mb']:>7.0f} {r['rss_growth_mb']:>8.1f} {r['peak_rss_growth_mb']:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL: also run there, in a throw-away database")
    args = parser.parse_args()
    from hub.db.migrate import upgrade

    shop = _closest_to_tenth()
    print(json.dumps(machine_summary()))
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = f"sqlite+aiosqlite:///{folder / 'export.db'}"
        upgrade(url)
        started = time.perf_counter()
        _fill_apart(fill_sqlite, url, args.orders)
        print(f"SQLite filled with {args.orders:,} orders in {time.perf_counter() - started:.0f} s")
        report("SQLite", asyncio.run(run_exports(url, shop)))
        if args.database_url:
            from hub.testing.db import create_postgres_database, drop_postgres_database

            pg = create_postgres_database(args.database_url, prefix="hub_export_")
            stack.callback(drop_postgres_database, args.database_url, pg)
            upgrade(pg)
            _fill_apart(fill_postgres, pg, args.orders)
            report("PostgreSQL", asyncio.run(run_exports(pg, shop)))


def _fill(fill: Any, url: str, orders: int) -> None:
    asyncio.run(fill(url, orders))


def _fill_apart(fill: Any, url: str, orders: int) -> None:
    """Fill the database in a child process, so its memory is not counted as the exports' peak."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_fill, args=(fill, url, orders))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"filling the database failed (exit {child.exitcode})")


def _closest_to_tenth() -> str:
    """The bulk shop whose share of orders is nearest a tenth (the "one shop" slice)."""
    from hub.testing.bulk_orders import PLATFORMS, SHOPS_PER_PLATFORM

    shares = {f"{p}-{kind}": pw * kw for p, pw in PLATFORMS.items() for kind, kw in SHOPS_PER_PLATFORM}
    return min(shares, key=lambda s: abs(shares[s] - 0.1))


if __name__ == "__main__":
    main()
