"""Periods: a report's range of local days, its buckets (day, ISO week from Monday, calendar month)
in the console's time zone, and the SQL that puts a UTC timestamp into its bucket — the same
answer on PostgreSQL and SQLite.

The zone's UTC offset is looked up in Python for the range (``offsets``): usually one offset, a few
where daylight saving changes; the SQL adds that many minutes to the UTC time and takes the date
(then the week's Monday or the month's first day). Not for what is counted (``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, case, cast, func, literal_column

from hub.errors import BadInputError

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class Range:
    """The local days ``first``..``last`` (inclusive) in ``zone``, and the UTC instants they span."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local ``day`` begins in ``zone``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def check_range(first: date, last: date, period: Period, *, max_daily: int, max_long: int,
                zone: ZoneInfo) -> Range:
    """The range asked for, or ``BadInputError`` naming ``from`` (after ``to``) or ``to`` (too long)."""
    if period not in PERIODS:
        raise BadInputError(f"period must be one of {', '.join(PERIODS)}", field="period")
    if first > last:
        raise BadInputError("from must not be after to", field="from")
    limit = max_daily if period == "day" else max_long
    if (last - first).days + 1 > limit:
        raise BadInputError(f"a {period} report covers at most {limit} days", field="to")
    return Range(first, last, zone)


def bucket_of(day: date, period: Period) -> date:
    """The first local day of ``day``'s bucket (the day itself, its week's Monday, its month's 1st)."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def buckets(span: Range, period: Period) -> list[date]:
    """Every bucket the range touches, in order (the first and last may be partial)."""
    out: list[date] = []
    day = span.first
    while day <= span.last:
        b = bucket_of(day, period)
        if not out or out[-1] != b:
            out.append(b)
        day += timedelta(days=1)
    return out


def _offset(at: datetime, zone: ZoneInfo) -> int:
    return int((at.astimezone(zone).utcoffset() or timedelta()).total_seconds() // 60)


@lru_cache(maxsize=256)
def _offsets(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[tuple[datetime, int], ...]:
    found = [(start, _offset(start, zone))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if _offset(following, zone) != found[-1][1] or following == end:
            at = day  # the change is within this day: find its hour
            while at < following:
                minutes = _offset(at, zone)
                if minutes != found[-1][1]:
                    found.append((at, minutes))
                at += timedelta(hours=1)
        day = following
    return tuple(found)


def offsets(span: Range) -> list[tuple[datetime, int]]:
    """(from this UTC instant, the zone's offset in minutes) over the range, at hour resolution."""
    return list(_offsets(span.start, span.end, span.zone))


def _bucket_sql(column: Any, minutes: int, period: Period, dialect: str) -> Any:
    if dialect == "postgresql":
        local = func.timezone("UTC", column) + literal_column(f"interval '{int(minutes)} minutes'")
        if period != "day":
            local = func.date_trunc(period, local)
        return func.to_char(local, "YYYY-MM-DD")
    shift = f"{int(minutes):+d} minutes"
    if period == "day":
        return func.date(column, shift)
    if period == "week":
        return func.date(column, shift, "weekday 0", "-6 days")
    return func.date(column, shift, "start of month")


def week_of(day: Any, dialect: str) -> Any:
    """SQL of the Monday of the week of ``day`` (a date on PostgreSQL, ``YYYY-MM-DD`` on SQLite)."""
    if dialect == "postgresql":
        return cast(func.date_trunc("week", cast(day, DateTime())), Date)
    return func.date(day, "weekday 0", "-6 days")


def month_of(day: Any, dialect: str) -> Any:
    """SQL of the first day of the month of ``day`` (a date on PostgreSQL, ``YYYY-MM-DD`` on SQLite)."""
    if dialect == "postgresql":
        return cast(func.date_trunc("month", cast(day, DateTime())), Date)
    return func.date(day, "start of month")


def dialect_of(session: Any) -> str:
    """``postgresql`` or ``sqlite``: which SQL the bucket is written in."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def bucket_sql(column: Any, span: Range, period: Period, dialect: str) -> Any:
    """SQL giving the ``YYYY-MM-DD`` first day of the bucket of the UTC timestamp ``column``."""
    segments = offsets(span)
    if len(segments) == 1:
        return _bucket_sql(column, segments[0][1], period, dialect)
    whens = [(column < segments[i + 1][0], _bucket_sql(column, minutes, period, dialect))
             for i, (_, minutes) in enumerate(segments[:-1])]
    return case(*whens, else_=_bucket_sql(column, segments[-1][1], period, dialect))
