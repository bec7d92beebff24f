"""The fault suite's own instruments (``hub.testing.faults``): the private Redis really comes back
empty on the same port, and partner faults are fed at the asked share of calls."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from hub.testing.faults import PartnerFaults, PrivateRedis

pytestmark = pytest.mark.redis


def test_a_restarted_private_redis_is_empty_and_on_the_same_port() -> None:
    with PrivateRedis() as server:
        assert server.port != 6379
        client = redis.Redis.from_url(server.url)
        try:
            client.set("queued", "message")
            port = server.port
            server.restart_empty()
            assert server.port == port
            assert client.get("queued") is None, "the broker restart must drop what it held"
        finally:
            client.close()


class _Box:
    """A sandbox as ``PartnerFaults`` sees one: calls served, faults to serve next."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.faults: list[str] = []

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        self.faults += [fault] * count


def test_partner_faults_fail_about_the_asked_share_of_calls() -> None:
    box: Any = _Box()
    with PartnerFaults([box], rate=0.3, seed=1) as feeder:
        box.calls.extend(["call"] * 10_000)
        deadline = time.monotonic() + 30
        while feeder.seen[0] < len(box.calls) and time.monotonic() < deadline:
            time.sleep(0.01)
    share = len(box.faults) / (len(box.faults) + len(box.calls))
    assert 0.27 < share < 0.33
    assert set(box.faults) <= {"throttle", "unavailable", "slow"}
