"""A per-shop circuit breaker: after ``failure_threshold`` consecutive failures the shop is paused
for ``cooldown_s``, then one trial call decides whether it closes or opens again.

Taobao asks integrators not to retry ISP errors at once and throttles on promotion nights; the
breaker makes backing off automatic and visible (``on_open`` lets the hub mark the shop paused
with the reason). State lives in a Redis hash shared by all workers (server time, atomic Lua), or
in this process without Redis. Not for rate limits (``hub.queue.ratelimit``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import ShopPausedError

KEY_PREFIX = "hub:breaker:"
#: Failures further apart than this are not "consecutive" (the count is forgotten).
FAILURE_WINDOW_S = 300

OnOpen = Callable[[str, str, float], Awaitable[None]]

# KEYS[1]; ARGV: threshold, cooldown s, window s, reason. Returns {opened(0/1), until or ""}.
_FAILURE = """
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local threshold = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local until_ = tonumber(redis.call('hget', KEYS[1], 'until'))
if until_ ~= nil and until_ > now then
    return {0, tostring(until_)}
end
local failures = redis.call('hincrby', KEYS[1], 'failures', 1)
if until_ ~= nil or failures >= threshold then
    until_ = now + cooldown
    redis.call('hset', KEYS[1], 'until', tostring(until_), 'reason', ARGV[4], 'failures', threshold)
    redis.call('hdel', KEYS[1], 'trial')
    redis.call('pexpire', KEYS[1], math.ceil((cooldown + window) * 1000))
    return {1, tostring(until_)}
end
redis.call('pexpire', KEYS[1], math.ceil(window * 1000))
return {0, ''}
"""

# KEYS[1]; ARGV: cooldown s. Returns {state, reason, until}: closed | open | trial (caller is the
# half-open trial) | busy (another caller is the trial).
_CHECK = """
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('hmget', KEYS[1], 'until', 'reason', 'trial')
local until_ = tonumber(state[1])
if until_ == nil then
    return {'closed', '', ''}
end
if until_ > now then
    return {'open', state[2] or '', tostring(until_)}
end
local trial = tonumber(state[3])
if trial ~= nil and trial + tonumber(ARGV[1]) > now then
    return {'busy', state[2] or '', tostring(trial + tonumber(ARGV[1]))}
end
redis.call('hset', KEYS[1], 'trial', tostring(now))
return {'trial', state[2] or '', ''}
"""


@dataclass(frozen=True)
class BreakerState:
    """``open``: calls are refused until ``until`` (epoch seconds); ``reason`` says why."""

    open: bool
    reason: str | None
    until: float | None


@dataclass
class _Local:
    failures: int = 0
    last_failure: float = 0.0
    until: float | None = None
    reason: str | None = None
    trial: float | None = None


_local: dict[str, _Local] = {}
_local_guard = threading.Lock()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CircuitBreaker:
    """The breaker for one shop. Call ``check()`` before work, then record the outcome."""

    def __init__(
        self,
        redis_client: Any | None,
        shop: str,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30,
        on_open: OnOpen | None = None,
        key_prefix: str = KEY_PREFIX,
        window_s: float = FAILURE_WINDOW_S,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError("failure_threshold must be at least 1 and cooldown_s positive")
        self.redis = redis_client
        self.shop = shop
        self.key = f"{key_prefix}{shop}"
        self.threshold = failure_threshold
        self.cooldown_s = float(cooldown_s)
        self.window_s = float(window_s)
        self.on_open = on_open

    async def record_success(self) -> None:
        """A call went through: close the breaker and forget past failures."""
        if self.redis is None:
            with _local_guard:
                _local.pop(self.key, None)
            return
        await self.redis.delete(self.key)

    async def record_failure(self, reason: str) -> None:
        """A call failed in a way that says the platform is unwell (not bad data).

        ``reason`` must be free of secrets; it is shown to operators. Opening (or re-opening after
        a failed trial) calls ``on_open(shop, reason, until)``.
        """
        if self.redis is None:
            opened, until = self._fail_local(reason)
        else:
            flag, until_text = await self.redis.eval(
                _FAILURE, 1, self.key, self.threshold, repr(self.cooldown_s), repr(self.window_s), reason
            )
            opened, until = bool(int(flag)), (float(_text(until_text)) if _text(until_text) else None)
        if opened and until is not None and self.on_open is not None:
            await self.on_open(self.shop, reason, until)

    async def state(self) -> BreakerState:
        """Whether the breaker is open right now (half-open counts as closed), and why."""
        if self.redis is None:
            with _local_guard:
                entry = _local.get(self.key)
                if entry is None or entry.until is None or entry.until <= time.time():
                    return BreakerState(False, None, None)
                return BreakerState(True, entry.reason, entry.until)
        until_raw, reason_raw = await self.redis.hmget(self.key, "until", "reason")
        if until_raw is None:
            return BreakerState(False, None, None)
        until = float(_text(until_raw))
        server_now = await self._server_time()
        if until <= server_now:
            return BreakerState(False, None, None)
        return BreakerState(True, _text(reason_raw) if reason_raw is not None else None, until)

    async def check(self) -> None:
        """Raise ``ShopPausedError`` while open; after the cooldown let exactly one caller through
        as the trial (others keep waiting until it reports success or failure)."""
        if self.redis is None:
            state, reason, until = self._check_local()
        else:
            raw_state, raw_reason, raw_until = await self.redis.eval(_CHECK, 1, self.key, repr(self.cooldown_s))
            state, reason = _text(raw_state), _text(raw_reason)
            until = float(_text(raw_until)) if _text(raw_until) else None
        if state == "open":
            raise ShopPausedError(self.shop, f"circuit breaker open: {reason}", until=until)
        if state == "busy":
            raise ShopPausedError(self.shop, f"circuit breaker half-open, trial call in progress: {reason}",
                                  until=until)

    async def _server_time(self) -> float:
        seconds, micros = await self.redis.time()  # type: ignore[union-attr]
        return int(seconds) + int(micros) / 1_000_000

    # -- in-process --------------------------------------------------------------------------

    def _fail_local(self, reason: str) -> tuple[bool, float | None]:
        now = time.time()
        with _local_guard:
            entry = _local.setdefault(self.key, _Local())
            if entry.until is not None and entry.until > now:
                return False, entry.until
            if entry.until is None and now - entry.last_failure > self.window_s:
                entry.failures = 0
            entry.failures += 1
            entry.last_failure = now
            if entry.until is not None or entry.failures >= self.threshold:
                entry.until, entry.reason, entry.trial = now + self.cooldown_s, reason, None
                entry.failures = self.threshold
                return True, entry.until
            return False, None

    def _check_local(self) -> tuple[str, str, float | None]:
        now = time.time()
        with _local_guard:
            entry = _local.get(self.key)
            if entry is None or entry.until is None:
                return "closed", "", None
            if entry.until > now:
                return "open", entry.reason or "", entry.until
            if entry.trial is not None and entry.trial + self.cooldown_s > now:
                return "busy", entry.reason or "", entry.trial + self.cooldown_s
            entry.trial = now
            return "trial", entry.reason or "", None
