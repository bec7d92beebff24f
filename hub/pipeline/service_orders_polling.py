"""The work-card safety net: every ``[service_orders] poll_interval_s``, each enabled shop whose
connector lists service orders (``Capability.SERVICE_ORDERS``) is asked for the cards of
``[last_end - poll_overlap_s, now]``, in windows no longer than the connector allows
(``max_service_window_s``, 15 minutes by default: Tmall's ``querybyseller`` takes no more), and
every card is handed to the inbox keyed by (card id, modification time, status), so the overlap of
two windows stores nothing twice and a card already pushed changes nothing when the poll sees it
again (intake ignores a report that is not newer). The cursor (``poll.service_orders.last_end`` in
the shop's state) moves to a window's end once its cards are in the inbox; the first run looks back
a day.

A list filtered by creation time (Tmall's is) never shows an old card that changed, so each run
also reads again (``get_service_order``) up to ``REREAD_LIMIT`` open platform cards of the shop
that the hub has not seen change for longer than the overlap, least recently changed first, going
on from where the last run stopped (``poll.service_orders.reread_after``) and starting over once it
reached the end, so every stale card is read in turn however many there are; a card that did not
change gives the same inbox key and stores nothing, one the platform no longer knows is skipped.

Paused shops are skipped; partner faults count on the shop's breaker and a lost authorisation
pauses the shop, as for the order poll. How the last run went is kept under
``poll.service_orders.last_ok_at`` / ``last_error``. Not for applying cards
(``hub.services.service_orders.intake``, run by the inbox worker).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select

from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind
from contracts.service_orders import TERMINAL_SERVICE_STATUSES, ServiceOrder
from hub.context import Hub, current_hub
from hub.db.shop_state import DbShopState
from hub.db.tables import ServiceOrderRow
from hub.pipeline.actors import _skip_paused
from hub.pipeline.polling import shops_with, windows
from hub.plugin_api import NotFoundError
from hub.queue.actors import hub_actor
from hub.services.intake import accept_messages, poll_message_id
from hub.services.shop_health import run_recorded

log = structlog.get_logger(__name__)

ACTOR = "poll_service_orders"
CURSOR_KEY = "poll.service_orders.last_end"
OK_KEY = "poll.service_orders.last_ok_at"
ERROR_KEY = "poll.service_orders.last_error"
ERROR_AT_KEY = "poll.service_orders.last_error_at"
REREAD_KEY = "poll.service_orders.reread_after"
FIRST_LOOKBACK = timedelta(days=1)
#: The longest window when the connector declares none (``max_service_window_s``).
DEFAULT_MAX_SPAN = timedelta(seconds=900)
#: How many open cards one run reads again.
REREAD_LIMIT = 50


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """One ``poll_service_orders`` job per enabled shop whose connector lists service orders."""
    interval = float(hub.config.service_orders.poll_interval_s)
    return [(f"{ACTOR}:{name}", interval, ACTOR, (name,)) for name in shops_with(hub, Capability.SERVICE_ORDERS)]


def max_span(connector: Any) -> timedelta:
    """The longest window ``connector`` takes in one ``fetch_service_orders``."""
    seconds = getattr(connector, "max_service_window_s", None)
    return timedelta(seconds=float(seconds)) if seconds else DEFAULT_MAX_SPAN


def messages_of(shop: str, cards: list[ServiceOrder]) -> list[InboundMessage]:
    """The inbox messages of polled cards: one per (card, modification time, status)."""
    return [InboundMessage(message_id=poll_message_id(shop, f"service:{c.ref.external_id}", c.updated_at,
                                                      c.raw_status),
                           kind=MessageKind.SERVICE_ORDER, topic="poll", external_id=c.ref.external_id,
                           occurred_at=c.updated_at, service_order=c)
            for c in cards]


async def stale_open_cards(hub: Hub, shop: str, before: datetime, *, after: tuple[datetime, int] | None = None,
                           limit: int = REREAD_LIMIT) -> list[tuple[str, datetime, int]]:
    """(external id, last change, id) of up to ``limit`` open platform cards of ``shop`` last
    changed (as the platform reported) before ``before`` and after ``after`` (last change, id),
    least recently changed first."""
    stamp, row_id = ServiceOrderRow.channel_updated_at, ServiceOrderRow.id
    query = (select(ServiceOrderRow.external_id, stamp, row_id)
             .where(ServiceOrderRow.shop == shop, ServiceOrderRow.origin == "channel",
                    ServiceOrderRow.status.not_in([s.value for s in TERMINAL_SERVICE_STATUSES]), stamp < before)
             .order_by(stamp, row_id).limit(limit))
    if after is not None:
        query = query.where(or_(stamp > after[0], and_(stamp == after[0], row_id > after[1])))
    async with hub.database().session() as session:
        return [(str(e), t, int(i)) for e, t, i in (await session.execute(query)).all()]


async def reread_stale(hub: Hub, shop: str, connector: Any, state: DbShopState, before: datetime) -> list[ServiceOrder]:
    """Read again the next stale open cards of ``shop`` (``stale_open_cards`` from the stored
    place, which moves on, or back to the start once the end is reached)."""
    raw = await state.get(REREAD_KEY)
    after = None
    if raw:
        at, _, row_id = str(raw).rpartition("|")
        after = (datetime.fromisoformat(at), int(row_id))
    stale = await stale_open_cards(hub, shop, before, after=after)
    cards = []
    for external_id, _, _ in stale:
        try:
            cards.append(await connector.get_service_order(external_id))
        except NotFoundError:
            log.warning("service_orders.reread_gone", shop=shop, external_id=external_id)
    last = stale[-1] if len(stale) == REREAD_LIMIT else None
    await state.set(REREAD_KEY, f"{last[1].isoformat()}|{last[2]}" if last else "")
    return cards


async def poll_shop_service_orders(hub: Hub, shop: str, *, now: datetime | None = None) -> int:
    """Run one work-card poll of ``shop``; returns how many new inbox rows it produced."""
    config = hub.config.shops[shop]
    connector = hub.accounts().channel(shop)
    state = DbShopState(hub.database(), f"channel:{shop}")
    now = now or datetime.now(UTC)
    overlap = timedelta(seconds=float(hub.config.service_orders.poll_overlap_s))
    raw = await state.get(CURSOR_KEY)
    last_end = datetime.fromisoformat(raw) if raw else now - FIRST_LOOKBACK
    new = cards = 0
    for win_start, win_end in windows(last_end - overlap, now, max_span(connector)):
        found = await connector.fetch_service_orders(win_start, win_end)
        cards += len(found)
        new += len(await accept_messages(hub, platform=config.platform, shop=shop, source="poll",
                                         messages=messages_of(shop, found)))
        await state.set(CURSOR_KEY, win_end.isoformat())  # only once the window's cards are stored
    reread = await reread_stale(hub, shop, connector, state, now - overlap)
    new += len(await accept_messages(hub, platform=config.platform, shop=shop, source="poll",
                                     messages=messages_of(shop, reread)))
    log.info("service_orders.polled", shop=shop, cards=cards, reread=len(reread), new=new)
    return new


async def _record(hub: Hub, shop: str, error: BaseException | None = None) -> None:
    state = DbShopState(hub.database(), f"channel:{shop}")
    moment = datetime.now(UTC).isoformat()
    if error is None:
        await state.set(OK_KEY, moment)
    else:
        await state.update({ERROR_KEY: f"{type(error).__name__}: {error}"[:500], ERROR_AT_KEY: moment})


@hub_actor(queue="channels", priority=-10, max_retries=3, min_backoff_ms=5_000, max_backoff_ms=120_000, name=ACTOR)
async def poll_service_orders(shop: str) -> None:
    """Poll one shop's work cards over an overlapping window and read its stale open cards again
    (leader-scheduled; skipped while the shop is paused: the next poll starts from the stored
    cursor, so nothing is skipped for good)."""
    if await _skip_paused(shop, ACTOR):
        return
    hub = current_hub()
    await run_recorded(hub, shop, "service-order poll", lambda: poll_shop_service_orders(hub, shop), _record)
