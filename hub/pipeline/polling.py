"""Polling with overlapping windows: the safety net under pushes and message channels.

Each run reads ``[last_end - overlap, now]`` in chunks no longer than the connector allows
(TOP: one day), pages through each chunk and hands every order to the inbox keyed by
(order id, modification time, status) — so an order seen by TMC and by the poll is processed as one
observation more, never as a second order. The window start (``poll.orders.last_end``: the end of
the last completed window) moves only after all of a window's pages are durably in the inbox.

A run reads at most ``MAX_PAGES_PER_RUN`` pages. A window with more pages than that (a promotion
night: 10,000 orders at 50 a page) is *carried over*: after every page accepted into the inbox, the
window, the connector's (opaque) cursor for the next page, the cursor of the page just read and the
ids on it are stored (``poll.orders.window``); the next run resumes that window — the same window,
so the cursors keep their meaning — before it goes on from the window's end (minus the overlap, as
between any two runs).

Between two runs the list may shift: an order read already is modified again and leaves the
window, moving the orders behind it one place forward — onto pages already read, for a connector
that pages forwards (page numbers from 1 or 0: AliExpress, Douyin). So a resumed window first reads
its last page again: that takes in what shifted by up to a page. If that page now holds none of the
orders it held, the list moved further and orders may have slipped past: the window is read again
from its first page, once (orders already stored are skipped by the inbox). TOP pages from the last
page backwards, which such a shift cannot break; the re-read costs it one page per resumed run.

Not for reading single orders (``get_order``) or deciding what an order means (``hub.services``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind, OrderPage
from hub import metrics
from hub.context import Hub
from hub.db.shop_state import DbShopState
from hub.errors import BadInputError
from hub.services.intake import accept_messages, poll_message_id

log = structlog.get_logger(__name__)

CURSOR_KEY = "poll.orders.last_end"
WINDOW_KEY = "poll.orders.window"
FIRST_LOOKBACK = timedelta(hours=1)
MAX_PAGES_PER_RUN = 200


def shops_with(hub: Any, capability: Capability) -> list[str]:
    """The enabled shops whose connector declares ``capability`` (what a periodic poll runs for)."""
    found: list[str] = []
    for name, shop in hub.config.shops.items():
        cls = hub.plugins.channel_class(shop.platform) if shop.enabled else None
        if cls is not None and capability in cls.capabilities:
            found.append(name)
    return found


def windows(start: datetime, end: datetime, max_span: timedelta) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into consecutive windows no longer than ``max_span``."""
    out = []
    cursor = start
    while cursor < end:
        stop = min(cursor + max_span, end)
        out.append((cursor, stop))
        cursor = stop
    return out


@dataclass
class Window:
    """A poll window being read: its bounds, the cursor of its next page (``None``: the first) and,
    for a window carried over, how many runs have read it and how many pages in all."""

    start: datetime
    end: datetime
    cursor: str | None = None
    runs: int = 1
    pages: int = 0
    last_cursor: str | None = None  # the cursor the last page read was asked with
    last_ids: tuple[str, ...] = ()  # the orders on that page (external ids)
    restarted: bool = False  # read again from its first page after the list moved by over a page
    stored: bool = False  # whether a cursor of this window is in shop state (to drop when done)

    def dump(self) -> str:
        return json.dumps({"start": self.start.isoformat(), "end": self.end.isoformat(), "cursor": self.cursor,
                           "runs": self.runs, "pages": self.pages, "last_cursor": self.last_cursor,
                           "last_ids": list(self.last_ids), "restarted": self.restarted})

    @classmethod
    def load(cls, raw: str | None) -> Window | None:
        """The carried-over window in ``raw``; ``None`` when there is none or it is unreadable (the
        poll then goes on from ``last_end``, which never passed this window's start)."""
        if not raw:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
            cursor, last_cursor = data["cursor"], data.get("last_cursor")
            return cls(start=datetime.fromisoformat(data["start"]), end=datetime.fromisoformat(data["end"]),
                       cursor=None if cursor is None else str(cursor), runs=int(data.get("runs", 1)),
                       pages=int(data.get("pages", 0)), last_cursor=None if last_cursor is None else str(last_cursor),
                       last_ids=tuple(str(i) for i in data.get("last_ids") or ()),
                       restarted=bool(data.get("restarted")), stored=True)
        except (ValueError, TypeError, KeyError):
            log.error("poll.window_unreadable", value_chars=len(raw))
            return None


