"""The inbox: every partner event stored before anything acts on it (dedup, retries, replay).

Rows are unique per (platform, shop, message id) — two shops of one platform may receive the same
message id, and each keeps its message: a batch is recorded with one
``INSERT … ON CONFLICT DO NOTHING RETURNING id`` so redelivered messages, and repeats inside one
batch, are dropped by the database, and only the new rows' ids go on to the queue. The stored
payload is the ``InboundMessage`` as JSON (ids stay strings). Not for deciding what a message
means: ``hub.services.ingest`` does that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import InboundMessage
from hub.db.dead_letters import MAX_REASON_CHARS
from hub.db.tables import DeadLetterRow, InboxRow, UTCDateTime, utcnow
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


_INBOX: Table = InboxRow.__table__  # type: ignore[assignment]
_DEAD_LETTERS: Table = DeadLetterRow.__table__  # type: ignore[assignment]
#: Statements for batches of rows, built once (their compiled form is cached; ids bind as one
#: expanding parameter, so a batch of 200 costs what a batch of 2 does).
_LOAD_OPEN = (select(_INBOX.c.id, _INBOX.c.platform, _INBOX.c.shop, _INBOX.c.source, _INBOX.c.payload)
              .where(_INBOX.c.id.in_(bindparam("ids", expanding=True)), _INBOX.c.status.not_in(("done", "dead")))
              .order_by(_INBOX.c.id))
_MARK_DONE = (update(_INBOX).where(_INBOX.c.id.in_(bindparam("ids", expanding=True)))
              .values(status="done", processed_at=bindparam("now")))
_RESET = (update(_INBOX).where(_INBOX.c.id.in_(bindparam("ids", expanding=True)))
          .values(status="pending", attempts=0, processed_at=None))
_COUNT_ATTEMPT = (update(_INBOX).where(_INBOX.c.id.in_(bindparam("ids", expanding=True)))
                  .values(attempts=_INBOX.c.attempts + 1).returning(_INBOX.c.id, _INBOX.c.attempts))
_MARK_FAILED = (update(_INBOX).where(_INBOX.c.id == bindparam("row_id"))
                .values(status=bindparam("new_status"), last_error=bindparam("error"), processed_at=bindparam("now")))
_READ_FAILED = (select(_INBOX.c.id, _INBOX.c.last_error, _INBOX.c.attempts)
                .where(_INBOX.c.id.in_(bindparam("ids", expanding=True))).order_by(_INBOX.c.id))


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


# --------------------------------------------------------------------------- batches of rows


async def load_open(session: AsyncSession, inbox_ids: list[int]) -> list[Row[Any]]:
    """The rows of ``inbox_ids`` not yet done or dead, by id: (id, platform, shop, source, payload);
    one query whatever the batch size."""
    if not inbox_ids:
        return []
    connection = await session.connection()
    return list(await connection.execute(_LOAD_OPEN, {"ids": list(inbox_ids)}))


def message_of(payload: dict[str, Any]) -> InboundMessage:
    """The stored ``InboundMessage`` of a row's payload, validated again from its JSON."""
    return InboundMessage.model_validate(payload)


async def mark_many_done(session: AsyncSession, inbox_ids: list[int]) -> None:
    """``mark_done`` for many rows with one UPDATE."""
    if inbox_ids:
        connection = await session.connection()
        await connection.execute(_MARK_DONE, {"ids": list(inbox_ids), "now": utcnow()})


async def reset_many(session: AsyncSession, inbox_ids: list[int]) -> None:
    """``reset`` for many rows with one UPDATE."""
    if inbox_ids:
        connection = await session.connection()
        await connection.execute(_RESET, {"ids": list(inbox_ids)})


async def record_failures(
    session: AsyncSession, errors: Mapping[int, str], *, count_attempt: bool, dead: bool = False,
    max_attempts: int | None = None,
) -> dict[int, bool]:
    """Record a failed attempt of many rows at once (``bump_attempts`` + ``mark_failed``), each
    with its error: ``count_attempt`` spends an attempt; a row becomes dead when ``dead`` or once
    its attempts reach ``max_attempts``. Returns row id → dead, for the rows that exist. Two
    statements whatever the number of rows."""
    if not errors:
        return {}
    connection = await session.connection()
    ids = sorted(errors)
    if count_attempt:
        attempts = {int(i): int(a) for i, a in await connection.execute(_COUNT_ATTEMPT, {"ids": ids})}
    else:
        attempts = {int(i): 0 for i, in await connection.execute(
            select(_INBOX.c.id).where(_INBOX.c.id.in_(bindparam("ids", expanding=True))), {"ids": ids})}
    verdict = {row_id: dead or (max_attempts is not None and count >= max_attempts)
               for row_id, count in attempts.items()}
    now = utcnow()
    await connection.execute(_MARK_FAILED, [
        {"row_id": row_id, "new_status": "dead" if is_dead else "failed",
         "error": errors[row_id][:MAX_ERROR_CHARS], "now": now}
        for row_id, is_dead in sorted(verdict.items())])
    return verdict


