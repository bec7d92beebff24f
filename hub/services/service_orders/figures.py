"""Service figures over a period, per type, product (merchant SKU) or technician: how many orders,
how many completed, service level met (%), median hours to complete, the buyers' average rating;
and the overdue orders open now. Reads only; what the console's figures screen and the API's
report share.

What counts (the same on PostgreSQL and SQLite): the orders **created** in ``[since, until)``
(``service_orders.created_at``), of one shop when ``shop`` is given. Of those:

- ``completed`` / ``cancelled`` / ``failed``: in that status now;
- ``sla_closed``: closed with a service-level verdict (``sla_state`` met or missed), ``sla_met`` the
  met ones, ``sla_met_pct`` = met / closed × 100 (None when none closed with a verdict);
- ``median_hours_to_complete``: the median of created → closed hours of the completed ones;
- ``rating_avg`` / ``rating_count``: the buyers' ratings given;
- ``overdue_open``: open now and past a deadline (``sla_state`` overdue).

Not for lists of orders (``queries``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any, Literal

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import TERMINAL_SERVICE_STATUSES, ServiceOrderStatus
from hub.db.tables import ServiceOrderRow, TechnicianRow

By = Literal["type", "product", "technician"]
BY: tuple[str, ...] = ("type", "product", "technician")
#: The label of the row of orders without a SKU or without a technician.
NONE_LABELS = {"product": "no SKU", "technician": "unassigned"}
_CLOSED = tuple(s.value for s in TERMINAL_SERVICE_STATUSES)


@dataclass(frozen=True)
class ServiceFigures:
    """One row: ``key`` (a type, SKU or technician code; ``""`` for none) and ``label`` to show."""

    key: str
    label: str
    count: int
    completed: int
    cancelled: int
    failed: int
    sla_met: int
    sla_closed: int
    sla_met_pct: float | None
    median_hours_to_complete: float | None
    rating_avg: float | None
    rating_count: int
    overdue_open: int


def _key_columns(by: str | None) -> tuple[Any, Any]:
    """(key, label) expressions for ``by`` (None: one row for all); the label is aggregated so the
    key alone groups."""
    row = ServiceOrderRow
    if by is None:
        return literal("all"), literal("all")
    if by == "type":
        return row.type, func.max(row.type)
    if by == "product":
        sku = func.coalesce(row.merchant_sku, "")
        return sku, func.max(func.coalesce(row.product_title, row.merchant_sku))
    if by == "technician":
        return func.coalesce(TechnicianRow.code, ""), func.max(TechnicianRow.name)
    raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")


def _where(since: datetime, until: datetime, shop: str | None) -> list[Any]:
    where: list[Any] = [ServiceOrderRow.created_at >= since, ServiceOrderRow.created_at < until]
    if shop:
        where.append(ServiceOrderRow.shop == shop)
    return where


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _from(by: str | None, stmt: Any) -> Any:
    stmt = stmt.select_from(ServiceOrderRow)
    if by == "technician":
        stmt = stmt.outerjoin(TechnicianRow, TechnicianRow.id == ServiceOrderRow.technician_id)
    return stmt


def _grouped(by: str | None, key: Any, stmt: Any) -> Any:
    # No GROUP BY for the totals: PostgreSQL refuses to group by a constant.
    return stmt.group_by(key) if by else stmt


async def _medians(session: AsyncSession, by: str | None, key: Any, where: list[Any]) -> dict[str, float]:
    """Median created → closed hours of the completed orders, per key. PostgreSQL computes it
    (``percentile_cont``); SQLite has no percentile, so the durations are read (one row per
    completed order, one query) and the median taken here."""
    row = ServiceOrderRow
    done = [*where, row.status == ServiceOrderStatus.COMPLETED.value, row.closed_at.is_not(None)]
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        hours = func.extract("epoch", row.closed_at - row.created_at) / 3600.0
        stmt = _grouped(by, key, _from(by, select(key, func.percentile_cont(0.5).within_group(hours))).where(*done))
        return {str(k): round(float(m), 2) for k, m in await session.execute(stmt) if m is not None}
    durations: dict[str, list[float]] = defaultdict(list)
    for k, created, closed in await session.execute(_from(by, select(key, row.created_at, row.closed_at)).where(*done)):
        durations[str(k)].append((closed - created).total_seconds() / 3600)
    return {k: round(float(median(v)), 2) for k, v in durations.items()}


async def _rows(session: AsyncSession, by: str | None, *, since: datetime, until: datetime, shop: str | None
                ) -> list[ServiceFigures]:
    row = ServiceOrderRow
    key, label = _key_columns(by)
    closed = row.status.in_(_CLOSED)
    where = _where(since, until, shop)
    stmt = _from(by, select(
        key, label, func.count(row.id),
        _count_if(row.status == ServiceOrderStatus.COMPLETED.value),
        _count_if(row.status == ServiceOrderStatus.CANCELLED.value),
        _count_if(row.status == ServiceOrderStatus.FAILED.value),
        _count_if(closed & (row.sla_state == "met")),
        _count_if(closed & row.sla_state.in_(("met", "missed"))),
        func.avg(row.rating), func.count(row.rating),
        _count_if(~closed & (row.sla_state == "overdue")),
    )).where(*where)
    grouped = [r for r in await session.execute(_grouped(by, key, stmt)) if r[2]]
    medians = await _medians(session, by, key, where) if grouped else {}
    out = []
    for k, shown, count, completed, cancelled, failed, met, verdicts, rating_avg, rating_count, overdue in grouped:
        k = str(k or "")
        out.append(ServiceFigures(
            key=k, label=str(shown) if shown else (NONE_LABELS.get(by or "", "") if not k else k),
            count=int(count), completed=int(completed), cancelled=int(cancelled), failed=int(failed),
            sla_met=int(met), sla_closed=int(verdicts),
            sla_met_pct=round(100 * int(met) / int(verdicts), 1) if verdicts else None,
            median_hours_to_complete=medians.get(k), rating_avg=round(float(rating_avg), 2) if rating_count else None,
            rating_count=int(rating_count), overdue_open=int(overdue)))
    return out


async def figures(session: AsyncSession, by: By, *, since: datetime, until: datetime, shop: str | None = None,
                  limit: int = 50) -> list[ServiceFigures]:
    """Rows for the orders created in ``[since, until)``, most orders first (then the key)."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")
    rows = await _rows(session, by, since=since, until=until, shop=shop)
    rows.sort(key=lambda r: (-r.count, r.key))
    return rows[:limit]


async def totals(session: AsyncSession, *, since: datetime, until: datetime, shop: str | None = None
                 ) -> ServiceFigures:
    """The same figures for every order created in ``[since, until)`` together (key ``"all"``);
    zeros when there were none."""
    rows = await _rows(session, None, since=since, until=until, shop=shop)
    if rows:
        return rows[0]
    return ServiceFigures(key="all", label="all", count=0, completed=0, cancelled=0, failed=0, sla_met=0,
                          sla_closed=0, sla_met_pct=None, median_hours_to_complete=None, rating_avg=None,
                          rating_count=0, overdue_open=0)
