"""The fulfilment exceptions queue: things in fulfilment a person must look at (a parcel not
collected, stalled or returned; other steps add their own kinds), raised once per (kind, subject)
and resolved by the hub when the cause went away or by a person, attributed.

``raise_many`` is set-based and idempotent (``INSERT … ON CONFLICT``): a rule firing again
records nothing new, and an exception the hub itself resolved (``AUTO_RESOLVER``) opens again
when its cause comes back; one a person resolved stays resolved. ``resolve_automatically``
closes open ones in one statement; ``resolve`` is a person's, with a note in the order's
history and the audit log. Not for deciding *when* a parcel is stuck (``tracking``), nor HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.context import Hub
from hub.db import audit
from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import FulfilmentExceptionRow, OrderEventRow, utcnow
from hub.errors import HubError, NotFoundError
from hub.services.access.owners import of_orders_in

#: Who resolves an exception whose cause went away (the parcel moved again, or was delivered).
AUTO_RESOLVER = "hub:tracking"
#: The kinds parcel tracking raises.
NOT_COLLECTED, STALLED, RETURNED = "not_collected", "stalled", "returned"
MAX_LIMIT = 200
_CURSOR = "fexc:"


class AlreadyResolved(HubError):
    """The exception was resolved before (by whom and when is in the message): HTTP 409."""


@dataclass(frozen=True)
class Raised:
    """An exception to raise: what it is about and why."""

    order_id: int
    kind: str
    subject: str
    reason: str


def parcel_subject(parcel_id: int) -> str:
    return f"parcel:{parcel_id}"


def subject_parcel(subject: str) -> int | None:
    """The parcel id of a ``parcel:<id>`` subject, else None."""
    prefix, _, rest = subject.partition(":")
    return int(rest) if prefix == "parcel" and rest.isdigit() else None


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def raise_many(session: AsyncSession, items: list[Raised], *, now: datetime | None = None) -> int:
    """Record each exception once (one statement); returns how many rows were written (new or
    re-opened). An exception the hub resolved opens again; one a person resolved does not."""
    if not items:
        return 0
    at = now or utcnow()
    unique = {(i.kind, i.subject): i for i in items}
    values = [{"order_id": i.order_id, "kind": i.kind, "subject": i.subject, "reason": i.reason, "raised_at": at}
              for i in unique.values()]
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt: Any = insert(FulfilmentExceptionRow).values(values)
    table = FulfilmentExceptionRow.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "subject"],
        set_={"reason": stmt.excluded.reason, "raised_at": stmt.excluded.raised_at, "resolved_at": None,
              "resolved_by": None},
        where=(table.c.resolved_at.is_not(None)) & (table.c.resolved_by == AUTO_RESOLVER),
    ).returning(table.c.id)
    return len(list(await session.execute(stmt)))


async def resolve_automatically(session: AsyncSession, ids: list[int], *, now: datetime | None = None) -> int:
    """Close the open exceptions ``ids`` because their cause went away (one statement)."""
    if not ids:
        return 0
    result: Any = await session.execute(
        update(FulfilmentExceptionRow)
        .where(FulfilmentExceptionRow.id.in_(ids), FulfilmentExceptionRow.resolved_at.is_(None))
        .values(resolved_at=now or utcnow(), resolved_by=AUTO_RESOLVER))
    return int(result.rowcount or 0)


async def open_for_subjects(session: AsyncSession, kinds: tuple[str, ...],
                            subjects: list[str]) -> list[FulfilmentExceptionRow]:
    if not subjects:
        return []
    return list((await session.execute(select(FulfilmentExceptionRow).where(
        FulfilmentExceptionRow.kind.in_(kinds), FulfilmentExceptionRow.subject.in_(subjects),
        FulfilmentExceptionRow.resolved_at.is_(None)))).scalars())


async def resolve(hub: Hub, exception_id: int, *, actor: str, note: str | None = None) -> FulfilmentExceptionRow:
    """A person resolves exception ``exception_id``: attributed, in the order's history and the
    audit log. ``NotFoundError``; ``AlreadyResolved`` naming who resolved it and when."""
    async with hub.database().transaction() as session:
        row = (await session.execute(select(FulfilmentExceptionRow).where(
            FulfilmentExceptionRow.id == exception_id))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"fulfilment exception {exception_id} does not exist")
        at = utcnow()
        result: Any = await session.execute(
            update(FulfilmentExceptionRow)
            .where(FulfilmentExceptionRow.id == exception_id, FulfilmentExceptionRow.resolved_at.is_(None))
            .values(resolved_at=at, resolved_by=actor[:100]))
        if not result.rowcount:
            await session.refresh(row)
            when = row.resolved_at.isoformat() if row.resolved_at else "?"
            raise AlreadyResolved(f"fulfilment exception {exception_id} was already resolved by "
                                  f"{row.resolved_by} at {when}")
        detail = {"exception_id": exception_id, "kind": row.kind, "subject": row.subject, "note": note or ""}
        session.add(OrderEventRow(order_id=row.order_id, at=at, kind="fulfilment_exception_resolved",
                                  old_status=None, new_status=None, cause="api", actor=actor, detail=detail))
        await audit.record(session, actor=actor, action="fulfilment_exception.resolved",
                           subject=f"fulfilment_exception:{exception_id}", details=detail)
        await session.refresh(row)
        return row


@dataclass(frozen=True)
class ExceptionPage:
    rows: list[FulfilmentExceptionRow]
    next_cursor: str | None


async def list_exceptions(session: AsyncSession, *, state: str = "open", kind: str | None = None,
                          order_id: int | None = None, limit: int = 50,
                          cursor: str | None = None, shops: frozenset[str] | None = None) -> ExceptionPage:
    """A page of exceptions, oldest first (the queue's order): ``state`` open | resolved | all."""
    stmt = select(FulfilmentExceptionRow)
    if state == "open":
        stmt = stmt.where(FulfilmentExceptionRow.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(FulfilmentExceptionRow.resolved_at.is_not(None))
    if kind:
        stmt = stmt.where(FulfilmentExceptionRow.kind == kind)
    if order_id is not None:
        stmt = stmt.where(FulfilmentExceptionRow.order_id == order_id)
    if shops is not None:  # the caller's shops (None: every shop)
        stmt = stmt.where(of_orders_in(FulfilmentExceptionRow.order_id, shops))
    if cursor:
        stmt = stmt.where(FulfilmentExceptionRow.id > decode_id_cursor(_CURSOR, cursor))
    rows = list((await session.execute(stmt.order_by(FulfilmentExceptionRow.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return ExceptionPage(rows, encode_id_cursor(_CURSOR, rows[-1].id) if more and rows else None)


async def get_exception(session: AsyncSession, exception_id: int) -> FulfilmentExceptionRow | None:
    return (await session.execute(select(FulfilmentExceptionRow).where(
        FulfilmentExceptionRow.id == exception_id))).scalar_one_or_none()
