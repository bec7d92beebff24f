"""Database fixtures for the hub's tests and for plugin authors: every test on SQLite *and* PostgreSQL.

``database_url`` is parametrised over ``sqlite`` and ``postgresql`` and gives each test a freshly
migrated, empty database: SQLite as a copy of a template migrated once per session (in the test's
``tmp_path``); PostgreSQL as a throw-away database (``hub_test_<8 hex>``) created and migrated
once per test session on the server at ``HUB_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``), emptied before each test (the tables that
hold rows truncated, the used id sequences restarted), and dropped at the end. ``database`` is a
connected ``hub.db.engine.Database`` on the test's loop (the one ``database_for_loop`` returns),
disposed afterwards. Console users' passwords are hashed with argon2id at its cheapest during a
test run (``TEST_PASSWORD_COST``).

An unreachable PostgreSQL makes the PostgreSQL variants *fail*, loudly: CI must not go green on
SQLite alone. Set ``HUB_TEST_POSTGRES_URL=off`` to skip them deliberately. Not for production code.

The PostgreSQL server is shared (by CI jobs, by developers' parallel runs), so a test process may
hold at most ``MAX_TEST_POSTGRES_CONNECTIONS`` connections at once: every pooled connection the
process opens is counted, and a test that held more than that at once fails at teardown, naming
the peak. Under pytest-xdist the workers of a run also share that many between them
(``hub.testing.pg_budget``). Connections left open by earlier tests' undisposed engines are
garbage collected once there are more than ``LEFTOVER_CONNECTIONS``. A concurrency test gets its concurrency from many
tasks sharing a small pool (``Database.connect(url, pool_size=8)``: up to 16 connections), not from
one connection per task.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, make_url
from sqlalchemy.pool import Pool

from hub.db.engine import Database, database_for_loop, dispose_all_for_loop, normalise_url
from hub.db.migrate import upgrade

try:  # pytest-asyncio's decorator works in strict mode too; plain pytest.fixture needs auto mode
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio async fixtures cannot run anyway
    async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = [
    "DEFAULT_POSTGRES_SERVER_URL",
    "MAX_TEST_POSTGRES_CONNECTIONS",
    "create_postgres_database",
    "database",
    "database_url",
    "dispose_databases_of_the_test_loop",
    "drop_postgres_database",
    "postgres_connection_cap",
    "postgres_database_url",
    "postgres_server_url",
    "pytest_configure",
    "run_in_fresh_loop",
    "sqlite_template",
    "sqlite_url",
    "truncate_postgres_tables",
]

DEFAULT_POSTGRES_SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
#: The most pooled PostgreSQL connections a test process may hold open at once (see the module doc).
MAX_TEST_POSTGRES_CONNECTIONS = 20
#: Connections earlier tests left open (engines never disposed) tolerated before collecting them.
LEFTOVER_CONNECTIONS = 4
T = TypeVar("T")


def run_in_fresh_loop(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a new loop in a new thread (safe from any context)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coro())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="hub-testing-db")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["value"]
    return result


def sqlite_url(path: Path | str) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _libpq_dsn(url: str) -> str:
    """asyncpg's DSN (plain ``postgresql://``) for a hub URL."""
    return make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _admin(server_url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(_libpq_dsn(server_url), timeout=10)


def create_postgres_database(server_url: str, prefix: str = "hub_test_") -> str:
    """Create an empty database with a random name on the server; returns its hub URL."""
    name = f"{prefix}{secrets.token_hex(4)}"

    async def create() -> None:
        import asyncpg

        connection = await _admin(server_url)
        try:
            for attempt in range(10):
                try:
                    await connection.execute(f'CREATE DATABASE "{name}"')
                    return
                except asyncpg.ObjectInUseError:  # someone is connected to template1 right now
                    await asyncio.sleep(0.2 * (attempt + 1))
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    run_in_fresh_loop(create)
    return make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, database_url: str) -> None:
    """Drop the database ``database_url`` names, closing anything still connected to it."""
    name = make_url(database_url).database
    if not name or name == make_url(normalise_url(server_url)).database:
        raise ValueError(f"refusing to drop {name!r}: it is the server's own database")

    async def drop() -> None:
        connection = await _admin(server_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    run_in_fresh_loop(drop)


#: Empties a migrated database in one round trip: ``TRUNCATE`` only the tables that hold rows (a
#: ``TRUNCATE`` of every table cost ~0.3-0.6 s per test, mostly new files for tables already empty)
#: and restart every sequence that has been used, so ids start at 1 again as after a full truncate.
_EMPTY_TABLES_SQL = """
DO $$
DECLARE
    name text;
    seq record;
    has_rows boolean;
    busy text[] := '{}';
BEGIN
    FOR name IN SELECT tablename FROM pg_tables
                WHERE schemaname = current_schema() AND tablename <> 'alembic_version' LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO has_rows;
        IF has_rows THEN
            busy := busy || format('%I', name);
        END IF;
    END LOOP;
    IF cardinality(busy) > 0 THEN
        EXECUTE 'TRUNCATE TABLE ' || array_to_string(busy, ', ') || ' RESTART IDENTITY CASCADE';
    END IF;
    FOR seq IN SELECT schemaname, sequencename, start_value FROM pg_sequences
               WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
        PERFORM setval(format('%I.%I', seq.schemaname, seq.sequencename)::regclass, seq.start_value, false);
    END LOOP;
END $$
"""


def truncate_postgres_tables(database_url: str) -> None:
    """Empty every table but ``alembic_version`` and restart their id sequences."""

    async def truncate() -> None:
        import asyncpg

        connection = await asyncpg.connect(_libpq_dsn(database_url), timeout=10)
        try:
            await connection.execute("SET lock_timeout = '5s'")
            try:
                await connection.execute(_EMPTY_TABLES_SQL)
            except asyncpg.LockNotAvailableError:
                # A previous test left a connection in a transaction: end it, then retry.
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                await connection.execute(_EMPTY_TABLES_SQL)
        finally:
            await connection.close()

    run_in_fresh_loop(truncate)


class _ConnectionCount:
    """Pooled PostgreSQL connections open in this process, and the most the current test held.

    Counted from SQLAlchemy's pool ``connect`` event (every engine, whoever made it); a connection
    stops counting once its pool closes it (the record's ``dbapi_connection`` becomes ``None``) or
    the record is garbage collected with its engine. A test is charged only for the connections it
    opened, so one that forgot to dispose its engine does not fail the tests after it.
    """

    def __init__(self) -> None:
        self._records: weakref.WeakSet[Any] = weakref.WeakSet()
        self._earlier: weakref.WeakSet[Any] = weakref.WeakSet()
        self._guard = threading.Lock()
        self.peak = 0

    def _open(self) -> list[Any]:
        with self._guard:
            return [record for record in list(self._records) if record.dbapi_connection is not None]

    def open_now(self) -> int:
        """Connections open in this process, whichever test opened them."""
        return len(self._open())

    def opened_by_this_test(self) -> int:
        return sum(1 for record in self._open() if record not in self._earlier)

    def opened(self, dbapi_connection: Any, record: Any) -> None:
        if "asyncpg" not in type(dbapi_connection).__module__:
            return  # SQLite files are the test's own
        with self._guard:
            self._records.add(record)
        self.peak = max(self.peak, self.opened_by_this_test())

    def start_test(self) -> None:
        if self.open_now() > LEFTOVER_CONNECTIONS:
            # Engines earlier tests never disposed keep their sockets until the garbage collector
            # frees them; collect now rather than let them pile up on the shared server.
            gc.collect()
        with self._guard:
            self._earlier = weakref.WeakSet(self._records)
        self.peak = 0


_postgres_connections = _ConnectionCount()
event.listen(Pool, "connect", _postgres_connections.opened)


@pytest.fixture(autouse=True)
def postgres_connection_cap() -> Iterator[None]:
    """Fail the test if it held more than ``MAX_TEST_POSTGRES_CONNECTIONS`` at once."""
    _postgres_connections.start_test()
    yield
    peak = _postgres_connections.peak
    if peak > MAX_TEST_POSTGRES_CONNECTIONS:
        pytest.fail(
            f"this test held {peak} PostgreSQL connections at once; tests share the server and may hold at most "
            f"{MAX_TEST_POSTGRES_CONNECTIONS}. Run many tasks over a small pool (Database.connect(url, pool_size=8)) "
            "instead of one connection per task, and dispose the engines you create.",
            pytrace=False,
        )


@async_fixture(autouse=True)
async def dispose_databases_of_the_test_loop() -> AsyncIterator[None]:
    """Close every engine the test opened on its event loop once it is over (after its other
    fixtures), so a test that builds hubs and forgets to dispose them leaves no connection open on
    the shared server: undisposed engines otherwise kept their sockets for the whole session (69
    connections on one database were seen midway through the suite)."""
    yield
    await dispose_all_for_loop()


#: argon2id at its cheapest for test users' passwords (``hub.db.users.use_password_hasher``): the
#: same algorithm and code path as production, without its deliberate ~0.3 s of CPU per hash.
TEST_PASSWORD_COST = (1, 64, 1)  # time_cost, memory_cost (KiB), parallelism


def pytest_configure(config: pytest.Config) -> None:
    from argon2 import PasswordHasher

    from hub.db.users import use_password_hasher

    time_cost, memory_cost, parallelism = TEST_PASSWORD_COST
    use_password_hasher(PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism))
    config.addinivalue_line(
        "markers", "postgres: needs the real PostgreSQL (skipped only when HUB_TEST_POSTGRES_URL is set to 'off')"
    )
    config.addinivalue_line(
        "markers", "postgres_connections(n): under pytest-xdist, reserve n of the run's PostgreSQL connections "
        "before the test starts (default: an even share for each worker; see hub.testing.pg_budget)"
    )


