"""Per-shop token bucket and circuit breaker on the real Redis (and in-process without Redis):
bursts are paced at the configured rate, clients sharing a key share the bucket, and a failing
shop is paused after N failures, shown to operators, and tried again once after the cooldown.

No assertion here depends on how fast the machine runs. In-process, the bucket and breaker read a
fake clock the test moves by hand, so the numbers are exact. On Redis they read the server's clock:
there the test only asserts bounds that hold however slowly it runs (never more than burst plus
rate times the time that really passed; a refused call's wait never over one token's worth), and
the one real wait (a breaker cooldown) is 2 s long, while what must happen before it ends takes a
few Redis calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from hub.errors import ShopPausedError, ThrottledError
from hub.queue import breaker as breaker_module
from hub.queue import ratelimit
from hub.queue.breaker import CircuitBreaker
from hub.queue.ratelimit import TokenBucket
from hub.queue.testing import redis_namespace, redis_url  # noqa: F401

pytestmark = pytest.mark.redis

COOLDOWN_S = 2.0


class Clock:
    """The clock the bucket and breaker read: Redis's own (``fake`` False), or one moved by hand."""

    def __init__(self, fake: bool) -> None:
        self.fake = fake
        self._offset = 0.0
        self._wall, self._mono = time.time(), time.monotonic()

    def time(self) -> float:
        return (self._wall + self._offset) if self.fake else time.time()

    def monotonic(self) -> float:
        return (self._mono + self._offset) if self.fake else time.monotonic()

    async def advance(self, seconds: float) -> None:
        if self.fake:
            self._offset += seconds
        else:
            await asyncio.sleep(seconds)

    @property
    def slack(self) -> float:
        """Tokens the Redis server's clock may grant beyond the test's own measurement."""
        return 0.0 if self.fake else 1.0


@dataclass
class Backend:
    first: aioredis.Redis | None  # two independent clients, as two worker processes would have
    second: aioredis.Redis | None
    clock: Clock


