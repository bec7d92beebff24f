"""Idempotency keys for external effects that must happen once (create a waybill, confirm a shipment).

``claim`` inserts the key with ``ON CONFLICT DO NOTHING``: exactly one caller gets True and does
the effect, then ``remember``s its result; the others ``recall`` it. A claimed key whose result
is ``{}`` means the effect was claimed but its result not recorded yet (in flight, or crashed: ask
the partner before doing it again); ``release`` gives a claim up after a definite failure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import IdempotencyKeyRow, utcnow
from hub.db.upsert import insert_ignore, upsert


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def claim(session: AsyncSession, key: str) -> bool:
    """True when this caller claimed ``key`` first (commit to make the claim visible)."""
    result = await session.execute(
        insert_ignore(IdempotencyKeyRow, _dialect(session), ["key"])
        .values(key=key, result={}, created_at=utcnow())
        .returning(IdempotencyKeyRow.key)
    )
    return result.scalar_one_or_none() is not None


async def remember(session: AsyncSession, key: str, result: dict[str, Any]) -> None:
    """Store the effect's result under ``key`` (claiming it if nobody had)."""
    await session.execute(
        upsert(IdempotencyKeyRow, _dialect(session), {"key": key, "result": result, "created_at": utcnow()},
               conflict=["key"], update=["result"])
    )


async def recall(session: AsyncSession, key: str) -> dict[str, Any] | None:
    """The remembered result (``{}`` while only claimed), or None when ``key`` was never claimed."""
    found = await session.scalar(select(IdempotencyKeyRow.result).where(IdempotencyKeyRow.key == key))
    return dict(found) if found is not None else None


async def release(session: AsyncSession, key: str) -> None:
    """Forget ``key`` so the effect may be tried again."""
    await session.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.key == key))
