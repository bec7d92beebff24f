"""The plugins screen: what is installed (``GET /api/v1/plugins``), each plugin's hooks and
connectors with their capabilities, and which configured shops, couriers and warehouses use each
connector. Read-only: plugins come from the environment, accounts from the config file.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.api.auth import Permission
from hub.api.routes.catalog import list_plugins
from hub.config import AccountConfig
from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.pages import render
from hub.context import Hub

router = APIRouter(prefix="/console/plugins")


def accounts_by_connector(hub: Hub) -> dict[tuple[str, str], list[str]]:
    """(kind, platform) → the configured accounts of that kind on that platform, by name."""
    sections: dict[str, Mapping[str, AccountConfig]] = {
        "channel": hub.config.shops, "courier": hub.config.couriers, "warehouse": hub.config.warehouses}
    found: dict[tuple[str, str], list[str]] = {}
    for kind, accounts in sections.items():
        for name in sorted(accounts):
            found.setdefault((kind, accounts[name].platform), []).append(name)
    return found


@router.get("", include_in_schema=False)
async def plugins_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.PLUGINS_READ)
    hub: Hub = request.app.state.hub
    plugins = await list_plugins(request)
    return render(request, "plugins.html", {"plugins": plugins, "used_by": accounts_by_connector(hub)})
