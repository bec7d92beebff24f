"""Defective stock over HTTP: the damaged units returns put apart, per location and SKU with
totals (``GET /api/v1/inventory/defective``, every role that reads stock), and what a person did
with them (``POST /api/v1/inventory/defective/dispositions``: scrapped, returned to the supplier,
or repaired back on hand in a warehouse; warehouse and admin roles, as adjustments; an
``Idempotency-Key`` header makes a retried call act once). Not for the logic
(``hub.services.stock.defective``). Registered before the inventory router:
``/api/v1/inventory/defective`` is not a SKU.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import MAX_TEXT
from hub.errors import BadInputError
from hub.services.stock import defective
from hub.services.stock.defective import DefectiveAction

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/inventory/defective", tags=["inventory"])
reader = require(Permission.STOCK_READ)
adjuster = require(Permission.STOCK_ADJUST)


class DefectiveLineOut(BaseModel):
    location: str = Field(description="The defective location ([aftersales] defective_warehouse when returns "
                                      "put the units there).")
    merchant_sku: str
    name: str = Field(description="The SKU's name in the catalogue ('' when the catalogue has none).")
    quantity: int
    updated_at: datetime


class DefectiveStockOut(BaseModel):
    items: list[DefectiveLineOut] = Field(description="Per location and SKU, those holding units; by location, SKU.")
    per_location: dict[str, int]
    per_sku: dict[str, int]
    total: int


class DispositionIn(BaseModel):
    location: str = Field(min_length=1, max_length=100)
    merchant_sku: str = Field(min_length=1, max_length=MAX_TEXT)
    quantity: int = Field(ge=1, le=1_000_000, description="Units taken out of the defective location.")
    action: DefectiveAction = Field(description="scrap and return_to_supplier take the units out of the hub's "
                                                "count; repaired puts them on hand in `warehouse`.")
    warehouse: str | None = Field(default=None, max_length=100, description="With repaired (only): where the "
                                                                            "units go back on hand.")
    note: str | None = Field(default=None, max_length=defective.NOTE_MAX, description="Kept in the stock ledger.")


class DispositionOut(BaseModel):
    location: str
    merchant_sku: str
    quantity: int
    action: DefectiveAction
    warehouse: str | None
    remaining: int = Field(description="Defective units of the SKU left at the location.")
    shops_to_push: list[str] = Field(description="Repaired: the shops whose listings of the SKU will be pushed.")
    repeated: bool = Field(default=False, description="The Idempotency-Key was used before: nothing was done now; "
                                                      "the figures are those of the first call.")


@router.get("", response_model=DefectiveStockOut, summary="Defective stock per location and SKU, with totals",
            dependencies=[Depends(reader)])
async def list_defective_stock(
    request: Request,
    location: str | None = Query(None, max_length=100, description="Only this location."),
    merchant_sku: str | None = Query(None, max_length=MAX_TEXT, description="Only this SKU."),
) -> DefectiveStockOut:
    async with get_hub(request).database().session() as session:
        found = await defective.list_defective(session, location=location, merchant_sku=merchant_sku)
    return DefectiveStockOut(
        items=[DefectiveLineOut(location=line.location, merchant_sku=line.merchant_sku, name=line.name,
                                quantity=line.quantity, updated_at=line.updated_at) for line in found.lines],
        per_location=found.per_location, per_sku=found.per_sku, total=found.total)


def disposition_key(principal: Principal, key: str) -> str:
    """The stored idempotency key: the caller's own namespace, so two callers' keys never meet."""
    return f"inventory.defective:{principal.prefix or principal.actor}:{key}"


@router.post("/dispositions", response_model=DispositionOut, status_code=201,
             summary="Scrap, return to the supplier or put back on hand defective units; warehouse and admin roles",
             responses={422: {"model": ErrorBody, "description": "A bad value, or fewer defective units than asked "
                                                                  "for (the field is named; nothing changed)."}})
async def post_disposition(
    request: Request, response: Response, body: DispositionIn = Body(...),
    principal: Principal = Depends(adjuster),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=100,
        description="Any unique string per intended change: sending the call again with it does nothing and "
                    "answers with the first call's figures (repeated: true)."),
) -> DispositionOut:
    try:
        done = await defective.dispose(
            get_hub(request), body.location, body.merchant_sku, body.quantity, action=body.action, note=body.note,
            actor=principal.actor, warehouse=body.warehouse,
            idempotency_key=disposition_key(principal, idempotency_key) if idempotency_key else None)
    except BadInputError as exc:
        raise ApiError(422, "bad_input", str(exc), field=exc.field) from None
    if done.repeated:
        response.status_code = 200
    log.info("defective_stock.disposed", by=principal.actor, location=done.location, sku=done.merchant_sku,
             quantity=done.quantity, action=done.action.value, warehouse=done.warehouse, repeated=done.repeated)
    return DispositionOut(location=done.location, merchant_sku=done.merchant_sku, quantity=done.quantity,
                          action=done.action, warehouse=done.warehouse, remaining=done.remaining,
                          shops_to_push=sorted(done.shops), repeated=done.repeated)
