"""``hub merge``, ``hub split`` and ``hub intercept`` against SQLite and PostgreSQL: proposals
listed, a merge made and undone, a split, a stop, and bad input as exit 2 without a traceback."""

from __future__ import annotations

from sqlalchemy import select

from hub.cli import app
from hub.db.engine import database_for_loop, dispose_all_for_loop
from hub.db.tables import FulfilmentPlanRow, OrderHoldRow
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop
from hub.testing.merging_factories import approved_order, line_ids

__all__ = ["clean_environment"]


def _seed(url: str) -> tuple[int, int, int, list[str]]:
    async def work() -> tuple[int, int, int, list[str]]:
        try:
            async with database_for_loop(url).transaction() as session:
                a = await approved_order(session, buyer="b1")
                b = await approved_order(session, buyer="b1")
                c = await approved_order(session, buyer="b2", lines=[("SKU-1", 1), ("SKU-2", 1)])
                return a, b, c, await line_ids(session, c)
        finally:
            await dispose_all_for_loop()
    return run_in_fresh_loop(work)


def _read(url: str, query: object) -> list[object]:
    async def work() -> list[object]:
        try:
            async with database_for_loop(url).session() as session:
                return list((await session.execute(query)).scalars())  # type: ignore[call-overload]
        finally:
            await dispose_all_for_loop()
    return run_in_fresh_loop(work)


def test_merge_split_and_intercept_commands(database_url: str) -> None:
    a, b, c, lines = _seed(database_url)
    env = {"HUB_DATABASE_URL": database_url}
    listed = runner.invoke(app, ["merge", "proposals"], env=env)
    assert listed.exit_code == 0 and f"{a} {b}" in listed.stdout, listed.output
    refused = runner.invoke(app, ["merge", str(a), str(c)], env=env)
    assert refused.exit_code == 2 and "force" in refused.output and "Traceback" not in refused.output
    made = runner.invoke(app, ["merge", str(a), str(b)], env=env)
    assert made.exit_code == 0, made.output
    merge_id = made.stdout.split("merged: ")[1].strip()
    again = runner.invoke(app, ["merge", str(a), str(b)], env=env)
    assert again.exit_code == 1 and "undo it first" in again.output and "Traceback" not in again.output
    undone = runner.invoke(app, ["merge", "--undo", merge_id], env=env)
    assert undone.exit_code == 0 and "undone" in undone.stdout
    split = runner.invoke(app, ["split", str(c), "--lines", lines[0], "--lines", lines[1]], env=env)
    assert split.exit_code == 0 and "2 deliveries" in split.stdout, split.output
    kinds = _read(database_url, select(FulfilmentPlanRow.kind))
    assert kinds == ["split"]
    stopped = runner.invoke(app, ["intercept", str(a), "--reason", "buyer phoned"], env=env)
    assert stopped.exit_code == 0 and "nothing had been sent" in stopped.stdout, stopped.output
    assert _read(database_url, select(OrderHoldRow.released_by).where(OrderHoldRow.order_id == a)) == [None]
    bad = runner.invoke(app, ["merge", "x", "y"], env=env)
    assert bad.exit_code == 2
