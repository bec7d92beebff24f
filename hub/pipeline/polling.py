"""Polling with overlapping windows: the safety net under pushes and message channels.

Each run reads ``[last_end - overlap, now]`` in chunks no longer than the connector allows
(TOP: one day), pages through each chunk and hands every order to the inbox keyed by
(order id, modification time, status) — so an order seen by TMC and by the poll is processed as one
observation more, never as a second order. The cursor (end of the last completed window) is
stored per shop only after the window's messages are durably in the inbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from contracts.events import InboundMessage, MessageKind
from hub.context import Hub
from hub.db.shop_state import DbShopState
from hub.services.intake import accept_messages, poll_message_id

log = structlog.get_logger(__name__)

CURSOR_KEY = "poll.orders.last_end"
FIRST_LOOKBACK = timedelta(hours=1)
MAX_PAGES_PER_RUN = 200


def windows(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into consecutive windows no longer than ``max_span``."""
    out = []
    cursor = start
    while cursor < end:
        stop = min(cursor + max_span, end)
        out.append((cursor, stop))
        cursor = stop
    return out


async def poll_shop_orders(hub: Hub, shop: str, *, now: datetime | None = None) -> int:
    """Run one poll of ``shop``; returns how many new inbox rows it produced."""
    config = hub.config.shops[shop]
    connector = hub.accounts().channel(shop)
    state = DbShopState(hub.database(), f"channel:{shop}")
    now = now or datetime.now(UTC)
    raw = await state.get(CURSOR_KEY)
    last_end = datetime.fromisoformat(raw) if raw else now - FIRST_LOOKBACK
    start = last_end - timedelta(seconds=config.poll_overlap_s)
    max_span = timedelta(seconds=float(getattr(connector, "max_poll_window_s", 86_400)))
    new_rows = 0
    pages = 0
    for win_start, win_end in windows(start, now, max_span):
        cursor: str | None = None
        while True:
            page = await connector.fetch_orders(win_start, win_end, cursor)
            pages += 1
            messages = [
                InboundMessage(
                    message_id=poll_message_id(shop, o.ref.external_id, o.updated_at, o.raw_status),
                    kind=MessageKind.ORDER,
                    topic="poll",
                    external_id=o.ref.external_id,
                    occurred_at=o.updated_at,
                    order=o,
                )
                for o in page.orders
            ]
            # An order the plugin could not map must not block the poll: it becomes a trigger
            # message, whose fetch fails the same way and lands in dead letters with the reason
            # (replayable once the plugin is fixed).
            messages += [
                InboundMessage(message_id=f"poll-rejected:{shop}:{external_id}", kind=MessageKind.ORDER,
                               topic="poll", external_id=external_id, payload={"rejected": reason})
                for external_id, reason in page.rejected.items()
            ]
            if page.rejected:
                log.error("poll.rejected", shop=shop, orders=sorted(page.rejected))
            new_rows += len(
                await accept_messages(hub, platform=config.platform, shop=shop, source="poll", messages=messages)
            )
            cursor = page.next_cursor
            if cursor is None:
                break
            if pages >= MAX_PAGES_PER_RUN:
                log.warning("poll.truncated", shop=shop, pages=pages, window_end=win_end.isoformat())
                await state.set(CURSOR_KEY, win_start.isoformat())
                return new_rows
        await state.set(CURSOR_KEY, win_end.isoformat())
    log.info("poll.done", shop=shop, pages=pages, new=new_rows)
    return new_rows
