"""The batch actions ``approve_edits`` and ``reject_edits`` over order-edit ids (``item="edit"``):
each edit gets its own outcome; approved edits' write-back goes out with the periodic retry
(``hub.pipeline.order_edits``). Not for single decisions (``approvals.decide``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import Permission
from hub.services.batch.registry import ItemOutcome, batch_action
from hub.services.order_edits import approvals

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub


class ApproveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=approvals.NOTE_MAX)


class RejectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=approvals.NOTE_MAX, description="Why the edits are rejected.")


async def _run(session: AsyncSession, hub: Hub, ids: Sequence[int], *, approve: bool, note: str | None,
               principal: Principal) -> dict[int, ItemOutcome]:
    decisions = await approvals.decide_edits(session, hub, ids, approve=approve, actor=principal.actor, note=note,
                                             principal=principal)
    return {i: ItemOutcome(o.ok, o.message) for i, o in decisions.outcomes.items()}


@batch_action("approve_edits", Permission.ORDERS_APPROVE, ApproveParams,
              "Approve the money changes waiting for approval (not your own)", item="edit")
async def approve_edits(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                        principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, ApproveParams)
    return await _run(session, hub, ids, approve=True, note=params.note, principal=principal)


@batch_action("reject_edits", Permission.ORDERS_APPROVE, RejectParams,
              "Reject the money changes waiting for approval, with a note", item="edit")
async def reject_edits(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                       principal: Principal) -> dict[int, ItemOutcome]:
    assert isinstance(params, RejectParams)
    return await _run(session, hub, ids, approve=False, note=params.note, principal=principal)
