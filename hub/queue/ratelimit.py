"""Per-account token buckets, so the hub stays inside each platform's call quota.

With Redis the bucket (tokens + timestamp in a hash, server time) is shared by every worker and
updated by one atomic Lua script; without Redis it is kept in this process. ``acquire`` reserves
its tokens even when it has to wait, so waiters are served in turn at the configured rate instead
of stampeding. Not for retrying throttled calls: that is the client's tenacity layer and the
queue's retry policy (a ``ThrottledError`` with ``retry_after``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from hub.errors import ThrottledError

KEY_PREFIX = "hub:"

# KEYS[1] bucket; ARGV: rate per second, burst, tokens wanted, longest wait allowed (s).
# Returns the wait in seconds as a string: "0" granted now; <= max wait: granted, tokens reserved,
# sleep that long first; > max wait: nothing taken.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('hmget', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
    tokens = burst
    ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < wanted then
    wait = (wanted - tokens) / rate
end
if wait <= max_wait then
    tokens = tokens - wanted
end
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('pexpire', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""

_local_buckets: dict[str, list[float]] = {}  # key -> [tokens, monotonic ts]
_local_guard = threading.Lock()


class TokenBucket:
    """``rate_per_s`` tokens a second, up to ``burst`` saved up; one bucket per ``key``."""

    def __init__(self, redis_client: Any | None, key: str, rate_per_s: float, burst: int, *,
                 key_prefix: str = KEY_PREFIX) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate limit {key!r}: rate must be positive and burst at least 1")
        self.redis = redis_client
        self.key = f"{key_prefix}{key}"
        self.rate = float(rate_per_s)
        self.burst = int(burst)

    async def acquire(self, tokens: int = 1, *, max_wait_s: float = 10) -> None:
        """Take ``tokens``, sleeping until they are due; raise ``ThrottledError`` instead of
        waiting longer than ``max_wait_s`` (the message goes back to the queue for later)."""
        self._check(tokens)
        wait = await self._take(tokens, max_wait_s)
        if wait > max_wait_s:
            raise ThrottledError(
                f"rate limit {self.key!r}: {tokens} call(s) would wait {wait:.1f}s (over {max_wait_s:.1f}s); "
                "will retry later",
                retry_after=wait,
            )
        if wait > 0:
            await asyncio.sleep(wait)

    async def try_acquire(self, tokens: int = 1) -> float:
        """Take ``tokens`` only if available now: 0.0 if granted, else seconds until they would be."""
        self._check(tokens)
        return await self._take(tokens, 0.0)

    def _check(self, tokens: int) -> None:
        if not 1 <= tokens <= self.burst:
            raise ValueError(f"rate limit {self.key!r}: can take 1..{self.burst} tokens at once, not {tokens}")

    async def _take(self, tokens: int, max_wait_s: float) -> float:
        if self.redis is None:
            return self._take_local(tokens, max_wait_s)
        result = await self.redis.eval(_TAKE, 1, self.key, repr(self.rate), self.burst, tokens, repr(max_wait_s))
        return float(result.decode() if isinstance(result, bytes) else result)

    def _take_local(self, tokens: int, max_wait_s: float) -> float:
        now = time.monotonic()
        with _local_guard:
            state = _local_buckets.setdefault(self.key, [float(self.burst), now])
            level = min(self.burst, state[0] + max(0.0, now - state[1]) * self.rate)
            wait = 0.0 if level >= tokens else (tokens - level) / self.rate
            if wait <= max_wait_s:
                level -= tokens
            state[0], state[1] = level, now
            return wait
