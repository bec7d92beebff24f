"""The one entry of every event source: store messages in the inbox, then hand them to workers.

Pushes (webhooks), message channels (TMC), polls and manual imports all call
``accept_messages``: one inbox transaction per batch (unique per platform and message id, so a
redelivered message is dropped here), then one queue message per batch carrying inbox ids, never
payloads. ``process_inbox_rows`` is what the worker runs for those ids. Not for parsing partner
formats (connectors do that) nor for order rules (``hub.services.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind
from hub import metrics
from hub.context import Hub
from hub.db import inbox
from hub.errors import AuthorizationError, BadInputError, PermanentError, RetryableError, ShopPausedError
from hub.services import aftersales, orders
from hub.services.shop_health import partner_call

log = structlog.get_logger(__name__)

#: Inbox attempts after which a message goes to dead letters instead of being retried again.
MAX_INBOX_ATTEMPTS = 8
#: How long a message for a paused shop waits before it is looked at again.
PAUSED_RETRY_S = 30.0
PROCESS_ACTOR = "process_inbox_batch"


async def accept_messages(
    hub: Hub, *, platform: str, shop: str, source: str, messages: list[InboundMessage]
) -> list[int]:
    """Record ``messages`` durably and enqueue them; returns the ids of the new inbox rows.

    Messages already in the inbox (same platform and message id) are skipped silently: that is
    how at-least-once delivery from partners becomes exactly-once processing. Pings are never
    stored. Returns only after the inbox transaction committed, so a caller may acknowledge the
    partner (TMC confirm, HTTP 200) as soon as this returns.
    """
    storable = [m for m in messages if m.kind is not MessageKind.PING]
    if not storable:
        return []
    async with hub.database().transaction() as session:
        ids = await inbox.record_messages(session, platform=platform, shop=shop, source=source, messages=storable)
    for message in storable:
        metrics.MESSAGES_INGESTED.labels(platform, source, message.kind.value).inc()
    if ids and hub.runtime is not None:
        hub.send(PROCESS_ACTOR, ids)
    log.info("inbox.recorded", platform=platform, shop=shop, source=source, received=len(storable), new=len(ids))
    return ids


@dataclass
class BatchOutcome:
    done: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    retry_after: float | None = None


async def _process_one(hub: Hub, row_id: int) -> str:
    """Process one inbox row; returns 'done' or 'skipped'. Raises partner/hub errors."""
    database = hub.database()
    async with database.session() as session:
        row = await inbox.get(session, row_id)
        if row is None or row.status in ("done", "dead"):
            return "skipped"
        message = inbox.load_message(row)
        shop, platform, source = row.shop, row.platform, row.source
        if message.order is None and message.kind in (MessageKind.ORDER, MessageKind.AFTERSALE,
                                                      MessageKind.SERVICE_ORDER):
            from hub.db import shops

            status = await shops.shop_status(session, shop)
            if status is not None and status.paused:
                raise ShopPausedError(shop, status.paused_reason or "paused")

    if message.kind is MessageKind.ORDER:
        order = message.order
        if order is None:
            connector = hub.accounts().channel(shop)
            if Capability.GET_ORDER not in connector.capabilities:
                raise PermanentError(f"shop {shop!r}: message {message.message_id} needs get_order, unsupported")
            async with partner_call(hub, shop, "get order"):
                order = await connector.get_order(message.external_id or "")
        async with database.transaction() as session:
            result = await orders.apply_order(session, order, cause=source, inbox_id=row_id)
            await inbox.mark_done(session, row_id)
        metrics.ORDERS_CHANGED.labels(platform, result.change.value).inc()
        log.info("order.ingested", order_id=result.order_id, shop=shop, change=result.change.value,
                 status=result.new_status.value, inbox_id=row_id)
    elif message.kind is MessageKind.AFTERSALE:
        case = message.aftersale
        if case is None:
            async with partner_call(hub, shop, "get after-sale"):
                case = await hub.accounts().channel(shop).get_aftersale(message.external_id or "")
        async with database.transaction() as session:
            await aftersales.apply_aftersale(session, case, cause=source)
            await inbox.mark_done(session, row_id)
    elif message.kind is MessageKind.SERVICE_ORDER:
        work = message.service_order
        if work is None:
            async with partner_call(hub, shop, "get service order"):
                work = await hub.accounts().channel(shop).get_service_order(message.external_id or "")
        async with database.transaction() as session:
            await aftersales.apply_service_order(session, work, cause=source)
            await inbox.mark_done(session, row_id)
    else:
        async with database.transaction() as session:
            await inbox.mark_done(session, row_id)
    return "done"


async def process_inbox_rows(hub: Hub, row_ids: list[int]) -> BatchOutcome:
    """Process a batch message by message: one bad message never blocks the others.

    A retryable failure counts an attempt on the inbox row (so a message that keeps killing its
    worker cannot loop forever) and is returned for a delayed retry; a permanent one, or one out
    of attempts, is marked dead and returned for dead-lettering with its raw payload kept.
    """
    outcome = BatchOutcome()
    database = hub.database()
    for row_id in row_ids:
        try:
            await _process_one(hub, row_id)
            outcome.done.append(row_id)
        except (AuthorizationError, ShopPausedError) as exc:
            # The shop must be re-authorised: pause it (visible in the API) and keep the message
            # for when it is resumed, without spending its attempts.
            async with database.transaction() as session:
                await inbox.mark_failed(session, row_id, _safe(exc), dead=False)
            outcome.retry.append(row_id)
            outcome.retry_after = max(outcome.retry_after or 0.0, PAUSED_RETRY_S)
            log.warning("inbox.shop_paused", inbox_id=row_id, error=_safe(exc))
        except (PermanentError, BadInputError) as exc:
            async with database.transaction() as session:
                await inbox.bump_attempts(session, row_id)
                await inbox.mark_failed(session, row_id, _safe(exc), dead=True)
            outcome.dead.append(row_id)
            log.error("inbox.dead", inbox_id=row_id, error=_safe(exc))
        except Exception as exc:  # retryable partner faults, paused shops, and bugs: counted, retried, bounded
            if not isinstance(exc, RetryableError):
                log.exception("inbox.unexpected_error", inbox_id=row_id)
            async with database.transaction() as session:
                attempts = await inbox.bump_attempts(session, row_id)
                dead = attempts >= MAX_INBOX_ATTEMPTS
                await inbox.mark_failed(session, row_id, _safe(exc), dead=dead)
            (outcome.dead if dead else outcome.retry).append(row_id)
            wait = getattr(exc, "retry_after", None)
            if wait is not None:
                outcome.retry_after = max(outcome.retry_after or 0.0, float(wait))
            log.warning("inbox.retry", inbox_id=row_id, attempts=attempts, error=_safe(exc))
    return outcome


def _safe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def poll_message_id(shop: str, external_id: str, updated_at: datetime, raw_status: str = "") -> str:
    """Inbox key for an object seen by a poll: one row per (object, modification time, status).

    The status is part of the key because platform modification times can be coarse (TOP gives
    whole seconds): a trade paid in the second it was created is a second observation, not a
    repeat of the first, or a shop that only polls would never see the payment.
    """
    stamp = int(updated_at.astimezone(UTC).timestamp() * 1000)
    return f"poll:{shop}:{external_id}:{stamp}:{raw_status}" if raw_status else f"poll:{shop}:{external_id}:{stamp}"
