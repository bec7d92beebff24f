"""User tags at ``/console/tags``: every tag with its colour and how many orders carry it; create,
recolour and delete (``tags.manage``). The same service as ``/api/v1/tags``
(``hub.services.search.tags``); bad input names its field on the error page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, checked_form, console_principal
from hub.console.pages import render, write_session
from hub.context import Hub
from hub.services.search import tags as tag_service

router = APIRouter(prefix="/console/tags", include_in_schema=False)


def _back(request: Request, done: str, name: str) -> Response:
    return write_session(request, RedirectResponse(f"/console/tags?{done}={quote(name)}", status_code=303))


@router.get("")
async def tags_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        found = await tag_service.list_tags(db)
    notices = {k: request.query_params.get(k) for k in ("created", "updated", "deleted")}
    return render(request, "ops/tags.html", {"tags": found, "default_colour": tag_service.DEFAULT_COLOUR,
                                             "notices": {k: v for k, v in notices.items() if v}})


@router.post("")
async def create(request: Request) -> Response:
    form, principal = await checked_form(request, Permission.TAGS_MANAGE)
    hub: Hub = request.app.state.hub
    async with hub.database().transaction() as db:
        view = await tag_service.create_tag(db, form.get("name", ""), colour=form.get("colour", ""),
                                            description=form.get("description", ""), actor=principal.actor)
    return _back(request, "created", view.name)


@router.post("/{name}")
async def update(request: Request, name: str) -> Response:
    form, _ = await checked_form(request, Permission.TAGS_MANAGE)
    hub: Hub = request.app.state.hub
    async with hub.database().transaction() as db:
        view = await tag_service.update_tag(db, name, colour=form.get("colour") or None,
                                            description=form.get("description"))
    return _back(request, "updated", view.name)


@router.post("/{name}/delete")
async def delete(request: Request, name: str) -> Response:
    await checked_form(request, Permission.TAGS_MANAGE)
    hub: Hub = request.app.state.hub
    async with hub.database().transaction() as db:
        await tag_service.delete_tag(db, name)
    return _back(request, "deleted", name)