def _postgres_off() -> bool:
    return os.environ.get("HUB_TEST_POSTGRES_URL", "").strip().lower() == "off"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server tests create their databases on (``HUB_TEST_POSTGRES_URL``)."""
    configured = os.environ.get("HUB_TEST_POSTGRES_URL", "").strip()
    if configured.lower() == "off":
        pytest.skip("PostgreSQL tests are switched off (HUB_TEST_POSTGRES_URL=off)")
    return normalise_url(configured or DEFAULT_POSTGRES_SERVER_URL)


@pytest.fixture(scope="session")
def postgres_database_url(postgres_server_url: str) -> Iterator[str]:
    """A migrated database of its own for this test session, dropped at the end."""

    async def probe() -> None:
        connection = await _admin(postgres_server_url)
        await connection.close()

    problem = None
    try:
        run_in_fresh_loop(probe)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        pytest.fail(
            f"PostgreSQL at {_safe(postgres_server_url)} is unreachable ({problem}). "
            "Start it, point HUB_TEST_POSTGRES_URL at a reachable server, or set HUB_TEST_POSTGRES_URL=off "
            "to skip the PostgreSQL variants deliberately.",
            pytrace=False,
        )
    url = create_postgres_database(postgres_server_url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_postgres_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once per session; tests get copies."""
    path = tmp_path_factory.mktemp("hub-sqlite-template") / "template.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for this test, on each backend in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "hub.db"
        shutil.copyfile(template, path)
        wal = template.with_name(template.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, path.with_name(path.name + "-wal"))
        return sqlite_url(path)
    if _postgres_off():
        pytest.skip("PostgreSQL tests are switched off (HUB_TEST_POSTGRES_URL=off)")
    url: str = request.getfixturevalue("postgres_database_url")
    truncate_postgres_tables(url)
    return url


@async_fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The test's database, connected on the test's loop (what ``database_for_loop`` returns)."""
    db = database_for_loop(database_url)
    try:
        yield db
    finally:
        await dispose_all_for_loop()
