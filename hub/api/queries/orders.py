"""Read-only order queries for the API: filtered, cursor-paginated lists and one order's full story.

Pagination is by id, newest first: the cursor is an opaque token holding the last id returned,
so a page never shifts when orders arrive meanwhile, and no page counts the whole table. Every
filter has an index that lets a page stop after its rows (``hub/db/tables.py``; measured with
100,000 orders in ``bench/console_orders.py``). Works the same on SQLite and PostgreSQL; the
dialect-specific clauses are the tag filter (a JSON array membership test) and "starts with"
(``LIKE 'p%'`` on PostgreSQL, served by a ``varchar_pattern_ops`` index whatever the collation;
``GLOB 'p*'`` on SQLite, whose ``LIKE`` ignores case).
Not for writes: the order service (``hub.services.orders``) changes orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import (
    InboxRow,
    OrderEventRow,
    OrderHoldRow,
    OrderLineRow,
    OrderRow,
    OrderTagDefRow,
    OrderTagLinkRow,
    ShipmentRow,
)
from hub.errors import BadInputError
from hub.services.access.scope import shop_condition
from hub.services.search import sorting
from hub.services.search.terms import PhoneSearch, QuickSearch

MAX_LIMIT = 200
_CURSOR_PREFIX = "o1:"


@dataclass(frozen=True)
class OrderFilters:
    """Every filter is optional; given ones combine with AND. Datetimes must be timezone-aware."""

    status: tuple[str, ...] = ()
    platform: str | None = None
    shop: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    paid_from: datetime | None = None
    paid_to: datetime | None = None
    buyer: str | None = None
    sku: str | None = None
    tag: str | None = None
    on_hold: bool | None = None
    #: Match ``buyer`` / ``sku`` as the start of the nick / merchant SKU (case-sensitive), not exactly.
    buyer_prefix: bool = False
    sku_prefix: bool = False
    #: Orders with an unreleased hold of this code (``high_value``, ``stock_short``...).
    hold: str | None = None
    #: Search (``hub.services.search.terms``): the one box, the platform order number exactly,
    #: the recipient's name hash, a phone's (or its last four's) hash.
    quick: QuickSearch | None = None
    order_no: str | None = None
    recipient_hash: str | None = None
    phone: PhoneSearch | None = None
    #: Orders carrying this user tag (``order_tag_defs.name``), and at least this priority.
    user_tag: str | None = None
    priority_min: int | None = None
    #: The shops the caller may see (None: every shop), ``hub.services.access.scope``.
    shops: frozenset[str] | None = None


@dataclass
class OrderPageRows:
    rows: list[OrderRow]
    next_cursor: str | None


@dataclass
class OrderStory:
    """One order with everything the detail view shows."""

    order: OrderRow
    lines: list[OrderLineRow] = field(default_factory=list)
    holds: list[OrderHoldRow] = field(default_factory=list)
    events: list[OrderEventRow] = field(default_factory=list)
    sources: list[InboxRow] = field(default_factory=list)
    shipments: list[ShipmentRow] = field(default_factory=list)


def encode_cursor(last_id: int) -> str:
    return encode_id_cursor(_CURSOR_PREFIX, last_id)


def decode_cursor(cursor: str) -> int:
    """The last id a cursor stands for; ``BadInputError`` naming ``query.cursor`` if it is not ours."""
    return decode_id_cursor(_CURSOR_PREFIX, cursor)


def _has_tag(dialect: str, tag: str) -> Any:
    if dialect == "postgresql":
        return cast(OrderRow.tags, JSONB).contains(cast([tag], JSONB))
    values = func.json_each(OrderRow.tags).table_valued("value")
    return exists(select(1).select_from(values).where(values.c.value == tag))


def _starts_with(column: Any, prefix: str, dialect: str) -> Any:
    """``column`` begins with ``prefix``, case-sensitively, in a form the column's index can serve."""
    if dialect == "sqlite":
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in prefix)
        return column.op("GLOB")(escaped + "*")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped + "%", escape="\\")


def _text_match(column: Any, value: str, prefix: bool, dialect: str) -> Any:
    return _starts_with(column, value, dialect) if prefix else column == value


def _filtered(filters: OrderFilters, dialect: str) -> Select[Any]:
    conditions: list[Any] = []
    if filters.status:
        conditions.append(OrderRow.status.in_(filters.status))
    if filters.platform:
        conditions.append(OrderRow.platform == filters.platform)
    if filters.shop:
        conditions.append(OrderRow.shop == filters.shop)
    if filters.created_from:
        conditions.append(OrderRow.channel_created_at >= filters.created_from)
    if filters.created_to:
        conditions.append(OrderRow.channel_created_at < filters.created_to)
    if filters.paid_from:
        conditions.append(OrderRow.paid_at >= filters.paid_from)
    if filters.paid_to:
        conditions.append(OrderRow.paid_at < filters.paid_to)
    if filters.buyer:
        conditions.append(_text_match(OrderRow.buyer_nick, filters.buyer, filters.buyer_prefix, dialect))
    if filters.sku:
        conditions.append(exists().where(and_(
            OrderLineRow.order_id == OrderRow.id,
            _text_match(OrderLineRow.merchant_sku, filters.sku, filters.sku_prefix, dialect))))
    if filters.hold:
        conditions.append(exists().where(and_(
            OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.code == filters.hold,
            OrderHoldRow.released_at.is_(None))))
    if filters.tag:
        conditions.append(_has_tag(dialect, filters.tag))
    if filters.on_hold is not None:
        conditions.append(OrderRow.on_hold.is_(filters.on_hold))
    conditions.extend(_search_conditions(filters))
    return select(OrderRow).where(*conditions)


