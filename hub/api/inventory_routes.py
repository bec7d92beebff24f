"""Inventory over HTTP: stock per SKU (on hand per warehouse, reserved, available) with, per shop,
the target, the value last pushed, when, the sync lag, the last error and (partitioned groups)
its exposure; a SKU's recent movements (the ledger); and stock adjustments (warehouse and admin
roles; an ``Idempotency-Key`` header makes a retried call apply once). Not for the stock logic
itself (``hub.services.stock``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from contracts.inventory import AllocationMode
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import INT64_MAX, PathText
from hub.api.queries.stock import Movement, recent_movements
from hub.context import Hub
from hub.db.tables import ChannelStockRow, ListingRow, SkuRow
from hub.services.stock import adjustments
from hub.services.stock.levels import stock_of
from hub.services.stock.targets import compute_targets

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"])
reader = require(Permission.STOCK_READ)
adjuster = require(Permission.STOCK_ADJUST)


class ShopStockOut(BaseModel):
    shop: str
    channel_item_id: str
    channel_sku_id: str
    target: int = Field(description="What the shop should show now, by its allocation policy.")
    shown: int | None = Field(description="The hub's record of what the shop shows: the value last pushed "
                                          "(or read back), less what buyers ordered since.")
    pushed_at: datetime | None
    in_sync: bool = Field(description="True when the shop shows the target and nothing is waiting.")
    pending: bool = Field(description="A change is waiting to be pushed.")
    sync_lag_s: float | None = Field(description="Seconds the pending change has waited; else how long the last "
                                                 "push took from the change to the shop accepting it.")
    last_error: str | None
    last_error_at: datetime | None
    exposure: int | None = Field(
        default=None,
        description="Partitioned groups: the most this shop can still sell before the hub hears of it (what it "
                    "shows plus its sales on their way); None in shared mode and before the first push.")
    awaiting_answer: bool = Field(default=False, description="A push went out whose answer is not in (or was "
                                                             "lost and will be settled or sent again).")


class InventoryItem(BaseModel):
    merchant_sku: str
    name: str
    is_bundle: bool
    on_hand: dict[str, int] = Field(description="Per warehouse.")
    reserved: dict[str, int] = Field(description="Per warehouse: held for orders not yet shipped.")
    on_hand_total: int
    reserved_total: int
    safety_stock: int
    available: int = Field(description="On hand − reserved − safety stock across warehouses (never below 0); "
                                       "for a bundle, the minimum over its components.")
    low: bool
    low_stock_threshold: int | None
    allocation_mode: str
    unallocated: int | None = Field(
        default=None, description="Partitioned groups: available − every shop's exposure, what can still be "
                                  "granted to a shop (negative: stock was taken away under the shops' feet).")
    shops: list[ShopStockOut]


class InventoryPage(BaseModel):
    items: list[InventoryItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class AdjustmentsIn(BaseModel):
    adjustments: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000,
        description='Each {"warehouse", "merchant_sku", "delta": ±n | "on_hand": n, "note"?}; all or nothing.')
    reference: str | None = Field(default=None, max_length=200, description="Your document number, kept in the ledger.")


class AdjustmentsOut(BaseModel):
    applied: int
    on_hand_delta: int
    skus: list[str]
    shops_to_push: list[str]
    repeated: bool = Field(default=False, description="The Idempotency-Key was used before: nothing was applied "
                                                      "now; the figures are those of the first call.")


class MovementPage(BaseModel):
    movements: list[Movement]
    next_before: int | None = Field(description="Pass as ?before= for older movements.")


def _lag(row: ChannelStockRow, now: datetime) -> float | None:
    if row.dirty and row.dirty_since is not None:
        return round((now - row.dirty_since).total_seconds(), 3)
    if row.pushed_at is not None and row.dirty_since is not None and row.pushed_at >= row.dirty_since:
        return round((row.pushed_at - row.dirty_since).total_seconds(), 3)
    return None


async def _items(hub: Hub, skus: list[str]) -> list[InventoryItem]:
    now = datetime.now(UTC)
    async with hub.database().session() as session:
        levels = await stock_of(session, skus, default_low_threshold=hub.config.rules.low_stock_threshold)
        targets = await compute_targets(hub, session, skus)
        names = {sku: name for sku, name in (await session.execute(
            select(SkuRow.merchant_sku, SkuRow.name).where(SkuRow.merchant_sku.in_(skus)))).all()}
        rows = (await session.execute(
            select(ChannelStockRow, ListingRow).join(ListingRow, ListingRow.id == ChannelStockRow.listing_id)
            .where(ChannelStockRow.merchant_sku.in_(skus)).order_by(ChannelStockRow.shop, ListingRow.id))).all()
    shops: dict[str, list[ShopStockOut]] = {}
    for cs, lst in rows:
        target = targets[cs.merchant_sku].targets.get(cs.shop, 0)
        partitioned = targets[cs.merchant_sku].mode is AllocationMode.PARTITIONED
        settled = (cs.exposure if partitioned else cs.shown) == target and cs.pending_key is None
        shops.setdefault(cs.merchant_sku, []).append(ShopStockOut(
            shop=cs.shop, channel_item_id=lst.channel_item_id, channel_sku_id=lst.channel_sku_id, target=target,
            shown=cs.shown, pushed_at=cs.pushed_at, in_sync=settled and not cs.dirty, pending=cs.dirty,
            sync_lag_s=_lag(cs, now), last_error=cs.last_error, last_error_at=cs.last_error_at,
            exposure=cs.exposure if partitioned else None, awaiting_answer=cs.pending_key is not None))
    items = []
    for sku in skus:
        level = levels.get(sku)
        if level is None:
            continue
        items.append(InventoryItem(
            merchant_sku=sku, name=names.get(sku) or "", is_bundle=level.is_bundle, on_hand=level.on_hand,
            reserved=level.reserved, on_hand_total=sum(level.on_hand.values()),
            reserved_total=sum(level.reserved.values()), safety_stock=level.safety_stock, available=level.available,
            low=level.low, low_stock_threshold=level.low_stock_threshold,
            allocation_mode=targets[sku].mode.value, shops=shops.get(sku, []),
            unallocated=level.available - sum(sh.exposure or 0 for sh in shops.get(sku, []))
            if targets[sku].mode is AllocationMode.PARTITIONED else None))
    return items


@router.get("", response_model=InventoryPage, summary="Stock per SKU, with what each shop shows",
            dependencies=[Depends(reader)])
async def list_inventory(
    request: Request,
    cursor: str | None = Query(None, max_length=200, description="The last SKU of the previous page."),
    limit: int = Query(50, ge=1, le=500),
    low: bool = Query(False, description="Only SKUs at or below their low-stock threshold."),
    prefix: str | None = Query(None, max_length=200, description="Only SKUs starting with this."),
) -> InventoryPage:
    hub = get_hub(request)
    stmt = select(SkuRow.merchant_sku).order_by(SkuRow.merchant_sku)
    if cursor:
        stmt = stmt.where(SkuRow.merchant_sku > cursor)
    if prefix:
        stmt = stmt.where(SkuRow.merchant_sku.startswith(prefix, autoescape=True))
    items: list[InventoryItem] = []
    last: str | None = cursor
    exhausted = False
    # With ?low=true a page is filtered after computing availability, so read ahead in chunks.
    while len(items) < limit and not exhausted:
        page_stmt = stmt.where(SkuRow.merchant_sku > last) if last else stmt
        async with hub.database().session() as session:
            skus = list((await session.execute(page_stmt.limit(limit))).scalars())
        exhausted = len(skus) < limit
        if not skus:
            break
        last = skus[-1]
        found = await _items(hub, skus)
        items.extend(i for i in found if i.low or not low)
    items = items[:limit]
    more = not exhausted or len(items) == limit
    return InventoryPage(items=items, next_cursor=items[-1].merchant_sku if items and more else None)


@router.get("/{merchant_sku}", response_model=InventoryItem, summary="One SKU's stock and sync state",
            dependencies=[Depends(reader)])
async def show_inventory(request: Request, merchant_sku: PathText) -> InventoryItem:
    found = await _items(get_hub(request), [merchant_sku])
    if not found:
        raise ApiError(404, "not_found", f"SKU {merchant_sku!r} is not in the catalogue")
    return found[0]


@router.get("/{merchant_sku}/movements", response_model=MovementPage, summary="One SKU's stock movements, newest first",
            dependencies=[Depends(reader)])
async def list_movements(
    request: Request, merchant_sku: PathText,
    limit: int = Query(20, ge=1, le=200),
    before: int | None = Query(None, ge=1, le=INT64_MAX, description="Only movements older than this id."),
) -> MovementPage:
    async with get_hub(request).database().session() as session:
        found = await session.scalar(select(SkuRow.merchant_sku).where(SkuRow.merchant_sku == merchant_sku))
        if found is None:
            raise ApiError(404, "not_found", f"SKU {merchant_sku!r} is not in the catalogue")
        movements = await recent_movements(session, merchant_sku, limit=limit, before=before)
    return MovementPage(movements=movements,
                        next_before=movements[-1].id if len(movements) == limit else None)


def adjustment_key(principal: Principal, key: str) -> str:
    """The stored idempotency key: the caller's own namespace, so two callers' keys never meet."""
    return f"inventory.adjust:{principal.prefix or principal.actor}:{key}"


@router.post("/adjustments", response_model=AdjustmentsOut, status_code=201,
             summary="Adjust stock (all adjustments or none); warehouse and admin roles")
async def post_adjustments(
    request: Request, response: Response, body: AdjustmentsIn = Body(...), principal: Principal = Depends(adjuster),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=100,
        description="Any unique string per intended change: sending the call again with it applies nothing and "
                    "answers with the first call's figures (repeated: true)."),
) -> AdjustmentsOut:
    hub = get_hub(request)
    parsed = [adjustments.parse_adjustment(raw, f"adjustments[{i}]") for i, raw in enumerate(body.adjustments)]
    labels = [f"adjustments[{i}]" for i in range(len(parsed))]
    report = await adjustments.adjust_stock(
        hub, parsed, actor=principal.actor, reference=body.reference, labels=labels,
        idempotency_key=adjustment_key(principal, idempotency_key) if idempotency_key else None)
    if report.repeated:
        response.status_code = 200
    log.info("stock.adjusted", by=principal.actor, applied=report.applied, skus=sorted(report.skus),
             repeated=report.repeated)
    return AdjustmentsOut(applied=report.applied, on_hand_delta=report.on_hand_delta, skus=sorted(report.skus),
                          shops_to_push=sorted(report.shops), repeated=report.repeated)
