"""The triage batch actions over many orders: ``tag``, ``untag``, ``set_priority`` and ``hold``.

Each runs in the batch's transaction (one per chunk) with one statement per table for the whole
chunk, and answers one ``ItemOutcome`` per id: an order of a shop the caller may not see (or that
does not exist) is refused as "not found"; the rest are done, also when already so (running a
chunk again changes nothing). Registered with ``hub.services.batch.registry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import Permission
from hub.services.batch.registry import ItemOutcome, batch_action
from hub.services.search import tags, triage

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub


class TagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(min_length=1, max_length=40, description="The user tag's name (it must exist).")


class PriorityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=triage.MIN_PRIORITY, le=triage.MAX_PRIORITY)
    reason: str | None = Field(default=None, max_length=500)


class HoldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


def _outcomes(ids: Sequence[int], visible: set[int], changed: Sequence[int], unchanged: str) -> dict[int, ItemOutcome]:
    done = set(changed)
    return {i: (ItemOutcome(True, "" if i in done else unchanged) if i in visible else ItemOutcome(False, "not found"))
            for i in ids}


@batch_action("tag", Permission.ORDERS_TRIAGE, TagParams, "Put a user tag on the orders")
async def tag_orders(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                     principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, TagParams)
    visible = await triage.visible_orders(session, ids, principal)
    added = await tags.attach(session, params.tag, sorted(visible), actor=principal.actor, cause="batch")
    return _outcomes(ids, visible, added, "had the tag already")


@batch_action("untag", Permission.ORDERS_TRIAGE, TagParams, "Take a user tag off the orders")
async def untag_orders(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                       principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, TagParams)
    visible = await triage.visible_orders(session, ids, principal)
    removed = await tags.detach(session, params.tag, sorted(visible), actor=principal.actor, cause="batch")
    return _outcomes(ids, visible, removed, "did not have the tag")


@batch_action("set_priority", Permission.ORDERS_TRIAGE, PriorityParams, "Set the orders' priority (-9..9)")
async def prioritise_orders(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                            principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, PriorityParams)
    visible = await triage.visible_orders(session, ids, principal)
    changed = await triage.set_priority(session, sorted(visible), params.priority, actor=principal.actor,
                                        reason=params.reason, cause="batch")
    return _outcomes(ids, visible, changed, "had that priority already")


@batch_action("hold", Permission.ORDERS_TRIAGE, HoldParams, "Hold the orders by hand (code manual), with a reason")
async def hold_orders(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                      principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, HoldParams)
    visible = await triage.visible_orders(session, ids, principal)
    held = await triage.hold_orders(session, sorted(visible), reason=params.reason, actor=principal.actor,
                                    cause="batch")
    return _outcomes(ids, visible, held, "was held by hand already")
