"""User tags: the merchant's own labels on orders (``VIP``, ``check address``), each with a colour.

Create, recolour and delete tags; attach a tag to many orders or detach it with one statement each,
every change written to each order's history (``order_events`` kinds ``tagged`` / ``untagged``)
and attributed to the person. In the caller's transaction; the callers limit the order ids to the
shops the person may see. Not for the channel's own tags (``orders.tags``, read-only here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import OrderEventRow, OrderTagDefRow, OrderTagLinkRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, ConflictError, NotFoundError

TAG_NAME = re.compile(r"^[^\s,/#?][^,/#?]{0,38}[^\s,/#?]$|^[^\s,/#?]$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#6b7280"


@dataclass(frozen=True)
class TagView:
    """A tag as lists and order pages show it."""

    name: str
    colour: str
    description: str = ""
    orders: int = 0


def check_name(name: str, field: str = "name") -> str:
    """The tag name trimmed; ``BadInputError`` naming ``field`` when it is not 1-40 plain characters."""
    value = name.strip()
    if not TAG_NAME.match(value):
        raise BadInputError("a tag name is 1-40 characters, without , / # or ?", field=field)
    return value


def check_colour(colour: str, field: str = "colour") -> str:
    if not COLOUR.match(colour.strip()):
        raise BadInputError("a colour reads #rrggbb, e.g. #d97706", field=field)
    return colour.strip().lower()


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def list_tags(session: AsyncSession) -> list[TagView]:
    """Every tag by name, with how many orders carry it."""
    counts = (select(OrderTagLinkRow.tag_id, func.count().label("n")).group_by(OrderTagLinkRow.tag_id)
              .subquery())
    rows = (await session.execute(
        select(OrderTagDefRow, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.tag_id == OrderTagDefRow.id).order_by(OrderTagDefRow.name))).all()
    return [TagView(t.name, t.colour, t.description, int(n)) for t, n in rows]


async def create_tag(session: AsyncSession, name: str, *, colour: str = DEFAULT_COLOUR, description: str = "",
                     actor: str) -> TagView:
    """A new tag; ``ConflictError`` when the name is taken."""
    name, colour = check_name(name), check_colour(colour)
    if len(description) > 200:
        raise BadInputError("at most 200 characters", field="description")
    inserted = await session.execute(
        insert_ignore(OrderTagDefRow, _dialect(session))
        .values(name=name, colour=colour, description=description, created_by=actor, created_at=datetime.now(UTC))
        .returning(OrderTagDefRow.id))
    if inserted.scalar_one_or_none() is None:
        raise ConflictError(f"tag {name!r} exists already")
    return TagView(name, colour, description)


async def update_tag(session: AsyncSession, name: str, *, colour: str | None = None,
                     description: str | None = None) -> TagView:
    """Recolour or re-describe a tag; ``NotFoundError`` for an unknown one."""
    values: dict[str, str] = {}
    if colour is not None:
        values["colour"] = check_colour(colour)
    if description is not None:
        if len(description) > 200:
            raise BadInputError("at most 200 characters", field="description")
        values["description"] = description
    tag = await _tag(session, name)
    if values:
        await session.execute(update(OrderTagDefRow).where(OrderTagDefRow.id == tag.id).values(**values))
        await session.refresh(tag)
    return TagView(tag.name, tag.colour, tag.description)


async def delete_tag(session: AsyncSession, name: str) -> None:
    """Delete a tag and take it off every order (the orders' history keeps what happened)."""
    tag = await _tag(session, name)
    await session.execute(delete(OrderTagLinkRow).where(OrderTagLinkRow.tag_id == tag.id))
    await session.execute(delete(OrderTagDefRow).where(OrderTagDefRow.id == tag.id))


async def _tag(session: AsyncSession, name: str) -> OrderTagDefRow:
    tag = (await session.execute(
        select(OrderTagDefRow).where(OrderTagDefRow.name == name.strip()))).scalar_one_or_none()
    if tag is None:
        raise NotFoundError(f"tag {name.strip()[:40]!r} does not exist")
    return tag


def _events(order_ids: Sequence[int], kind: str, tag: OrderTagDefRow, actor: str,
            cause: str) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [{"order_id": o, "at": now, "kind": kind, "old_status": None, "new_status": None, "cause": cause,
             "actor": actor, "inbox_id": None, "detail": {"tag": tag.name}} for o in order_ids]


async def attach(session: AsyncSession, name: str, order_ids: Sequence[int], *, actor: str,
                 cause: str = "api") -> list[int]:
    """Put tag ``name`` on each order (existing orders only); returns those that did not have it."""
    tag = await _tag(session, name)
    ids = sorted(set(order_ids))
    if not ids:
        return []
    now = datetime.now(UTC)
    added = sorted(int(o) for o in (await session.execute(
        insert_ignore(OrderTagLinkRow, _dialect(session)).returning(OrderTagLinkRow.order_id),
        [{"order_id": o, "tag_id": tag.id, "added_by": actor, "added_at": now} for o in ids])).scalars())
    if added:
        await session.execute(insert(OrderEventRow), _events(added, "tagged", tag, actor, cause))
    return added


async def detach(session: AsyncSession, name: str, order_ids: Sequence[int], *, actor: str,
                 cause: str = "api") -> list[int]:
    """Take tag ``name`` off each order; returns those that had it."""
    tag = await _tag(session, name)
    ids = sorted(set(order_ids))
    if not ids:
        return []
    removed = sorted(int(o) for o in (await session.execute(
        delete(OrderTagLinkRow).where(OrderTagLinkRow.tag_id == tag.id, OrderTagLinkRow.order_id.in_(ids))
        .returning(OrderTagLinkRow.order_id).execution_options(synchronize_session=False))).scalars())
    if removed:
        await session.execute(insert(OrderEventRow), _events(removed, "untagged", tag, actor, cause))
    return removed


async def tags_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[TagView]]:
    """Each order's user tags by name (orders without any are absent)."""
    if not order_ids:
        return {}
    rows = (await session.execute(
        select(OrderTagLinkRow.order_id, OrderTagDefRow)
        .join(OrderTagDefRow, OrderTagDefRow.id == OrderTagLinkRow.tag_id)
        .where(OrderTagLinkRow.order_id.in_(sorted(set(order_ids)))).order_by(OrderTagDefRow.name))).all()
    found: dict[int, list[TagView]] = {}
    for order_id, tag in rows:
        found.setdefault(int(order_id), []).append(TagView(tag.name, tag.colour, tag.description))
    return found
