"""The PostgreSQL connection budget the xdist workers of a run share: what a test reserves, and a
worker that wants more than is free waits until another gives its reservation back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hub.testing.pg_budget import ConnectionBudget, reserved_connections


class _Item:
    def __init__(self, *marks: Any, fixturenames: tuple[str, ...] = ()) -> None:
        self.marks = {mark.name: mark for mark in marks}
        self.fixturenames = fixturenames

    def get_closest_marker(self, name: str) -> Any:
        return self.marks.get(name)


def _reserved(item: _Item, workers: int) -> int:
    return reserved_connections(item, workers)  # type: ignore[arg-type]


def test_a_postgres_test_reserves_a_small_share_unless_it_says_how_many() -> None:
    postgres = pytest.mark.postgres.mark
    assert _reserved(_Item(postgres), 3) == 3
    assert _reserved(_Item(postgres), 2) == 3
    assert _reserved(_Item(postgres), 10) == 2  # never more than an even split of the budget
    assert _reserved(_Item(fixturenames=("postgres_server_url",)), 4) == 3
    assert _reserved(_Item(postgres, pytest.mark.postgres_connections(14).mark), 3) == 14
    assert _reserved(_Item(pytest.mark.postgres_connections(99).mark), 3) == 20  # never more than the budget
    assert _reserved(_Item(fixturenames=("tmp_path", "database")), 3) == 0  # SQLite only: nothing
    # Marked skipped (an unrun backend pairing, hub.testing.hub.skip_unrun_pairings): it never
    # opens a connection, so it must not wait for any.
    assert _reserved(_Item(postgres, pytest.mark.postgres_connections(8).mark, pytest.mark.skip.mark), 4) == 0


def test_a_worker_waits_until_the_others_give_back_enough(tmp_path: Path) -> None:
    first, second, third = (ConnectionBudget(tmp_path) for _ in range(3))
    first.acquire(15)
    second.acquire(5)  # 20 of 20 now held
    done = threading.Event()

    def wants_two() -> None:
        third.acquire(2)
        done.set()

    waiting = threading.Thread(target=wants_two)
    waiting.start()
    waiting.join(0.3)
    assert not done.is_set(), "the budget was spent, yet a third reservation went through"
    first.release()
    waiting.join(30)
    assert done.is_set()
    third.release()
    second.release()
    first.acquire(20)  # everything given back
    first.release()
