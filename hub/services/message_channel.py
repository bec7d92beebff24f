"""Whether a shop's message channel (e.g. TOP's TMC) is open, and opening it before consuming.

A platform's message channel delivers nothing for an account until the hub asks it to
(``ChannelConnector.open_message_channel``: TOP's ``taobao.tmc.user.permit``). The hub opens it
once per worker process at start, again after the shop is resumed (an admin re-authorised it),
and again after a failure, with exponential backoff; it never consumes a channel it has not
opened. The state is kept per shop in the shop-state store (one JSON value), so the API can show
whether the channel is open, since when, the last error, and since when intake has held back
because processing is behind (``hub.services.backlog``). Not for draining the channel (the
``consume_channel`` actor) or for the circuit breaker (``shop_health``).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from hub.context import Hub
from hub.db.shop_state import DbShopState
from hub.errors import AuthorizationError
from hub.services.shop_health import partner_call

log = structlog.get_logger(__name__)

STATE_KEY = "message_channel"
REOPEN_KEY = "message_channel.reopen_at"
INTAKE_KEY = "message_channel.last_intake_at"
HELD_KEY = "message_channel.held_since"
KEYS = [STATE_KEY, REOPEN_KEY, INTAKE_KEY, HELD_KEY]
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 600.0
#: How often a successful intake is written down (a drain runs every second).
INTAKE_RECORD_EVERY = timedelta(seconds=10)

#: Shops whose channel this process has opened (per Hub): "at start" means once per process.
_opened_here: weakref.WeakKeyDictionary[Hub, set[str]] = weakref.WeakKeyDictionary()


@dataclass
class ChannelState:
    """What the hub knows of one shop's message channel."""

    open: bool = False
    opened_at: str | None = None
    topics: list[str] = field(default_factory=list)
    last_error: str | None = None
    last_error_at: str | None = None
    failures: int = 0
    retry_at: str | None = None
    reopen_at: str | None = None  # from REOPEN_KEY: a resume asked for a new opening
    last_intake_at: str | None = None  # from INTAKE_KEY
    held_since: str | None = None  # from HELD_KEY: not drained while the inbox backlog is over its limit

    @classmethod
    def from_values(cls, values: dict[str, str]) -> ChannelState:
        try:
            data = json.loads(values.get(STATE_KEY) or "{}")
        except ValueError:
            data = {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__} if isinstance(data, dict) else {}
        known.update(reopen_at=values.get(REOPEN_KEY), last_intake_at=values.get(INTAKE_KEY),
                     held_since=values.get(HELD_KEY) or None)
        return cls(**known)

    def dump(self) -> str:
        data = asdict(self)
        del data["reopen_at"], data["last_intake_at"], data["held_since"]
        return json.dumps(data, ensure_ascii=False)

    @property
    def is_open(self) -> bool:
        """Open, and not asked to reopen since."""
        return self.open and not (self.reopen_at and (self.opened_at or "") < self.reopen_at)

    def out(self) -> dict[str, Any]:
        """The fields the API shows (times as aware datetimes)."""
        return {"open": self.is_open, "opened_at": _time(self.opened_at) if self.is_open else None,
                "topics": list(self.topics) if self.is_open else [], "last_error": self.last_error,
                "last_error_at": _time(self.last_error_at), "retry_at": _time(self.retry_at),
                "last_intake_at": _time(self.last_intake_at), "held_since": _time(self.held_since)}


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _stamp(moment: datetime) -> str:
    """ISO text in UTC, so stored times compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _store(hub: Hub, shop: str) -> DbShopState:
    return DbShopState(hub.database(), f"channel:{shop}")


async def read(hub: Hub, shop: str) -> ChannelState:
    return ChannelState.from_values(await _store(hub, shop).get_many(KEYS))


def backoff_s(failures: int) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row: 2, 4, 8 … at most 10 minutes."""
    return min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, failures - 1))


