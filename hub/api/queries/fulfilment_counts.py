"""What waits on each fulfilment screen, for the console's fulfilment sub-navigation: orders in the
review queue, delivery orders pending or failed, own-warehouse delivery orders to pick, parcels to
print, orders waiting for a merge decision and open fulfilment exceptions.

One small ``COUNT`` each, every one served by a partial or leading-column index (``ix_orders_on_hold``,
``ix_delivery_orders_status``, ``ix_parcels_status``, ``ix_order_holds_open_orders``,
``ix_fulfilment_exceptions_open``), so the numbers cost little on every fulfilment page. The
filters are the screens' own (``review.queue``, ``own_warehouse.PICKABLE``, the parcels screen's
"awaiting print" tab, ``merging.PROPOSED_HOLD``). Not for the screens' lists themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import DeliveryOrderRow, FulfilmentExceptionRow, OrderHoldRow, OrderRow, ParcelRow
from hub.services.fulfilment import merging, own_warehouse, review

#: Delivery orders that need a look on the delivery screen: not yet accepted by a WMS, or refused.
DELIVERY_OPEN = ("pending", "failed")
#: Parcels whose waybill is issued and whose label is not printed yet (the parcels screen's first tab).
TO_PRINT = "issued"


@dataclass(frozen=True)
class FulfilmentCounts:
    review: int
    delivery: int
    warehouse: int
    parcels: int
    merges: int
    exceptions: int


async def _count(session: AsyncSession, stmt: object) -> int:
    return int((await session.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def fulfilment_counts(session: AsyncSession) -> FulfilmentCounts:
    """The six numbers, read in one session (each its own indexed count)."""
    manual = exists().where(OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.code == review.MANUAL,
                            OrderHoldRow.released_at.is_(None))
    in_review = select(func.count()).select_from(OrderRow).where(
        OrderRow.on_hold.is_(True), or_(OrderRow.review_status.in_([review.HELD, review.WAITING]), manual))
    delivery = select(func.count()).select_from(DeliveryOrderRow).where(DeliveryOrderRow.status.in_(DELIVERY_OPEN))
    to_pick = select(func.count()).select_from(DeliveryOrderRow).where(
        DeliveryOrderRow.status.in_(own_warehouse.PICKABLE), DeliveryOrderRow.kind == own_warehouse.OWN)
    to_print = select(func.count()).select_from(ParcelRow).where(ParcelRow.status == TO_PRINT)
    merges = select(func.count(func.distinct(OrderHoldRow.order_id))).where(
        and_(OrderHoldRow.code == merging.PROPOSED_HOLD, OrderHoldRow.released_at.is_(None)))
    stuck = select(func.count()).select_from(FulfilmentExceptionRow).where(FulfilmentExceptionRow.resolved_at.is_(None))
    return FulfilmentCounts(
        review=await _count(session, in_review), delivery=await _count(session, delivery),
        warehouse=await _count(session, to_pick), parcels=await _count(session, to_print),
        merges=await _count(session, merges), exceptions=await _count(session, stuck),
    )
