"""Authorising a shop over HTTP (admin only): ``POST /api/v1/shops/{shop}/authorize`` with the code
the platform gave the app when the merchant authorised it.

The same operation as ``hub shop authorize`` (``hub.services.shop_authorization``); the call is
logged with the admin key that made it. Not for resuming a shop paused for another reason
(``POST /api/v1/shops/{shop}/resume``).
"""

from __future__ import annotations

from datetime import datetime

import httpx
import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from hub.api.auth import Permission, Principal, authenticate
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.errors import AuthorizationError, RetryableError
from hub.services.access.owners import ensure_shop_named
from hub.services.shop_authorization import authorize_shop

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/shops", tags=["catalog"])


class AuthorizeShop(BaseModel):
    code: str = Field(min_length=1, max_length=512, description="The authorisation code the platform returned to "
                      "the app after the merchant authorised it (Douyin: valid 10 minutes, once).")


class ShopAuthorized(BaseModel):
    shop: str
    account_id: str = Field(description="The platform's id of the authorised shop.")
    account_name: str | None = None
    expires_at: datetime | None = Field(default=None, description="When the access token expires; the hub "
                                        "refreshes it before then by itself.")
    resumed: bool = Field(description="True when the shop had been paused for its authorisation and runs again.")
    authorized_by: str = Field(description="The API key that authorised it.")


async def _admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.may(Permission.SHOPS_MANAGE):
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not authorise shops; it needs: admin")
    return principal


@router.post("/{shop}/authorize", response_model=ShopAuthorized, summary="Authorise a shop with a code (admin)",
             responses={400: {"description": "The platform refused the code, or the shop is not authorised with "
                                             "codes (bad_input, with the reason)."},
                        404: {"description": "No enabled shop of that name (not_found)."},
                        502: {"description": "The platform could not be reached; try again (partner_unavailable)."}})
async def authorize(request: Request, shop: str, body: AuthorizeShop,
                    principal: Principal = Depends(_admin)) -> ShopAuthorized:
    """Exchange the code for the shop's tokens, then resume the shop if it was paused because its
    authorisation was lost (a breaker pause keeps its cooldown)."""
    ensure_shop_named(principal, shop)
    try:
        outcome = await authorize_shop(get_hub(request), shop, body.code, actor=principal.actor)
    except (RetryableError, AuthorizationError, httpx.HTTPError) as exc:
        raise ApiError(502, "partner_unavailable", f"shop {shop!r}: {exc or type(exc).__name__}") from exc
    found = outcome.authorization
    return ShopAuthorized(shop=shop, account_id=found.account_id, account_name=found.account_name,
                          expires_at=found.expires_at, resumed=outcome.resumed, authorized_by=outcome.actor)
