"""Notification rules and their delivery log at ``/console/notifications`` (channels, rules, the log
with status, resend and a test button per channel); unpaid-order reminders (催付) at
``/console/reminders`` (the list, mark one reminded, the CSV export).

Thin: the same services as the API (``hub.services.notifications``); the log and the reminder list
are limited to the signed-in person's shops.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import render, with_notice, write_session
from hub.context import Hub
from hub.errors import ConfigError, PartnerError
from hub.services.notifications import channels, deliveries, reminders

router = APIRouter(include_in_schema=False)
READ, MANAGE = Permission.NOTIFICATIONS_READ, Permission.NOTIFICATIONS_MANAGE


@router.get("/console/notifications")
async def notifications_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    status = request.query_params.get("status") or None
    if status not in (None, *deliveries.STATUSES):
        status = None
    rows = await deliveries.listing(hub, principal, status=status, limit=200)
    return render(request, "notifications/notifications.html", {
        "channels": channels.describe(hub), "section": hub.config.notifications, "deliveries": rows,
        "statuses": deliveries.STATUSES, "status": status, "may_manage": principal.may(MANAGE),
        "done": request.query_params.get("done"), "problem": request.query_params.get("problem"),
    })


@router.post("/console/notifications/deliveries/{delivery_id}/resend")
async def resend_from_form(request: Request, delivery_id: int) -> Response:
    _, principal = await checked_form(request, MANAGE)
    hub: Hub = request.app.state.hub
    await deliveries.resend(hub, delivery_id, principal.actor, principal)
    await deliveries.send_one(hub, delivery_id)
    return write_session(request, RedirectResponse(with_notice("/console/notifications", done="resent"),
                                                   status_code=303))


@router.post("/console/notifications/channels/{name}/test")
async def test_from_form(request: Request, name: str) -> Response:
    await checked_form(request, MANAGE)
    hub: Hub = request.app.state.hub
    try:
        await deliveries.send_test(hub, name)
    except (PartnerError, ConfigError) as exc:
        target = with_notice("/console/notifications", problem=f"{name}: {exc}"[:300])
    else:
        target = with_notice("/console/notifications", done="tested")
    return write_session(request, RedirectResponse(target, status_code=303))


@router.get("/console/reminders")
async def reminders_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    rows = await reminders.due(request.app.state.hub, datetime.now(UTC), principal)
    return render(request, "notifications/reminders.html", {
        "rows": rows, "done": request.query_params.get("done"),
        "after": request.app.state.hub.config.notifications.unpaid_reminder_after_minutes,
    })


@router.get("/console/reminders.csv")
async def reminders_csv(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    rows = await reminders.due(request.app.state.hub, datetime.now(UTC), principal)
    return PlainTextResponse(reminders.to_csv(rows), media_type="text/csv",
                             headers={"content-disposition": 'attachment; filename="unpaid-reminders.csv"'})


@router.post("/console/reminders/{order_id}/done")
async def reminded_from_form(request: Request, order_id: int) -> Response:
    _, principal = await checked_form(request, READ)
    await reminders.mark_done(request.app.state.hub, order_id, principal.actor, principal)
    return write_session(request, RedirectResponse(with_notice("/console/reminders", done=str(order_id)),
                                                   status_code=303))
