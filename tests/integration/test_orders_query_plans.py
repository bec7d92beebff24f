"""The orders list's searches stay off full scans on PostgreSQL: with 5,000 orders (COPY, analysed),
each page the console asks for reads about a page of orders and order lines, not the tables —
EXPLAIN ANALYZE of the very statement the screen runs, counting the rows its scans of those two
tables returned or filtered out (a small side table such as the holds may be read whole). The planner
is left free to choose (no ``enable_seqscan = off``): whatever plan it picks must be one that
reads little, which an index makes possible and a missing one makes impossible. The full-size
figures are ``bench/console_orders.py``'s."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql

from hub.api.queries.order_form import order_filters
from hub.api.queries.orders import encode_cursor, page_statement
from hub.testing.bulk_orders import BulkShape, copy_orders
from hub.testing.db import _libpq_dsn

ORDERS = 5_000
PAGE = 50
#: A page that reads more than this many rows is scanning, not seeking (the table has 5,000 orders).
MOST_ROWS_READ = 5 * PAGE


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if "Scan" in node["Node Type"] else []
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


BIG_TABLES = ("orders", "order_lines")


def _rows_read(plan: dict[str, Any]) -> int:
    """Rows the scans of the big tables returned or filtered out (an index-only or bitmap index
    scan names no relation: it counts too, since the indexes are on those tables)."""
    return sum((int(s.get("Actual Rows", 0)) + int(s.get("Rows Removed by Filter", 0))) * int(s.get("Actual Loops", 1))
               for s in _scans(plan) if s.get("Relation Name", BIG_TABLES[0]) in BIG_TABLES)


@pytest.mark.postgres
async def test_every_search_of_the_orders_screen_reads_about_a_page_not_the_table(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("query plans are checked on PostgreSQL, the production store")
    import asyncpg

    dsn = _libpq_dsn(database_url)
    summary = await copy_orders(dsn, BulkShape(orders=ORDERS, buyers=2_000, skus=300))
    cases: dict[str, tuple[dict[str, str], str | None]] = {
        "first page": ({}, None),
        "a deep page": ({}, encode_cursor(ORDERS // 2)),
        "status": ({"status": "cancelled"}, None),
        "shop": ({"shop": "aliexpress-outlet"}, None),
        "buyer, whole nick": ({"buyer": summary.rare_buyer}, None),
        "buyer, start of a nick": ({"buyer": summary.rare_buyer[:-1]}, None),
        "SKU, rare": ({"sku": summary.rare_sku}, None),
        "SKU, start of a rare one": ({"sku": summary.rare_sku[:-1]}, None),
        "SKU, nothing matches": ({"sku": "NO-SUCH-SKU"}, None),
        "hold reason": ({"hold": "cancel_requested"}, None),
    }
    connection = await asyncpg.connect(dsn)
    too_many: dict[str, str] = {}
    try:
        for label, (values, cursor) in cases.items():
            stmt = page_statement(order_filters(values, ZoneInfo("Asia/Shanghai")), "postgresql", limit=PAGE,
                                  cursor=cursor)
            sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = json.loads(await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))[0]["Plan"]
            read = _rows_read(plan)
            if read > MOST_ROWS_READ:
                shape = [f"{s['Node Type']} {s.get('Index Name') or s.get('Relation Name')}" for s in _scans(plan)]
                too_many[label] = f"{read} rows via {shape}"
    finally:
        await connection.close()
    assert not too_many, f"these searches read most of the {ORDERS:,} orders: {too_many}"