def _search_conditions(filters: OrderFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.shops is not None:
        conditions.append(shop_condition(OrderRow.shop, filters))
    quick = filters.quick
    if quick is not None:
        either = [OrderRow.external_id == quick.text, OrderRow.buyer_nick == quick.text]
        if quick.name_hash:
            either.append(OrderRow.recipient_hash == quick.name_hash)
        if quick.phone_hash:
            either.append(OrderRow.phone_hash == quick.phone_hash)
        if quick.last4_hash:
            either.append(OrderRow.phone_last4_hash == quick.last4_hash)
        conditions.append(or_(*either))
    if filters.order_no:
        conditions.append(OrderRow.external_id == filters.order_no)
    if filters.recipient_hash:
        conditions.append(OrderRow.recipient_hash == filters.recipient_hash)
    if filters.phone is not None:
        conditions.append(OrderRow.phone_hash == filters.phone.phone_hash if filters.phone.phone_hash
                          else OrderRow.phone_last4_hash == filters.phone.last4_hash)
    if filters.user_tag:
        conditions.append(exists().where(
            OrderTagLinkRow.order_id == OrderRow.id, OrderTagLinkRow.tag_id == OrderTagDefRow.id,
            OrderTagDefRow.name == filters.user_tag))
    if filters.priority_min is not None:
        conditions.append(OrderRow.priority >= filters.priority_min)
    return conditions


def page_statement(filters: OrderFilters, dialect: str, *, limit: int = 50, cursor: str | None = None,
                   sort: str | None = None) -> Select[Any]:
    """The SELECT behind one page: ``limit + 1`` rows (the extra one says there is a next page),
    newest id first unless ``sort`` names another order (``hub.services.search.sorting``). Public
    so the benchmark can EXPLAIN exactly what the screens run."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit must be between 1 and {MAX_LIMIT}", field="query.limit")
    order = sorting.parse_sort(sort)
    stmt = _filtered(filters, dialect)
    if cursor and order.name == sorting.DEFAULT_SORT:
        stmt = stmt.where(OrderRow.id < decode_cursor(cursor))
    elif cursor:
        stmt = stmt.where(sorting.after(order, *sorting.decode_cursor(order, cursor)))
    return sorting.ordered(stmt, order).limit(limit + 1)


async def list_orders(
    session: AsyncSession, filters: OrderFilters, *, limit: int = 50, cursor: str | None = None,
    sort: str | None = None,
) -> OrderPageRows:
    """One page of orders matching ``filters`` in ``sort`` order (newest id first by default), and
    the cursor to the next page."""
    stmt = page_statement(filters, session.get_bind().dialect.name, limit=limit, cursor=cursor, sort=sort)
    rows = list((await session.execute(stmt)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return OrderPageRows(rows, None)
    order = sorting.parse_sort(sort)
    last = rows[-1]
    return OrderPageRows(rows, encode_cursor(last.id) if order.name == sorting.DEFAULT_SORT
                         else sorting.encode_cursor(order, last))


async def order_story(session: AsyncSession, order_id: int) -> OrderStory | None:
    """The order, its lines, holds, history in order, its shipments, and the inbox rows that history came from.

    History is in the order things happened (``at``, then id): events recorded by concurrent
    transactions can take their ids in the other order from their times."""
    order = await session.get(OrderRow, order_id)
    if order is None:
        return None
    story = OrderStory(order)
    story.lines = list((await session.execute(
        select(OrderLineRow).where(OrderLineRow.order_id == order_id).order_by(OrderLineRow.id)
    )).scalars().all())
    story.holds = list((await session.execute(
        select(OrderHoldRow).where(OrderHoldRow.order_id == order_id).order_by(OrderHoldRow.id)
    )).scalars().all())
    story.events = list((await session.execute(
        select(OrderEventRow).where(OrderEventRow.order_id == order_id)
        .order_by(OrderEventRow.at, OrderEventRow.id)
    )).scalars().all())
    story.shipments = list((await session.execute(
        select(ShipmentRow).where(ShipmentRow.order_id == order_id).order_by(ShipmentRow.id)
    )).scalars().all())
    inbox_ids = sorted({e.inbox_id for e in story.events if e.inbox_id is not None})
    if inbox_ids:
        story.sources = list((await session.execute(
            select(InboxRow).where(InboxRow.id.in_(inbox_ids)).order_by(InboxRow.id)
        )).scalars().all())
    return story
