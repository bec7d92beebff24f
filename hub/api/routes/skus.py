"""The catalogue over HTTP: ``/api/v1/skus`` — list (filters, cursor pages), get, create, patch,
deactivate and reactivate SKUs and bundles. Reads need ``stock.read``; writes ``catalogue.write``
(admin, operator) and are attributed to the API key. A SKU that exists answers 409, an unknown one
404, a bad field 422 naming it. Not for stock counts (``/api/v1/inventory``) nor listings
(``hub.api.routes.listings``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.errors import BadInputError
from hub.services import catalogue
from hub.services.catalogue import SkuFilter, SkuView

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/skus", tags=["catalogue"])
reader = require(Permission.STOCK_READ)
writer = require(Permission.CATALOGUE_WRITE)
T = TypeVar("T")


class SkuOut(BaseModel):
    merchant_sku: str
    name: str
    product_code: str | None
    stock_group: str | None
    safety_stock: int
    low_stock_threshold: int | None
    active: bool
    is_bundle: bool
    components: dict[str, int] = Field(description="A bundle's component SKUs and how many of each one bundle takes.")
    created_at: datetime
    updated_at: datetime | None
    updated_by: str | None = Field(description="Who changed it last: an API key, `cli` or `import:<file>`.")


class SkuPage(BaseModel):
    items: list[SkuOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class SkuIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchant_sku: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=10_000)
    product_code: str | None = Field(default=None, max_length=200)
    stock_group: str | None = Field(default=None, max_length=100)
    safety_stock: int = Field(default=0, ge=0)
    low_stock_threshold: int | None = Field(default=None, ge=0)
    components: dict[str, int] | None = Field(default=None, description="Makes it a bundle: SKU → quantity ≥ 1.")


class SkuPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=10_000)
    product_code: str | None = Field(default=None, max_length=200)
    stock_group: str | None = Field(default=None, max_length=100)
    safety_stock: int | None = Field(default=None, ge=0)
    low_stock_threshold: int | None = Field(default=None, ge=0)
    components: dict[str, int] | None = Field(default=None, description="Replaces the bundle's components; {} "
                                                                        "makes it a plain SKU again.")


def _out(view: SkuView) -> SkuOut:
    return SkuOut.model_validate(view.__dict__)


async def _answer(work: Awaitable[T]) -> T:
    """Run a catalogue write, turning its refusals into the API's statuses (409, 422)."""
    try:
        return await work
    except catalogue.DuplicateSkuError as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    except catalogue.CatalogueImportError as exc:
        raise ApiError(422, "invalid_request", [{"field": p.field, "message": p.message} for p in exc.problems],
                       field=exc.field) from exc
    except BadInputError as exc:
        raise ApiError(422, "invalid_request", str(exc), field=exc.field) from exc


@router.get("", response_model=SkuPage, summary="Catalogue SKUs, filtered, in SKU order",
            dependencies=[Depends(reader)])
async def list_skus(
    request: Request,
    cursor: str | None = Query(None, description="The last SKU of the previous page."),
    limit: int = Query(50, ge=1, le=500),
    prefix: str | None = Query(None, max_length=200, description="Only SKUs starting with this."),
    q: str | None = Query(None, max_length=200, description="Text in the SKU, name or product code."),
    active: bool | None = Query(None, description="Only active (true) or deactivated (false) SKUs."),
    bundle: bool | None = Query(None, description="Only bundles (true) or plain SKUs (false)."),
    stock_group: str | None = Query(None, max_length=100),
    product_code: str | None = Query(None, max_length=200),
) -> SkuPage:
    filters = SkuFilter(prefix=prefix, search=q, active=active, is_bundle=bundle, stock_group=stock_group,
                        product_code=product_code)
    async with get_hub(request).database().session() as session:
        page, next_cursor = await catalogue.list_skus(session, filters, cursor=cursor, limit=limit)
    return SkuPage(items=[_out(v) for v in page], next_cursor=next_cursor)


@router.get("/{merchant_sku}", response_model=SkuOut, summary="One SKU (with a bundle's components)",
            dependencies=[Depends(reader)])
async def show_sku(request: Request, merchant_sku: str) -> SkuOut:
    async with get_hub(request).database().session() as session:
        return _out(await catalogue.get_sku(session, merchant_sku))


@router.post("", response_model=SkuOut, status_code=201, summary="Add a SKU or bundle (409 if it exists)")
async def create_sku(request: Request, body: SkuIn = Body(...), principal: Principal = Depends(writer)) -> SkuOut:
    raw: dict[str, Any] = body.model_dump(exclude_none=True)
    try:
        draft = catalogue.check_draft(raw)
    except BadInputError as exc:
        raise ApiError(422, "invalid_request", str(exc), field=exc.field) from exc
    view = await _answer(catalogue.create_sku(get_hub(request), draft, actor=principal.actor))
    log.info("sku.created", sku=view.merchant_sku, by=principal.actor, bundle=view.is_bundle)
    return _out(view)


@router.patch("/{merchant_sku}", response_model=SkuOut, summary="Change some fields of a SKU")
async def patch_sku(request: Request, merchant_sku: str, body: SkuPatch = Body(...),
                    principal: Principal = Depends(writer)) -> SkuOut:
    changes = body.model_dump(exclude_unset=True)
    view = await _answer(catalogue.update_sku(get_hub(request), merchant_sku, changes, actor=principal.actor))
    log.info("sku.updated", sku=merchant_sku, fields=sorted(changes), by=principal.actor)
    return _out(view)


@router.post("/{merchant_sku}/deactivate", response_model=SkuOut,
             summary="Deactivate a SKU: kept for history, no new listings or bundles")
async def deactivate_sku(request: Request, merchant_sku: str, principal: Principal = Depends(writer)) -> SkuOut:
    view = await _answer(catalogue.set_active(get_hub(request), merchant_sku, False, actor=principal.actor))
    log.info("sku.deactivated", sku=merchant_sku, by=principal.actor)
    return _out(view)


@router.post("/{merchant_sku}/reactivate", response_model=SkuOut, summary="Reactivate a deactivated SKU")
async def reactivate_sku(request: Request, merchant_sku: str, principal: Principal = Depends(writer)) -> SkuOut:
    view = await _answer(catalogue.set_active(get_hub(request), merchant_sku, True, actor=principal.actor))
    log.info("sku.reactivated", sku=merchant_sku, by=principal.actor)
    return _out(view)
