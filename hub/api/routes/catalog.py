"""What is installed and configured: plugins (with their connectors and capabilities) and shops
(with their run-time status, e.g. paused by the circuit breaker and why).

Not for changing either: plugins come from the environment, shops from the config file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from hub.api.auth import Permission, require
from hub.api.deps import get_hub
from hub.api.models import PluginOut, ShopOut

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
    out = []
    for name, shop in sorted(hub.config.shops.items()):
        cls = hub.plugins.channel_class(shop.platform)
        state = statuses.get(name)
        out.append(
            ShopOut(
                name=name,
                platform=shop.platform,
                enabled=shop.enabled,
                capabilities=sorted(str(c) for c in getattr(cls, "capabilities", ())) if cls else [],
                connector_installed=cls is not None,
                status=getattr(state, "status", None) or "unknown",
                paused_reason=getattr(state, "paused_reason", None),
                paused_until=getattr(state, "paused_until", None),
            )
        )
    return out
