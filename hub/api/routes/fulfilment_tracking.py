"""API routes for parcel tracking, its timeline and the fulfilment exceptions queue.

- ``POST /webhooks/tracking/{courier}``: a tracking courier's push (Kuaidi100's callback),
  verified by the courier account's connector (a bad or missing signature: 401, nothing stored),
  recorded in one transaction and answered with the exact body the courier expects.
- ``GET /api/v1/parcels/{id}/tracking``, ``GET /api/v1/shipments/{id}/tracking``: the timeline.
- ``POST /api/v1/parcels/{id}/track``: poll the tracking courier now (when pushes are missing).
- ``GET /api/v1/fulfilment/exceptions`` and ``POST …/{id}/resolve``: the queue a person works.

Not for the rules themselves (``hub.services.fulfilment.tracking``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.models import WebhookRejected
from hub.api.params import INT64_MAX, PathText, RowId, text_query
from hub.db.tables import FulfilmentExceptionRow, ParcelRow, ShipmentRow, TrackingEventRow
from hub.errors import ConfigError, PartnerError, describe_error
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import exceptions, tracking

log = structlog.get_logger(__name__)
webhook_router = APIRouter(tags=["webhooks"])
router = APIRouter(prefix="/api/v1", tags=["tracking"])


# --------------------------------------------------------------------------- models


class TrackingEventOut(BaseModel):
    state: str
    occurred_at: datetime
    description: str
    courier_code: str


class ParcelTrackingOut(BaseModel):
    id: int
    order_id: int
    shipment_id: int | None
    courier_code: str
    waybill_number: str | None
    status: str
    tracking_state: str | None = Field(description="The newest state heard (contracts.TrackingState).")
    tracking_at: datetime | None
    subscribed_at: datetime | None
    collected_at: datetime | None
    delivered_at: datetime | None
    events: list[TrackingEventOut] = Field(description="Oldest first.")


class ShipmentTrackingOut(BaseModel):
    shipment_id: int
    order_id: int
    parcels: list[ParcelTrackingOut]


class FulfilmentExceptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    kind: str
    subject: str
    reason: str
    raised_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class FulfilmentExceptionList(BaseModel):
    items: list[FulfilmentExceptionOut]
    next_cursor: str | None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000, description="What was done; kept in the order's history.")


class TrackNowOut(BaseModel):
    parcel: ParcelTrackingOut
    new_events: int


def parcel_out(parcel: ParcelRow, events: list[TrackingEventRow]) -> ParcelTrackingOut:
    return ParcelTrackingOut(
        id=parcel.id, order_id=parcel.order_id, shipment_id=parcel.shipment_id, courier_code=parcel.courier_code,
        waybill_number=parcel.waybill_number, status=parcel.status, tracking_state=parcel.tracking_state,
        tracking_at=parcel.tracking_at, subscribed_at=parcel.subscribed_at, collected_at=parcel.collected_at,
        delivered_at=parcel.delivered_at,
        events=[TrackingEventOut(state=e.state, occurred_at=e.occurred_at, description=e.description,
                                 courier_code=e.courier_code) for e in events])


# --------------------------------------------------------------------------- the webhook


@webhook_router.post(
    "/webhooks/tracking/{courier}", summary="A tracking courier's push (e.g. Kuaidi100's subscription callback)",
    responses={
        200: {"description": "Recorded; the body is the reply the courier expects (Kuaidi100: "
                             "{\"result\":true,\"returnCode\":\"200\",\"message\":\"成功\"})."},
        400: {"model": WebhookRejected, "description": "Malformed push (bad_input)."},
        401: {"model": WebhookRejected, "description": "Missing or wrong signature (bad_signature); nothing stored."},
        404: {"model": WebhookRejected, "description": "No courier account of that name that receives pushes."},
    })
async def tracking_push(request: Request, courier: PathText) -> Response:
    body = await request.body()
    outcome, connector = await tracking.receive_push(get_hub(request), courier, request.headers, body)
    log.debug("tracking.push_accepted", courier=courier, parcel_id=outcome.parcel_id, new=outcome.inserted)
    reply = getattr(connector, "tracking_push_reply", None)
    if reply is None:
        return Response(b'{"ok":true}', media_type="application/json")
    return Response(reply, media_type=getattr(connector, "tracking_push_content_type", "application/json"))


# --------------------------------------------------------------------------- timelines


async def _parcel_or_404(request: Request, parcel_id: int) -> ParcelTrackingOut:
    async with get_hub(request).database().session() as session:
        parcel = await session.get(ParcelRow, parcel_id)
        if parcel is None:
            raise ApiError(404, "not_found", f"parcel {parcel_id} does not exist")
        events = (await tracking.timeline(session, [parcel_id]))[parcel_id]
        return parcel_out(parcel, events)


@router.get("/parcels/{parcel_id}/tracking", response_model=ParcelTrackingOut,
            summary="A parcel's tracking: its newest state and every scan, oldest first",
            responses={404: {"model": ErrorBody, "description": "No such parcel."}})
async def parcel_tracking(request: Request, parcel_id: RowId,
                          principal: Principal = Depends(require(Permission.ORDERS_READ))) -> ParcelTrackingOut:
    await ensure_owned(get_hub(request), principal, "parcel", [parcel_id])
    return await _parcel_or_404(request, parcel_id)


@router.get("/shipments/{shipment_id}/tracking", response_model=ShipmentTrackingOut,
            summary="Each parcel of a shipment with its scans, oldest first",
            responses={404: {"model": ErrorBody, "description": "No such shipment."}})
async def shipment_tracking(request: Request, shipment_id: RowId,
                            principal: Principal = Depends(require(Permission.ORDERS_READ))) -> ShipmentTrackingOut:
    await ensure_owned(get_hub(request), principal, "shipment", [shipment_id])
    async with get_hub(request).database().session() as session:
        shipment = await session.get(ShipmentRow, shipment_id)
        if shipment is None:
            raise ApiError(404, "not_found", f"shipment {shipment_id} does not exist")
        parcels = list((await session.execute(select(ParcelRow).where(ParcelRow.shipment_id == shipment_id)
                                              .order_by(ParcelRow.id))).scalars())
        events = await tracking.timeline(session, [p.id for p in parcels])
    return ShipmentTrackingOut(shipment_id=shipment_id, order_id=shipment.order_id,
                               parcels=[parcel_out(p, events[p.id]) for p in parcels])


@router.post("/parcels/{parcel_id}/track", response_model=TrackNowOut,
             summary="Ask the tracking courier for the parcel's scans now and store them",
             responses={404: {"model": ErrorBody, "description": "No such parcel."},
                        409: {"model": ErrorBody, "description": "No tracking courier is configured, or the "
                                                                 "parcel has no waybill number."},
                        502: {"model": ErrorBody, "description": "The tracking courier failed; try again later."}})
async def track_parcel(request: Request, parcel_id: RowId,
                       principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> TrackNowOut:
    await ensure_owned(get_hub(request), principal, "parcel", [parcel_id])
    hub = get_hub(request)
    try:
        outcome = await tracking.track_now(hub, parcel_id)
    except ConfigError as exc:
        raise ApiError(409, "not_configured", str(exc)) from exc
    except PartnerError as exc:
        raise ApiError(502, "courier_failed", f"the tracking courier failed: {describe_error(exc)}") from exc
    log.info("tracking.polled", parcel_id=parcel_id, new=outcome.inserted, actor=principal.actor)
    return TrackNowOut(parcel=await _parcel_or_404(request, parcel_id), new_events=outcome.inserted)


# --------------------------------------------------------------------------- the exceptions queue


@router.get("/fulfilment/exceptions", response_model=FulfilmentExceptionList,
            summary="Fulfilment exceptions (stuck or returned parcels…), oldest first, cursor-paginated")
async def list_exceptions(
    request: Request,
    state: Literal["open", "resolved", "all"] = Query("open", description="open (default), resolved or all."),
    kind: str | None = text_query("not_collected, stalled, returned, or another step's kind."),
    order_id: int | None = Query(None, ge=1, le=INT64_MAX),
    limit: int = Query(50, ge=1, le=exceptions.MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> FulfilmentExceptionList:
    async with get_hub(request).database().session() as session:
        page = await exceptions.list_exceptions(session, state=state, kind=kind, order_id=order_id, limit=limit,
                                                cursor=cursor, shops=principal.shops)
    return FulfilmentExceptionList(items=[FulfilmentExceptionOut.model_validate(r) for r in page.rows],
                                   next_cursor=page.next_cursor)


@router.post("/fulfilment/exceptions/{exception_id}/resolve", response_model=FulfilmentExceptionOut,
             summary="Resolve a fulfilment exception as a person (attributed, in the order's history)",
             responses={404: {"model": ErrorBody, "description": "No such exception."},
                        409: {"model": ErrorBody, "description": "Already resolved (by whom and when)."}})
async def resolve_exception(
    request: Request, exception_id: RowId, body: ResolveIn | None = None,
    principal: Principal = Depends(require(Permission.ORDERS_WRITE)),
) -> FulfilmentExceptionOut:
    await ensure_owned(get_hub(request), principal, "exception", [exception_id])
    try:
        row: FulfilmentExceptionRow = await exceptions.resolve(
            get_hub(request), exception_id, actor=principal.actor, note=body.note if body else None)
    except exceptions.AlreadyResolved as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    return FulfilmentExceptionOut.model_validate(row)
