"""Listing bindings over HTTP: which merchant SKU each shop listing sells — list, bind and unbind by
hand, the listings the last sync could not bind, and ``POST /api/v1/shops/{shop}/listings/sync`` to
pull a shop's listings and bind them by merchant code. Reads need ``stock.read``; writes
``catalogue.write`` and are attributed to the API key. Not for the binding rules
(``hub.services.listings``).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import INT64_MAX
from hub.errors import BadInputError
from hub.services import listings
from hub.services.access.owners import ensure_shop_named
from hub.services.listings import BindingFilter, BindingView

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1", tags=["listings"])
reader = require(Permission.STOCK_READ)
writer = require(Permission.CATALOGUE_WRITE)


class BindingOut(BaseModel):
    id: int
    shop: str
    merchant_sku: str
    channel_item_id: str
    channel_sku_id: str = Field(description='"" for an item without SKUs.')
    source: str = Field(description="manual (a person; the sync leaves it alone) | sync | order (learned from a sale).")
    bound_by: str | None
    bound_at: datetime | None


class BindingPage(BaseModel):
    items: list[BindingOut]
    next_cursor: int | None


class BindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: str = Field(min_length=1, max_length=100)
    merchant_sku: str = Field(min_length=1, max_length=200)
    channel_item_id: str = Field(min_length=1, max_length=200)
    channel_sku_id: str = Field(default="", max_length=200)
    rebind: bool = Field(default=False, description="Move the listing if it is bound to another SKU (else 409).")


class UnmatchedOut(BaseModel):
    id: int
    shop: str
    channel_item_id: str
    channel_sku_id: str
    merchant_code: str | None
    title: str
    quantity: int | None
    status: str
    outcome: str = Field(description="no_code | unknown_code | inactive_sku")
    seen_at: datetime


class UnmatchedPage(BaseModel):
    items: list[UnmatchedOut]
    next_cursor: int | None


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebind_manual: bool = Field(default=False, description="Also move listings bound by hand when their merchant "
                                                           "code names another SKU.")


class SyncOut(BaseModel):
    shop: str
    seen: int
    bound: int = Field(description="Listings bound (or rebound) by this sync; their stock is pushed now.")
    already_bound: int
    kept_manual: int = Field(description="Bound by hand to another SKU than their code names; left alone.")
    unmatched: list[UnmatchedOut] = Field(description="Listings without a code, or whose code is not an active SKU.")
    skipped: str | None = None


def _binding(view: BindingView) -> BindingOut:
    return BindingOut.model_validate(view.__dict__)


@router.get("/listings", response_model=BindingPage, summary="Listing bindings, filtered, oldest first",
            dependencies=[Depends(reader)])
async def list_bindings(
    request: Request,
    shop: str | None = Query(None, max_length=100),
    merchant_sku: str | None = Query(None, max_length=200),
    channel_item_id: str | None = Query(None, max_length=200),
    source: str | None = Query(None, pattern="^(manual|sync|order)$"),
    cursor: int | None = Query(None, ge=1, le=INT64_MAX, description="The last id of the previous page."),
    limit: int = Query(50, ge=1, le=500),
) -> BindingPage:
    filters = BindingFilter(shop=shop, merchant_sku=merchant_sku, channel_item_id=channel_item_id, source=source)
    async with get_hub(request).database().session() as session:
        page, next_cursor = await listings.list_bindings(session, filters, cursor=cursor, limit=limit)
    return BindingPage(items=[_binding(v) for v in page], next_cursor=next_cursor)


@router.get("/listings/unmatched", response_model=UnmatchedPage,
            summary="Listings the last sync of each shop could not bind", dependencies=[Depends(reader)])
async def list_unmatched(
    request: Request,
    shop: str | None = Query(None, max_length=100),
    cursor: int | None = Query(None, ge=1, le=INT64_MAX),
    limit: int = Query(50, ge=1, le=500),
) -> UnmatchedPage:
    async with get_hub(request).database().session() as session:
        page, next_cursor = await listings.list_unmatched(session, shop=shop, cursor=cursor, limit=limit)
    return UnmatchedPage(items=[UnmatchedOut.model_validate(v.__dict__) for v in page], next_cursor=next_cursor)


@router.post("/listings", response_model=BindingOut, status_code=201, summary="Bind a listing to a SKU by hand")
async def bind_listing(request: Request, body: BindingIn = Body(...),
                       principal: Principal = Depends(writer)) -> BindingOut:
    ensure_shop_named(principal, body.shop)
    try:
        view = await listings.bind(get_hub(request), body.shop, body.merchant_sku, body.channel_item_id,
                                   body.channel_sku_id, actor=principal.actor, rebind=body.rebind)
    except listings.BindingConflict as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    except BadInputError as exc:
        raise ApiError(422, "invalid_request", str(exc), field=exc.field) from exc
    return _binding(view)


@router.delete("/listings/{shop}/{channel_item_id}", response_model=BindingOut,
               summary="Unbind a listing: the hub stops pushing it")
async def unbind_listing(request: Request, shop: str, channel_item_id: str,
                         channel_sku_id: str = Query("", max_length=200, description='"" for an item without SKUs.'),
                         principal: Principal = Depends(writer)) -> BindingOut:
    ensure_shop_named(principal, shop)
    return _binding(await listings.unbind(get_hub(request), shop, channel_item_id, channel_sku_id,
                                          actor=principal.actor))


@router.post("/shops/{shop}/listings/sync", response_model=SyncOut,
             summary="Pull the shop's listings and bind each by its merchant code")
async def sync_listings(request: Request, shop: str, body: SyncIn | None = Body(None),
                        principal: Principal = Depends(writer)) -> SyncOut:
    ensure_shop_named(principal, shop)
    report = await listings.sync_shop(get_hub(request), shop, rebind_manual=bool(body and body.rebind_manual),
                                      actor=principal.actor)
    now = datetime.now().astimezone()
    unmatched = [UnmatchedOut(id=0, shop=shop, channel_item_id=item.channel_item_id,
                              channel_sku_id=item.channel_sku_id, merchant_code=item.merchant_code, title=item.title,
                              quantity=item.quantity, status=item.status.value,
                              outcome=outcome.value, seen_at=now) for item, outcome in report.unmatched]
    return SyncOut(shop=shop, seen=report.seen, bound=report.bound, already_bound=report.already_bound,
                   kept_manual=report.kept_manual, unmatched=unmatched, skipped=report.skipped)
