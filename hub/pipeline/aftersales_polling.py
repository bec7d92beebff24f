"""The after-sales safety net: every ``[aftersales] poll_interval_s``, each enabled shop whose
connector lists after-sales (``Capability.AFTERSALES``) is asked for the cases modified in
``[last_end - poll_overlap_s, now]``, in windows no longer than the connector allows, and every
case is handed to the inbox like the order poll's orders (``hub.pipeline.polling``): keyed by
(case id, modification time, status), so the overlap of two windows stores nothing twice, and a
case already seen by a push or a message channel changes nothing when the poll sees it again
(intake ignores a report that is not newer). The cursor (``poll.aftersales.last_end`` in the shop's
state) moves to a window's end once its cases are in the inbox; the first run looks back a day.

Paused shops are skipped; partner faults count on the shop's breaker and a lost authorisation
pauses the shop, as for the order poll. How the last run went is kept under
``poll.aftersales.last_ok_at`` / ``last_error`` (not the order poll's keys, which the shop list
shows). Not for applying cases (``hub.services.aftersales.intake``, run by the inbox worker).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from contracts.aftersales import AfterSale
from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind
from hub.context import Hub, current_hub
from hub.db.shop_state import DbShopState
from hub.pipeline.actors import _skip_paused
from hub.pipeline.polling import shops_with, windows
from hub.queue.actors import hub_actor
from hub.services.intake import accept_messages, poll_message_id
from hub.services.shop_health import run_recorded

log = structlog.get_logger(__name__)

ACTOR = "poll_aftersales"
CURSOR_KEY = "poll.aftersales.last_end"
OK_KEY = "poll.aftersales.last_ok_at"
ERROR_KEY = "poll.aftersales.last_error"
ERROR_AT_KEY = "poll.aftersales.last_error_at"
FIRST_LOOKBACK = timedelta(days=1)
#: The longest window when the connector declares none (``max_aftersale_window_s``, else its
#: ``max_poll_window_s``): TOP's list calls take at most a day between their modified bounds.
DEFAULT_MAX_SPAN = timedelta(days=1)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """One ``poll_aftersales`` job per enabled shop whose connector lists after-sales."""
    interval = float(hub.config.aftersales.poll_interval_s)
    return [(f"poll_aftersales:{name}", interval, ACTOR, (name,)) for name in shops_with(hub, Capability.AFTERSALES)]


def max_span(connector: Any) -> timedelta:
    """The longest window ``connector`` takes in one ``fetch_aftersales``."""
    seconds = getattr(connector, "max_aftersale_window_s", None) or getattr(connector, "max_poll_window_s", None)
    return timedelta(seconds=float(seconds)) if seconds else DEFAULT_MAX_SPAN


def messages_of(shop: str, cases: list[AfterSale]) -> list[InboundMessage]:
    """The inbox messages of polled cases: one per (case, modification time, status)."""
    return [InboundMessage(message_id=poll_message_id(shop, c.ref.external_id, c.updated_at, c.raw_status),
                           kind=MessageKind.AFTERSALE, topic="poll", external_id=c.ref.external_id,
                           occurred_at=c.updated_at, aftersale=c)
            for c in cases]


async def poll_shop_aftersales(hub: Hub, shop: str, *, now: datetime | None = None) -> int:
    """Run one after-sales poll of ``shop``; returns how many new inbox rows it produced."""
    config = hub.config.shops[shop]
    connector = hub.accounts().channel(shop)
    state = DbShopState(hub.database(), f"channel:{shop}")
    now = now or datetime.now(UTC)
    raw = await state.get(CURSOR_KEY)
    last_end = datetime.fromisoformat(raw) if raw else now - FIRST_LOOKBACK
    start = last_end - timedelta(seconds=float(hub.config.aftersales.poll_overlap_s))
    new = cases = 0
    for win_start, win_end in windows(start, now, max_span(connector)):
        found = await connector.fetch_aftersales(win_start, win_end)
        cases += len(found)
        new += len(await accept_messages(hub, platform=config.platform, shop=shop, source="poll",
                                         messages=messages_of(shop, found)))
        await state.set(CURSOR_KEY, win_end.isoformat())  # only once the window's cases are stored
    log.info("aftersales.polled", shop=shop, cases=cases, new=new)
    return new


async def _record(hub: Hub, shop: str, error: BaseException | None = None) -> None:
    state = DbShopState(hub.database(), f"channel:{shop}")
    moment = datetime.now(UTC).isoformat()
    if error is None:
        await state.set(OK_KEY, moment)
    else:
        await state.update({ERROR_KEY: f"{type(error).__name__}: {error}"[:500], ERROR_AT_KEY: moment})


@hub_actor(queue="channels", priority=-10, max_retries=3, min_backoff_ms=5_000, max_backoff_ms=120_000, name=ACTOR)
async def poll_aftersales(shop: str) -> None:
    """Poll one shop's after-sales over an overlapping window (leader-scheduled; skipped while the
    shop is paused: the next poll starts from the stored cursor, so nothing is skipped for good)."""
    if await _skip_paused(shop, ACTOR):
        return
    hub = current_hub()
    await run_recorded(hub, shop, "after-sales poll", lambda: poll_shop_aftersales(hub, shop), _record)
