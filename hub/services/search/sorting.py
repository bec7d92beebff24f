"""The orders lists' sort orders and their keyset cursors.

Each sort is one column and a direction with the id as tie-breaker in the same direction, NULLs
(orders not paid yet) last whichever the direction; a cursor holds the sort it belongs to, the last
row's value and id, so the next page starts exactly after it even when many rows share a value.
Works the same on SQLite and PostgreSQL (``NULLS LAST`` is spelled out on both). Not for filters
(``hub.api.queries.orders``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, and_, or_

from hub.db.tables import OrderRow
from hub.errors import BadInputError

#: Every sort a list accepts, the default first.
SORTS: tuple[str, ...] = ("-id", "-paid_at", "paid_at", "-total", "total", "-priority")
DEFAULT_SORT = "-id"
_COLUMNS: dict[str, Any] = {"id": OrderRow.id, "paid_at": OrderRow.paid_at, "total": OrderRow.total_amount,
                            "priority": OrderRow.priority}


@dataclass(frozen=True)
class Sort:
    key: str  # id, paid_at, total, priority
    descending: bool

    @property
    def name(self) -> str:
        return ("-" if self.descending else "") + self.key

    @property
    def column(self) -> Any:
        return _COLUMNS[self.key]


def parse_sort(value: str | None, field: str = "query.sort") -> Sort:
    """The sort named ``value`` (``-id`` when empty); ``BadInputError`` naming ``field`` otherwise."""
    name = value or DEFAULT_SORT
    if name not in SORTS:
        raise BadInputError(f"sort must be one of {', '.join(SORTS)}", field=field)
    return Sort(name.lstrip("-"), name.startswith("-"))


def _value_of(row: OrderRow, sort: Sort) -> str | None:
    value = {"id": row.id, "paid_at": row.paid_at, "total": row.total_amount, "priority": row.priority}[sort.key]
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def encode_cursor(sort: Sort, row: OrderRow) -> str:
    """The cursor for the page after ``row`` in ``sort``."""
    raw = json.dumps({"s": sort.name, "v": _value_of(row, sort), "i": row.id}, separators=(",", ":"))
    return "s1" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_value(sort: Sort, raw: str) -> Any:
    if sort.key == "paid_at":
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError(raw)
        return value
    if sort.key == "total":
        return Decimal(raw)
    return int(raw)


def decode_cursor(sort: Sort, cursor: str) -> tuple[Any, int]:
    """(last value, last id) of a cursor of ``sort``; ``BadInputError`` naming ``query.cursor``."""
    try:
        if not cursor.startswith("s1"):
            raise ValueError(cursor)
        body = cursor[2:]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
        if data["s"] != sort.name:
            raise BadInputError("cursor belongs to another sort; start again without it", field="query.cursor")
        last_id = int(data["i"])
        value = None if data["v"] is None else _parse_value(sort, str(data["v"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, InvalidOperation) as exc:
        raise BadInputError("cursor is not one this API returned; start again without it",
                            field="query.cursor") from exc
    return value, last_id


def after(sort: Sort, value: Any, last_id: int) -> Any:
    """The WHERE condition for rows after (value, last_id) in ``sort`` (NULLs last)."""
    column = sort.column
    beyond_id = OrderRow.id < last_id if sort.descending else OrderRow.id > last_id
    if sort.key == "id":
        return beyond_id
    if value is None:
        return and_(column.is_(None), beyond_id)
    beyond = column < value if sort.descending else column > value
    return or_(beyond, and_(column == value, beyond_id), column.is_(None))


def ordered(stmt: Select[Any], sort: Sort) -> Select[Any]:
    """``stmt`` in ``sort`` order, id breaking ties."""
    if sort.key == "id":
        return stmt.order_by(OrderRow.id.desc() if sort.descending else OrderRow.id.asc())
    column = sort.column.desc() if sort.descending else sort.column.asc()
    tie = OrderRow.id.desc() if sort.descending else OrderRow.id.asc()
    return stmt.order_by(column.nulls_last(), tie)
