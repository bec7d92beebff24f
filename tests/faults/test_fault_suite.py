"""The standing fault suite, bounded for CI: 40 paid orders over the four sandbox shops, five
shipments recorded over the API, and one fault mid-run — a worker killed with SIGKILL (another
started), the broker restarted empty (a ``redis-server`` of the test's own, never the shared one),
or 30% of partner calls failing. Then, once the hub is quiet, nothing may be lost or stuck: every
order stored once and reserved, every shipment confirmed and shown shipped by its sandbox, every
shop showing the expected stock, no inbox/outbox/shipment rows left behind, no dead letters.

The hub runs as real ``hub serve`` + ``hub worker`` processes (2 worker threads: the test stays
well within ~20 PostgreSQL connections) on a throw-away PostgreSQL database; the steps and the
ledger are ``bench/_faults_support.py``'s, shared with ``bench/faults.py``. No wall-clock
assertions: every wait is on a condition, bounded, with a generous deadline.
"""

from __future__ import annotations

import pytest

from bench._faults_support import STALL_S, Options, run_scenario, table

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

#: More hub config for every scenario (TOML sections). The sweepers run often here so what a fault
#: left owed is found within seconds; production defaults are 30 s / 60 s (docs/operators.md). A
#: stock push without an answer is pushed again after 5 s instead of 60: a sandbox applies a call
#: before it answers it (a slow one within 0.5 s), so nothing it got can land later than that.
#: Paid orders per scenario (``bench/faults.py`` runs more).
ORDERS = 40
# A confirmation a killed worker left mid-call is taken over after 12.5 s instead of 150 s (the
# sandboxes answer in milliseconds, so 10 s per attempt is ample).
EXTRA_CONFIG: dict[str, dict[str, object]] = {"queue": {"sweep_interval_s": 2, "sweep_after_s": 5},
                                              "rules": {"stock_unanswered_wait_s": 5},
                                              "fulfilment": {"confirm_timeout_s": 10}}


def _options(postgres_server_url: str) -> Options:
    # stall_s outlasts the hub's own slow recoveries: dramatiq's 60 s heartbeat timeout before a
    # killed worker's unacknowledged messages are handed back, and the time a confirmation that
    # worker claimed mid-call waits before it is sent again (``STALL_S``, for the default 150 s).
    return Options(orders=ORDERS, shipments=5, rate=20.0, threads=2, outage_s=2.0, fault_rate=0.3,
                   stall_s=STALL_S, deadline_s=300.0, settle_timeout_s=90.0, extra_config=EXTRA_CONFIG,
                   postgres_server_url=postgres_server_url)


@pytest.mark.timeout(420)
@pytest.mark.parametrize("scenario", [
    "worker-kill",
    "broker-restart",
    "partner-faults",
])
def test_nothing_is_lost_or_stuck_after_the_fault(scenario: str, postgres_server_url: str) -> None:
    ledger = run_scenario(scenario, _options(postgres_server_url))
    assert ledger.created == ORDERS + 8, "\n" + table([ledger])  # plus one order per shop and SKU (listings)
    assert not ledger.problems(), "\n" + table([ledger])
