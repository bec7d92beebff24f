"""What is installed and configured: plugins (with their connectors and capabilities) and shops
(with their run-time status, e.g. paused by the circuit breaker and why), and resuming a paused
shop once its cause is fixed (an admin re-authorised it).

Not for changing either list: plugins come from the environment, shops from the config file.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request

from contracts.connectors import Capability
from hub.api.auth import Permission, Principal, authenticate, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import MessageChannelOut, PluginOut, ShopOut
from hub.api.params import PathText
from hub.services import message_channel, shop_health

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
    """Each shop with a status that is ``active`` only when everything it needs works (see
    ``ShopOut.status``), the reason otherwise, its message channel and its last poll."""
    from hub.db import shops as shop_rows

    hub = get_hub(request)
    async with hub.database().session() as session:
        statuses = _statuses_by_name(await shop_rows.all_shop_statuses(session))
    channels = await message_channel.all_states(hub)
    polls = await shop_health.all_poll_records(hub)
    return [_shop_out(hub, name, statuses.get(name), channels.get(name), polls.get(name))
            for name in sorted(hub.config.shops)]


def _shop_out(hub: Any, name: str, state: Any, channel: message_channel.ChannelState | None = None,
              poll: shop_health.PollRecord | None = None) -> ShopOut:
    shop = hub.config.shops[name]
    cls = hub.plugins.channel_class(shop.platform)
    capabilities: frozenset[Capability] = getattr(cls, "capabilities", frozenset()) if cls else frozenset()
    needs_channel = Capability.MESSAGE_CHANNEL in capabilities
    condition = shop_health.shop_condition(
        enabled=shop.enabled, installed=cls is not None, paused=getattr(state, "status", None) == "paused",
        paused_reason=getattr(state, "paused_reason", None),
        known=state is not None or channel is not None or poll is not None,
        needs_channel=needs_channel, channel=channel, poll=poll)
    return ShopOut(
        name=name,
        platform=shop.platform,
        enabled=shop.enabled,
        capabilities=sorted(str(c) for c in capabilities),
        connector_installed=cls is not None,
        status=condition.status,
        status_reason=condition.reason,
        paused_reason=getattr(state, "paused_reason", None),
        paused_until=getattr(state, "paused_until", None),
        message_channel=(MessageChannelOut(**(channel or message_channel.ChannelState()).out())
                         if needs_channel else None),
        last_poll_ok_at=poll.last_ok_at if poll else None,
        last_poll_error=poll.last_error if poll else None,
        last_poll_error_at=poll.last_error_at if poll else None,
    )


async def _admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.may(Permission.SHOPS_MANAGE):
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not resume shops; it needs: admin")
    return principal


@router.post("/shops/{shop}/resume", response_model=ShopOut, summary="Resume a paused shop (admin)")
async def resume_shop(request: Request, shop: PathText, principal: Principal = Depends(_admin)) -> ShopOut:
    """Mark the shop active again, once its cause is fixed (e.g. the merchant re-authorised the app).

    Its message channel is opened again (TOP: permitted for the new session) before it is consumed,
    and polls run again at their next interval (the channel kept its messages; the poll cursor did
    not move while paused); inbox messages that waited for the shop
    are sent to the workers now, and so is the stock that could not be pushed meanwhile. Who
    resumed it is kept in the audit log (``GET /api/v1/audit?action=shop.resumed``).
    """
    from hub.services.shop_resume import resume_shop as resume

    hub = get_hub(request)
    if shop not in hub.config.shops or not principal.sees_shop(shop):
        raise ApiError(404, "not_found", f"no shop named {shop!r} in the configuration")
    outcome = await resume(hub, shop, actor=principal.actor, reason="resumed by an admin")
    channels = await message_channel.all_states(hub)
    polls = await shop_health.all_poll_records(hub)
    return _shop_out(hub, shop, outcome.status, channels.get(shop), polls.get(shop))