@pytest.fixture(params=["redis", "memory"])
async def backend(request: pytest.FixtureRequest, redis_url: str,  # noqa: F811
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = Clock(fake=True)
        monkeypatch.setattr(ratelimit, "time", clock)
        monkeypatch.setattr(breaker_module, "time", clock)
        yield Backend(None, None, clock)
        return
    first = aioredis.from_url(redis_url, decode_responses=True)
    second = aioredis.from_url(redis_url)
    yield Backend(first, second, Clock(fake=False))
    await first.aclose()
    await second.aclose()


async def take_until_refused(buckets: list[TokenBucket]) -> tuple[list[int], float]:
    """Call try_acquire round-robin until one is refused: grants per bucket, and the refusal's wait."""
    grants = [0] * len(buckets)
    for turn in range(10_000):
        wait = await buckets[turn % len(buckets)].try_acquire()
        if wait > 0:
            return grants, wait
        grants[turn % len(buckets)] += 1
    raise AssertionError(f"never refused: {grants}")


async def test_a_burst_over_capacity_is_paced_at_the_rate(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    clock = backend.clock
    bucket = TokenBucket(backend.first, "shop:tb-flagship", rate_per_s=20, burst=5, key_prefix=f"{redis_namespace}:")

    started = clock.monotonic()
    [granted], wait = await take_until_refused([bucket])
    elapsed = clock.monotonic() - started
    assert 5 <= granted <= 5 + 20 * elapsed + clock.slack, (granted, elapsed)
    assert 0 < wait <= 1 / 20 + 1e-9, "the next token is due within one token's worth of time"

    await clock.advance(wait + 1e-6)
    assert await bucket.try_acquire() == 0, "due when the bucket said it would be"

    await clock.advance(1.0)  # a quiet second saves up the burst (5), not 20 calls
    started = clock.monotonic()
    [granted], _ = await take_until_refused([bucket])
    elapsed = clock.monotonic() - started
    assert 5 <= granted <= 5 + 20 * elapsed + clock.slack, (granted, elapsed)


async def test_waiting_callers_are_served_in_turn_at_the_rate(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    bucket = TokenBucket(backend.first, "shop:dy-1", rate_per_s=20, burst=5, key_prefix=f"{redis_namespace}:")

    started = time.monotonic()
    # 5 at once, then 10 more at 20/s: each waiter reserved its turn, so none waits near 5 s.
    await asyncio.gather(*(bucket.acquire(max_wait_s=5) for _ in range(15)))
    elapsed = time.monotonic() - started

    print(f"15 callers over a 5-token, 20/s bucket took {elapsed:.2f}s")
    assert elapsed >= 10 / 20 - 0.02, f"waiters were not paced: {elapsed:.2f}s"


async def test_clients_sharing_a_key_share_one_bucket(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    clock = backend.clock
    prefix = f"{redis_namespace}:"
    first = TokenBucket(backend.first, "shop:shared", rate_per_s=20, burst=5, key_prefix=prefix)
    second = TokenBucket(backend.second, "shop:shared", rate_per_s=20, burst=5, key_prefix=prefix)

    started = clock.monotonic()
    grants, _ = await take_until_refused([first, second])
    elapsed = clock.monotonic() - started

    assert 5 <= sum(grants) <= 5 + 20 * elapsed + clock.slack, f"two clients must not get two quotas: {grants}"
    assert min(grants) > 0, grants


async def test_acquire_refuses_to_wait_longer_than_allowed(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    # One call per 100 s: however slowly the test runs, the next token is still far off.
    bucket = TokenBucket(backend.first, "shop:slow", rate_per_s=0.01, burst=1, key_prefix=f"{redis_namespace}:")
    await bucket.acquire()

    with pytest.raises(ThrottledError) as caught:
        await bucket.acquire(max_wait_s=0.1)

    assert caught.value.retry_after is not None and 50 < caught.value.retry_after <= 100
    # The refused call took nothing: the next token is due within 100 s, not 200.
    assert 50 < await bucket.try_acquire() <= 100


async def test_breaker_opens_after_n_failures_from_any_worker(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    opened: list[tuple[str, str, float]] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append((shop, reason, until))

    prefix = f"{redis_namespace}:breaker:"
    breaker = CircuitBreaker(backend.first, "tb-flagship", failure_threshold=3, cooldown_s=60,
                             on_open=pause_shop, key_prefix=prefix)
    other_worker = CircuitBreaker(backend.second, "tb-flagship", failure_threshold=3, cooldown_s=60,
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
    assert caught.value.until is not None and caught.value.until > backend.clock.time()


async def test_breaker_calls_on_open_when_it_opens(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    opened: list[tuple[str, str, float]] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append((shop, reason, until))

    breaker = CircuitBreaker(backend.first, "dy-main", failure_threshold=2, cooldown_s=60, on_open=pause_shop,
                             key_prefix=f"{redis_namespace}:breaker:")
    before = backend.clock.time()
    await breaker.record_failure("HTTP 503")
    await breaker.record_failure("HTTP 502")
    after = backend.clock.time()

    assert len(opened) == 1
    shop, reason, until = opened[0]
    assert (shop, reason) == ("dy-main", "HTTP 502")
    state = await breaker.state()
    assert state.open and state.reason == "HTTP 502"
    assert state.until == pytest.approx(until, abs=0.01)
    skew = 0.0 if backend.clock.fake else 0.05  # Redis's clock against ours, same machine
    assert before + 60 - skew <= until <= after + 60 + skew, "paused for the cooldown from the failure that opened it"


async def test_breaker_half_opens_after_cooldown_with_one_trial(backend: Backend, redis_namespace: str) -> None:  # noqa: F811
    clock = backend.clock
    opened: list[str] = []

    async def pause_shop(shop: str, reason: str, until: float) -> None:
        opened.append(reason)

    prefix = f"{redis_namespace}:breaker:"
    breaker = CircuitBreaker(backend.first, "ae-1", failure_threshold=1, cooldown_s=COOLDOWN_S, on_open=pause_shop,
                             key_prefix=prefix)
    other = CircuitBreaker(backend.second, "ae-1", failure_threshold=1, cooldown_s=COOLDOWN_S, key_prefix=prefix)
    await breaker.record_failure("HTTP 500")
    with pytest.raises(ShopPausedError):
        await other.check()

    await clock.advance(COOLDOWN_S + 0.1)
    await breaker.check()  # the one trial call goes through
    with pytest.raises(ShopPausedError, match="trial"):
        await other.check()  # everybody else still waits

    await breaker.record_failure("HTTP 500 again")  # failed trial: open again at once
    assert opened == ["HTTP 500", "HTTP 500 again"]
    with pytest.raises(ShopPausedError):
        await other.check()

    await clock.advance(COOLDOWN_S + 0.1)
    await other.check()  # trial
    await other.record_success()
    await breaker.check()
    await other.check()
    assert not (await breaker.state()).open
