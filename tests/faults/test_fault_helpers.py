"""The fault suite's own instruments (``hub.testing.faults``, ``bench/_faults_support.py``): the
private Redis really comes back empty on the same port, partner faults are fed at the asked share
of calls, the report of what a run left behind reads the hub's real tables, and a run waits out
the hub's slowest recovery before it calls anything stuck."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
import redis

from bench._faults_support import Options, left_behind
from bench.faults import parse_args
from hub.db.migrate import upgrade
from hub.services.fulfilment.settings import FulfilmentSection
from hub.testing.db import create_postgres_database, drop_postgres_database
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


@pytest.mark.postgres
def test_what_a_run_left_behind_is_read_from_the_hubs_real_columns(postgres_server_url: str) -> None:
    """Once reported "outbox row: cannot read (column "topic" does not exist)" instead of the row."""
    url = create_postgres_database(postgres_server_url, prefix="hub_faults_report_")
    try:
        upgrade(url)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

        async def unpublished() -> None:
            connection = await asyncpg.connect(dsn)
            try:
                await connection.execute("INSERT INTO outbox (actor, args, kwargs, created_at) "
                                         "VALUES ('push_shop_stock', '[\"faults-tmall\"]', '{}', now())")
            finally:
                await connection.close()

        asyncio.run(unpublished())
        lines = left_behind(dsn)
    finally:
        drop_postgres_database(postgres_server_url, url)
    assert not [line for line in lines if "cannot read" in line], lines
    assert any(line.startswith("outbox row: ") and "push_shop_stock" in line and "faults-tmall" in line
               for line in lines), lines


def test_a_run_waits_out_a_confirmation_a_killed_worker_left_mid_call_before_calling_it_stuck() -> None:
    """A worker killed while confirming a shipment leaves its claim "calling": the confirmation is
    sent again once the claim is older than ``confirm_in_flight``. A run that gives up sooner
    reports a shipment stuck that the hub would have confirmed."""
    from tests.faults.test_fault_suite import EXTRA_CONFIG, _options

    in_flight = FulfilmentSection().confirm_in_flight.total_seconds()
    assert Options().stall_s > in_flight
    assert parse_args([]).stall > in_flight
    suite = FulfilmentSection.model_validate(EXTRA_CONFIG["fulfilment"]).confirm_in_flight.total_seconds()
    assert _options("postgresql://unused").stall_s > suite
