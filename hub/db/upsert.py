"""``INSERT … ON CONFLICT`` for both backends: how the hub writes rows that may already exist.

Two workers may handle the same partner object at once (at-least-once delivery), so "does it
exist? then insert" is a race; the database's unique constraints decide instead (docs/architecture.md §5).
These builders return dialect-specific ``Insert`` statements; add ``.values()`` and
``.returning()`` as needed. Not for plain inserts or updates: use SQLAlchemy directly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

Model = Any  # a mapped class (``hub.db.tables.Binding``) or a ``Table``


def _insert(model: Model, dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"no upsert for database dialect {dialect!r} (expected 'sqlite' or 'postgresql')")


def _table(model: Model) -> Table:
    return model if isinstance(model, Table) else model.__table__


def insert_ignore(model: Model, dialect: str, conflict: list[str] | None = None) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` (on ``conflict`` columns, or any unique constraint).

    With ``.returning(...)`` only the rows actually inserted come back.
    """
    stmt = _insert(model, dialect)
    if conflict:
        return stmt.on_conflict_do_nothing(index_elements=conflict)
    return stmt.on_conflict_do_nothing()


def upsert(
    model: Model,
    dialect: str,
    values: dict[str, Any] | list[dict[str, Any]],
    conflict: list[str],
    update: list[str],
) -> Insert:
    """``INSERT … ON CONFLICT (conflict) DO UPDATE SET col = excluded.col`` for ``update`` columns.

    Columns with an ``onupdate`` (``updated_at``) are refreshed too when a row is updated. With an
    empty ``update`` list this is ``DO NOTHING`` on the ``conflict`` columns. Within one statement,
    the rows must not repeat a conflict key (PostgreSQL refuses to update a row twice).
    """
    stmt = _insert(model, dialect).values(values)
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=conflict)
    set_: dict[str, Any] = {name: stmt.excluded[name] for name in update}
    for column in _table(model).columns:
        if column.onupdate is not None and column.name not in set_ and column.name not in conflict:
            # The proposed row carries the column's insert default (now), which is what we want.
            if column.default is not None or column.name in _keys(values):
                set_[column.name] = stmt.excluded[column.name]
    return stmt.on_conflict_do_update(index_elements=conflict, set_=set_)


def _keys(values: dict[str, Any] | list[dict[str, Any]]) -> set[str]:
    if isinstance(values, dict):
        return set(values)
    return set().union(*(row.keys() for row in values)) if values else set()
