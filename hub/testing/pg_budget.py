"""PostgreSQL connections shared out among the pytest-xdist workers of one test run.

The server is shared, so a whole run — every worker together — should hold at most
``MAX_TEST_POSTGRES_CONNECTIONS`` (20) at once. Before a test that uses PostgreSQL starts, its
worker reserves connections from that budget: ``PLAIN_SHARE`` (3) by default (fewer when the budget
split evenly among the workers is smaller), or what the test's ``@pytest.mark.postgres_connections(n)``
says (a
test that runs a hub with workers, many concurrent transactions, or hub processes). A worker whose
test needs more than is free waits — before the test's timeout starts — until the others' tests
give theirs back; a test that holds more than it reserved is not failed for it (the hard cap of
``hub.testing.db`` still applies), it only briefly takes the run past its budget.

A test uses PostgreSQL when it carries the ``postgres`` mark (the PostgreSQL variant of
``database_url`` does) or uses ``postgres_server_url`` / ``postgres_database_url``. In a run
without workers nothing is reserved. The budget is one lock file per connection in the run's
temporary directory (``flock``: a worker that dies gives its reservation back), taken by one
worker at a time (a second lock), so a large reservation is not starved by small ones. Not for
production code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO

import pytest

from hub.testing.db import MAX_TEST_POSTGRES_CONNECTIONS as RUN_BUDGET

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no budget, each test is still capped on its own
    fcntl = None  # type: ignore[assignment]

__all__ = ["ConnectionBudget", "reserved_connections", "workers"]

POSTGRES_FIXTURES = frozenset({"postgres_server_url", "postgres_database_url"})
#: What a plain PostgreSQL test reserves: measured, such a test holds 1 connection, 3-4 when it runs a
#: hub in-process. An even split of the budget (5 with four workers) kept workers waiting while a
#: large reservation (the fault suite's 12, an e2e test's 8) ran, with connections free.
PLAIN_SHARE = 3
_POLL_S = 0.02


def workers() -> int:
    """How many xdist workers this run has (1 without xdist)."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1


def reserved_connections(item: pytest.Item, worker_count: int) -> int:
    """What ``item`` reserves: nothing if it is marked skipped; its ``postgres_connections`` mark,
    else a worker's share if it uses PostgreSQL, else nothing; never more than the whole budget."""
    if item.get_closest_marker("skip") is not None:
        return 0
    mark = item.get_closest_marker("postgres_connections")
    if mark is not None:
        wanted = int(mark.args[0] if mark.args else mark.kwargs.get("n", RUN_BUDGET))
        return max(0, min(wanted, RUN_BUDGET))
    fixtures = set(getattr(item, "fixturenames", ()))
    if item.get_closest_marker("postgres") is not None or fixtures & POSTGRES_FIXTURES:
        return max(1, min(PLAIN_SHARE, RUN_BUDGET // worker_count))
    return 0


class ConnectionBudget:
    """``RUN_BUDGET`` lock files in ``directory`` shared by the workers of one run."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._turnstile = (directory / "turnstile.lock").open("a")
        self._units = [(directory / f"connection-{n:02d}.lock").open("a") for n in range(RUN_BUDGET)]
        self._held: list[IO[str]] = []

    def acquire(self, count: int) -> None:
        """Hold ``count`` connections of the budget, waiting until the other workers free them."""
        assert fcntl is not None and not self._held
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)  # one worker at a time gathers its reservation
        try:
            while len(self._held) < count:
                for unit in self._units:
                    if unit in self._held:
                        continue
                    try:
                        fcntl.flock(unit, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    self._held.append(unit)
                    if len(self._held) == count:
                        break
                else:
                    time.sleep(_POLL_S)  # the holders never wait for anything: they finish and free theirs
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)

    def release(self) -> None:
        assert fcntl is not None
        for unit in self._held:
            fcntl.flock(unit, fcntl.LOCK_UN)
        self._held = []


_budget: ConnectionBudget | None = None


def _budget_for(config: pytest.Config) -> ConnectionBudget | None:
    """The run's budget (in the directory above this worker's ``--basetemp``), or ``None``."""
    global _budget
    basetemp = getattr(config.option, "basetemp", None)
    if fcntl is None or not hasattr(config, "workerinput") or not basetemp:
        return None
    if _budget is None:
        _budget = ConnectionBudget(Path(basetemp).parent / "postgres-connection-budget")
    return _budget


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Reserve the test's connections around its whole run (outside pytest-timeout's clock)."""
    count = workers()
    budget = _budget_for(item.config) if count > 1 else None
    wanted = reserved_connections(item, count) if budget is not None else 0
    if budget is None or wanted == 0:
        return (yield)
    budget.acquire(wanted)
    try:
        return (yield)
    finally:
        budget.release()
