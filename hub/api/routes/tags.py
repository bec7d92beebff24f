"""User tags over HTTP: list, create, recolour, delete (``tags.manage``); attach a tag to an order
and detach it (``orders.triage``). An order of a shop the caller may not see answers 404.

The logic is ``hub.services.search.tags``; every attach and detach is written to the order's
history, attributed to the caller. Not for the channel's own tags (read-only in the order).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.params import PathText, RowId
from hub.errors import NotFoundError
from hub.services.search import tags as tag_service
from hub.services.search.triage import visible_orders

router = APIRouter(tags=["tags"])


class TagOut(BaseModel):
    name: str
    colour: str = Field(description="#rrggbb")
    description: str = ""
    orders: int = Field(default=0, description="How many orders carry it.")


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    colour: str = Field(default=tag_service.DEFAULT_COLOUR, description="#rrggbb")
    description: str = Field(default="", max_length=200)


class TagPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colour: str | None = Field(default=None, description="#rrggbb")
    description: str | None = Field(default=None, max_length=200)


class OrderTagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(min_length=1, max_length=40, description="The user tag's name (it must exist).")


class OrderTagsOut(BaseModel):
    order_id: int
    user_tags: list[TagOut]
    changed: bool = Field(description="False when the order already had (or did not have) the tag.")


def _out(view: tag_service.TagView) -> TagOut:
    return TagOut(name=view.name, colour=view.colour, description=view.description, orders=view.orders)


@router.get("/api/v1/tags", response_model=list[TagOut], summary="Every user tag, with how many orders carry it")
async def get_tags(request: Request, _: Principal = Depends(require(Permission.ORDERS_READ))) -> list[TagOut]:
    async with get_hub(request).database().session() as session:
        return [_out(t) for t in await tag_service.list_tags(session)]


@router.post("/api/v1/tags", response_model=TagOut, status_code=201, summary="Create a user tag")
async def post_tag(request: Request, body: TagIn,
                   principal: Principal = Depends(require(Permission.TAGS_MANAGE))) -> TagOut:
    async with get_hub(request).database().transaction() as session:
        return _out(await tag_service.create_tag(session, body.name, colour=body.colour,
                                                 description=body.description, actor=principal.actor))


@router.patch("/api/v1/tags/{name}", response_model=TagOut, summary="Recolour or re-describe a user tag")
async def patch_tag(request: Request, name: PathText, body: TagPatch,
                    _: Principal = Depends(require(Permission.TAGS_MANAGE))) -> TagOut:
    async with get_hub(request).database().transaction() as session:
        return _out(await tag_service.update_tag(session, name, colour=body.colour, description=body.description))


@router.delete("/api/v1/tags/{name}", status_code=204, summary="Delete a user tag (and take it off every order)")
async def delete_tag(request: Request, name: PathText,
                     _: Principal = Depends(require(Permission.TAGS_MANAGE))) -> Response:
    async with get_hub(request).database().transaction() as session:
        await tag_service.delete_tag(session, name)
    return Response(status_code=204)


async def _order_tags(session: AsyncSession, order_id: int, changed: bool) -> OrderTagsOut:
    tags = (await tag_service.tags_of(session, [order_id])).get(order_id, [])
    return OrderTagsOut(order_id=order_id, user_tags=[_out(t) for t in tags], changed=changed)


@router.post("/api/v1/orders/{order_id}/tags", response_model=OrderTagsOut, summary="Put a user tag on an order")
async def post_order_tag(request: Request, order_id: RowId, body: OrderTagIn,
                         principal: Principal = Depends(require(Permission.ORDERS_TRIAGE))) -> OrderTagsOut:
    async with get_hub(request).database().transaction() as session:
        if not await visible_orders(session, [order_id], principal):
            raise NotFoundError(f"order {order_id} does not exist")
        added = await tag_service.attach(session, body.tag, [order_id], actor=principal.actor)
        return await _order_tags(session, order_id, bool(added))


@router.delete("/api/v1/orders/{order_id}/tags/{name}", response_model=OrderTagsOut,
               summary="Take a user tag off an order")
async def delete_order_tag(request: Request, order_id: RowId, name: PathText,
                           principal: Principal = Depends(require(Permission.ORDERS_TRIAGE))) -> OrderTagsOut:
    async with get_hub(request).database().transaction() as session:
        if not await visible_orders(session, [order_id], principal):
            raise NotFoundError(f"order {order_id} does not exist")
        removed = await tag_service.detach(session, name, [order_id], actor=principal.actor)
        return await _order_tags(session, order_id, bool(removed))
