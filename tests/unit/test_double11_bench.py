"""The promotion-night bench's own bookkeeping (``bench/double11.py``, ``bench/_double11_support.py``),
on made-up samples: a flat memory series reads as flat and a leaking one as a leak, a lost or
oversold order fails the run, the faster TMC queue hands out exactly what the sandbox's would, and
propagation is measured as in the flash-sale bench. The bench itself starts hub processes and
takes minutes; these take milliseconds."""

from __future__ import annotations

import argparse

from bench._double11_support import (
    CreatedLog,
    EarlyStopTmcQueue,
    Sample,
    ShopRef,
    best_window_rate,
    propagation,
    rss_figures,
)
from bench._flash_support import StockWatch
from bench.double11 import Result, ShopFigures, failures, parse_args, report, warm_orders
from contracts.inventory import AllocationMode
from plugins.taobao.top_gateway import TmcQueue


def samples(rss_mb: list[float], per_step: int = 1_000) -> list[Sample]:
    """One sample a second; ``per_step`` more orders stored at each."""
    return [Sample(at=1000.0 + i, created=len(rss_mb) * per_step, stored=i * per_step,
                   rss_kb={"worker1": int(mb * 1024)}) for i, mb in enumerate(rss_mb)]


def test_flat_memory_after_warm_up_has_a_slope_near_zero() -> None:
    series = [100, 150, 180, 200, 201, 199, 200, 202, 200, 199, 201, 200]  # grows while warming up, then flat
    figures = rss_figures(samples(series), "worker1", warm_orders=3_000)
    assert figures.start_mb == 100 and figures.peak_mb == 202 and figures.end_mb == 200
    assert figures.warm_mb == 200
    assert figures.slope_orders == 8_000
    assert figures.slope_mb_per_10k is not None and abs(figures.slope_mb_per_10k) < 2


def test_memory_that_grows_with_orders_shows_the_growth_per_ten_thousand() -> None:
    series = [100 + 5 * i for i in range(20)]  # 5 MB per 1,000 orders: a per-order leak
    figures = rss_figures(samples(series), "worker1", warm_orders=2_000)
    assert figures.slope_mb_per_10k is not None and abs(figures.slope_mb_per_10k - 50) < 0.01
    assert figures.late_slope_mb_per_10k is not None and abs(figures.late_slope_mb_per_10k - 50) < 0.01


def test_growth_that_levels_off_shows_a_second_half_slope_well_under_the_whole() -> None:
    series = [100, 130, 150, 160, 166, 170, 172, 173, 173.5, 174, 174, 174, 174]  # filling up, then full
    figures = rss_figures(samples(series), "worker1", warm_orders=2_000)
    assert figures.slope_mb_per_10k is not None and figures.late_slope_mb_per_10k is not None
    assert figures.slope_mb_per_10k > 10
    assert abs(figures.late_slope_mb_per_10k) < 2


def test_a_process_never_sampled_has_no_figures() -> None:
    assert rss_figures(samples([100, 100]), "serve", warm_orders=0).peak_mb is None


def test_warm_up_is_a_tenth_of_the_replay_but_at_least_500_orders() -> None:
    assert warm_orders(100_000) == 10_000
    assert warm_orders(3_000) == 500
    assert warm_orders(200) == 100


def test_best_ten_seconds() -> None:
    stored = [0, 0, 10, 30, 60, 100, 150, 200, 250, 300, 350, 400, 410, 410]
    series = [Sample(at=float(i), created=410, stored=n, rss_kb={}) for i, n in enumerate(stored)]
    assert best_window_rate(series) == 40.0  # 0 → 400 between t=1 and t=11


def test_created_orders_are_kept_packed_and_split_into_burst_and_tail() -> None:
    log = CreatedLog()
    log.add("tb", "3900000000000000001", 10.0)
    log.add("dy", "6918000000000000001", 10.5)
    log.mark_burst_end()
    log.add("tb", "3900000000000000002", 11.0)
    assert log.total() == 3 and log.count("tb") == 2 and log.first_time() == 10.0
    rows = [row for chunk in log.records(chunk=1) for row in chunk]
    assert sorted(rows) == [("dy", "6918000000000000001", 10.5, True), ("tb", "3900000000000000001", 10.0, True),
                            ("tb", "3900000000000000002", 11.0, False)]


def test_the_early_stopping_tmc_queue_hands_out_what_the_sandbox_queue_does() -> None:
    clock = [0.0]
    queues = [TmcQueue(redelivery_seconds=5, clock=lambda: clock[0]),
              EarlyStopTmcQueue(redelivery_seconds=5, clock=lambda: clock[0])]
    for queue in queues:
        queue.permit("seller-a", [])
        for n in range(30):
            queue.publish("app", "default", "taobao_trade_TradeCreate", {"tid": n},
                          user_nick="seller-a" if n % 3 else "seller-b")  # seller-b never permitted
    for step in range(4):
        clock[0] = step * 3.0
        got = [queue.consume("app", "default", 7) for queue in queues]
        assert got[0] == got[1]
        for queue in queues:
            queue.confirm("app", "default", [str(m["id"]) for m in got[0][:2]])


def test_propagation_counts_the_wait_until_every_shop_shows_the_new_value() -> None:
    shops = [ShopRef("a", "taobao"), ShopRef("b", "douyin")]
    watch = StockWatch("SKU")
    watch.shown = {"a": [(0.0, 10), (1.0, 9)], "b": [(0.0, 10), (1.5, 9)]}  # a sold one; b lowered 0.5 s later
    ledger = [(0.0, 10, 0, "adjustment"), (1.0, 0, 1, "order_reserved")]
    result = propagation("SKU", AllocationMode.SHARED, shops, shops, watch, ledger, start=0.5)
    assert result.latencies == [0.5] and result.zero == 0 and result.never == 0


def _args(**changes: object) -> argparse.Namespace:
    args = parse_args(["--orders", "200"])
    args.load_before = "0.00 0.00 0.00"
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_a_lost_order_or_a_partitioned_oversell_fails_the_run_and_a_shared_oversell_does_not() -> None:
    result = Result(shops={"all": ShopFigures(created=200, stored=200)}, hot_accepted={"HOT-0": 20}, settled="yes")
    args = _args(hot_stock=20)
    assert failures(result, args) == []
    result.hot_accepted["HOT-0"] = 23
    assert failures(result, args) == ["3 units oversold in partitioned mode"]
    assert failures(result, _args(hot_stock=20, hot_mode="shared")) == []
    result.shops["all"].lost = 2
    assert "2 orders lost" in failures(result, args)
    result.settled = "timeout after 300 s ({'orders': 198})"
    assert "2 orders lost (not stored when settling ended: timeout after 300 s)" in failures(result, args)


def test_the_report_names_lost_orders_per_shop() -> None:
    result = Result(shops={"taobao": ShopFigures(created=100, stored=98, lost=2, lost_sample=["39001", "39002"]),
                           "all": ShopFigures(created=100, stored=98, lost=2)},
                    samples=samples([100, 120, 121, 121]), settled="yes")
    result.rss = {"worker1": rss_figures(result.samples, "worker1", 1_000)}
    text = report(result, _args())
    assert "lost in taobao: 2, e.g. 39001, 39002" in text
    assert "timeline (RSS in MB)" in text
