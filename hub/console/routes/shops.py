"""The shops screen: every configured shop with its health as ``GET /api/v1/shops`` reports it (status
and why, pause, message channel, last poll), its circuit breaker and its authorisation; a Resume
button for admins on a paused shop and a listing-sync button for those who may edit the catalogue.

The list, the resume and the sync call the API's own route functions with the signed-in person as
the principal, so checks, audit entries and errors are exactly the API's. The cards refresh
themselves every few seconds (htmx), so a resumed shop is seen coming back without reloading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.connectors import Capability
from hub.api.auth import Permission
from hub.api.errors import ApiError
from hub.api.models import ShopOut
from hub.api.routes.catalog import list_shops, resume_shop
from hub.api.routes.listings import SyncOut, sync_listings
from hub.console.auth import (
    ConsolePrincipal,
    check_form,
    console_principal,
    require_right,
)
from hub.console.pages import api_error_page, error_page, render, translator, write_session
from hub.context import Hub
from hub.db import audit
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services import shop_health

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/console/shops")
REFRESH_S = 5


@dataclass(frozen=True)
class ShopCard:
    """One shop as the screen shows it: the API's view plus its breaker and authorisation."""

    shop: ShopOut
    breaker_open: bool
    breaker_reason: str | None
    breaker_until: datetime | None
    #: lost (paused until someone re-authorises) | code (authorised with a code, token refreshed
    #: by the hub) | config (credentials from the configuration) | none (no connector)
    authorisation: str
    authorised_at: datetime | None

    @property
    def can_sync(self) -> bool:
        return self.shop.enabled and Capability.LIST_LISTINGS.value in self.shop.capabilities


def _authorisation(shop: ShopOut) -> str:
    if not shop.connector_installed:
        return "none"
    if shop.status == "paused" and shop.paused_reason and shop.paused_until is None:
        return "lost"
    return "code" if Capability.AUTHORIZE.value in shop.capabilities else "config"


async def shop_cards(request: Request) -> list[ShopCard]:
    """Every configured shop, in name order, as the API lists them."""
    hub: Hub = request.app.state.hub
    shops = await list_shops(request)
    async with hub.database().session() as db:
        authorised = await audit.latest_times(db, "shop.authorized")
    cards = []
    for shop in shops:
        state = await shop_health.breaker(hub, shop.name).state()
        cards.append(ShopCard(
            shop=shop, breaker_open=state.open, breaker_reason=state.reason,
            breaker_until=datetime.fromtimestamp(state.until, UTC) if state.until else None,
            authorisation=_authorisation(shop), authorised_at=authorised.get(f"shop:{shop.name}")))
    return cards


async def _page(request: Request, *, status: int = 200, **context: Any) -> Response:
    return render(request, "shops.html", {"cards": await shop_cards(request), "refresh_s": REFRESH_S,
                                          "now": datetime.now(UTC), **context}, status=status)


@router.get("", include_in_schema=False)
async def shops_page(request: Request, resumed: str | None = None,
                     principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.SHOPS_READ)
    hub: Hub = request.app.state.hub
    return await _page(request, resumed=resumed if resumed in hub.config.shops else None)


@router.get("/cards", include_in_schema=False)
async def shop_cards_fragment(request: Request) -> Response:
    """Just the cards, for the page's periodic refresh. Once the session ended, htmx is told to take
    the whole page to sign in (``HX-Redirect``, ``hub.console.pages``), never to swap the sign-in
    page in place of the cards."""
    principal = await console_principal(request)
    require_right(principal, Permission.SHOPS_READ)
    return render(request, "_shop_cards.html", {"cards": await shop_cards(request), "refresh_s": REFRESH_S,
                                                "now": datetime.now(UTC)})


@router.post("/{shop}/resume", include_in_schema=False)
async def resume(request: Request, shop: str) -> Response:
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.SHOPS_MANAGE)
    try:
        await resume_shop(request, shop, principal)
    except ApiError as exc:
        return api_error_page(request, exc)
    target = "/console/shops?" + urlencode({"resumed": shop})
    return write_session(request, RedirectResponse(target, status_code=303))


@router.post("/{shop}/listings/sync", include_in_schema=False)
async def sync(request: Request, shop: str) -> Response:
    """Pull the shop's listings and bind them by merchant code, then show what happened."""
    await check_form(request)
    principal = await console_principal(request)
    require_right(principal, Permission.CATALOGUE_WRITE)
    hub: Hub = request.app.state.hub
    t = translator(request)
    if shop not in hub.config.shops:
        return error_page(request, t.t("error.not_found", detail=shop), status=404)
    try:
        report: SyncOut = await sync_listings(request, shop, None, principal)
    except (NotFoundError, BadInputError) as exc:
        return await _page(request, status=409, sync_error=t.t("shops.sync_failed", shop=shop, detail=str(exc)))
    except HubError as exc:  # the platform failed, or the shop waits for its breaker (ShopPausedError)
        log.info("console.listing_sync_failed", shop=shop, error_class=type(exc).__name__)
        return await _page(request, status=502, sync_error=t.t("shops.sync_failed", shop=shop, detail=str(exc)))
    return await _page(request, synced=report)
