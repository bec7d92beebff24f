"""The inbox: every partner event stored before anything acts on it (dedup, retries, replay).

Rows are unique per (platform, shop, message id) — two shops of one platform may receive the same
message id, and each keeps its message: a batch is recorded with one
``INSERT … ON CONFLICT DO NOTHING RETURNING id`` so redelivered messages, and repeats inside one
batch, are dropped by the database, and only the new rows' ids go on to the queue. The stored
payload is the ``InboundMessage`` as JSON (ids stay strings). Not for deciding what a message
means: ``hub.services.ingest`` does that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import InboundMessage
from hub.db.tables import InboxRow, UTCDateTime, utcnow
from hub.db.upsert import insert_ignore

#: What makes a message a repeat: the inbox's unique key (``uq_inbox_platform_shop_message_id``).
KEY = ("platform", "shop", "message_id")
#: Rows per INSERT statement (SQLite allows 32,766 bound parameters; a row binds 11).
CHUNK = 500
MAX_ERROR_CHARS = 4000
#: The inbox's string columns and their widths: a message whose value does not fit (or holds a
#: NUL, which PostgreSQL text refuses) cannot be stored, and would fail its whole batch's INSERT.
COLUMN_WIDTHS = {"message_id": 200, "topic": 100, "external_id": 200}


def unstorable(message: InboundMessage) -> str | None:
    """Why ``message`` cannot be stored (a column it would not fit), or None; check before
    ``record_messages`` so one bad message is refused alone rather than with its batch."""
    for name, width in COLUMN_WIDTHS.items():
        value = getattr(message, name)
        if value is None:
            continue
        if "\x00" in value:
            return f"{name} contains a NUL character"
        if len(value) > width:
            return f"{name} is longer than {width} characters"
    return None


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def record_messages(
    session: AsyncSession, *, platform: str, shop: str, source: str, messages: list[InboundMessage]
) -> list[int]:
    """Store ``messages``; returns the ids of the rows this call inserted, ascending.

    A message whose (platform, shop, message id) is already stored — by an earlier batch, a
    concurrent caller, or earlier in this batch — is skipped silently. Runs in the caller's transaction.
    """
    rows = []
    seen: set[str] = set()
    for message in messages:
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        rows.append(
            {
                "platform": platform,
                "shop": shop,
                "message_id": message.message_id,
                "source": source,
                "kind": message.kind.value,
                "topic": message.topic,
                "external_id": message.external_id,
                "payload": message.model_dump(mode="json"),
                "status": "pending",
                "attempts": 0,
            }
        )
    if not rows:
        return []
    # One statement with the rows as executemany parameters: SQLAlchemy caches its compiled form
    # and batches it into multi-row INSERT … RETURNING itself ("insertmanyvalues"); building it
    # with .values([...]) instead recompiled it on every push.
    stmt = insert_ignore(InboxRow, _dialect(session), list(KEY)).returning(InboxRow.id)
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids.extend((await session.execute(stmt, rows[start : start + CHUNK])).scalars().all())
    return sorted(ids)


async def get(session: AsyncSession, inbox_id: int) -> InboxRow | None:
    """The inbox row, freshly read (never a stale copy from the session's identity map)."""
    stmt = select(InboxRow).where(InboxRow.id == inbox_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


def load_message(row: InboxRow) -> InboundMessage:
    """The stored ``InboundMessage``, validated again from its JSON."""
    return InboundMessage.model_validate(row.payload)


async def mark_done(session: AsyncSession, inbox_id: int) -> None:
    await session.execute(
        update(InboxRow).where(InboxRow.id == inbox_id).values(status="done", processed_at=utcnow())
    )


async def mark_failed(session: AsyncSession, inbox_id: int, error: str, *, dead: bool = False) -> None:
    """Record a failed attempt's error; ``dead`` when the message will not be retried again."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id)
        .values(status="dead" if dead else "failed", last_error=error[:MAX_ERROR_CHARS], processed_at=utcnow())
    )


async def bump_attempts(session: AsyncSession, inbox_id: int) -> int:
    """Count one more attempt atomically; returns the new count (0 when the row does not exist)."""
    result = await session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id)
        .values(attempts=InboxRow.attempts + 1)
        .returning(InboxRow.attempts)
    )
    attempts = result.scalar_one_or_none()
    return int(attempts) if attempts is not None else 0


async def reset(session: AsyncSession, inbox_id: int) -> None:
    """Make a failed or dead row pending again with a fresh attempt budget (replay)."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == inbox_id)
        .values(status="pending", attempts=0, processed_at=None)
    )


async def pending(session: AsyncSession, limit: int) -> list[InboxRow]:
    """Up to ``limit`` rows still waiting for their first processing, oldest first."""
    stmt = select(InboxRow).where(InboxRow.status == "pending").order_by(InboxRow.id).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


#: ``record_many``'s statements, per dialect: built once, so each call only binds its rows.
_MANY: dict[str, Any] = {}
#: ``record_many`` on PostgreSQL: the rows as one array per column, so the statement text (and its
#: prepared form) is the same for any number of rows and the driver encodes the arrays, not
#: SQLAlchemy row by row. The payload arrives as JSON text, cast by the server.
_MANY_POSTGRESQL = text(
    "INSERT INTO inbox (platform, shop, message_id, source, kind, topic, external_id, payload, status, attempts, "
    "received_at) "
    "SELECT r.platform, r.shop, r.message_id, r.source, r.kind, r.topic, r.external_id, CAST(r.payload AS JSON), "
    "'pending', 0, :received_at "
    "FROM unnest(CAST(:platform AS VARCHAR[]), CAST(:shop AS VARCHAR[]), CAST(:message_id AS VARCHAR[]), "
    "CAST(:source AS VARCHAR[]), CAST(:kind AS VARCHAR[]), CAST(:topic AS VARCHAR[]), "
    "CAST(:external_id AS VARCHAR[]), CAST(:payload AS TEXT[])) "
    "AS r(platform, shop, message_id, source, kind, topic, external_id, payload) "
    "ON CONFLICT (platform, shop, message_id) DO NOTHING "
    "RETURNING id, platform, shop, message_id"
).bindparams(bindparam("received_at", type_=UTCDateTime()))


async def record_many(
    session: AsyncSession, batch: Sequence[tuple[str, str, str, InboundMessage]], *, received_at: datetime | None = None
) -> list[tuple[int, str, str, str]]:
    """Store the messages of several shops and sources at once: ``batch`` holds (platform, shop,
    source, message); returns (id, platform, shop, message id) of each row this call inserted.

    The group-commit form of ``record_messages`` (``hub.services.intake``): one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per ``CHUNK`` rows (on PostgreSQL one for all,
    the columns bound as arrays), from a statement built once: no ORM bulk path, no per-call
    compile. A message already stored, or earlier in ``batch`` under the same key, is skipped
    silently. Runs in the caller's transaction.
    """
    at = received_at or utcnow()
    unique: list[tuple[str, str, str, InboundMessage]] = []
    seen: set[tuple[str, str, str]] = set()
    for platform, shop, source, message in batch:
        key = (platform, shop, message.message_id)
        if key not in seen:
            seen.add(key)
            unique.append((platform, shop, source, message))
    if not unique:
        return []
    dialect = _dialect(session)
    if dialect == "postgresql":
        columns: dict[str, Any] = {
            "platform": [p for p, _, _, _ in unique], "shop": [s for _, s, _, _ in unique],
            "message_id": [m.message_id for _, _, _, m in unique], "source": [src for _, _, src, _ in unique],
            "kind": [m.kind.value for _, _, _, m in unique], "topic": [m.topic for _, _, _, m in unique],
            "external_id": [m.external_id for _, _, _, m in unique],
            "payload": [m.model_dump_json() for _, _, _, m in unique], "received_at": at,
        }
        result = await session.execute(_MANY_POSTGRESQL, columns)
        return [(int(r[0]), r[1], r[2], r[3]) for r in result]
    rows = [{"platform": platform, "shop": shop, "message_id": message.message_id, "source": source,
             "kind": message.kind.value, "topic": message.topic, "external_id": message.external_id,
             "payload": message.model_dump(mode="json"), "status": "pending", "attempts": 0, "received_at": at}
            for platform, shop, source, message in unique]
    stmt = _MANY.get(dialect)
    if stmt is None:
        table = InboxRow.__table__
        stmt = insert_ignore(table, dialect, list(KEY)).returning(
            table.c.id, table.c.platform, table.c.shop, table.c.message_id)
        _MANY[dialect] = stmt
    inserted: list[tuple[int, str, str, str]] = []
    for start in range(0, len(rows), CHUNK):
        result = await session.execute(stmt, rows[start : start + CHUNK])
        inserted.extend((int(r[0]), r[1], r[2], r[3]) for r in result)
    return inserted
