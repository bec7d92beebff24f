"""Console users over HTTP (``users.manage``: admins who see every shop): list them and change
which shops one is limited to (``PATCH``), as ``PATCH /api/v1/api-keys/{prefix}`` does for keys.

Adding users and their passwords stay with the console and ``hub user`` (a password is typed by
a person, not sent by a script). The change is audit-logged (``user.shops_changed``) and applies
at the user's next request. Limiting the last active admin user of every shop is refused (409):
nobody could manage users from the console afterwards (``hub user shops NAME --force`` can).
Not for the store's rules (``hub.db.users``).
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import UserOut
from hub.api.params import PathText
from hub.api.routes.api_keys import checked_shops
from hub.db import users

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/users", tags=["users"])
manager = require(Permission.USERS_MANAGE)


class UserChange(BaseModel):
    shops: list[str] | None = Field(max_length=200, description="Limit the user to these configured shops; "
                                                                "null lifts the limit (every shop).")


@router.get("", response_model=list[UserOut], summary="Every console user (never a password)",
            dependencies=[Depends(manager)])
async def list_users(request: Request) -> list[UserOut]:
    async with get_hub(request).database().session() as session:
        rows = await users.list_users(session)
    return [UserOut.model_validate(row, from_attributes=True) for row in rows]


@router.patch("/{name}", response_model=UserOut, summary="Change which shops a user is limited to")
async def change_user(request: Request, name: PathText, body: UserChange,
                      principal: Principal = Depends(manager)) -> UserOut:
    """Limit the user to ``shops`` or, with ``null``, to none (every shop); 422 naming
    ``body.shops`` for a shop not configured, 404 for an unknown user, 409 for the last admin."""
    shops = checked_shops(request, body.shops)
    try:
        async with get_hub(request).database().transaction() as session:
            row = await users.set_shops(session, name, shops, actor=principal.actor)
            if row is None:
                raise ApiError(404, "not_found", f"no user named {name!r}")
            out = UserOut.model_validate(row, from_attributes=True)
    except users.LastAdminUserError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    log.info("user.shops_changed", user=name, by=principal.actor)
    return out