class _Run:
    """One poll run of one shop: the page budget it has left and what it stored."""

    def __init__(self, hub: Hub, shop: str) -> None:
        self.hub = hub
        self.shop = shop
        self.platform = hub.config.shops[shop].platform
        self.connector = hub.accounts().channel(shop)
        self.state = DbShopState(hub.database(), f"channel:{shop}")
        self.pages = 0
        self.new_rows = 0

    async def read(self, window: Window, *, resumed: bool = False) -> bool:
        """Page through ``window`` from its cursor until it is done (``True``: the window start has
        moved to its end) or the run's page budget is spent (``False``: the window, if begun, is
        carried over to the next run). A ``resumed`` window first reads its last page again."""
        if resumed and not await self._reread_last_page(window):
            return False
        while True:
            if self.pages >= MAX_PAGES_PER_RUN:
                if window.cursor is not None:
                    metrics.POLL_WINDOWS_CARRIED.labels(self.platform).inc()
                    log.warning("poll.window_carried_over", shop=self.shop, window_start=window.start.isoformat(),
                                window_end=window.end.isoformat(), runs=window.runs, pages=window.pages)
                return False
            try:
                page = await self.connector.fetch_orders(window.start, window.end, window.cursor)
            except BadInputError as exc:
                if not resumed or window.cursor is None:
                    raise
                # A stored cursor this plugin no longer takes (say, after an upgrade) must not stop
                # the poll for good: read the window again from its first page.
                log.warning("poll.stored_cursor_refused", shop=self.shop, reason=str(exc))
                window.cursor = None
                continue
            resumed = False
            self.new_rows += await self._accept(page)
            window.pages += 1
            if page.next_cursor is None:
                done: dict[str, str | None] = {CURSOR_KEY: window.end.isoformat()}
                if window.stored:
                    done[WINDOW_KEY] = None
                await self.state.update(done)
                if window.runs > 1:
                    log.info("poll.window_done", shop=self.shop, window_start=window.start.isoformat(),
                             window_end=window.end.isoformat(), runs=window.runs, pages=window.pages)
                return True
            window.last_cursor, window.last_ids = window.cursor, _ids(page)
            window.cursor = page.next_cursor
            window.stored = True
            await self.state.set(WINDOW_KEY, window.dump())

    async def _reread_last_page(self, window: Window) -> bool:
        """Read a carried window's last page again, taking in what shifted onto it since; when it
        holds none of the orders it held (the list moved by more than a page), start the window
        again from its first page, once. ``False`` when the run's budget is spent."""
        if self.pages >= MAX_PAGES_PER_RUN:
            return False
        try:
            page = await self.connector.fetch_orders(window.start, window.end, window.last_cursor)
        except BadInputError as exc:
            log.warning("poll.stored_cursor_refused", shop=self.shop, reason=str(exc))
            page = None
        else:
            self.new_rows += await self._accept(page)
        if page is None or (window.last_ids and not set(window.last_ids) & set(_ids(page))):
            if window.restarted:
                log.error("poll.list_moved", shop=self.shop, window_start=window.start.isoformat(),
                          window_end=window.end.isoformat(), restarted=True)
            else:
                log.warning("poll.list_moved", shop=self.shop, window_start=window.start.isoformat(),
                            window_end=window.end.isoformat(), restarted=False)
                window.cursor, window.restarted = None, True
        return True

    async def _accept(self, page: OrderPage) -> int:
        """Hand a page's orders to the inbox; how many new rows that made."""
        self.pages += 1
        shop = self.shop
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
        return len(await accept_messages(self.hub, platform=self.platform, shop=shop, source="poll",
                                         messages=messages))


def _ids(page: OrderPage) -> tuple[str, ...]:
    return (*(o.ref.external_id for o in page.orders), *page.rejected)


async def poll_shop_orders(hub: Hub, shop: str, *, now: datetime | None = None) -> int:
    """Run one poll of ``shop``; returns how many new inbox rows it produced."""
    config = hub.config.shops[shop]
    run = _Run(hub, shop)
    now = now or datetime.now(UTC)
    saved = await run.state.get_many([CURSOR_KEY, WINDOW_KEY])
    carried = Window.load(saved.get(WINDOW_KEY))
    if carried is not None:
        carried.runs += 1
        log.info("poll.window_resumed", shop=shop, window_start=carried.start.isoformat(),
                 window_end=carried.end.isoformat(), runs=carried.runs, pages=carried.pages)
        if not await run.read(carried, resumed=True):
            return run.new_rows
        last_end = carried.end
    else:
        raw = saved.get(CURSOR_KEY)
        last_end = datetime.fromisoformat(raw) if raw else now - FIRST_LOOKBACK
    start = last_end - timedelta(seconds=config.poll_overlap_s)
    max_span = timedelta(seconds=float(getattr(run.connector, "max_poll_window_s", 86_400)))
    for win_start, win_end in windows(start, now, max_span):
        if not await run.read(Window(win_start, win_end)):
            return run.new_rows
    log.info("poll.done", shop=shop, pages=run.pages, new=run.new_rows)
    return run.new_rows
