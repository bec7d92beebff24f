"""What one exportable list is: its name, the filter object its screen and API use, the columns
it writes and how it reads its rows in chunks. The lists themselves live beside this module
(``orders``, ``aftersales``, ``stock``, ``service_orders``) and are named in ``registry``.
Not for writing files (``writers``) nor for parsing filters (``query_filters``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hub.db.engine import Database
from hub.services.access.scope import ShopLimited

#: One cell as a list produces it: text, a number, a yes/no, or empty.
Cell = str | int | Decimal | bool | None
#: The file formats and their media types.
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Rows read per query: one short read per chunk, so memory stays flat however long the list.
CHUNK_ROWS = 1000


@dataclass(frozen=True)
class ExportContext:
    """Who exports and how: the database, the caller's shops, whether personal data shows in
    clear (``reveal``) and the time zone times are written in."""

    database: Database
    principal: ShopLimited | None
    reveal: bool
    zone: ZoneInfo
    chunk_rows: int = CHUNK_ROWS
    #: The moment "overdue" and the like are judged at (now, unless a test fixes it).
    now: datetime | None = None


@dataclass(frozen=True)
class ExportList:
    """One list that can be exported.

    ``filters`` is the list's own filter dataclass (the one its API and screen build), parsed from
    query parameters by ``query_filters.parse_filters``: ``aliases`` maps a query parameter to a
    field whose name differs (after-sales ``status`` → ``statuses``), ``skip`` names fields that are
    not filters (a page's ``limit``). ``check`` refuses a filter no row could match by mistake.
    ``rows(context, filters)`` yields the rows, ``header`` names the columns in the same order.
    ``read_permission`` is what the caller needs to read the list at all (besides exporting);
    ``personal`` says whether some columns are masked unless revealed.
    """

    name: str
    filters: type[Any]
    header: tuple[str, ...]
    rows: Callable[[ExportContext, Any], AsyncIterator[list[Cell]]]
    read_permission: str
    aliases: dict[str, str] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    check: Callable[[Any], None] | None = None
    personal: bool = False
