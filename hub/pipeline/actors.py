"""The hub's actors: thin functions that receive ids and call services.

Every actor has an explicit retry budget (dramatiq's default of 20 retries over weeks is never
left in place) and a queue by concern — ``channels`` for polls and message-channel intake,
``ingest`` for turning stored messages into orders (``webhooks`` for what pushes stored), ``stock``
for stock pushes, ``fulfilment``, ``bulk`` for imports — so a backlog in one never delays another:
taking TMC messages in does not wait behind a backlog of orders being processed (a worker keeps
threads of its own for ``channels``, ``hub.queue.runtime.HubWorker``), and while that backlog is
over ``[queue] inbox_backlog_limit`` intake holds back instead of growing it (``hub.services.backlog``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from contracts.connectors import Capability
from contracts.orders import OrderStatus
from hub import metrics
from hub.context import current_hub
from hub.db import inbox
from hub.db import shops as shop_rows
from hub.errors import AuthorizationError, ShopPausedError
from hub.pipeline.polling import poll_shop_orders
from hub.queue.actors import hub_actor
from hub.services import backlog, message_channel
from hub.services.ingest import process_inbox_rows
from hub.services.intake import PROCESS_ACTOR, accept_messages
from hub.services.shop_health import partner_call, record_poll, run_recorded

log = structlog.get_logger(__name__)

CONSUME_BUDGET_S = 0.9
CONSUME_BATCH = backlog.MAX_BATCH_IDS  # messages per consume call, so ids per processing message


async def _guard_shop(shop: str) -> None:
    """Raise ShopPausedError when the shop is paused (authorisation lost, breaker open)."""
    hub = current_hub()
    async with hub.database().session() as session:
        status = await shop_rows.shop_status(session, shop)
    if status is not None and status.status == "paused":
        raise ShopPausedError(shop, status.paused_reason or "paused")


async def _skip_paused(shop: str, job: str) -> bool:
    """True (and logged) when a periodic job should not run because the shop is paused.

    The leader sends these jobs again every interval: putting the message back as well would
    add one more circulating message per interval for as long as the shop stays paused.
    """
    try:
        await _guard_shop(shop)
    except ShopPausedError as exc:
        log.info("shop.skipped", shop=shop, job=job, reason=exc.reason)
        return True
    return False


@hub_actor(queue="ingest", max_retries=5, min_backoff_ms=500, max_backoff_ms=60_000, name=PROCESS_ACTOR)
async def process_inbox_batch(inbox_ids: list[int], force: bool = False) -> None:
    """Turn stored inbox rows into canonical orders/after-sales; retry or dead-letter failures."""
    hub = current_hub()
    if force:
        async with hub.database().transaction() as session:
            await inbox.reset_many(session, inbox_ids)
    outcome = await process_inbox_rows(hub, inbox_ids)
    if outcome.retry:
        delay_s = max(outcome.retry_after or 0.0, 1.0)
        hub.send(PROCESS_ACTOR, outcome.retry, delay_ms=int(delay_s * 1000))
    if outcome.dead:
        async with hub.database().transaction() as session:
            recorded = await inbox.dead_letter(session, outcome.dead, actor=PROCESS_ACTOR, queue="ingest")
        metrics.DEAD_LETTERS.labels(PROCESS_ACTOR).inc(recorded)


#: What webhooks stored: the same work as ``process_inbox_batch``, on the ``webhooks`` queue
#: (``hub.services.backlog.processing_actor``), so pushes and TMC batches take turns on a worker.
hub_actor(queue="webhooks", max_retries=5, min_backoff_ms=500, max_backoff_ms=60_000,
          name=backlog.PUSH_PROCESS_ACTOR)(process_inbox_batch)


@hub_actor(queue="channels", priority=-10, max_retries=3, min_backoff_ms=5_000, max_backoff_ms=120_000)
async def poll_shop(shop: str) -> None:
    """Poll one shop's orders over an overlapping window (leader-scheduled; skipped while paused,
    and while the inbox backlog is over its limit: the next poll starts from the stored cursor, so
    nothing is skipped for good)."""
    if await _skip_paused(shop, "poll_shop"):
        return
    if await backlog.over_limit(current_hub()):
        return
    hub = current_hub()
    await run_recorded(hub, shop, "poll", lambda: poll_shop_orders(hub, shop), record_poll)


@hub_actor(queue="channels", priority=-10, max_retries=3, min_backoff_ms=1_000, max_backoff_ms=30_000)
async def consume_channel(shop: str) -> None:
    """Drain a shop's message channel (e.g. TMC) for a short while; confirm only what is stored.
    Skipped while the shop is paused: the channel keeps its messages until the shop is resumed.
    The channel is opened first (``open_message_channel``, e.g. TMC's permit) and never consumed
    while it is not open: a failed opening waits out its backoff, shown in ``/api/v1/shops``.
    Opening is not intake, so it happens even while the inbox backlog is over ``[queue]
    inbox_backlog_limit`` (the platform keeps the account's messages from then on); nothing is
    taken then: the messages wait at the partner (unconfirmed ones are redelivered), shown as
    ``held_since``."""
    if await _skip_paused(shop, "consume_channel"):
        return
    hub = current_hub()
    config = hub.config.shops[shop]
    connector = hub.accounts().channel(shop)
    channel = await message_channel.ensure_open(hub, shop, connector)
    if channel is None:
        return  # not open (the reason and the next attempt are recorded); the leader sends again
    if await backlog.over_limit(hub):
        await message_channel.record_held(hub, shop, channel, True)
        return
    await message_channel.record_held(hub, shop, channel, False)
    deadline = time.monotonic() + CONSUME_BUDGET_S
    try:
        async with partner_call(hub, shop, "message channel"):
            await _drain(hub, shop, config.platform, connector, deadline)
    except AuthorizationError as exc:
        await message_channel.record_intake_failure(hub, shop, exc)
        return  # the shop is paused with the reason; retrying cannot help
    except Exception as exc:
        await message_channel.record_intake_failure(hub, shop, exc)
        raise
    await message_channel.record_intake(hub, shop, channel)


async def _drain(hub: Any, shop: str, platform: str, connector: Any, deadline: float) -> None:
    """Take at most ``CONSUME_BATCH`` messages at a time until ``deadline``, the channel runs dry or
    the backlog goes over its limit; each batch is stored (one inbox transaction, one queue message
    of at most ``CONSUME_BATCH`` ids) before it is confirmed.

    The partner round trips overlap the inbox commits: the next batch is taken while the current
    one is being stored, and a batch's confirmation runs while the next one is stored. A batch is
    still confirmed only after its own inbox commit; what was taken but not stored (a failure, a
    cancelled take) is not confirmed, so the channel delivers it again."""
    if await backlog.over_limit(hub):
        return
    messages = await connector.consume_messages(CONSUME_BATCH)
    taking: asyncio.Future[Any] | None = None
    confirming: asyncio.Future[Any] | None = None
    try:
        while messages:
            more = (len(messages) >= CONSUME_BATCH // 2 and time.monotonic() < deadline
                    and not await backlog.over_limit(hub))
            if more:
                taking = asyncio.ensure_future(connector.consume_messages(CONSUME_BATCH))
            await accept_messages(hub, platform=platform, shop=shop, source="message_channel", messages=messages)
            # Confirm after the inbox commit: a crash before this line means redelivery, not loss.
            if confirming is not None:
                await confirming
            confirming = asyncio.ensure_future(connector.confirm_messages([m.message_id for m in messages]))
            if taking is None:
                break
            messages, taking = await taking, None
    finally:
        if taking is not None:
            taking.cancel()  # taken, never stored: not confirmed, so delivered again
            await asyncio.gather(taking, return_exceptions=True)
        if confirming is not None:
            await confirming  # its batch is stored either way: unconfirmed, it comes again as a duplicate


@hub_actor(queue="default", priority=-15, max_retries=5)
async def order_changed(order_id: int, old_status: str | None, new_status: str, cause: str) -> None:
    """After an order change commits: notify plugins, then drive stock and audit."""
    from hub.services import order_flow

    hub = current_hub()
    await order_flow.after_order_change(hub, order_id, old_status, OrderStatus(new_status), cause)


@hub_actor(queue="default", max_retries=5)
async def order_hold_released(order_id: int) -> None:
    from hub.services import order_flow

    await order_flow.after_hold_released(current_hub(), order_id)


@hub_actor(queue="default", max_retries=5)
async def aftersale_changed(aftersale_id: int, order_id: int | None, status: str, cause: str,
                            outbox_id: int | None = None) -> None:
    """Tell the plugins, run the after-sales rules (``hub.services.aftersales.rules``); then mark the
    outbox row done (``outbox_id``, when the relay sent it)."""
    from hub.services import sweepers
    from hub.services.aftersales import rules

    hub = current_hub()
    hub.plugins.hook.aftersale_changed(aftersale_id=aftersale_id, order_id=order_id, status=status)
    await rules.after_change(hub, aftersale_id, status, cause)
    await sweepers.acknowledge(hub, outbox_id)


def shop_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) for each periodic job the configured shops need."""
    jobs: list[tuple[str, float, str, tuple[Any, ...]]] = []
    for name, shop in hub.config.shops.items():
        if not shop.enabled:
            continue
        cls = hub.plugins.channel_class(shop.platform)
        if cls is None:
            continue
        if Capability.MESSAGE_CHANNEL in cls.capabilities:
            jobs.append((f"consume:{name}", 1.0, "consume_channel", (name,)))
        if Capability.POLL_ORDERS in cls.capabilities:
            jobs.append((f"poll:{name}", shop.poll_interval_s, "poll_shop", (name,)))
    return jobs
