"""Per-shop protection around partner calls: the circuit breaker, made visible to operators.

Transient partner failures (throttling, ``isp.*``, 5xx) are recorded on the shop's breaker; after
several in a row the breaker opens, the shop is paused *until* the cooldown ends with the reason
shown in ``/api/v1/shops``, and work for it waits instead of hammering the platform. A lost
authorisation pauses the shop with no end: a person must re-authorise and resume it. Not for rate
limiting (the token bucket in ``hub.accounts`` paces every call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog

from hub.context import Hub
from hub.db import shops
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
