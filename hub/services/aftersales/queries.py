"""Reading cases: a filtered list in cursor pages (due soonest first by default), one case in
full (lines, amounts, reason, evidence, return parcel, history, decisions and the actions allowed
now), and the cases of one order. Read-only; no partner calls. Not for deciding (``decisions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

#: How a list may be sorted: ``due`` (the soonest deadline first, cases without one last),
#: ``applied`` (newest first), ``updated`` (newest first).
SORTS = ("due", "applied", "updated")


@dataclass(frozen=True)
class CaseFilter:
    """What ``list_cases`` keeps; every field optional (None or empty: no condition)."""

    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    shop: str | None = None
    platform: str | None = None
    order_id: int | None = None
    deadline_before: datetime | None = None
    applied_from: datetime | None = None
    applied_to: datetime | None = None
    #: Only cases not in a terminal status (refunded, completed, closed).
    open_only: bool = False


@dataclass(frozen=True)
class CaseSummary:
    """One row of a case list."""

    id: int
    platform: str
    shop: str
    external_id: str
    order_id: int | None
    order_external_id: str
    type: str
    status: str
    raw_status: str
    refund_amount: Decimal | None
    currency: str | None
    reason: str | None
    applied_at: datetime | None
    deadline: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class AllowedAction:
    """An action a person may take on the case now; ``written_back`` False when the platform has
    no API for it (the hub records it and says so)."""

    action: str
    written_back: bool


@dataclass(frozen=True)
class CaseLine:
    position: int
    order_line_id: int | None
    line_external_id: str | None
    merchant_sku: str | None
    quantity: int
    refund_amount: Decimal | None
    received_good: int
    received_damaged: int


@dataclass(frozen=True)
class CaseEvent:
    id: int
    at: datetime
    kind: str
    old_status: str | None
    new_status: str | None
    cause: str
    actor: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class CaseDecision:
    """A decision taken on the case and where its write-back stands (``state``)."""

    id: int
    action: str
    state: str
    actor: str | None
    attempts: int
    error: str | None
    result: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class CaseDetail:
    summary: CaseSummary
    description: str | None
    evidence: list[str]
    max_refund: Decimal | None
    return_courier: str | None
    return_tracking_number: str | None
    exchange_sku: str | None
    version: str | None
    received: bool
    resolution: str | None
    delivery_order_id: int | None
    decided_by: str | None
    lines: list[CaseLine]
    history: list[CaseEvent]
    decisions: list[CaseDecision]
    allowed: list[AllowedAction] = field(default_factory=list)


async def list_cases(session: AsyncSession, flt: CaseFilter, *, sort: str = "due", cursor: str | None = None,
                     limit: int = 50) -> CasePage:
    """One page of cases matching ``flt`` in ``sort`` order; ``next_cursor`` continues it.
    ``BadInputError`` (field ``cursor``) for a cursor this sort did not issue."""
    raise NotImplementedError


async def case_detail(session: AsyncSession, case_id: int, *, platform_actions: frozenset[str] | None = None
                      ) -> CaseDetail:
    """One case in full; ``platform_actions``: the actions the shop's connector writes back (None:
    it decides nothing, every allowed action is recorded only). ``NotFoundError`` when unknown."""
    raise NotImplementedError


async def cases_of_order(session: AsyncSession, order_id: int) -> list[CaseSummary]:
    """Every case of one order, newest first."""
    raise NotImplementedError


def platform_actions(hub: Any, shop: str) -> frozenset[str] | None:
    """The actions ``shop``'s connector writes back (its ``aftersale_actions``), None when the shop
    is unknown or its connector cannot decide after-sales."""
    raise NotImplementedError
