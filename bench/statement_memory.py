"""Memory that follows batch sizes: one process applying order batches to PostgreSQL, its RSS and
the statements its connection keeps prepared.

The batch apply (``hub.services.orders.apply_orders``) inserts a batch's new orders with one
``INSERT … RETURNING``. Sent as one multi-row statement, its text changes with the row count, and
asyncpg keeps every text it prepared (100 per connection): a process that saw batches of every size
kept up to 100 statements of up to 17,000 parameters. ``hub.db.returning`` sends the rows in
power-of-two chunks instead. This bench applies ``--batches`` batches of random sizes (1 to
``--largest``), then the same number of one fixed size, each in a process of its own on a
throw-away database with one pooled connection, and prints the RSS as it goes and the orders
insert's prepared shapes at the end (``pg_prepared_statements``).

Run: ``python bench/statement_memory.py`` (``--batches 250``). Results: bench/README.md,
"Memory: the prepared statements".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench._double11_support import rss_kb
from bench._flash_support import POSTGRES_SERVER_URL
from hub.db import migrate
from hub.db.engine import Database
from hub.services.orders import OrderReport, apply_orders
from hub.testing.db import create_postgres_database, drop_postgres_database
from hub.testing.factories import make_order


async def apply_batches(url: str, batches: int, largest: int, fixed: int | None) -> None:
    database = Database.connect(url, pool_size=1)
    rng = random.Random(1)
    try:
        for n in range(1, batches + 1):
            size = fixed or rng.randint(1, largest)
            reports = [OrderReport(make_order(shop="bench-shop"), "message_channel") for _ in range(size)]
            async with database.transaction() as session:
                await apply_orders(session, reports)
            if n % 25 == 0:
                gc.collect()
                print(f"  after {n:4} batches: RSS {(rss_kb(os.getpid()) or 0) / 1024:6.1f} MB", flush=True)
        async with database.session() as session:
            shapes = await session.scalar(text(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO orders %'"))
        print(f"  orders insert: {shapes} prepared shapes kept on the connection")
    finally:
        await database.engine.dispose()


def run_one(args: argparse.Namespace, fixed: int | None) -> None:
    url = create_postgres_database(POSTGRES_SERVER_URL, prefix="hub_stmtmem_")
    try:
        migrate.upgrade(url)
        asyncio.run(apply_batches(url, args.batches, args.largest, fixed))
    finally:
        drop_postgres_database(POSTGRES_SERVER_URL, url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=250, help="batches per series (default 250)")
    parser.add_argument("--largest", type=int, default=1000, help="largest random batch size (default 1,000)")
    parser.add_argument("--fixed", type=int, default=None, help=argparse.SUPPRESS)  # one series, in this process
    args = parser.parse_args(argv)
    if args.fixed is not None:
        run_one(args, args.fixed or None)
        return 0
    for label, fixed in ((f"random sizes 1..{args.largest}", 0), (f"always {args.largest // 2}", args.largest // 2)):
        print(f"{label}, {args.batches} batches:", flush=True)
        subprocess.run([sys.executable, __file__, "--batches", str(args.batches), "--largest", str(args.largest),
                        "--fixed", str(fixed)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
