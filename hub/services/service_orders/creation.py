"""Service orders the hub creates for an order of any shop (a Douyin order that needs
installation): by a person (``create_for_order``) or by ``[[service_orders.rules]]``
(``apply_rules``, run by the scheduler). They have the same lifecycle as a platform's work card;
their ``origin`` is ``manual`` or ``rule`` and their steps are recorded, not written back.

Each has the platform and shop of its order and the stable external id
``SO-<order id>-<order line id>-<type>``, inserted with ``ON CONFLICT DO NOTHING`` on
(platform, shop, external id): one per order line and type however often a rule runs or a person
asks. Its region is the province, city and district of the order's shipping address, which every
platform stores in plain text (Douyin's ``encrypt_post_*`` and TOP's masking cover the name, phone
and street only, never read here). Not for platforms' work cards (``intake``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import structlog
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.orders import OrderStatus
from contracts.refs import ChannelRef
from contracts.service_orders import ServiceOrder, ServiceOrderStatus, ServiceOrderType, ServiceRegion
from hub.db import outbox
from hub.db.tables import OrderLineRow, OrderRow, ServiceOrderRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, NotFoundError
from hub.services.service_orders import records, sla
from hub.services.service_orders.settings import ServiceOrdersSection, ServiceRule

log = structlog.get_logger(__name__)

CHANGED_ACTOR = "service_order_changed"  # hub.pipeline.service_orders (not imported: no cycle)
RULE_ACTOR = "rule:service_orders"
MAX_NOTE = 500
#: Orders the rules look at: those the hub changed this recently …
RULE_WINDOW = timedelta(days=7)
#: … and at most this many order lines per run (oldest change first; the next run takes the rest).
RULE_BATCH = 500
#: The order statuses in which a rule's ``when`` applies.
RULE_STATUSES: dict[str, tuple[str, ...]] = {
    "paid": tuple(s.value for s in (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
                                    OrderStatus.DELIVERED, OrderStatus.COMPLETED)),
    "shipped": tuple(s.value for s in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)),
}
#: An order line in one of these statuses (refunded, voided) gets no service order from a rule.
ENDED_LINE_STATUSES = (OrderStatus.CANCELLED.value, OrderStatus.CLOSED.value)


@dataclass(frozen=True)
class CreateRequest:
    """A service order for ``order_id``: for one line (``order_line_id``) or the order's first line
    with goods; ``expected_at`` the buyer's date when known."""

    order_id: int
    type: ServiceOrderType
    order_line_id: int | None = None
    expected_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Target:
    """One order line a service order is created for, with what the new row copies from it."""

    order_id: int
    order_external_id: str
    platform: str
    shop: str
    line_id: int
    line_external_id: str
    merchant_sku: str | None
    title: str | None
    quantity: int
    province: str | None
    city: str | None
    district: str | None


def external_id_for(order_id: int, order_line_id: int, kind: ServiceOrderType | str) -> str:
    """The stable external id of the hub's service order of ``kind`` for one order line."""
    return f"SO-{order_id}-{order_line_id}-{ServiceOrderType(kind).value}"


def _region_part(value: Any) -> str | None:
    text = " ".join(str(value).split())[:100] if value is not None else ""
    return text or None


def _region_columns() -> tuple[Any, Any, Any]:
    """The order's shipping province, city and district, read from its stored JSON in SQL (plain
    text on every platform: only the name, phone and street are ever encrypted or masked)."""
    province, city, district = (OrderRow.data[("shipping_address", part)].as_string()
                                for part in ("province", "city", "district"))
    return province, city, district


def _target_columns() -> tuple[Any, ...]:
    return (OrderRow.id, OrderRow.external_id, OrderRow.platform, OrderRow.shop, OrderLineRow.id,
            OrderLineRow.external_id, OrderLineRow.merchant_sku, OrderLineRow.title, OrderLineRow.quantity,
            *_region_columns())


def _target(row: Sequence[Any]) -> _Target:
    o_id, o_ext, platform, shop, l_id, l_ext, sku, title, quantity, province, city, district = row
    return _Target(int(o_id), str(o_ext), platform, shop, int(l_id), str(l_ext), sku, title, int(quantity),
                   _region_part(province), _region_part(city), _region_part(district))


