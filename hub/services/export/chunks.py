"""Reading a long list in keyset chunks: ``WHERE id > last ORDER BY id LIMIT n``, each chunk in
its own short read, so an export of 100,000 rows never holds them all nor one transaction open
for the whole download. Not for pages a person turns (``hub.api.queries`` has cursors for that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select

from hub.db.engine import Database


async def keyset_chunks(database: Database, stmt: Select[Any], id_column: Any, *,
                        size: int, key: Any = None) -> AsyncIterator[Sequence[Any]]:
    """The result rows of ``stmt`` in ascending ``id_column`` order, ``size`` at a time.

    ``key(row)`` gives a row's id (default: the row's first element, as for ``select(Row)``).
    """
    last: Any = None
    while True:
        chunk_stmt = stmt if last is None else stmt.where(id_column > last)
        async with database.session() as session:
            rows = (await session.execute(chunk_stmt.order_by(id_column).limit(size))).all()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last_row = rows[-1]
        last = key(last_row) if key is not None else last_row[0].id
