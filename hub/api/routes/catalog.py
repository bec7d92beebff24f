"""What is installed and configured: plugins (with their connectors and capabilities) and shops
(with their run-time status, e.g. paused by the circuit breaker and why), and resuming a paused
shop once its cause is fixed (an admin re-authorised it).

Not for changing either list: plugins come from the environment, shops from the config file.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request

from hub.api.auth import Permission, Principal, authenticate, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import PluginOut, ShopOut
from hub.api.params import PathText

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/plugins", response_model=list[PluginOut], summary="Installed plugins, their hooks and connectors",
            dependencies=[Depends(require(Permission.PLUGINS_READ))])
async def list_plugins(request: Request) -> list[PluginOut]:
    return [PluginOut.model_validate(row) for row in get_hub(request).plugins.describe()]


def _statuses_by_name(found: Any) -> dict[str, Any]:
    if isinstance(found, dict):
        return dict(found)
    return {str(getattr(row, "name", "")): row for row in found or []}


@router.get("/shops", response_model=list[ShopOut], summary="Configured shops and their run-time status",
            dependencies=[Depends(require(Permission.SHOPS_READ))])
async def list_shops(request: Request) -> list[ShopOut]:
    from hub.db import shops as shop_rows

    hub = get_hub(request)
    async with hub.database().session() as session:
        statuses = _statuses_by_name(await shop_rows.all_shop_statuses(session))
    return [_shop_out(hub, name, statuses.get(name)) for name in sorted(hub.config.shops)]


def _shop_out(hub: Any, name: str, state: Any) -> ShopOut:
    shop = hub.config.shops[name]
    cls = hub.plugins.channel_class(shop.platform)
    return ShopOut(
        name=name,
        platform=shop.platform,
        enabled=shop.enabled,
        capabilities=sorted(str(c) for c in getattr(cls, "capabilities", ())) if cls else [],
        connector_installed=cls is not None,
        status=getattr(state, "status", None) or "unknown",
        paused_reason=getattr(state, "paused_reason", None),
        paused_until=getattr(state, "paused_until", None),
    )


async def _admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if principal.role != "admin":
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not resume shops; it needs: admin")
    return principal


@router.post("/shops/{shop}/resume", response_model=ShopOut, summary="Resume a paused shop (admin)")
async def resume_shop(request: Request, shop: PathText, principal: Principal = Depends(_admin)) -> ShopOut:
    """Mark the shop active again, once its cause is fixed (e.g. the merchant re-authorised the app).

    Its message channel and polls run again at their next interval (the channel kept its
    messages; the poll cursor did not move while paused); inbox messages that waited for the shop
    are sent to the workers now, and so is the stock that could not be pushed meanwhile.
    """
    from sqlalchemy import select

    from hub.db import shops as shop_rows
    from hub.db.tables import InboxRow
    from hub.services.ingest import PROCESS_ACTOR
    from hub.services.stock_sync import schedule_push

    hub = get_hub(request)
    if shop not in hub.config.shops:
        raise ApiError(404, "not_found", f"no shop named {shop!r} in the configuration")
    async with hub.database().transaction() as session:
        await shop_rows.resume_shop(session, shop)
        waiting = list((await session.execute(select(InboxRow.id).where(
            InboxRow.shop == shop, InboxRow.status == "failed").order_by(InboxRow.id))).scalars())
        state = await shop_rows.shop_status(session, shop)
    if waiting and hub.runtime is not None:
        hub.send(PROCESS_ACTOR, waiting)
    await schedule_push(hub, [shop], delay_ms=0)
    log.info("shop.resumed", shop=shop, actor=principal.actor, inbox_resent=len(waiting))
    return _shop_out(hub, shop, state)
