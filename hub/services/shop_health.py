"""Per-shop protection around partner calls: the circuit breaker, made visible to operators.

Transient partner failures (throttling, ``isp.*``, 5xx) are recorded on the shop's breaker; after
several in a row the breaker opens, the shop is paused *until* the cooldown ends with the reason
shown in ``/api/v1/shops``, and work for it waits instead of hammering the platform. A lost
authorisation pauses the shop with no end: a person must re-authorise and resume it. Not for rate
limiting (the token bucket in ``hub.accounts`` paces every call).

It also says what an operator is shown (``shop_condition``): a shop is ``active`` only when it is
enabled, not paused, its message channel (if it has one) is open and its last poll did not fail;
otherwise ``paused``, ``degraded`` or ``disabled``, always with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import select
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential

from hub.context import Hub
from hub.db import shops
from hub.db.shop_state import DbShopState
from hub.db.tables import ShopStateRow
from hub.errors import AuthorizationError, RetryableError
from hub.queue.breaker import CircuitBreaker

log = structlog.get_logger(__name__)


def breaker(hub: Hub, shop: str) -> CircuitBreaker:
    """The shop's breaker; opening it pauses the shop until the cooldown ends."""

    async def pause_until(name: str, reason: str, until: float) -> None:
        async with hub.database().transaction() as session:
            await shops.pause_shop(session, name, f"circuit breaker open: {reason}",
                                   until=datetime.fromtimestamp(until, UTC))
        log.warning("shop.breaker_open", shop=name, reason=reason, until=until)

    return CircuitBreaker(hub.redis(), shop, on_open=pause_until, key_prefix=hub.redis_key("breaker:"))


async def pause_for_authorisation(hub: Hub, shop: str, exc: AuthorizationError) -> None:
    async with hub.database().transaction() as session:
        await shops.pause_shop(session, shop, str(exc))
    log.error("shop.paused", shop=shop, reason=str(exc))


@asynccontextmanager
async def partner_call(hub: Hub, shop: str, what: str) -> AsyncIterator[None]:
    """Guard a block of partner calls for ``shop``: refuse while the breaker is open, record the
    outcome, pause the shop on a lost authorisation. Errors are re-raised for the queue to handle."""
    guard = breaker(hub, shop)
    await guard.check()
    try:
        yield
    except RetryableError as exc:
        await guard.record_failure(f"{what}: {exc}")
        raise
    except AuthorizationError as exc:
        await pause_for_authorisation(hub, shop, exc)
        raise
    else:
        await guard.record_success()


async def run_recorded(hub: Hub, shop: str, what: str, work: Callable[[], Awaitable[object]],
                       record: Callable[[Hub, str, BaseException | None], Awaitable[None]]) -> None:
    """Run a periodic job's ``work`` for ``shop`` inside ``partner_call`` and ``record`` how it went:
    ``record(hub, shop, None)`` on success, ``record(hub, shop, error)`` on failure. A lost
    authorisation ends there (the shop is paused with the reason; retrying cannot help); any other
    error is re-raised for the queue's retries."""
    try:
        async with partner_call(hub, shop, what):
            await work()
    except AuthorizationError as exc:
        await record(hub, shop, exc)
        return
    except Exception as exc:
        await record(hub, shop, exc)
        raise
    await record(hub, shop, None)


# -- what the operator is shown ------------------------------------------------------------------

POLL_OK_KEY = "poll.last_ok_at"
POLL_ERROR_KEY = "poll.last_error"
POLL_ERROR_AT_KEY = "poll.last_error_at"
POLL_KEYS = [POLL_OK_KEY, POLL_ERROR_KEY, POLL_ERROR_AT_KEY]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def record_poll(hub: Hub, shop: str, error: BaseException | None = None, *,
                      now: datetime | None = None) -> None:
    """Remember how the shop's last poll went (success time, or the error and when)."""
    state = DbShopState(hub.database(), f"channel:{shop}")
    moment = _stamp(now or datetime.now(UTC))
    if error is None:
        await state.set(POLL_OK_KEY, moment)
    else:
        await state.set(POLL_ERROR_KEY, f"{type(error).__name__}: {error}")
        await state.set(POLL_ERROR_AT_KEY, moment)


@dataclass(frozen=True)
class PollRecord:
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """The most recent poll failed."""
        return self.last_error_at is not None and (self.last_ok_at is None or self.last_error_at > self.last_ok_at)


async def all_poll_records(hub: Hub) -> dict[str, PollRecord]:
    """Every shop's last poll outcome, in one query."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(ShopStateRow.shop, ShopStateRow.key, ShopStateRow.value).where(
            ShopStateRow.key.in_(POLL_KEYS), ShopStateRow.shop.like("channel:%")))).all()
    values: dict[str, dict[str, str]] = {}
    for account, key, value in rows:
        values.setdefault(account.removeprefix("channel:"), {})[key] = value
    return {shop: PollRecord(last_ok_at=_parse(found.get(POLL_OK_KEY)), last_error=found.get(POLL_ERROR_KEY),
                             last_error_at=_parse(found.get(POLL_ERROR_AT_KEY)))
            for shop, found in values.items()}


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class ShopCondition:
    """One shop's status for an operator: ``active`` only when everything it needs works."""

    status: str  # active | paused | degraded | disabled | unknown
    reason: str | None = None


def shop_condition(*, enabled: bool, installed: bool, paused: bool, paused_reason: str | None,
                   known: bool, needs_channel: bool, channel: Any, poll: PollRecord | None) -> ShopCondition:
    """The shop's status and why, from what the hub knows of it (first matching reason wins).

    ``known``: the hub has recorded anything of the shop at run time (a status row, a channel
    state, a poll). ``channel`` is the message channel's state (``message_channel.ChannelState``)
    or None when the hub has none yet; ``poll`` the last poll's outcome or None before the first.
    """
    if not enabled:
        return ShopCondition("disabled", "disabled in the configuration")
    if not installed:
        return ShopCondition("unknown", "no connector installed for this platform")
    if paused:
        return ShopCondition("paused", paused_reason or "paused")
    if not known:
        return ShopCondition("unknown", "no poll, intake or pause recorded yet")
    problems = []
    if needs_channel and (channel is None or not channel.is_open):
        error = getattr(channel, "last_error", None) if channel is not None and not channel.open else None
        problems.append(f"message channel not open: {error}" if error else "message channel not open yet")
    if poll is not None and poll.failing:
        problems.append(f"last poll failed: {poll.last_error}")
    if problems:
        return ShopCondition("degraded", "; ".join(problems))
    return ShopCondition("active")


T = TypeVar("T")
#: Tries of one write a person waits for (an after-sale decision, a service-order step): transient
#: faults only, and the most time they may take.
BRIEF_ATTEMPTS = 3
BRIEF_SECONDS = 10.0
#: The first wait between those tries (doubling, at most 2 s); tests set it to 0.
BRIEF_WAIT_S = 0.25


async def with_brief_retries(call: Callable[[], Awaitable[T]]) -> T:
    """``call`` again on ``RetryableError`` (its idempotency key makes that safe), a few times,
    briefly: as ``hub.http.call_with_retries`` but with shorter waits, since a person is waiting for
    the answer (a write that still fails is retried later in the background, with the same key)."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(RetryableError), reraise=True,
                             wait=wait_exponential(multiplier=BRIEF_WAIT_S, max=2.0),
                             stop=stop_after_attempt(BRIEF_ATTEMPTS) | stop_after_delay(BRIEF_SECONDS))
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
