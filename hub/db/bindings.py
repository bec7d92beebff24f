"""Bindings: which hub id a platform object (kind, platform, shop, external id) maps to.

Written by ``INSERT … ON CONFLICT DO NOTHING`` and read back, so two workers binding the same
platform object at the same time agree on one hub id (the first committed wins), like the OCA
connector's binders. Not for creating the hub objects themselves: services do that.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import Binding
from hub.db.upsert import insert_ignore

KEY = ["kind", "platform", "shop", "external_id"]


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def bind(session: AsyncSession, kind: str, platform: str, shop: str, external_id: str, internal_id: int) -> int:
    """Bind the platform object to ``internal_id`` unless it is bound already.

    Returns the internal id that holds the binding: ``internal_id`` when this call created it,
    otherwise the id an earlier (or concurrent, now committed) caller bound.
    """
    values = {"kind": kind, "platform": platform, "shop": shop, "external_id": external_id, "internal_id": internal_id}
    inserted = await session.execute(
        insert_ignore(Binding, _dialect(session), KEY).values(**values).returning(Binding.internal_id)
    )
    won = inserted.scalar_one_or_none()
    if won is not None:
        return int(won)
    existing = await lookup(session, kind, platform, shop, external_id)
    if existing is None:  # pragma: no cover - only if the winner's row vanished in between
        raise RuntimeError(f"binding {kind} {platform}/{shop}/{external_id} conflicted but cannot be read")
    return existing


async def bind_many(session: AsyncSession, kind: str, objects: list[tuple[str, str, str, int]]) -> None:
    """``bind`` for many (platform, shop, external id, internal id) at once, with one executemany
    ``INSERT … ON CONFLICT DO NOTHING`` (objects already bound keep their binding). Sorted by key,
    so concurrent callers take the unique index's locks in one order."""
    if not objects:
        return
    rows = [{"kind": kind, "platform": p, "shop": s, "external_id": e, "internal_id": i}
            for p, s, e, i in sorted(objects)]
    connection = await session.connection()
    await connection.execute(_insert_statement(_dialect(session)), rows)


_inserts: dict[str, Any] = {}


def _insert_statement(dialect: str) -> Any:
    stmt = _inserts.get(dialect)
    if stmt is None:
        stmt = _inserts[dialect] = insert_ignore(Binding, dialect, KEY)
    return stmt


async def lookup(session: AsyncSession, kind: str, platform: str, shop: str, external_id: str) -> int | None:
    """The hub id bound to the platform object, or None when it is not bound."""
    found = await session.scalar(
        select(Binding.internal_id).where(
            Binding.kind == kind, Binding.platform == platform, Binding.shop == shop, Binding.external_id == external_id
        )
    )
    return int(found) if found is not None else None
