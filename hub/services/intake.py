"""The one entry of every event source: store messages in the inbox, then hand them to workers.

Pushes (webhooks), message channels (TMC), polls and manual imports all call
``accept_messages``: one inbox transaction per batch (unique per platform, shop and message id, so
a redelivered message is dropped here), then one queue message per batch carrying inbox ids, never
payloads. What the worker does with those ids is ``hub.services.ingest``. Not for parsing partner
formats (connectors do that) nor for order rules (``hub.services.orders``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from contracts.events import InboundMessage, MessageKind
from hub import metrics
from hub.context import Hub
from hub.db import inbox
from hub.services.backlog import processing_actor

log = structlog.get_logger(__name__)

#: The actor that turns stored inbox rows into orders (``hub.pipeline.actors.process_inbox_batch``).
PROCESS_ACTOR = "process_inbox_batch"


async def accept_messages(
    hub: Hub, *, platform: str, shop: str, source: str, messages: list[InboundMessage]
) -> list[int]:
    """Record ``messages`` durably and enqueue them; returns the ids of the new inbox rows.

    Messages already in the inbox (same platform, shop and message id) are skipped silently: that is
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
        # The broker's client is synchronous (a Redis round trip): keep it off the event loop.
        await asyncio.to_thread(hub.send, processing_actor(source), ids)
    log.debug("inbox.recorded", platform=platform, shop=shop, source=source, received=len(storable), new=len(ids))
    return ids


def poll_message_id(shop: str, external_id: str, updated_at: datetime, raw_status: str = "") -> str:
    """Inbox key for an object seen by a poll: one row per (object, modification time, status).

    The status is part of the key because platform modification times can be coarse (TOP gives
    whole seconds): a trade paid in the second it was created is a second observation, not a
    repeat of the first, or a shop that only polls would never see the payment.
    """
    stamp = int(updated_at.astimezone(UTC).timestamp() * 1000)
    return f"poll:{shop}:{external_id}:{stamp}:{raw_status}" if raw_status else f"poll:{shop}:{external_id}:{stamp}"