async def dead_letter(session: AsyncSession, inbox_ids: list[int], *, actor: str, queue: str) -> int:
    """Record a dead letter for each of ``inbox_ids`` (dead rows), in the caller's transaction:
    the replayable call (``actor([[id]], force=True)``), the row's last error as the reason, its
    attempts. Two statements whatever the number of rows; returns how many were recorded."""
    if not inbox_ids:
        return 0
    connection = await session.connection()
    rows = list(await connection.execute(_READ_FAILED, {"ids": sorted(set(inbox_ids))}))
    now = utcnow()
    letters = [
        {"actor": actor, "queue": queue, "args": [[int(row.id)]], "kwargs": {"force": True},
         "reason": (row.last_error or "failed")[:MAX_REASON_CHARS],
         "error_class": ((row.last_error or "").split(":", 1)[0] or "Error")[:100],
         "attempts": int(row.attempts or 0), "inbox_id": int(row.id), "created_at": now,
         "replay_count": 0}
        for row in rows
    ]
    if letters:
        await connection.execute(insert(_DEAD_LETTERS), letters)
    return len(letters)
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



#: ``record_many_driver``'s statement: the inbox rows (``_MANY_POSTGRESQL`` in asyncpg's
#: placeholders) and, from the rows it inserted, the outbox rows owed for them — per actor ($11
#: names each source's, $10 lists the sources), one ``[ids]`` message per $12 ids — in one
#: statement, so one round trip and an implicit transaction: the reply comes after the commit.
_MANY_ASYNCPG = (
    "WITH ins AS ("
    "INSERT INTO inbox (platform, shop, message_id, source, kind, topic, external_id, payload, status, attempts, "
    "received_at) "
    "SELECT r.platform, r.shop, r.message_id, r.source, r.kind, r.topic, r.external_id, CAST(r.payload AS JSON), "
    "'pending', 0, $9 "
    "FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], "
    "$7::varchar[], $8::text[]) "
    "AS r(platform, shop, message_id, source, kind, topic, external_id, payload) "
    "ON CONFLICT (platform, shop, message_id) DO NOTHING "
    "RETURNING id, platform, shop, message_id, source), "
    "owed AS (SELECT ins.id, m.actor, (row_number() OVER (PARTITION BY m.actor ORDER BY ins.id) - 1) / $12 AS chunk "
    "FROM ins JOIN unnest($10::varchar[], $11::varchar[]) AS m(source, actor) ON m.source = ins.source), "
    "queued AS (INSERT INTO outbox (actor, args, kwargs, created_at) "
    "SELECT actor, json_build_array(json_agg(id ORDER BY id)), CAST('{}' AS JSON), $9 FROM owed "
    "GROUP BY actor, chunk ORDER BY actor, chunk) "
    "SELECT id, platform, shop, message_id FROM ins"
)


async def record_many_driver(
    driver: Any, batch: Sequence[tuple[str, str, str, InboundMessage]], *, received_at: datetime,
    actor_of: Mapping[str, str], batch_ids: int,
) -> list[tuple[int, str, str, str]]:
    """``record_many`` on PostgreSQL through the asyncpg connection ``driver`` itself, with the
    outbox rows owed for the new rows: ``actor_of[source](ids)``, ``batch_ids`` ids a message.
    One statement (prepared once per connection by asyncpg), one round trip, committed when it
    returns (outside a transaction of the caller's; inside one, it is part of it) — none of
    SQLAlchemy's per-execute work, nor a BEGIN and a COMMIT of their own. Same rows, same skipping,
    same result as ``record_many``; the caller wakes the relays (``outbox.notify_outbox_commit``)."""
    unique: list[tuple[str, str, str, InboundMessage]] = []
    seen: set[tuple[str, str, str]] = set()
    for platform, shop, source, message in batch:
        key = (platform, shop, message.message_id)
        if key not in seen:
            seen.add(key)
            unique.append((platform, shop, source, message))
    if not unique:
        return []
    sources = sorted({source for _, _, source, _ in unique})
    rows = await driver.fetch(
        _MANY_ASYNCPG,
        [p for p, _, _, _ in unique], [s for _, s, _, _ in unique], [m.message_id for _, _, _, m in unique],
        [src for _, _, src, _ in unique], [m.kind.value for _, _, _, m in unique],
        [m.topic for _, _, _, m in unique], [m.external_id for _, _, _, m in unique],
        [m.model_dump_json() for _, _, _, m in unique], received_at,
        sources, [actor_of[source] for source in sources], batch_ids,
    )
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]
