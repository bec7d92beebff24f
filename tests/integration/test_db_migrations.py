"""Migrations on SQLite and the real PostgreSQL: they build the schema from nothing, go down and
up again, and describe exactly what ``hub/db/tables.py`` declares (the drift guard: change a table,
add a migration — ``python -m hub.db.migrate revision "…"``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub.db.migrate import current_revision, downgrade, head_revision, upgrade, upgrade_async
from hub.db.tables import Base
from hub.testing.db import create_postgres_database, drop_postgres_database, run_in_fresh_loop, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even Alembic's version table."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    server: str = request.getfixturevalue("postgres_server_url")
    url = create_postgres_database(server, prefix="hub_test_empty_")
    try:
        yield url
    finally:
        drop_postgres_database(server, url)


def _inspect(url: str, fn: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return run_in_fresh_loop(run)


def _schema_diff(url: str) -> list[Any]:
    def diff(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    return list(_inspect(url, diff))


def _tables(url: str) -> set[str]:
    return set(_inspect(url, lambda c: inspect(c).get_table_names()))


def test_upgrade_from_empty_builds_every_table_and_records_head(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()
    assert _tables(empty_database_url) == set(Base.metadata.tables) | {"alembic_version"}


def test_migrated_schema_matches_tables_py(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    diff = _schema_diff(empty_database_url)
    assert diff == [], (
        "hub/db/tables.py and hub/migrations disagree; add a migration with "
        f'`python -m hub.db.migrate revision "what changed"`. Differences: {diff}'
    )


def test_downgrade_to_base_then_upgrade_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}
    assert current_revision(empty_database_url) is None
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()


def test_upgrade_twice_is_a_no_op(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()


async def test_upgrade_from_async_code_does_not_need_the_loop(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    upgrade(empty_database_url)  # the sync entry also works while a loop is running
    assert current_revision(empty_database_url) == head_revision()


def test_plain_urls_are_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_concurrent_upgrades_from_several_processes_all_succeed(empty_database_url: str) -> None:
    """``hub serve`` and ``hub worker`` starting together must not trip over each other."""
    command = [sys.executable, "-m", "hub.db.migrate", "upgrade", empty_database_url]
    processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    failures = [p.stderr.read() if p.stderr else "" for p in processes if p.wait(120) != 0]
    assert failures == []
    assert current_revision(empty_database_url) == head_revision()
    assert _schema_diff(empty_database_url) == []


def test_concurrent_upgrades_in_one_process_are_serialised(empty_database_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_database_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert current_revision(empty_database_url) == head_revision()


def _execute(url: str, *statements: str) -> list[Any]:
    """Run ``statements`` in one transaction; the rows of the last one, if it returns any."""

    async def run() -> list[Any]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                result = None
                for statement in statements:
                    result = await connection.execute(text(statement))
                return list(result.all()) if result is not None and result.returns_rows else []
        finally:
            await engine.dispose()

    return list(run_in_fresh_loop(run))


def _inbox_row(shop: str, message_id: str, status: str = "done") -> str:
    return ("INSERT INTO inbox (platform, shop, message_id, source, kind, topic, payload, status, attempts, "
            f"received_at) VALUES ('douyin', '{shop}', '{message_id}', 'push', 'order', '100', '{{}}', "
            f"'{status}', 0, '2026-12-01 10:00:00+00:00')")


def test_0004_keeps_stored_messages_and_dedups_them_per_shop(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0003")
    _execute(url, _inbox_row("dy-a", "m-1"), _inbox_row("dy-a", "m-2", "failed"), _inbox_row("dy-b", "m-3"))
    upgrade(url, "0004")
    rows = _execute(url, "SELECT shop, message_id, status FROM inbox ORDER BY id")
    assert [tuple(r) for r in rows] == [("dy-a", "m-1", "done"), ("dy-a", "m-2", "failed"), ("dy-b", "m-3", "done")]
    _execute(url, _inbox_row("dy-b", "m-1"))  # another shop, same message id: stored
    with pytest.raises(IntegrityError):
        _execute(url, _inbox_row("dy-a", "m-1"))  # the same shop's repeat: refused
    with pytest.raises(RuntimeError, match="more than one shop"):
        downgrade(url, "0003")  # the old key would have to drop one of the two m-1 rows
    _execute(url, "DELETE FROM inbox WHERE shop = 'dy-b' AND message_id = 'm-1'")
    downgrade(url, "0003")
    assert len(_execute(url, "SELECT id FROM inbox")) == 3


def _outbox_row(actor: str, published_at: str | None) -> str:
    published = "NULL" if published_at is None else f"'{published_at}'"
    return ("INSERT INTO outbox (actor, args, kwargs, created_at, published_at) VALUES "
            f"('{actor}', '[]', '{{}}', '2026-12-01 10:00:00+00:00', {published})")


def test_0012_counts_what_was_already_published_as_done_and_leaves_the_rest_owed(empty_database_url: str) -> None:
    """Upgrading sends no old notification again: a row published before 0012 is done; one not yet
    published stays owed."""
    url = empty_database_url
    upgrade(url, "0011")
    _execute(url, _outbox_row("orders_changed", "2026-12-01 10:00:05+00:00"), _outbox_row("orders_changed", None))
    upgrade(url, "0012")
    rows = _execute(url, "SELECT published_at IS NULL, done_at IS NULL, done_at = published_at FROM outbox ORDER BY id")
    assert [tuple(bool(v) if v is not None else None for v in r) for r in rows] == [
        (False, False, True), (True, True, None)]
    downgrade(url, "0011")
    assert len(_execute(url, "SELECT id FROM outbox")) == 2
