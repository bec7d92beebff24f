"""A leader lock: one holder at a time across every process sharing the Redis, with expiry.

Redis: ``SET key token NX PX ttl`` to take it, and Lua scripts that renew or release it only if
the stored token is still ours (a holder that paused past its TTL must not free a successor's
lock). Without Redis (the embedded default) the lock is held in this process. Not a mutex for
business data: entity locks belong to the services.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

KEY_PREFIX = "hub:leader:"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# name -> (token, monotonic expiry) for the in-process lock, shared by every LeaderLock here.
_local_locks: dict[str, tuple[str, float]] = {}
_local_guard = threading.Lock()


class LeaderLock:
    """Leadership called ``name``, held for ``ttl_s`` unless renewed."""

    def __init__(self, redis_client: Any | None, name: str, ttl_s: float = 10, *, key_prefix: str = KEY_PREFIX):
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.redis = redis_client
        self.name = name
        self.key = f"{key_prefix}{name}"
        self.ttl_s = ttl_s
        self.token = uuid.uuid4().hex

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    async def acquire(self) -> bool:
        """Take the lock if it is free (or already ours, which renews it). Never waits."""
        if self.redis is None:
            return self._local_take()
        if await self.redis.set(self.key, self.token, nx=True, px=self._ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lock by ``ttl_s`` if we still hold it; False means leadership was lost."""
        if self.redis is None:
            return self._local_renew()
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.token, self._ttl_ms))

    async def release(self) -> None:
        """Give the lock up if we hold it (someone else's lock is left alone)."""
        if self.redis is None:
            with _local_guard:
                held = _local_locks.get(self.key)
                if held is not None and held[0] == self.token:
                    del _local_locks[self.key]
            return
        await self.redis.eval(_RELEASE, 1, self.key, self.token)

    def _local_take(self) -> bool:
        now = time.monotonic()
        with _local_guard:
            held = _local_locks.get(self.key)
            if held is None or held[1] <= now or held[0] == self.token:
                _local_locks[self.key] = (self.token, now + self.ttl_s)
                return True
            return False

    def _local_renew(self) -> bool:
        now = time.monotonic()
        with _local_guard:
            held = _local_locks.get(self.key)
            if held is not None and held[0] == self.token and held[1] > now:
                _local_locks[self.key] = (self.token, now + self.ttl_s)
                return True
            return False
