"""The audit log over HTTP (admin only): who created or revoked API keys, resumed or authorised
shops, replayed dead letters, added or changed console users — newest first, filtered, in cursor pages.

Read-only: entries are written by the services that do the actions (``hub.db.audit``). Not for an
order's history (``GET /api/v1/orders/{id}`` shows that).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hub.api.auth import Permission, require
from hub.api.deps import get_hub
from hub.db import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="apikey:<prefix>:<name> for the API (and the console signed in with a key), "
                                   "user:<name> for the console signed in as a user, cli:<user> for the CLI, "
                                   "hub for the hub.")
    action: str = Field(description="apikey.created, apikey.revoked, shop.resumed, shop.authorized, "
                                    "dead_letter.replayed, user.created, user.password_changed, "
                                    "user.deactivated, user.reactivated.")
    subject: str = Field(description="What it was done to: apikey:<prefix>, shop:<name>, dead_letter:<id>, "
                                     "user:<name>.")
    details: dict[str, Any]


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


@router.get("", response_model=AuditList, summary="The audit log, newest first, filtered and cursor-paginated",
            dependencies=[Depends(require(Permission.AUDIT_READ))])
async def list_audit(
    request: Request,
    actor: str | None = Query(None, max_length=100, description="Exactly this actor."),
    action: str | None = Query(None, max_length=50, description="Exactly this action, e.g. apikey.revoked."),
    subject: str | None = Query(None, max_length=200, description="Exactly this subject, e.g. shop:tb-flagship."),
    since: datetime | None = Query(None, description="At or after this time (ISO 8601 with a zone)."),
    until: datetime | None = Query(None, description="Before this time."),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=100, description="next_cursor from the previous page."),
) -> AuditList:
    filters = audit.AuditFilters(actor=actor, action=action, subject=subject, since=since, until=until)
    async with get_hub(request).database().session() as session:
        page = await audit.list_entries(session, filters, limit=limit, cursor=cursor)  # bad cursor → 400
    return AuditList(items=[AuditEntryOut.model_validate(row, from_attributes=True) for row in page.rows],
                     next_cursor=page.next_cursor)