def _row_values(section: ServiceOrdersSection, target: _Target, kind: ServiceOrderType, *, origin: str, actor: str,
                now: datetime, expected_at: datetime | None = None, note: str | None = None) -> dict[str, Any]:
    """The ``service_orders`` columns of a new order for ``target``: status ``new``, deadlines from now."""
    external_id = external_id_for(target.order_id, target.line_id, kind)
    region = ServiceRegion(province=target.province, city=target.city, district=target.district)
    title = (target.title or "")[:300] or None
    work = ServiceOrder(
        ref=ChannelRef(platform=target.platform, shop=target.shop, external_id=external_id),
        order_ref=ChannelRef(platform=target.platform, shop=target.shop, external_id=target.order_external_id),
        line_external_id=target.line_external_id, merchant_sku=target.merchant_sku, product_title=title,
        quantity=target.quantity, type=kind, status=ServiceOrderStatus.NEW, raw_status="new", region=region,
        expected_at=expected_at, description=note, extra={"origin": origin}, created_at=now, updated_at=now)
    return {
        "platform": target.platform, "shop": target.shop, "external_id": external_id, "order_id": target.order_id,
        "order_line_id": target.line_id, "line_external_id": target.line_external_id,
        "merchant_sku": target.merchant_sku, "product_title": title, "quantity": target.quantity,
        "type": kind.value, "status": ServiceOrderStatus.NEW.value, "raw_status": "new", "origin": origin,
        "region_province": region.province, "region_city": region.city, "region_district": region.district,
        "expected_at": expected_at, "created_by": actor[:100], "version": 1, "channel_updated_at": now,
        "created_at": now, "updated_at": now, "data": work.model_dump(mode="json"),
        **sla.values_for(section, kind, ServiceOrderStatus.NEW, now),
    }


async def _insert(session: AsyncSession, rows: list[dict[str, Any]], *, cause: str, actor: str,
                  now: datetime) -> dict[str, int]:
    """Insert ``rows`` in one statement, skipping those already there; for each inserted one a
    ``created`` history row (one statement) and the ``service_order_changed`` follow-up (automatic
    assignment). Returns external id → id of the rows inserted."""
    if not rows:
        return {}
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    inserted = await session.execute(insert_ignore(ServiceOrderRow, dialect, ["platform", "shop", "external_id"])
                                     .values(rows).returning(ServiceOrderRow.id, ServiceOrderRow.external_id))
    created = {str(ext): int(i) for i, ext in inserted}
    by_external = {r["external_id"]: r for r in rows}
    await records.add_events(session, [{
        "service_order_id": i, "kind": "created", "cause": cause, "actor": actor[:100], "at": now,
        "new_status": ServiceOrderStatus.NEW.value,
        "detail": {"origin": by_external[ext]["origin"], "type": by_external[ext]["type"],
                   "order_id": by_external[ext]["order_id"], "order_line_id": by_external[ext]["order_line_id"],
                   "due_milestone": by_external[ext]["due_milestone"]}} for ext, i in created.items()])
    for service_order_id in sorted(created.values()):
        outbox.add(session, CHANGED_ACTOR, service_order_id, ServiceOrderStatus.NEW.value, cause)
    return created


# --------------------------------------------------------------------------- by a person


def _checked(request: CreateRequest) -> tuple[ServiceOrderType, str | None]:
    try:
        kind = ServiceOrderType(request.type)
    except ValueError:
        choices = ", ".join(t.value for t in ServiceOrderType)
        raise BadInputError(f"type {request.type!r} is not one of {choices}", field="type") from None
    if request.expected_at is not None and request.expected_at.tzinfo is None:
        raise BadInputError("expected_at needs a UTC offset (2026-12-01T10:00+08:00)", field="expected_at")
    note = " ".join((request.note or "").split()) or None
    if note is not None and len(note) > MAX_NOTE:
        raise BadInputError(f"note is {len(note)} characters; at most {MAX_NOTE}", field="note")
    return kind, note


async def _target_for(session: AsyncSession, order_id: int, line_id: int | None) -> _Target:
    """The order line a person's service order is for: ``line_id`` (a line of ``order_id``), or the
    order's first line not cancelled or closed that has a merchant SKU (else its first line)."""
    order = (await session.execute(select(OrderRow.id).where(OrderRow.id == order_id))).scalar_one_or_none()
    if order is None:
        raise NotFoundError(f"order {order_id} does not exist")
    query = select(*_target_columns()).join(OrderRow, OrderRow.id == OrderLineRow.order_id)
    if line_id is not None:
        found = (await session.execute(query.where(OrderLineRow.id == line_id))).first()
        if found is None:
            raise NotFoundError(f"order line {line_id} does not exist")
        if int(found[0]) != order_id:
            raise BadInputError(f"line {line_id} is not a line of order {order_id}", field="order_line_id")
        return _target(found)
    lines = (await session.execute(query.add_columns(OrderLineRow.status).where(OrderLineRow.order_id == order_id)
                                   .order_by(OrderLineRow.id))).all()
    if not lines:
        raise BadInputError(f"order {order_id} has no lines to serve", field="order_line_id")
    goods = [r for r in lines if r[-1] not in ENDED_LINE_STATUSES and r[6]]
    return _target((goods or lines)[0][:-1])


