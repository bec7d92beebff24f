"""How fast are the reports over 1,000,000 orders on PostgreSQL?

A throw-away PostgreSQL database (``bench_reports_<hex>``, dropped at the end) is migrated and
filled set-based (``INSERT … SELECT generate_series``): orders over 365 days in 8 shops on 4
platforms and 31 provinces, ~1.33 lines each over 500 SKUs with cost prices, a parcel per shipped
order (a tenth with the waybill's own freight), an after-sale case on 5 % of paid orders, platform
fees on one platform, ~N/3 buyer nicks per platform. Then each sales report — day, week and month
× none, channel, shop, SKU and province, gross profit included, a page of 50 keys (the API's
default) — the daily SKU report with every SKU, and the buyers report over the whole year are
timed (best and median of ``--runs``), after the rollups were rebuilt in full (timed) and an
incremental refresh after 1,000 orders of one day changed (timed). Nothing asserts
a speed; the target is about 1 s a report.

    python bench/reports.py                  # 1,000,000 orders (~2-4 min to fill on 2 cores)
    python bench/reports.py --orders 100000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._flash_support import libpq_dsn, throwaway_database
from bench._support import machine_summary
from hub.services.reports.settings import ReportsSection

TARGET_S = 1.0
#: Keys per page, as the API answers by default (``limit``): the 50 SKUs with the most sales.
PAGE = 50
SETTINGS = ReportsSection.model_validate({"default_freight": "6", "freight_rates": [
    {"courier": "SF", "amount": "12"}, {"courier": "SF", "province": "浙江省", "amount": "9"}]})
FIRST, LAST = date(2025, 12, 1), date(2026, 11, 30)
ZONE = "Asia/Shanghai"

FILL = [
    """INSERT INTO skus (merchant_sku, name, allocation_mode, safety_stock, is_bundle, created_at, active, cost_price)
       SELECT 'SKU-' || s, 'Item ' || s, 'shared', 0, false, now(), true, 4 + (s % 40)
       FROM generate_series(0, 499) s""",
    # ~1.33 lines an order: line 0 always (quantity 1-3, price 10-59), line 1 on every third order.
    """INSERT INTO orders (id, platform, shop, external_id, status, raw_status, channel_created_at,
                          channel_updated_at, paid_at, total_amount, currency, buyer_nick, data, tags,
                          fulfilment_status, on_hold, version, created_at, updated_at, priority, province,
                          platform_fee)
       SELECT g, p.platform, p.platform || '-' || (g % 2), 'B' || g, st.status, upper(st.status), at, at,
              CASE WHEN st.status IN ('pending_payment', 'cancelled') THEN NULL ELSE at END, total, 'CNY',
              'buyer' || ((g::bigint * 2654435761) % :buyers), '{}', '[]',
              CASE WHEN st.status IN ('shipped', 'delivered', 'completed') THEN 'fulfilled' ELSE 'unfulfilled' END,
              false, 1, at, at, 0, (ARRAY['浙江省','广东省','江苏省','上海市','北京市','山东省','四川省','湖北省',
              '河南省','福建省','湖南省','安徽省','河北省','陕西省','辽宁省','重庆市','天津市','江西省','广西壮族自治区',
              '云南省','山西省','吉林省','黑龙江省','贵州省','内蒙古自治区','新疆维吾尔自治区','甘肃省','海南省',
              '宁夏回族自治区','青海省','西藏自治区'])[1 + g % 31],
              CASE WHEN p.platform = 'taobao' THEN round(total * 0.05, 2) END
       FROM generate_series(1, :orders) g
       CROSS JOIN LATERAL (SELECT (ARRAY['taobao','douyin','jd','pdd'])[1 + (g / 7) % 4] AS platform) p
       CROSS JOIN LATERAL (SELECT timestamptz '2025-11-30 16:00:00+00'
                                  + ((g::bigint * 31536000) / :orders) * interval '1 second' AS at) t
       CROSS JOIN LATERAL (SELECT CASE WHEN g % 100 < 3 THEN 'pending_payment' WHEN g % 100 < 8 THEN 'cancelled'
                                       WHEN g % 100 < 10 THEN 'closed' WHEN g % 100 < 20 THEN 'paid'
                                       WHEN g % 100 < 45 THEN 'shipped' WHEN g % 100 < 60 THEN 'delivered'
                                       ELSE 'completed' END AS status) st
       CROSS JOIN LATERAL (SELECT (1 + g % 3) * (10 + g % 50)
                                  + CASE WHEN g % 3 = 0 THEN 10 + (g * 7) % 50 ELSE 0 END AS total) a""",
    """INSERT INTO order_lines (order_id, external_id, merchant_sku, title, quantity, unit_price)
       SELECT g, 'B' || g || '-0', 'SKU-' || (g % 500), '', 1 + g % 3, 10 + g % 50 FROM generate_series(1, :orders) g
       UNION ALL
       SELECT g, 'B' || g || '-1', 'SKU-' || ((g * 7) % 500), '', 1, 10 + (g * 7) % 50
       FROM generate_series(3, :orders, 3) g""",
    """INSERT INTO parcels (key, order_id, seq, courier_code, waybill_number, status, print_data, attempts, created_at,
                           freight)
       SELECT 'K' || id, id, 1, (ARRAY['SF','YTO','ZTO'])[1 + id % 3], 'W' || id, 'shipped', '{}', 0, now(),
              CASE WHEN id % 10 = 0 THEN 8.5 END
       FROM orders WHERE fulfilment_status = 'fulfilled'""",
    """INSERT INTO aftersales (platform, shop, external_id, order_id, order_external_id, type, status, raw_status,
                              channel_updated_at, data, created_at, updated_at, received)
       SELECT platform, shop, 'AS' || id, id, external_id,
              CASE WHEN id % 40 < 20 THEN 'refund_only' ELSE 'return_and_refund' END, 'refunded', 'REFUNDED',
              channel_created_at, '{}', channel_created_at, channel_created_at, false
       FROM orders WHERE id % 20 = 0 AND status NOT IN ('pending_payment', 'cancelled')""",
    "ANALYZE",
]


async def fill(url: str, orders: int) -> float:
    import asyncpg

    connection = await asyncpg.connect(libpq_dsn(url))
    started = time.perf_counter()
    try:
        for statement in FILL:
            sql = statement.replace(":orders", str(orders)).replace(":buyers", str(max(1, orders // 3)))
            await connection.execute(sql)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def time_refresh(url: str) -> tuple[float, float, int]:
    """(full rebuild s, incremental refresh s after 1,000 orders of one day changed, days it redid)."""
    from sqlalchemy import text

    from hub.db.engine import Database, dispose_all_for_loop
    from hub.services.reports import refresh

    database = Database.connect(url, pool_size=2)
    zone = ZoneInfo(ZONE)
    try:
        started = time.perf_counter()
        async with database.transaction() as session:
            await refresh.rebuild(session, SETTINGS, zone)
        full = time.perf_counter() - started
        async with database.transaction() as session:
            await session.execute(text("ANALYZE"))
        async with database.transaction() as session:
            await session.execute(text(
                "UPDATE orders SET status = 'cancelled', updated_at = now() "
                "WHERE id IN (SELECT id FROM orders WHERE status = 'paid' ORDER BY id DESC LIMIT 1000)"))
        started = time.perf_counter()
        async with database.transaction() as session:
            done = await refresh.refresh(session, SETTINGS, zone)
        return full, time.perf_counter() - started, done.days
    finally:
        await dispose_all_for_loop()


async def time_reports(url: str, runs: int) -> list[tuple[str, float, float, int]]:
    from hub.db.engine import Database, dispose_all_for_loop
    from hub.services.reports import report

    settings = SETTINGS
    database = Database.connect(url, pool_size=2)
    out: list[tuple[str, float, float, int]] = []
    try:
        cases = [(p, d, PAGE) for p in ("day", "week", "month") for d in ("none", "channel", "shop", "sku", "province")]
        cases.append(("day", "sku", None))  # every SKU at once, as `hub reports sales --by sku` does
        for period, dimension, limit in cases:
            times, rows = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                async with database.session() as session:
                    got = await report.sales_report(session, period=period, dimension=dimension,
                                                    first=FIRST, last=LAST, settings=settings, time_zone=ZONE,
                                                    with_profit=True, limit=limit)
                times.append(time.perf_counter() - started)
                rows = len(got.rows)
            page = "" if limit == PAGE or dimension == "none" else ", all keys"
            out.append((f"sales {period} × {dimension}{page}", min(times), statistics.median(times), rows))
        for period in ("day", "week", "month"):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                async with database.session() as session:
                    _, buyers = await report.buyers_report(session, period=period, first=FIRST, last=LAST,
                                                           settings=settings, time_zone=ZONE)
                times.append(time.perf_counter() - started)
            out.append((f"buyers {period}", min(times), statistics.median(times), len(buyers.buckets)))
    finally:
        await dispose_all_for_loop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per report (best and median shown)")
    args = parser.parse_args()
    print({k: v.splitlines()[0] if v else v for k, v in machine_summary().items()})
    with throwaway_database(prefix="bench_reports_") as url:
        from hub.db.migrate import upgrade

        upgrade(url)
        seconds = asyncio.run(fill(url, args.orders))
        print(f"filled {args.orders:,} orders (lines, parcels, cases, 500 SKUs with costs) in {seconds:.1f} s",
              flush=True)
        full, incremental, days = asyncio.run(time_refresh(url))
        print(f"rollups rebuilt in full in {full:.1f} s; refreshed after 1,000 orders changed "
              f"({days} day(s) redone) in {incremental:.2f} s", flush=True)
        results = asyncio.run(time_reports(url, args.runs))
    print(f"{'report over 365 days':<28} {'best s':>8} {'median s':>9} {'rows':>7} {'best/target':>12}")
    for label, best, median, rows in results:
        print(f"{label:<28} {best:>8.3f} {median:>9.3f} {rows:>7,} {best / TARGET_S:>12.2f}")


if __name__ == "__main__":
    main()
