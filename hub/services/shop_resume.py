"""Resuming a paused shop, once its cause is fixed: the one way a shop comes back, whether an admin
asks for it (``POST /api/v1/shops/{shop}/resume``) or authorising the shop ends a pause that was
for its authorisation (``hub.services.shop_authorization``).

Marks the shop active and records who did it and what pause it ended (``audit_log``) in one
transaction; then its message channel is opened again before the next intake, the inbox messages
that waited for the shop go to the workers and its stock is scheduled for a push. Not for pausing
(``hub.services.shop_health``) nor for the breaker's own cooldown, which ends by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import select

from hub.context import Hub
from hub.db import audit
from hub.db import shops as shop_rows
from hub.db.shops import ShopStatus
from hub.db.tables import InboxRow
from hub.services.stock.scheduling import schedule_push

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ResumeOutcome:
    #: False when nothing was resumed (``only_if_paused_for_authorisation`` and another pause).
    resumed: bool
    #: The shop's status after the call (None for a shop the status table does not know yet).
    status: ShopStatus | None
    #: Inbox messages sent to the workers again.
    inbox_resent: int = 0


async def resume_shop(hub: Hub, shop: str, *, actor: str, reason: str,
                      only_if_paused_for_authorisation: bool = False) -> ResumeOutcome:
    """Resume ``shop`` on behalf of ``actor`` (``reason`` says why, for the audit log).

    With ``only_if_paused_for_authorisation`` only a pause with no end time (a lost authorisation)
    is ended; a shop paused by the circuit breaker keeps its cooldown, an active one is left alone.
    The caller checks the shop is configured.
    """
    from hub.services import message_channel
    from hub.services.backlog import id_batches
    from hub.services.intake import PROCESS_ACTOR

    async with hub.database().transaction() as session:
        before = await shop_rows.shop_status(session, shop)
        if only_if_paused_for_authorisation and (
                before is None or not before.paused or before.paused_until is not None):
            return ResumeOutcome(False, before)
        await shop_rows.resume_shop(session, shop)
        waiting = list((await session.execute(select(InboxRow.id).where(
            InboxRow.shop == shop, InboxRow.status == "failed").order_by(InboxRow.id))).scalars())
        await audit.record(session, actor=actor, action="shop.resumed", subject=f"shop:{shop}", details={
            "reason": reason,
            "was_paused": bool(before and before.paused),
            "paused_reason": before.paused_reason if before and before.paused else None,
            "inbox_resent": len(waiting),
        })
        after = await shop_rows.shop_status(session, shop)
    # A resume usually follows a re-authorisation: the new session must be permitted again.
    await message_channel.request_reopen(hub, shop)
    if waiting and hub.runtime is not None:
        for batch in id_batches(waiting):  # bounded messages, however many rows failed
            hub.send(PROCESS_ACTOR, batch)
    await schedule_push(hub, [shop], delay_ms=0)
    log.info("shop.resumed", shop=shop, actor=actor, reason=reason, inbox_resent=len(waiting))
    return ResumeOutcome(True, after, len(waiting))
