"""Orders over HTTP: a filtered, cursor-paginated list and one order's detail with its history.

The detail shows the canonical order with buyer and shipping address masked unless the caller's
role may see personal data (``orders.read_pii``), plus lines, holds, every history event in order
the inbox rows those events came from, its shipments and its after-sale cases. A person releases
a hold on one order, or one hold code on many orders at once (the exceptions queue's "release all
shown"), through the order service's ``release_hold`` / ``release_holds``, as the console does.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query, Request

from contracts.money import Money
from contracts.orders import Order, OrderStatus
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import (
    HoldOut,
    HoldReleaseIn,
    HoldReleaseResult,
    OrderDetail,
    OrderEventOut,
    OrderLineOut,
    OrderList,
    OrderSummary,
    SourceEventOut,
    UserTagOut,
    aftersale_summary_out,
)
from hub.api.params import PathText, QueryTime, RowId, text_query
from hub.api.queries.orders import MAX_LIMIT, OrderFilters, list_orders, order_story
from hub.api.routes.shipments import shipment_out
from hub.db.tables import OrderRow
from hub.logging import mask_event
from hub.services.access.scope import check_shop, shop_condition
from hub.services.aftersales.queries import cases_of_order
from hub.services.search.hashing import key_for
from hub.services.search.sorting import SORTS
from hub.services.search.tags import TagView, tags_of
from hub.services.search.terms import phone_search, quick_search, recipient_search

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
log = structlog.get_logger(__name__)


def _summary_fields(row: OrderRow, user_tags: list[TagView] | None = None) -> dict[str, Any]:
    return {
        "priority": row.priority or 0,
        "user_tags": [UserTagOut(name=t.name, colour=t.colour, description=t.description) for t in user_tags or []],
        "id": row.id,
        "platform": row.platform,
        "shop": row.shop,
        "external_id": row.external_id,
        "status": row.status,
        "raw_status": row.raw_status,
        "fulfilment_status": row.fulfilment_status,
        "on_hold": row.on_hold,
        "total": Money(amount=row.total_amount, currency=row.currency),
        "buyer_nick": row.buyer_nick,
        "tags": [str(t) for t in row.tags or []],
        "created_at": row.channel_created_at,
        "updated_at": row.channel_updated_at,
        "paid_at": row.paid_at,
    }


@router.get("", response_model=OrderList, summary="Orders, newest first, filtered and cursor-paginated")
async def get_orders(
    request: Request,
    status: list[OrderStatus] | None = Query(None, description="Repeat to match any of several statuses."),
    platform: str | None = text_query(),
    shop: str | None = text_query(),
    created_from: QueryTime | None = Query(None, description="Channel creation time ≥ this (ISO, with offset)."),
    created_to: QueryTime | None = Query(None, description="Channel creation time < this."),
    paid_from: QueryTime | None = None,
    paid_to: QueryTime | None = None,
    buyer: str | None = text_query("The buyer's platform nick, exactly."),
    sku: str | None = text_query("Orders with a line of this merchant SKU."),
    tag: str | None = text_query(),
    hold: str | None = text_query("Orders with an unreleased hold of this code (high_value, stock_short...)."),
    q: str | None = text_query("One box: the platform order number, the buyer's nick, the recipient's name or "
                               "phone (exactly); four digits also try the phone's last four."),
    order_no: str | None = text_query("The platform's order number, exactly."),
    recipient: str | None = text_query("The recipient's name (case and spaces ignored)."),
    phone: str | None = text_query("The recipient's phone, in full or its last 4 digits."),
    on_hold: bool | None = Query(None, description="Only held (true) or only not held (false) orders."),
    user_tag: str | None = text_query("Orders carrying this user tag."),
    priority_min: int | None = Query(None, ge=-9, le=9, description="Orders of at least this priority."),
    sort: str = Query("-id", description=f"One of {', '.join(SORTS)}; unpaid orders last for paid_at."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page (of the same sort)."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> OrderList:
    hub = get_hub(request)
    key = key_for(hub.config)[0]
    filters = OrderFilters(
        status=tuple(s.value for s in status or ()), platform=platform, shop=shop,
        created_from=created_from, created_to=created_to, paid_from=paid_from, paid_to=paid_to,
        buyer=buyer, sku=sku, tag=tag, hold=hold, on_hold=on_hold,
        quick=quick_search(q, key) if q and q.strip() else None, order_no=order_no,
        recipient_hash=recipient_search(recipient, key, "query.recipient") if recipient else None,
        phone=phone_search(phone, key, "query.phone") if phone else None,
        user_tag=user_tag, priority_min=priority_min, shops=principal.shops,
    )
    searched = [n for n, v in (("q", q), ("order_no", order_no), ("recipient", recipient), ("phone", phone)) if v]
    if searched:  # that a search happened and by what, never the terms
        log.info("orders.searched", by=searched, actor=principal.actor)
    async with hub.database().session() as session:
        page = await list_orders(session, filters, limit=limit, cursor=cursor, sort=sort)
        user_tags = await tags_of(session, [r.id for r in page.rows])
    return OrderList(items=[OrderSummary(**_summary_fields(r, user_tags.get(r.id))) for r in page.rows],
                     next_cursor=page.next_cursor)


@router.get("/{order_id}", response_model=OrderDetail, summary="One order: lines, holds, history and sources")
async def get_order(
    request: Request, order_id: RowId, principal: Principal = Depends(require(Permission.ORDERS_READ))
) -> OrderDetail:
    async with get_hub(request).database().session() as session:
        story = await order_story(session, order_id)
        if story is not None:
            check_shop(principal, story.order.shop, f"order {order_id}")
        cases = await cases_of_order(session, order_id) if story is not None else []
        user_tags = (await tags_of(session, [order_id])).get(order_id) if story is not None else None
    if story is None:
        raise ApiError(404, "not_found", f"order {order_id} does not exist")
    reveal = principal.may(Permission.ORDERS_READ_PII)
    order = Order.model_validate(story.order.data)
    return OrderDetail(
        **_summary_fields(story.order, user_tags),
        order=order if reveal else order.masked(),
        pii_masked=not reveal,
        lines=[
            OrderLineOut(
                id=line.id, external_id=line.external_id, merchant_sku=line.merchant_sku,
                channel_item_id=line.channel_item_id, channel_sku_id=line.channel_sku_id, title=line.title,
                quantity=line.quantity, unit_price=Money(amount=line.unit_price, currency=story.order.currency),
                status=line.status,
            )
            for line in story.lines
        ],
        holds=[HoldOut.model_validate(h, from_attributes=True) for h in story.holds],
        history=[
            OrderEventOut(
                id=e.id, at=e.at, kind=e.kind, old_status=e.old_status, new_status=e.new_status, cause=e.cause,
                actor=e.actor, inbox_id=e.inbox_id,
                # History details are free-form: mask them like logs for roles without PII access.
                detail=dict(e.detail or {}) if reveal else mask_event(None, "", dict(e.detail or {})),
            )
            for e in story.events
        ],
        source_events=[SourceEventOut.model_validate(s, from_attributes=True) for s in story.sources],
        shipments=[shipment_out(s) for s in story.shipments],
        aftersales=[aftersale_summary_out(c) for c in cases],
    )


@router.post("/{order_id}/holds/{code}/release", response_model=HoldOut,
             summary="Release a hold (stock short, cancel requested, audit rule...) as a person")
async def release_order_hold(
    request: Request, order_id: RowId, code: PathText, principal: Principal = Depends(require(Permission.ORDERS_WRITE))
) -> HoldOut:
    """The release is attributed to the caller and written to the order's history; if no other
    hold remains the order proceeds (a stock-short order tries its reservation again)."""
    from sqlalchemy import select

    from hub.db.tables import OrderHoldRow
    from hub.services.orders import release_hold

    async with get_hub(request).database().transaction() as session:
        hold = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.code == code))).scalar_one_or_none()
        order_shop = await session.scalar(select(OrderRow.shop).where(OrderRow.id == order_id))
        check_shop(principal, order_shop, f"order {order_id}")
        if hold is None:
            raise ApiError(404, "not_found", f"order {order_id} has no hold {code!r}")
        if hold.released_at is not None:
            raise ApiError(409, "conflict", f"hold {code!r} on order {order_id} was already released "
                                            f"by {hold.released_by} at {hold.released_at.isoformat()}")
        await release_hold(session, order_id, code, actor=principal.actor)
        await session.refresh(hold)
        return HoldOut.model_validate(hold, from_attributes=True)


@router.post("/holds/{code}/release", response_model=HoldReleaseResult,
             summary="Release one hold code on many orders at once (in one transaction)")
async def release_held_orders(
    request: Request, code: PathText, body: HoldReleaseIn,
    principal: Principal = Depends(require(Permission.ORDERS_WRITE)),
) -> HoldReleaseResult:
    """Each release is attributed to the caller and written to its order's history, as one by one;
    an order proceeds once no other hold of it is open. Sending the same call again releases
    nothing more: those orders are then ``not_held``."""
    from sqlalchemy import select

    from hub.services.orders import release_holds

    wanted = sorted(set(body.order_ids))
    async with get_hub(request).database().transaction() as session:
        # Another shop's order is as unknown as one that does not exist.
        existing = set((await session.execute(select(OrderRow.id).where(
            OrderRow.id.in_(wanted), shop_condition(OrderRow.shop, principal)))).scalars())
        released = await release_holds(session, code, sorted(existing), actor=principal.actor)
    done = set(released)
    return HoldReleaseResult(code=code, released=released,
                             not_held=[i for i in wanted if i in existing and i not in done],
                             unknown=[i for i in wanted if i not in existing])