async def ensure_open(hub: Hub, shop: str, connector: Any, *, now: datetime | None = None) -> ChannelState | None:
    """The channel's state when ``shop``'s channel is open (opening it first when needed), None
    while it is not.

    Opens when this process has not opened it yet, or the stored state says it is closed (never
    opened, a resume asked for a new opening, or the last attempt failed and its backoff has run
    out). A failure is recorded (reason, time, next attempt) and counted by the shop's breaker; a
    lost authorisation pauses the shop. Never raises for a failed opening.
    """
    now = now or datetime.now(UTC)
    opened = _opened_here.setdefault(hub, set())
    state = await read(hub, shop)
    if state.is_open and shop in opened:
        return state
    if not state.open and state.retry_at and state.retry_at > _stamp(now):
        return None
    try:
        async with partner_call(hub, shop, "open message channel"):
            topics = await connector.open_message_channel()
    except Exception as exc:  # recorded and shown; the next attempt waits out the backoff
        opened.discard(shop)
        state.open = False
        state.failures += 1
        state.last_error = f"{type(exc).__name__}: {exc}"
        state.last_error_at = _stamp(now)
        state.retry_at = _stamp(now + timedelta(seconds=backoff_s(state.failures)))
        await _store(hub, shop).set(STATE_KEY, state.dump())
        log.warning("message_channel.open_failed", shop=shop, error=state.last_error, failures=state.failures,
                    retry_at=state.retry_at, paused=isinstance(exc, AuthorizationError))
        return None
    state.open, state.opened_at, state.topics = True, _stamp(now), list(topics)
    state.failures, state.retry_at = 0, None
    await _store(hub, shop).set(STATE_KEY, state.dump())
    opened.add(shop)
    log.info("message_channel.opened", shop=shop, topics=len(topics) or "all")
    return state


async def request_reopen(hub: Hub, shop: str, *, now: datetime | None = None) -> None:
    """Open the channel again before the next intake (the shop was resumed or re-authorised)."""
    await _store(hub, shop).set(REOPEN_KEY, _stamp(now or datetime.now(UTC)))


async def record_intake_failure(hub: Hub, shop: str, exc: BaseException, *, now: datetime | None = None) -> None:
    """A consume failed: show why. A lost authorisation closes the channel (it is opened again
    after the shop is re-authorised and resumed); a transient fault leaves it open."""
    now = now or datetime.now(UTC)
    state = await read(hub, shop)
    state.last_error = f"{type(exc).__name__}: {exc}"
    state.last_error_at = _stamp(now)
    if isinstance(exc, AuthorizationError):
        state.open = False
        _opened_here.get(hub, set()).discard(shop)
    await _store(hub, shop).set(STATE_KEY, state.dump())


async def record_intake(hub: Hub, shop: str, state: ChannelState, *, now: datetime | None = None) -> None:
    """A drain succeeded: remember when (at most every ``INTAKE_RECORD_EVERY``)."""
    now = now or datetime.now(UTC)
    if state.last_intake_at and state.last_intake_at > _stamp(now - INTAKE_RECORD_EVERY):
        return
    await _store(hub, shop).set(INTAKE_KEY, _stamp(now))


async def record_held(hub: Hub, shop: str, state: ChannelState, held: bool, *, now: datetime | None = None) -> None:
    """Intake of ``shop``'s channel is held back (the inbox backlog is over its limit) or no longer:
    written only when that changes from what ``state`` shows, so once each way, not every second."""
    if held == bool(state.held_since):
        return
    stamp = _stamp(now or datetime.now(UTC)) if held else ""
    await _store(hub, shop).set(HELD_KEY, stamp)
    state.held_since = stamp or None


async def all_states(hub: Hub) -> dict[str, ChannelState]:
    """Every shop's channel state, in one query (for ``GET /api/v1/shops``)."""
    from sqlalchemy import select

    from hub.db.tables import ShopStateRow

    async with hub.database().session() as session:
        rows = (await session.execute(select(ShopStateRow.shop, ShopStateRow.key, ShopStateRow.value).where(
            ShopStateRow.key.in_(KEYS), ShopStateRow.shop.like("channel:%")))).all()
    values: dict[str, dict[str, str]] = {}
    for account, key, value in rows:
        values.setdefault(account.removeprefix("channel:"), {})[key] = value
    return {shop: ChannelState.from_values(found) for shop, found in values.items()}
