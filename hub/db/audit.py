"""The audit log: who did which operator action to what, and when, in the caller's transaction.

Written beside the change it records (an API key made or revoked, a shop resumed or authorised, a
dead letter replayed), so the record and the change commit together or not at all. Read by
``GET /api/v1/audit``, newest first with cursor pages. Not for an order's own history (that is
``order_events``) and never for secrets: ``details`` holds ids and reasons only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import AuditRow, utcnow

_CURSOR_PREFIX = "audit:"


async def record(session: AsyncSession, *, actor: str, action: str, subject: str,
                 details: dict[str, Any] | None = None) -> AuditRow:
    """Add one entry to the caller's transaction; ``actor`` as the API/CLI attributes writes."""
    row = AuditRow(at=utcnow(), actor=actor[:100], action=action[:50], subject=subject[:200],
                   details=dict(details or {}))
    session.add(row)
    await session.flush()
    return row


def record_many(session: AsyncSession, *, actor: str, action: str,
                entries: list[tuple[str, dict[str, Any]]]) -> None:
    """Add one entry per (subject, details) to the caller's transaction, inserted together at its
    next flush (a batch action, e.g. replaying every dead letter of an actor)."""
    at = utcnow()
    session.add_all([AuditRow(at=at, actor=actor[:100], action=action[:50], subject=subject[:200],
                              details=dict(details)) for subject, details in entries])


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return encode_id_cursor(_CURSOR_PREFIX, last_id)


def decode_cursor(cursor: str) -> int:
    """The last id a cursor stands for; ``BadInputError`` naming ``query.cursor`` if it is not ours."""
    return decode_id_cursor(_CURSOR_PREFIX, cursor)


async def list_entries(session: AsyncSession, filters: AuditFilters, *, limit: int = 50,
                       cursor: str | None = None) -> AuditPage:
    """One page of entries matching ``filters``, newest first, and the cursor to the next page."""
    stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit + 1)
    if filters.actor:
        stmt = stmt.where(AuditRow.actor == filters.actor)
    if filters.action:
        stmt = stmt.where(AuditRow.action == filters.action)
    if filters.subject:
        stmt = stmt.where(AuditRow.subject == filters.subject)
    if filters.since is not None:
        stmt = stmt.where(AuditRow.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditRow.at < filters.until)
    if cursor:
        stmt = stmt.where(AuditRow.id < decode_cursor(cursor))
    rows = list((await session.execute(stmt)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, encode_cursor(rows[-1].id) if more and rows else None)


async def latest_times(session: AsyncSession, action: str) -> dict[str, datetime]:
    """When ``action`` was last recorded for each subject (e.g. each shop's last ``shop.authorized``)."""
    rows = (await session.execute(select(AuditRow.subject, func.max(AuditRow.at)).where(AuditRow.action == action)
                                  .group_by(AuditRow.subject))).all()
    return {str(subject): at for subject, at in rows if at is not None}
