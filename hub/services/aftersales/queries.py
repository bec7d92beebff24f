"""Reading cases: a filtered list in cursor pages (due soonest first by default), one case in
full (lines, amounts, reason, evidence, return parcel, history, decisions and the actions allowed
now), and the cases of one order. Read-only; no partner calls. Not for deciding (``decisions``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import TERMINAL_AFTERSALE_STATUSES, AfterSaleStatus, AfterSaleType, allowed_actions
from contracts.connectors import Capability
from hub.db.tables import AfterSaleActionRow, AfterSaleEventRow, AfterSaleLineRow, AfterSaleRow
from hub.errors import BadInputError, NotFoundError
from hub.services.aftersales.case_records import is_local

#: How a list may be sorted: ``due`` (the soonest deadline first, cases without one last),
#: ``applied`` (newest first), ``updated`` (newest first).
SORTS = ("due", "applied", "updated")
#: The most cases one page holds.
MAX_LIMIT = 200


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
    #: The shops the caller may see (``Principal.shops``); None: every shop.
    shops: frozenset[str] | None = None


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
    #: Opened by a person in the hub (``local_cases``): the platform knows nothing of it.
    local: bool = False
    max_refund_currency: str | None = None


async def list_cases(session: AsyncSession, flt: CaseFilter, *, sort: str = "due", cursor: str | None = None,
                     limit: int = 50) -> CasePage:
    """One page of cases matching ``flt`` in ``sort`` order; ``next_cursor`` continues it.
    ``BadInputError`` (field ``cursor``) for a cursor this sort did not issue."""
    if sort not in SORTS:
        raise BadInputError(f"sort {sort!r} is not one of {', '.join(SORTS)}", field="query.sort")
    check_filter(flt)
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = _filtered(select(AfterSaleRow), flt)
    order_by, after = _SORTERS[sort]
    if cursor:
        stmt = stmt.where(after(_decode_cursor(sort, cursor)))
    rows = list((await session.execute(stmt.order_by(*order_by).limit(limit + 1))).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(sort, rows[-1]) if more and rows else None
    return CasePage([summary_of(r) for r in rows], next_cursor)


def check_filter(flt: CaseFilter) -> None:
    """``BadInputError`` naming the field for a filter no case could match by mistake: an unknown
    status or type, an applied range that ends before it starts."""
    known_statuses = {s.value for s in AfterSaleStatus}
    for status in flt.statuses:
        if status not in known_statuses:
            raise BadInputError(f"status {status!r} is not one of {', '.join(sorted(known_statuses))}",
                                field="query.status")
    known_types = {t.value for t in AfterSaleType}
    for kind in flt.types:
        if kind not in known_types:
            raise BadInputError(f"type {kind!r} is not one of {', '.join(sorted(known_types))}", field="query.type")
    if flt.applied_from and flt.applied_to and flt.applied_from > flt.applied_to:
        raise BadInputError("applied_from is after applied_to; swap them", field="query.applied_from")


def _filtered(stmt: Select[Any], flt: CaseFilter) -> Select[Any]:
    conditions: list[Any] = []
    if flt.statuses:
        conditions.append(AfterSaleRow.status.in_(flt.statuses))
    if flt.types:
        conditions.append(AfterSaleRow.type.in_(flt.types))
    if flt.shop:
        conditions.append(AfterSaleRow.shop == flt.shop)
    if flt.shops is not None:
        conditions.append(AfterSaleRow.shop.in_(sorted(flt.shops)) if flt.shops else false())
    if flt.platform:
        conditions.append(AfterSaleRow.platform == flt.platform)
    if flt.order_id is not None:
        conditions.append(AfterSaleRow.order_id == flt.order_id)
    if flt.deadline_before is not None:
        conditions.append(AfterSaleRow.deadline < flt.deadline_before)
    if flt.applied_from is not None:
        conditions.append(AfterSaleRow.applied_at >= flt.applied_from)
    if flt.applied_to is not None:
        conditions.append(AfterSaleRow.applied_at < flt.applied_to)
    if flt.open_only:
        conditions.append(AfterSaleRow.status.not_in([s.value for s in TERMINAL_AFTERSALE_STATUSES]))
    return stmt.where(*conditions) if conditions else stmt


# -- sorting and cursors -------------------------------------------------------------------------
# A cursor is the sort key of a page's last row with the sort's name, so a cursor of one sort is
# refused by another. "due": the soonest deadline first, cases without one after all others;
# "applied" and "updated": newest first. The id breaks ties in every sort.

_NO_DEADLINE = case((AfterSaleRow.deadline.is_(None), 1), else_=0)
_APPLIED = func.coalesce(AfterSaleRow.applied_at, AfterSaleRow.created_at)


def _after_due(key: tuple[datetime | None, int]) -> Any:
    deadline, last_id = key
    if deadline is None:
        return and_(AfterSaleRow.deadline.is_(None), AfterSaleRow.id > last_id)
    return or_(AfterSaleRow.deadline.is_(None), AfterSaleRow.deadline > deadline,
               and_(AfterSaleRow.deadline == deadline, AfterSaleRow.id > last_id))


def _after_applied(key: tuple[datetime | None, int]) -> Any:
    at, last_id = key
    return or_(_APPLIED < at, and_(_APPLIED == at, AfterSaleRow.id < last_id))


def _after_updated(key: tuple[datetime | None, int]) -> Any:
    at, last_id = key
    return or_(AfterSaleRow.updated_at < at, and_(AfterSaleRow.updated_at == at, AfterSaleRow.id < last_id))


_SORTERS: dict[str, tuple[tuple[Any, ...], Any]] = {
    "due": ((_NO_DEADLINE, AfterSaleRow.deadline, AfterSaleRow.id), _after_due),
    "applied": ((_APPLIED.desc(), AfterSaleRow.id.desc()), _after_applied),
    "updated": ((AfterSaleRow.updated_at.desc(), AfterSaleRow.id.desc()), _after_updated),
}


def _sort_value(sort: str, row: AfterSaleRow) -> datetime | None:
    if sort == "due":
        return row.deadline
    if sort == "applied":
        return row.applied_at or row.created_at
    return row.updated_at


def _encode_cursor(sort: str, row: AfterSaleRow) -> str:
    value = _sort_value(sort, row)
    raw = json.dumps([sort, value.isoformat() if value else None, row.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(sort: str, cursor: str) -> tuple[datetime | None, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        name, value, last_id = raw
        if name != sort or not isinstance(last_id, int) or last_id < 1:
            raise ValueError(cursor)
        at = datetime.fromisoformat(value) if value is not None else None
        if at is not None and at.tzinfo is None:
            raise ValueError(cursor)
        if at is None and sort != "due":
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadInputError(f"cursor is not one this list returned for sort {sort!r}; start again without it",
                            field="query.cursor") from exc
    return at, last_id


def summary_of(row: AfterSaleRow) -> CaseSummary:
    """A stored case as a list row."""
    return CaseSummary(id=row.id, platform=row.platform, shop=row.shop, external_id=row.external_id,
                       order_id=row.order_id, order_external_id=row.order_external_id, type=row.type,
                       status=row.status, raw_status=row.raw_status, refund_amount=row.refund_amount,
                       currency=row.currency, reason=row.reason, applied_at=row.applied_at or row.created_at,
                       deadline=row.deadline, updated_at=row.updated_at)


async def case_detail(session: AsyncSession, case_id: int, *, platform_actions: frozenset[str] | None = None
                      ) -> CaseDetail:
    """One case in full; ``platform_actions``: the actions the shop's connector writes back (None:
    it decides nothing, every allowed action is recorded only). ``NotFoundError`` when unknown."""
    row = (await session.execute(select(AfterSaleRow).where(AfterSaleRow.id == case_id))).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"after-sale case {case_id} does not exist")
    lines = (await session.execute(select(AfterSaleLineRow).where(AfterSaleLineRow.aftersale_id == case_id)
                                   .order_by(AfterSaleLineRow.position))).scalars().all()
    events = (await session.execute(select(AfterSaleEventRow).where(AfterSaleEventRow.aftersale_id == case_id)
                                    .order_by(AfterSaleEventRow.id))).scalars().all()
    actions = (await session.execute(select(AfterSaleActionRow).where(AfterSaleActionRow.aftersale_id == case_id)
                                     .order_by(AfterSaleActionRow.id))).scalars().all()
    data: dict[str, Any] = row.data or {}
    max_refund = data.get("max_refund") or {}
    return CaseDetail(
        summary=summary_of(row), description=data.get("description"), evidence=list(data.get("evidence") or []),
        max_refund=Decimal(str(max_refund["amount"])) if max_refund.get("amount") is not None else None,
        return_courier=data.get("return_courier"), return_tracking_number=data.get("return_tracking_number"),
        exchange_sku=data.get("exchange_sku"), version=row.version, received=bool(row.received),
        resolution=row.resolution, delivery_order_id=row.delivery_order_id, decided_by=row.decided_by,
        lines=[CaseLine(position=li.position, order_line_id=li.order_line_id, line_external_id=li.line_external_id,
                        merchant_sku=li.merchant_sku, quantity=li.quantity, refund_amount=li.refund_amount,
                        received_good=li.received_good, received_damaged=li.received_damaged) for li in lines],
        history=[CaseEvent(id=e.id, at=e.at, kind=e.kind, old_status=e.old_status, new_status=e.new_status,
                           cause=e.cause, actor=e.actor, detail=dict(e.detail or {})) for e in events],
        decisions=[CaseDecision(id=a.id, action=a.action, state=a.state, actor=a.actor, attempts=a.attempts,
                                error=a.error, result=dict(a.result or {}), created_at=a.created_at)
                   for a in actions],
        allowed=allowed_now(row, platform_actions),
        local=is_local(row),
        max_refund_currency=max_refund.get("currency"),
    )


def goods_received(row: AfterSaleRow) -> bool:
    """Whether the returned (or exchanged) goods are back: recorded in the hub, or confirmed at the
    platform already (``extra.seller_received``: e.g. Tmall exchange status 12, receipt confirmed
    outside the hub)."""
    extra = (row.data or {}).get("extra") or {}
    return bool(row.received) or str(extra.get("seller_received", "")).lower() == "true"


def allowed_now(row: AfterSaleRow, platform_actions: frozenset[str] | None) -> list[AllowedAction]:
    """The actions a person may take on ``row`` now, each marked as written back or recorded only."""
    try:
        actions = allowed_actions(AfterSaleType(row.type), AfterSaleStatus(row.status), received=goods_received(row))
    except ValueError:  # a type or status this hub no longer knows: nothing to offer
        return []
    writes = platform_actions or frozenset()
    return [AllowedAction(action=a.value, written_back=a.value in writes) for a in actions]


async def cases_of_order(session: AsyncSession, order_id: int) -> list[CaseSummary]:
    """Every case of one order, newest first."""
    rows = (await session.execute(select(AfterSaleRow).where(AfterSaleRow.order_id == order_id)
                                  .order_by(_APPLIED.desc(), AfterSaleRow.id.desc()))).scalars().all()
    return [summary_of(r) for r in rows]


def platform_actions(hub: Any, shop: str) -> frozenset[str] | None:
    """The actions ``shop``'s connector writes back (its ``aftersale_actions``), None when the shop
    is unknown or its connector cannot decide after-sales."""
    config = hub.config.shops.get(shop)
    if config is None:
        return None
    cls = hub.plugins.channel_class(config.platform)
    if cls is None or Capability.DECIDE_AFTERSALES not in getattr(cls, "capabilities", frozenset()):
        return None
    return frozenset(str(getattr(a, "value", a)) for a in getattr(cls, "aftersale_actions", ()))


async def detail_for(hub: Any, case_id: int) -> CaseDetail:
    """``case_detail`` with the actions the case's shop writes back (none for a case opened in the
    hub); ``NotFoundError`` when unknown."""
    async with hub.database().session() as session:
        row = (await session.execute(select(AfterSaleRow).where(AfterSaleRow.id == case_id))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"after-sale case {case_id} does not exist")
        writes = None if is_local(row) else platform_actions(hub, row.shop)
        return await case_detail(session, case_id, platform_actions=writes)
