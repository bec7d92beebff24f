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

The heavy tests (``HEAVY``: whole hubs as subprocesses, long Hypothesis searches, the schemathesis
fuzz) share one xdist group, so they run one after the other on one worker, while the other
workers take the rest: they never compete with each other for the CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, derandomize=False, max_examples=500)
settings.load_profile("ci")

#: pytest-xdist workers for a run of the whole suite (or of directories). Most of a test's time
#: is I/O wait, so a 2-core machine keeps three busy; more mostly adds contention.
SUITE_WORKERS = 3

#: Tests (node id prefixes, relative to the repository root) that load the machine for long:
#: they run in one xdist group, one at a time. Long, but mostly waiting, tests need not be here.
HEAVY = (
    "tests/faults/test_fault_suite.py",  # the hub as `hub serve` + `hub worker` processes, faults
    "tests/e2e/test_demo_restart.py",  # `hub run --demo` started, stopped, started again
    "tests/integration/test_api_fuzz.py",  # schemathesis over every operation
    "tests/integration/test_partitioned_interleavings.py",  # a Hypothesis state machine
    "tests/integration/test_inventory_state_machine.py",  # a Hypothesis state machine
    "tests/integration/test_db_migrations.py::test_concurrent_upgrades_from_several_processes",  # 3 processes
)
HEAVY_GROUP = "heavy"


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
    """Put the ``HEAVY`` tests in one xdist group (before xdist reads the groups)."""
    for item in items:
        if item.nodeid.startswith(HEAVY):
            item.add_marker(pytest.mark.xdist_group(HEAVY_GROUP))
