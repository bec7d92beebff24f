"""Reports without a database: buckets (day, week from Monday, month), a range's UTC instants in the console's
zone, the zone's offsets across daylight saving, the range checks naming ``from`` and ``to``, and a
TOP trade's commission as the platform fee; the rollups' days as UTC intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.errors import BadInputError
from hub.services.reports.periods import Range, bucket_of, buckets, check_range, offsets

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_buckets_start_on_the_day_the_monday_and_the_first() -> None:
    sunday = date(2026, 11, 15)
    assert bucket_of(sunday, "day") == sunday
    assert bucket_of(sunday, "week") == date(2026, 11, 9)
    assert bucket_of(date(2026, 11, 9), "week") == date(2026, 11, 9)
    assert bucket_of(sunday, "month") == date(2026, 11, 1)
    span = Range(date(2026, 10, 28), date(2026, 11, 10), SHANGHAI)
    assert buckets(span, "week") == [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9)]
    assert buckets(span, "month") == [date(2026, 10, 1), date(2026, 11, 1)]
    assert len(buckets(span, "day")) == 14


def test_a_range_of_local_days_in_utc() -> None:
    span = Range(date(2026, 11, 10), date(2026, 11, 11), SHANGHAI)
    assert (span.start, span.end) == (datetime(2026, 11, 9, 16, tzinfo=UTC), datetime(2026, 11, 11, 16, tzinfo=UTC))
    assert offsets(span) == [(span.start, 480)]


def test_offsets_follow_daylight_saving() -> None:
    span = Range(date(2026, 1, 1), date(2026, 12, 31), ZoneInfo("America/New_York"))
    assert offsets(span) == [(datetime(2026, 1, 1, 5, tzinfo=UTC), -300), (datetime(2026, 3, 8, 7, tzinfo=UTC), -240),
                             (datetime(2026, 11, 1, 6, tzinfo=UTC), -300)]


def test_range_checks_name_the_parameter() -> None:
    def check(first: date, last: date, period: str) -> Range:
        return check_range(first, last, period, max_daily=400, max_long=1830, zone=SHANGHAI)  # type: ignore[arg-type]

    assert check(date(2026, 1, 1), date(2026, 12, 31), "day").last == date(2026, 12, 31)
    with pytest.raises(BadInputError) as late:
        check(date(2026, 2, 1), date(2026, 1, 1), "day")
    assert late.value.field == "from"
    with pytest.raises(BadInputError) as long:
        check(date(2025, 1, 1), date(2026, 12, 31), "day")
    assert long.value.field == "to"
    assert check(date(2025, 1, 1), date(2026, 12, 31), "month").first == date(2025, 1, 1)
    with pytest.raises(BadInputError) as period:
        check(date(2026, 1, 1), date(2026, 1, 2), "year")
    assert period.value.field == "period"


def test_a_top_trade_s_commission_becomes_the_order_s_platform_fee() -> None:
    from pathlib import Path

    from plugins.taobao import mapping
    from plugins.taobao.client import loads_exact

    fixtures = Path(__file__).parents[2] / "plugins" / "taobao" / "fixtures"
    body = loads_exact((fixtures / "trade_fullinfo_sample.json").read_text("utf-8"))
    trade = body["trade_fullinfo_get_response"]["trade"]
    assert "platform_fee" not in mapping.order_from_trade(trade, "tb").extra
    assert mapping.order_from_trade({**trade, "commission_fee": "3.50"}, "tb").extra["platform_fee"] == "3.50"


def test_rollup_days_merge_into_utc_intervals() -> None:
    from hub.services.reports.rollups import Days

    days = Days.of([date(2026, 11, 12), date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 20)], SHANGHAI)
    assert days is not None and (days.span.first, days.span.last) == (date(2026, 11, 10), date(2026, 11, 20))
    assert days.intervals == ((datetime(2026, 11, 9, 16, tzinfo=UTC), datetime(2026, 11, 12, 16, tzinfo=UTC)),
                              (datetime(2026, 11, 19, 16, tzinfo=UTC), datetime(2026, 11, 20, 16, tzinfo=UTC)))
    assert Days.of([], SHANGHAI) is None
