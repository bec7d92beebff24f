"""Saved views: a person's named filters on a console list ("Held Tmall orders"), offered as quick
links above the list and over the API (``/api/v1/orders/views``). One module for both surfaces,
so names, ownership and sharing follow the same rules wherever a view is made.

Whose a view is: the person signed in — ``user:<name>`` for a password user, ``key:<prefix>`` for
an API key (a key's console sessions and its API calls share its views). A person sees their own
views and the shared ones; only the owner deletes a view, except that a shared view may also be
deleted by whoever may share (the caller says so: what a role may do is the API's table). Filters
are stored as the list form's values, checked by the caller first
(``hub.api.queries.order_form``). Names are unique per owner and screen, by the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import SavedViewRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, HubError, NotFoundError

ORDERS = "orders"
MAX_NAME = 80
MAX_VIEWS_PER_OWNER = 50


class ViewNameError(BadInputError):
    """The name is empty, too long, already one of this person's views, or one view too many.
    ``code`` says which (``empty``, ``too_long``, ``duplicate``, ``too_many``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, field="name", code=code)


class ViewNotYours(HubError):
    """A shared view someone else saved, and the caller may not manage shared views."""


def owner_key(kind: str, subject: str) -> str:
    """``user:<name>`` for a signed-in user, ``key:<prefix>`` for an API key."""
    return f"{'user' if kind == 'user' else 'key'}:{subject}"


def clean_name(name: str) -> str:
    """The name as stored (trimmed, inner runs of spaces kept); ``ViewNameError`` if unusable."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ViewNameError("give the view a name", code="empty")
    if len(cleaned) > MAX_NAME:
        raise ViewNameError(f"a view's name has at most {MAX_NAME} characters", code="too_long")
    return cleaned


async def views_for(session: AsyncSession, owner: str, screen: str = ORDERS) -> list[SavedViewRow]:
    """The owner's views, then the ones others shared, each by name."""
    rows = (await session.execute(
        select(SavedViewRow).where(SavedViewRow.screen == screen,
                                   or_(SavedViewRow.owner == owner, SavedViewRow.shared.is_(True)))
        .order_by(SavedViewRow.name, SavedViewRow.id))).scalars().all()
    return sorted(rows, key=lambda row: row.owner != owner)


async def save_view(
    session: AsyncSession, *, owner: str, owner_name: str, name: str, filters: dict[str, str],
    shared: bool = False, screen: str = ORDERS,
) -> SavedViewRow:
    """Store a new view; ``ViewNameError`` for a bad or duplicate name (nothing stored then)."""
    cleaned = clean_name(name)
    count = await session.scalar(select(func.count()).select_from(SavedViewRow).where(
        SavedViewRow.owner == owner, SavedViewRow.screen == screen))
    if (count or 0) >= MAX_VIEWS_PER_OWNER:
        raise ViewNameError(f"you have {MAX_VIEWS_PER_OWNER} saved views; delete one first", code="too_many")
    dialect = session.get_bind().dialect.name
    values: dict[str, Any] = {"owner": owner, "owner_name": owner_name[:100], "screen": screen, "name": cleaned,
                              "filters": dict(filters), "shared": shared}
    new_id = await session.scalar(
        insert_ignore(SavedViewRow, dialect).values(values).returning(SavedViewRow.id))
    if new_id is None:
        raise ViewNameError(f"you already have a view called {cleaned!r}; choose another name", code="duplicate")
    row = await session.get(SavedViewRow, new_id)
    assert row is not None
    return row


async def delete_view(session: AsyncSession, view_id: int, *, owner: str, may_manage_shared: bool) -> SavedViewRow:
    """Delete one view the caller may delete and return it. Someone else's private view is
    ``NotFoundError`` (its existence is not theirs to know); a shared one is ``ViewNotYours``
    unless ``may_manage_shared``."""
    row = await session.get(SavedViewRow, view_id)
    if row is None or (row.owner != owner and not row.shared):
        raise NotFoundError(f"saved view {view_id} does not exist")
    if row.owner != owner and not may_manage_shared:
        raise ViewNotYours(f"saved view {row.name!r} was shared by {row.owner_name}; only they or an admin "
                           "may delete it")
    await session.delete(row)
    await session.flush()
    return row
