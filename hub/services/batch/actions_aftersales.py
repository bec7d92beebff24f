"""The after-sales batch action: one decision (approve a refund, refuse, agree a return…) on many
cases, each written back to its platform by ``hub.services.aftersales.decisions`` as one by one.

Not for rules that decide cases unattended (``hub.services.aftersales.rules``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleAction
from hub.api.auth import Permission
from hub.db.tables import AfterSaleRow
from hub.errors import BadInputError, NotFoundError
from hub.services.access.scope import shop_condition
from hub.services.aftersales import decisions
from hub.services.batch.registry import ItemOutcome, batch_action
from hub.services.batch.scope import not_found

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub


class DecideParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: AfterSaleAction = Field(description="The decision taken on every case (approve_refund, refuse…).")
    refund_amount: Decimal | None = Field(default=None, gt=0, description="Partial refunds only: the amount.")
    reason_id: str | None = Field(default=None, max_length=100, description="The platform's refuse reason id.")
    reason_text: str | None = Field(default=None, max_length=500, description="Why (refusals).")
    remark: str | None = Field(default=None, max_length=500)


@batch_action("decide_aftersales", Permission.ORDERS_WRITE, DecideParams,
              "Take one decision on each after-sale case, written back to its platform.",
              item="aftersale", own_transactions=True)
async def decide_aftersales(session: AsyncSession, hub: Hub, ids: Sequence[int], params: BaseModel,
                            principal: Principal) -> dict[int, ItemOutcome]:
    """A chunk run again decides nothing twice: the decision's key is the case's version, as for the API."""
    assert isinstance(params, DecideParams)
    seen = set((await session.execute(select(AfterSaleRow.id).where(
        AfterSaleRow.id.in_(sorted(set(ids))), shop_condition(AfterSaleRow.shop, principal)))).scalars())
    out = not_found(ids, seen, "case")
    decision = decisions.DecisionIn(action=params.action.value, refund_amount=params.refund_amount,
                                    reason_id=params.reason_id, reason_text=params.reason_text, remark=params.remark)
    for case_id in sorted(seen):
        try:
            outcome = await decisions.decide(hub, case_id, decision, actor=principal.actor, cause="api")
        except (NotFoundError, BadInputError, decisions.CaseConflictError) as exc:
            out[case_id] = ItemOutcome(False, str(exc))
            continue
        if outcome.state == decisions.FAILED:
            out[case_id] = ItemOutcome(False, f"the platform never answered: {outcome.note}; decide again")
        elif outcome.state == decisions.PENDING:
            out[case_id] = ItemOutcome(True, "decided; the write-back waits for a retry")
        else:
            out[case_id] = ItemOutcome(True, f"{params.action.value}: {outcome.status}"
                                             + (" (already decided)" if outcome.repeated else ""))
    return out
