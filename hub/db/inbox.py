"""The inbox: every partner event stored before anything acts on it (dedup, retries, replay).

Rows are unique per (platform, shop, message id) — two shops of one platform may receive the same
message id, and each keeps its message: a batch is recorded with one
``INSERT … ON CONFLICT DO NOTHING RETURNING id`` so redelivered messages, and repeats inside one
batch, are dropped by the database, and only the new rows' ids go on to the queue. The stored
payload is the ``InboundMessage`` as JSON (ids stay strings). Not for deciding what a message
means: ``hub.services.ingest`` does that.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import InboundMessage
from hub.db.tables import InboxRow, utcnow
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
