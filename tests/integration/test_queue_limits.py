"""Per-shop token bucket and circuit breaker on the real Redis (and in-process without Redis):
bursts are paced at the configured rate, clients sharing a key share the bucket, and a failing
shop is paused after N failures, shown to operators, and tried again once after the cooldown."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from hub.errors import ShopPausedError, ThrottledError
from hub.queue.breaker import CircuitBreaker
from hub.queue.ratelimit import TokenBucket
from hub.queue.testing import redis_namespace, redis_url  # noqa: F401

pytestmark = pytest.mark.redis


@pytest.fixture(params=["redis", "memory"])
async def two_clients(request: pytest.FixtureRequest, redis_url: str):  # noqa: F811
    """Two independent clients (two worker processes), or None twice (the embedded default)."""
    if request.param == "memory":
        yield None, None
        return
    first = aioredis.from_url(redis_url, decode_responses=True)
    second = aioredis.from_url(redis_url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def count_grants(buckets: list[TokenBucket], window_s: float) -> list[int]:
    """Call try_acquire round-robin as fast as sensible for ``window_s``; grants per bucket."""
    grants = [0] * len(buckets)
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        for i, bucket in enumerate(buckets):
            if await bucket.try_acquire() == 0:
                grants[i] += 1
        await asyncio.sleep(0.002)
    return grants


async def test_a_burst_over_capacity_is_paced_at_the_rate(two_clients, redis_namespace: str) -> None:  # noqa: F811
    client, _ = two_clients
    bucket = TokenBucket(client, "shop:tb-flagship", rate_per_s=20, burst=5, key_prefix=f"{redis_namespace}:")

    granted = (await count_grants([bucket], 1.0))[0]

    # burst (5) + rate x window (20): allow for scheduling jitter, never double.
    assert 20 <= granted <= 28, granted


async def test_waiting_callers_are_served_in_turn_at_the_rate(two_clients, redis_namespace: str) -> None:  # noqa: F811
    client, _ = two_clients
    bucket = TokenBucket(client, "shop:dy-1", rate_per_s=20, burst=5, key_prefix=f"{redis_namespace}:")

    started = time.monotonic()
    await asyncio.gather(*(bucket.acquire(max_wait_s=5) for _ in range(15)))
    elapsed = time.monotonic() - started

    # 5 at once, then 10 more at 20/s: about half a second.
    assert 0.4 <= elapsed <= 1.5, elapsed


async def test_clients_sharing_a_key_share_one_bucket(two_clients, redis_namespace: str) -> None:  # noqa: F811
    first_client, second_client = two_clients
    prefix = f"{redis_namespace}:"
    first = TokenBucket(first_client, "shop:shared", rate_per_s=20, burst=5, key_prefix=prefix)
    second = TokenBucket(second_client, "shop:shared", rate_per_s=20, burst=5, key_prefix=prefix)

    grants = await count_grants([first, second], 1.0)

    assert 20 <= sum(grants) <= 28, f"two clients must not get two quotas: {grants}"
    assert min(grants) > 0, grants


async def test_acquire_refuses_to_wait_longer_than_allowed(two_clients, redis_namespace: str) -> None:  # noqa: F811
    client, _ = two_clients
    bucket = TokenBucket(client, "shop:slow", rate_per_s=1, burst=1, key_prefix=f"{redis_namespace}:")
    await bucket.acquire()

    with pytest.raises(ThrottledError) as caught:
        await bucket.acquire(max_wait_s=0.1)

    assert caught.value.retry_after is not None and 0.5 < caught.value.retry_after <= 1.0
    # The refused call took nothing: the next token is still due within a second.
    assert 0 < await bucket.try_acquire() <= 1.0


async def test_breaker_opens_after_n_failures_from_any_worker(two_clients, redis_namespace: str) -> None:  # noqa: F811
    first_client, second_client = two_clients
    opened: list[tuple[str, str, float]] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append((shop, reason, until))

    prefix = f"{redis_namespace}:breaker:"
    breaker = CircuitBreaker(first_client, "tb-flagship", failure_threshold=3, cooldown_s=0.5,
                             on_open=pause_shop, key_prefix=prefix)
    other_worker = CircuitBreaker(second_client, "tb-flagship", failure_threshold=3, cooldown_s=0.5,
                                  on_open=pause_shop, key_prefix=prefix)

    await breaker.record_failure("TOP isp.top-remote-connection-timeout")
    await other_worker.record_failure("TOP isp.top-remote-connection-timeout")
    await breaker.check()  # two failures: still closed
    assert opened == []

    await other_worker.record_failure("TOP isp.remote-service-error")
    await breaker.record_failure("TOP isp.remote-service-error")  # already open: no second pause

    assert [reason for _, reason, _ in opened] == ["TOP isp.remote-service-error"]
    assert (await breaker.state()).open
    with pytest.raises(ShopPausedError) as caught:
        await breaker.check()
    assert "isp.remote-service-error" in str(caught.value)
    assert caught.value.until is not None and caught.value.until > time.time()


async def test_breaker_calls_on_open_when_it_opens(two_clients, redis_namespace: str) -> None:  # noqa: F811
    client, _ = two_clients
    opened: list[tuple[str, str, float]] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append((shop, reason, until))

    breaker = CircuitBreaker(client, "dy-main", failure_threshold=2, cooldown_s=5, on_open=pause_shop,
                             key_prefix=f"{redis_namespace}:breaker:")
    await breaker.record_failure("HTTP 503")
    await breaker.record_failure("HTTP 502")

    assert len(opened) == 1
    shop, reason, until = opened[0]
    assert (shop, reason) == ("dy-main", "HTTP 502")
    state = await breaker.state()
    assert state.open and state.reason == "HTTP 502"
    assert state.until == pytest.approx(until, abs=0.01)
    assert 4 < until - time.time() <= 5.1


async def test_breaker_half_opens_after_cooldown_with_one_trial(two_clients, redis_namespace: str) -> None:  # noqa: F811
    first_client, second_client = two_clients
    opened: list[str] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append(reason)

    prefix = f"{redis_namespace}:breaker:"
    breaker = CircuitBreaker(first_client, "ae-1", failure_threshold=1, cooldown_s=0.3, on_open=pause_shop,
                             key_prefix=prefix)
    other = CircuitBreaker(second_client, "ae-1", failure_threshold=1, cooldown_s=0.3, key_prefix=prefix)
    await breaker.record_failure("HTTP 500")
    with pytest.raises(ShopPausedError):
        await other.check()

    await asyncio.sleep(0.4)
    await breaker.check()  # the one trial call goes through
    with pytest.raises(ShopPausedError, match="trial"):
        await other.check()  # everybody else still waits

    await breaker.record_failure("HTTP 500 again")  # failed trial: open again at once
    assert opened == ["HTTP 500", "HTTP 500 again"]
    with pytest.raises(ShopPausedError):
        await other.check()

    await asyncio.sleep(0.4)
    await other.check()  # trial
    await other.record_success()
    await breaker.check()
    await other.check()
    assert not (await breaker.state()).open
