"""Service figures over a period, per type, product (merchant SKU) or technician: how many orders,
how many completed, service level met (%), median hours to complete, the buyers' average rating;
and the overdue orders open now. Reads only; what the console's figures screen and the API's
report share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

By = Literal["type", "product", "technician"]


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


async def figures(session: AsyncSession, by: By, *, since: datetime, until: datetime, shop: str | None = None,
                  limit: int = 50) -> list[ServiceFigures]:
    """Rows for the orders created in ``[since, until)``, most orders first."""
    raise NotImplementedError
