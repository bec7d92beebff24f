"""HTTP to partners: an httpx client factory and the bounded tenacity retry around one call.

The retry layer here is the *inner* one of docs/architecture.md §5 (seconds: connect errors, 502/503/504,
``RetryableError`` raised by a client's classifier, ``retry_after`` honoured and capped). The
outer layer is dramatiq's. Not for classification of partner error codes: each client does that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from hub.errors import RetryableError

T = TypeVar("T")

#: The wait assumed when a partner throttles over HTTP (429) without a usable ``Retry-After``.
DEFAULT_THROTTLE_SECONDS = 1.0

#: The longest a client sleeps inside one call before giving the message back to the queue.
MAX_INLINE_WAIT_SECONDS = 10.0


def build_http_client(base_url: str = "", *, timeout: float = 15.0, **kwargs: object) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with sane timeouts and pool limits for partner APIs."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        headers={"user-agent": "connector-hub/0.1"},
        **kwargs,  # type: ignore[arg-type]
    )


def retry_after_seconds(response: httpx.Response, default: float = DEFAULT_THROTTLE_SECONDS, *,
                        now: datetime | None = None) -> float:
    """The wait a throttling answer (HTTP 429) asks for: ``Retry-After`` in seconds or as an HTTP
    date (RFC 9110 §10.2.3, counted from ``now``), else ``default``. For clients raising
    ``ThrottledError``, which the queue waits out without spending the message's attempts."""
    from email.utils import parsedate_to_datetime

    value = (response.headers.get("retry-after") or "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, RetryableError):
        return exc.retry_after is None or exc.retry_after <= MAX_INLINE_WAIT_SECONDS
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (429, 502, 503, 504)
    return False


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryableError) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_INLINE_WAIT_SECONDS)
    return float(wait_exponential_jitter(multiplier=0.2, max=3.0)(state))


async def call_with_retries(
    call: Callable[[], Awaitable[T]], *, attempts: int = 3, max_seconds: float = 20.0
) -> T:
    """Run ``call`` with bounded retries on transient faults; re-raise the last error.

    ``call`` must be safe to repeat: use it for reads and idempotent writes only. A
    ``RetryableError`` whose ``retry_after`` exceeds ``MAX_INLINE_WAIT_SECONDS`` is not waited
    for here: it goes straight back to the queue, which delays the message instead.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(_transient),
        wait=_wait,
        stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
