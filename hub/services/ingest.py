"""Turns stored inbox rows into canonical orders, after-sales and service orders, a batch at a time.

``process_inbox_rows`` is what the worker runs for the inbox ids that ``hub.services.intake``
enqueued. Not for storing messages (``hub.services.intake``), parsing partner formats (connectors
do that) nor for order rules (``hub.services.orders``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog

from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind
from hub import metrics
from hub.context import Hub
from hub.db import inbox, shops
from hub.errors import AuthorizationError, BadInputError, PermanentError, RetryableError, ShopPausedError
from hub.services import aftersales, orders
from hub.services.intake import PROCESS_ACTOR, accept_messages, poll_message_id
from hub.services.shop_health import partner_call

__all__ = ["PROCESS_ACTOR", "BatchOutcome", "accept_messages", "poll_message_id", "process_inbox_rows"]

log = structlog.get_logger(__name__)

#: Inbox attempts after which a message goes to dead letters instead of being retried again.
MAX_INBOX_ATTEMPTS = 8
#: How many objects of one batch are fetched and applied at the same time.
BATCH_CONCURRENCY = 8
#: How long a message for a paused shop waits before it is looked at again.
PAUSED_RETRY_S = 30.0


@dataclass
class BatchOutcome:
    done: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    retry_after: float | None = None


@dataclass
class _Work:
    """Inbox rows that one fetch-and-apply settles: one row, or several triggers for one object."""

    row_ids: list[int]
    message: InboundMessage
    shop: str
    platform: str
    source: str

    @property
    def first(self) -> int:
        return self.row_ids[0]


TRIGGER_KINDS = (MessageKind.ORDER, MessageKind.AFTERSALE, MessageKind.SERVICE_ORDER)


async def _plan(hub: Hub, row_ids: list[int]) -> list[_Work]:
    """Load the batch's open rows; triggers about the same object (TradeCreate and TradeBuyerPay
    of one trade) share one fetch and one apply — half the partner calls on a busy day."""
    work: list[_Work] = []
    by_object: dict[tuple[str, str, str, str], _Work] = {}
    async with hub.database().session() as session:
        for row_id in dict.fromkeys(row_ids):
            row = await inbox.get(session, row_id)
            if row is None or row.status in ("done", "dead"):
                continue
            message = inbox.load_message(row)
            is_trigger = message.kind in TRIGGER_KINDS and message.order is None and message.aftersale is None \
                and message.service_order is None and message.external_id
            key = (row.shop, row.platform, message.kind.value, message.external_id or "")
            if is_trigger and key in by_object:
                by_object[key].row_ids.append(row_id)
                continue
            item = _Work([row_id], message, row.shop, row.platform, row.source)
            work.append(item)
            if is_trigger:
                by_object[key] = item
    return work


async def _mark_done(session: Any, work: _Work) -> None:
    for row_id in work.row_ids:
        await inbox.mark_done(session, row_id)


async def _process(hub: Hub, work: _Work) -> None:
    """Fetch (for a trigger) and apply one object; marks the work's rows done. Raises partner errors."""
    database = hub.database()
    message, shop, source = work.message, work.shop, work.source
    if message.kind in TRIGGER_KINDS and message.order is None:
        async with database.session() as session:
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
            result = await orders.apply_order(session, order, cause=source, inbox_id=work.first)
            await _mark_done(session, work)
        metrics.ORDERS_CHANGED.labels(work.platform, result.change.value).inc()
        log.info("order.ingested", order_id=result.order_id, shop=shop, change=result.change.value,
                 status=result.new_status.value, inbox_ids=work.row_ids)
    elif message.kind is MessageKind.AFTERSALE:
        case = message.aftersale
        if case is None:
            async with partner_call(hub, shop, "get after-sale"):
                case = await hub.accounts().channel(shop).get_aftersale(message.external_id or "")
        async with database.transaction() as session:
            await aftersales.apply_aftersale(session, case, cause=source)
            await _mark_done(session, work)
    elif message.kind is MessageKind.SERVICE_ORDER:
        job = message.service_order
        if job is None:
            async with partner_call(hub, shop, "get service order"):
                job = await hub.accounts().channel(shop).get_service_order(message.external_id or "")
        async with database.transaction() as session:
            await aftersales.apply_service_order(session, job, cause=source)
            await _mark_done(session, work)
    else:
        async with database.transaction() as session:
            await _mark_done(session, work)


async def process_inbox_rows(hub: Hub, row_ids: list[int]) -> BatchOutcome:
    """Process a batch, several objects at a time: one bad message never blocks the others.

    A retryable failure counts an attempt on the inbox row (so a message that keeps killing its
    worker cannot loop forever) and is returned for a delayed retry; a permanent one, or one out
    of attempts, is marked dead and returned for dead-lettering with its raw payload kept.
    Concurrent work on one order is safe: the order service locks the order's row.
    """
    outcome = BatchOutcome()
    limit = asyncio.Semaphore(BATCH_CONCURRENCY)

    async def run(work: _Work) -> None:
        async with limit:
            await _settle(hub, work, outcome)

    await asyncio.gather(*(run(work) for work in await _plan(hub, row_ids)))
    return outcome


async def _settle(hub: Hub, work: _Work, outcome: BatchOutcome) -> None:
    database = hub.database()
    try:
        await _process(hub, work)
        outcome.done.extend(work.row_ids)
    except (AuthorizationError, ShopPausedError) as exc:
        # The shop must be re-authorised (or its breaker is open): keep the messages for when it
        # is resumed, without spending their attempts.
        async with database.transaction() as session:
            for row_id in work.row_ids:
                await inbox.mark_failed(session, row_id, _safe(exc), dead=False)
        outcome.retry.extend(work.row_ids)
        outcome.retry_after = max(outcome.retry_after or 0.0, PAUSED_RETRY_S)
        log.warning("inbox.shop_paused", inbox_ids=work.row_ids, error=_safe(exc))
    except (PermanentError, BadInputError) as exc:
        async with database.transaction() as session:
            for row_id in work.row_ids:
                await inbox.bump_attempts(session, row_id)
                await inbox.mark_failed(session, row_id, _safe(exc), dead=True)
        outcome.dead.extend(work.row_ids)
        log.error("inbox.dead", inbox_ids=work.row_ids, error=_safe(exc))
    except Exception as exc:  # retryable partner faults and bugs: counted, retried, bounded
        if not isinstance(exc, RetryableError):
            log.exception("inbox.unexpected_error", inbox_ids=work.row_ids)
        async with database.transaction() as session:
            for row_id in work.row_ids:
                attempts = await inbox.bump_attempts(session, row_id)
                dead = attempts >= MAX_INBOX_ATTEMPTS
                await inbox.mark_failed(session, row_id, _safe(exc), dead=dead)
                (outcome.dead if dead else outcome.retry).append(row_id)
        wait = getattr(exc, "retry_after", None)
        if wait is not None:
            outcome.retry_after = max(outcome.retry_after or 0.0, float(wait))
        log.warning("inbox.retry", inbox_ids=work.row_ids, error=_safe(exc))


def _safe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
