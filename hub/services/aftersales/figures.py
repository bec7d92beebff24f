"""After-sales figures: refund and return rate per SKU and per shop (cases against units or orders
sold in the same period), and reasons ranked. Set-based SQL over indexed columns; read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class RateRow:
    """One SKU's (or shop's) figures over the period: ``sold`` units (per SKU) or orders (per shop),
    ``refunds``/``returns``/``exchanges`` cases, the rates against ``sold``, and the amount refunded."""

    key: str
    sold: int
    refunds: int
    returns: int
    exchanges: int
    refund_rate: float
    return_rate: float
    refunded_amount: Decimal


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    cases: int
    share: float


async def rates(session: AsyncSession, *, by: str, since: datetime, until: datetime, shop: str | None = None,
                limit: int = 50) -> list[RateRow]:
    """Rates ``by`` ``"sku"`` or ``"shop"`` for cases applied in ``[since, until)``, highest refund rate first."""
    raise NotImplementedError


async def reasons(session: AsyncSession, *, since: datetime, until: datetime, shop: str | None = None,
                  limit: int = 20) -> list[ReasonRow]:
    """The buyers' reasons, most frequent first."""
    raise NotImplementedError
