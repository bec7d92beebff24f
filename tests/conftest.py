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
and run first, before the fault suite), ``SEARCHES`` (long Hypothesis state machines)
and ``FUZZ`` (schemathesis, once per role fuzzed) — the last two CPU-bound, but without deadlines, so
they cannot fail for being slowed.

PostgreSQL connections: the workers of a run share 20 (``hub.testing.pg_budget``); a test that uses
PostgreSQL reserves a small share (3, ``PLAIN_SHARE``) before it starts, and the tests that need more
reserve what they usually hold (``CONNECTIONS``, measured). A backend pairing that is never run
(Redis with SQLite, the embedded queue with PostgreSQL) is skipped at collection and reserves
nothing (``hub.testing.hub.skip_unrun_pairings``).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
#: Tracebacks are rendered as plain text, as ``hub.logging`` does for the hub's console: structlog's
#: default renders each with rich (boxed frames, highlighted source, every local variable), ~1.9 s of
#: CPU per logged exception, and a test that logs twenty (a failed group commit) spent 17 s on it.
_TEST_PROCESSORS: list[structlog.typing.Processor] = []


def _configure_test_logging() -> None:
    global _TEST_PROCESSORS
    _TEST_PROCESSORS = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.dev.set_exc_info,
        structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
    ]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                        processors=_TEST_PROCESSORS, logger_factory=structlog.PrintLoggerFactory(),
                        context_class=dict, cache_logger_on_first_use=False)


_configure_test_logging()


@pytest.fixture(autouse=True)
def _test_logging() -> Iterator[None]:
    """Back to the tests' logging after a test reset structlog's (``structlog.reset_defaults()``): a
    reset left the worker's later tests rendering with rich at debug level. What ``hub.logging``
    configured (an in-process CLI command) stays, as it always has."""
    yield
    config = structlog.get_config()
    if config["processors"] is not _TEST_PROCESSORS and not isinstance(config["logger_factory"],
                                                                        structlog.stdlib.LoggerFactory):
        _configure_test_logging()


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


def _share_route_state_between_apps() -> None:
    """Build each API route's request state once per test process, not once per app.

    FastAPI (0.16x) builds a route's request state — its parameters' pydantic models — on the first
    request that reaches it, per app; every test builds its own app (``hub.api.create_app``), so
    each paid ~0.4 s of CPU to warm the routes its requests walked past: measured, 46 % of the CPU
    of ``test_api_orders.py``. The state depends only on the route and how it was included, which
    is the same in every app of the process (the routers are module-level objects), except the
    app consulted for ``dependency_overrides``, which the hub and its tests never set (asserted
    here, so a test that starts using them fails loudly instead of being routed with another
    app's). Does nothing when FastAPI's internals differ from what it expects."""
    from fastapi import routing

    context_class = getattr(routing, "_EffectiveRouteContext", None)
    build = getattr(context_class, "from_api_route", None)
    if context_class is None or build is None:
        return
    built: dict[tuple[Any, ...], Any] = {}

    def from_api_route(cls: Any, *, original_route: Any, include_context: Any) -> Any:
        overrides = getattr(include_context.dependency_overrides_provider, "dependency_overrides", None)
        assert not overrides, "the shared route state assumes no app sets dependency_overrides"
        key = (id(original_route), include_context.prefix, id(include_context.included_router),
               include_context.max_body_size, include_context.include_in_schema,
               tuple(id(dependency) for dependency in include_context.dependencies))
        found = built.get(key)
        if found is None or found[0] is not original_route:
            found = built[key] = (original_route, build(original_route=original_route, include_context=include_context))
        return found[1]

    context_class.from_api_route = classmethod(from_api_route)


_share_route_state_between_apps()


#: The cyclic garbage collector's generation-0 threshold during a run (CPython's default is 700).
GC_THRESHOLDS = (20_000, 20, 100)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the collector off what collection built: every imported module, plugin and test
    object is moved out of its reach (``gc.freeze``) and collections run less often. Each worker
    traversed that heap, over a million objects, in every full collection: measured, a fifth of
    the CPU of an API test file went to the collector, about half of that with the heap frozen,
    a third with fewer collections too. Cycles are still collected; the PostgreSQL fixtures
    collect explicitly when leftover connections pile up (``hub.testing.db``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the heavy tests in their xdist groups (before xdist reads the groups), mark the PostgreSQL
    tests that reserve more than a worker's share of connections, skip (before their fixtures run or
    connections are reserved) the backend pairings never run, and put the tests in the run's order
    (``suite_order``)."""
    skip_unrun_pairings(items)
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
    items[:] = suite_order(items)


def suite_order(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order the run hands tests out in (xdist's loadgroup first hands out the groups of several
    tests, largest first, each in this order; then the single tests in this order), so that the
    run's 20 PostgreSQL connections (``hub.testing.pg_budget``) are wanted evenly over the run.

    * ``processes`` starts with the tests that reserve all 20 connections, then the fault suite
      (12, for two to three minutes), while the other workers start with the fuzz and the unit
      tests, which use none. A 20-connection test run midway waits for every other worker's
      PostgreSQL test to end and holds up their next ones meanwhile (10-22 s each); the fault suite
      run last in the group met the e2e hubs (8 each) at their busiest.
    * The other single tests are spread out by what they reserve (none, a worker's share, an e2e
      hub's 8), each kind in collection order: in collection order the e2e hubs came first and
      waited for each other's connections while the tests that use none waited for the end.

    Measured: the workers of a whole run waited ~380 s in all for connections in collection order.
    """
    from hub.testing.pg_budget import reserved_connections

    def grouped(item: pytest.Item) -> bool:
        return any(item.nodeid.startswith(prefixes) for group, prefixes in GROUPS if group != "fuzz")

    processes = [item for item in items if item.nodeid.startswith(PROCESSES)]
    processes.sort(key=lambda item: (not item.nodeid.startswith(CONCURRENT_TRANSACTIONS),
                                     not item.nodeid.startswith(FAULT_SUITE)))
    first = [item for item in items if item.nodeid.startswith(FUZZ)]
    first += [item for item in items if item.nodeid.startswith("tests/unit/") and not grouped(item)
              and reserved_connections(item, SUITE_WORKERS) == 0]
    chosen = {id(item) for item in processes + first}
    kinds: dict[int, list[pytest.Item]] = {}
    for item in items:
        if id(item) not in chosen:
            kinds.setdefault(min(reserved_connections(item, SUITE_WORKERS), 4), []).append(item)
    spread = sorted(((n + 0.5) / len(kind), reserved, n) for reserved, kind in kinds.items() for n in range(len(kind)))
    return processes + first + [kinds[reserved][n] for _, reserved, n in spread]