async def create_for_order(hub: Any, request: CreateRequest, *, actor: str, cause: str) -> int:
    """Create the service order; returns its id. ``NotFoundError`` for an unknown order or line,
    ``BadInputError`` naming the field for a line of another order.

    One transaction: the row (origin ``manual``, status ``new``, deadlines from now), a ``created``
    history row attributed to ``actor`` and the ``service_order_changed`` follow-up. Asking again
    for the same order line and type returns the existing order's id and changes nothing."""
    service_order_id, _ = await create_or_find(hub, request, actor=actor, cause=cause)
    return service_order_id


async def create_or_find(hub: Any, request: CreateRequest, *, actor: str, cause: str) -> tuple[int, bool]:
    """``create_for_order``, also saying whether the order was created (False: the line already had
    a service order of this type, whose id is returned)."""
    kind, note = _checked(request)
    now = datetime.now(UTC)
    async with hub.database().transaction() as session:
        target = await _target_for(session, request.order_id, request.order_line_id)
        values = _row_values(hub.config.service_orders, target, kind, origin="manual", actor=actor, now=now,
                             expected_at=request.expected_at, note=note)
        created = await _insert(session, [values], cause=cause, actor=actor, now=now)
        if created:
            service_order_id = created[values["external_id"]]
        else:
            service_order_id = int((await session.execute(select(ServiceOrderRow.id).where(
                ServiceOrderRow.platform == target.platform, ServiceOrderRow.shop == target.shop,
                ServiceOrderRow.external_id == values["external_id"]))).scalar_one())
    if created:
        log.info("service_order.created", service_order_id=service_order_id, order_id=target.order_id,
                 order_line_id=target.line_id, type=kind.value, origin="manual", cause=cause)
    return service_order_id, bool(created)


# --------------------------------------------------------------------------- by the rules


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(pattern: str) -> str:
    """A LIKE pattern that matches at least what the shell-style ``pattern`` matches (exactly,
    unless it has a ``[...]`` set, which becomes any one character)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "!":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 1
            if j < len(pattern):
                out.append("_")
                i = j + 1
                continue
        out.append("%" if char == "*" else "_" if char == "?" else _escape_like(char))
        i += 1
    return "".join(out)


def _sku_matches(dialect: str, patterns: Sequence[str]) -> Any:
    """SQL for "the line's merchant SKU matches one of ``patterns``": GLOB on SQLite (the same
    shell-style syntax, case-sensitive), LIKE on PostgreSQL; ``fnmatchcase`` decides in the end."""
    if dialect == "sqlite":
        return or_(*(OrderLineRow.merchant_sku.op("GLOB")(p.replace("[!", "[^")) for p in patterns))
    return or_(*(OrderLineRow.merchant_sku.like(_like(p), escape="\\") for p in patterns))


async def _rule_targets(session: AsyncSession, rule: ServiceRule, *, since: datetime, limit: int) -> list[_Target]:
    """The order lines ``rule`` calls for that have no service order of its type yet: one query."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    served = exists().where(ServiceOrderRow.order_line_id == OrderLineRow.id, ServiceOrderRow.type == rule.type.value)
    query = (select(*_target_columns()).join(OrderRow, OrderRow.id == OrderLineRow.order_id)
             .where(OrderRow.updated_at >= since, OrderRow.status.in_(RULE_STATUSES[rule.when]),
                    or_(OrderLineRow.status.is_(None), OrderLineRow.status.not_in(ENDED_LINE_STATUSES)),
                    OrderLineRow.merchant_sku.is_not(None), _sku_matches(dialect, rule.skus), ~served)
             .order_by(OrderRow.updated_at, OrderLineRow.id).limit(limit))
    if rule.shops:
        query = query.where(OrderRow.shop.in_(rule.shops))
    found = [_target(r) for r in (await session.execute(query)).all()]
    return [t for t in found if t.merchant_sku and any(fnmatchcase(t.merchant_sku, p) for p in rule.skus)]


async def apply_rules(hub: Any, *, now: datetime | None = None) -> int:
    """Create a service order for every order the rules name that has none of that type yet (once
    per order line and type, whatever runs twice); returns how many were created. Set-based.

    One query per rule over the orders changed in the last ``RULE_WINDOW`` (at most ``RULE_BATCH``
    lines per run), one INSERT for all of them, in one transaction."""
    section: ServiceOrdersSection = hub.config.service_orders
    if not section.rules:
        return 0
    now = now or datetime.now(UTC)
    rows: dict[str, dict[str, Any]] = {}
    async with hub.database().transaction() as session:
        for rule in section.rules:
            budget = RULE_BATCH - len(rows)
            if budget <= 0:
                break
            for target in await _rule_targets(session, rule, since=now - RULE_WINDOW, limit=budget):
                values = _row_values(section, target, rule.type, origin="rule", actor=RULE_ACTOR, now=now)
                rows.setdefault(values["external_id"], values)  # two rules naming one line and type: one order
        created = await _insert(session, list(rows.values()), cause="rule", actor=RULE_ACTOR, now=now)
    if created:
        log.info("service_order.rules_created", created=len(created), service_order_ids=sorted(created.values())[:50])
    return len(created)

