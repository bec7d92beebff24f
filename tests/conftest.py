"""Settings for the hub's own test runs: reproducible Hypothesis, and parallel workers for the suite.

Hypothesis: the default profile, ``ci``, has no deadline (a loaded CI box must not fail an example
for being slow: timing is never what these properties check) and is derandomised (the examples
follow from the test's code, so a red run is red again on the same commit, on any machine, and a
green run cannot turn red on a rerun). It keeps no example database, which CI would throw away
anyway. To hunt for new counter-examples, run ``pytest --hypothesis-profile=explore`` (random,
remembered in ``.hypothesis/``), and turn what it finds into an ``@example`` or a table test.

Workers: most of the suite's time is spent waiting (on PostgreSQL, Redis, sockets, subprocesses),
so ``pytest`` (``-n auto --dist loadgroup`` in pyproject.toml) runs the whole suite on
``SUITE_WORKERS`` pytest-xdist workers. A run that names only files or test ids (``pytest
tests/unit/test_x.py``) stays in one process: starting workers would cost more than it saves.
``PYTEST_XDIST_AUTO_NUM_WORKERS=N`` chooses the number of workers for any run; ``-n 0`` runs in
one process. Each worker has its own databases, Redis namespaces and temporary directories.

Three xdist groups keep the heavy tests from competing with each other, each running its tests
one after the other on one worker while the other workers take the rest: ``PROCESSES`` (whole hubs
as subprocesses, with deadlines; and the tests that hold up to 20 PostgreSQL connections at once,
so they never meet the fault suite, which runs last), ``SEARCHES`` (long Hypothesis state machines)
and ``FUZZ`` (schemathesis, once per role fuzzed) — the last two CPU-bound, but without deadlines, so
they cannot fail for being slowed.

PostgreSQL connections: the workers of a run share 20 (``hub.testing.pg_budget``); a test that uses
PostgreSQL reserves a small share (3, ``PLAIN_SHARE``) before it starts, and the tests that need more
reserve what they usually hold (``CONNECTIONS``, measured). A backend pairing that is never run
(Redis with SQLite, the embedded queue with PostgreSQL) is skipped at collection and reserves
nothing (``hub.testing.hub.skip_unrun_pairings``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import structlog
from hypothesis import settings

from hub.testing.hub import skip_unrun_pairings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, derandomize=False, max_examples=500)
settings.load_profile("ci")

#: The hub's debug lines (one per order stored, per outbox relay, per push) are not kept in a test's
#: captured output: rendering them cost CPU the whole suite shares, and info and above say what
#: a failing test's hub did. A test that configures logging itself (``hub.logging``) sets its own level.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))

#: pytest-xdist workers for a run of the whole suite (or of directories). Much of a test's time is
#: I/O wait (hubs, sandboxes and browsers waiting on each other), so a 2-core machine keeps five
#: busy: measured with `.ci/run` on clean clones, 586 s with four against 645 s with three (session
#: 9), and 575 s with five against 581 s with four (session 10, plain PostgreSQL tests reserving 3).
SUITE_WORKERS = 5

#: Tests by node id prefix (relative to the repository root); see the module doc.
FAULT_SUITE = "tests/faults/test_fault_suite.py"  # the hub as `hub serve` + `hub worker` processes
CONCURRENT_TRANSACTIONS = (  # up to 20 connections at once (one per gathered task)
    "tests/integration/test_db_bindings.py::test_twenty_concurrent_binds",
    "tests/integration/test_db_engine.py::test_concurrent_read_then_write",
    "tests/integration/test_db_inbox.py::test_bump_attempts_is_atomic_under_concurrency",
    "tests/integration/test_db_inbox.py::test_concurrent_deliveries",
    "tests/integration/test_db_shops.py::test_db_shop_state_concurrent_sets",
    "tests/integration/test_db_shops.py::test_idempotency_key_is_claimed_once_under_concurrency",
    "tests/integration/test_inventory_reservations.py::test_fifty_concurrent_reservations",
    "tests/integration/test_order_service.py::test_concurrent_first_reports",
)
PROCESSES = (
    FAULT_SUITE,
    "tests/e2e/test_demo_restart.py",  # `hub run --demo` started, stopped, started again
    "tests/integration/test_db_migrations.py::test_concurrent_upgrades_from_several_processes",  # 3 processes
    *CONCURRENT_TRANSACTIONS,
)
SEARCHES = (
    "tests/integration/test_partitioned_interleavings.py",  # a Hypothesis state machine
    "tests/integration/test_inventory_state_machine.py",  # a Hypothesis state machine
)
#: schemathesis over every operation, once per role fuzzed: its own group, so it runs beside the state
#: machines rather than after them on one worker (together they were the run's longest path).
FUZZ = ("tests/integration/test_api_fuzz.py",)
GROUPS = (("processes", PROCESSES), ("searches", SEARCHES), ("fuzz", FUZZ))
#: PostgreSQL connections reserved by the tests that usually hold more than a worker's share.
CONNECTIONS = (
    (CONCURRENT_TRANSACTIONS, 20),
    ((FAULT_SUITE,), 12),  # its hub processes: 12 at most ("PostgreSQL connections" in its table)
    (("tests/e2e/",), 8),  # a hub with workers, sandboxes and the API: usually 5-7
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: ``SUITE_WORKERS`` for the suite or a directory, none for named files or tests."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if chosen.isdigit():
        return int(chosen)
    named = [arg for arg in config.args if not arg.startswith("-")]
    if named and all("::" in arg or not Path(arg).is_dir() for arg in named):
        return 0
    return SUITE_WORKERS


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the heavy tests in their xdist groups (before xdist reads the groups), the fault suite
    last, mark the PostgreSQL tests that reserve more than a worker's share of connections, and skip
    (before their fixtures run or connections are reserved) the backend pairings never run."""
    skip_unrun_pairings(items)
    items.sort(key=lambda item: item.nodeid.startswith(FAULT_SUITE))  # stable: only moves the fault suite
    for item in items:
        for group, prefixes in GROUPS:
            if item.nodeid.startswith(prefixes):
                item.add_marker(pytest.mark.xdist_group(group))
        if item.get_closest_marker("postgres") is None:
            continue
        for prefixes, connections in CONNECTIONS:
            if item.nodeid.startswith(prefixes):
                item.add_marker(pytest.mark.postgres_connections(connections))
                break
