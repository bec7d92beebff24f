"""Notifications over HTTP: channels and rules as configured (secrets never shown), the delivery
log with resend, a test send per channel, and the unpaid-order reminder list (催付) staff work.

Same services as ``hub notifications`` / ``hub reminders`` and the console's pages. Lists are
limited to the caller's shops; a write on another shop's object answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import RowId
from hub.errors import ConfigError, PartnerError
from hub.services.notifications import channels, deliveries, reminders

router = APIRouter(tags=["notifications"])
read = require(Permission.NOTIFICATIONS_READ)
manage = require(Permission.NOTIFICATIONS_MANAGE)


@router.get("/api/v1/notifications/channels", summary="Configured notification channels (no secrets)",
            dependencies=[Depends(read)])
async def list_channels(request: Request) -> list[dict[str, Any]]:
    return channels.describe(get_hub(request))


@router.get("/api/v1/notifications/rules", summary="Configured notification rules", dependencies=[Depends(read)])
async def list_rules(request: Request) -> dict[str, Any]:
    section = get_hub(request).config.notifications
    return {"rules": [rule.model_dump() for rule in section.rules],
            "daily_summary": section.daily_summary.model_dump(),
            "unpaid_reminder_after_minutes": section.unpaid_reminder_after_minutes}


@router.get("/api/v1/notifications/deliveries", summary="The delivery log, newest first")
async def list_deliveries(
    request: Request,
    status: str | None = Query(None, description="pending | sent | failed | dead"),
    channel: str | None = Query(None),
    limit: int = Query(200, ge=1, le=1000),
    principal: Principal = Depends(read),
) -> list[dict[str, Any]]:
    if status is not None and status not in deliveries.STATUSES:
        raise ApiError(422, "invalid_request", f"status must be one of {list(deliveries.STATUSES)}", field="status")
    rows = await deliveries.listing(get_hub(request), principal, status=status, channel=channel, limit=limit)
    return [vars(row) for row in rows]


@router.post("/api/v1/notifications/deliveries/{delivery_id}/resend", summary="Send a delivery again")
async def resend_delivery(request: Request, delivery_id: int,
                          principal: Principal = Depends(manage)) -> dict[str, Any]:
    hub = get_hub(request)
    await deliveries.resend(hub, delivery_id, principal.actor, principal)
    status = await deliveries.send_one(hub, delivery_id)
    return {"id": delivery_id, "status": status or "pending"}


@router.post("/api/v1/notifications/channels/{name}/test", summary="Send a test notification to a channel now",
             dependencies=[Depends(manage)])
async def test_channel(request: Request, name: str) -> dict[str, Any]:
    try:
        await deliveries.send_test(get_hub(request), name)
    except (PartnerError, ConfigError) as exc:
        raise ApiError(502, "notifier_failed", f"channel {name}: {exc}", field="name") from exc
    return {"channel": name, "sent": True}


@router.get("/api/v1/reminders/unpaid", summary="Unpaid orders due for a reminder (催付)", response_model=None,
            responses={200: {"description": "The list as JSON, or as CSV with ``format=csv``.",
                             "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                                         "text/csv": {"schema": {"type": "string"}}}}})
async def unpaid(request: Request, format: str = Query("json", pattern="^(json|csv)$"),
                 principal: Principal = Depends(read)) -> Response | list[dict[str, Any]]:
    rows = await reminders.due(get_hub(request), datetime.now(UTC), principal)
    if format == "csv":
        return PlainTextResponse(reminders.to_csv(rows), media_type="text/csv",
                                 headers={"content-disposition": 'attachment; filename="unpaid-reminders.csv"'})
    return [{**vars(row), "amount": f"{row.amount:.2f}"} for row in rows]


@router.post("/api/v1/reminders/unpaid/{order_id}/done", summary="Record that the buyer was reminded")
async def reminded(request: Request, order_id: RowId, principal: Principal = Depends(read)) -> dict[str, Any]:
    await reminders.mark_done(get_hub(request), order_id, principal.actor, principal)
    return {"order_id": order_id, "reminded_by": principal.actor}
