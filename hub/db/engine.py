"""Connecting to the hub's database: one async engine per (URL, event loop).

``Database`` wraps an SQLAlchemy ``AsyncEngine`` and its session factory for SQLite (aiosqlite,
WAL: the embedded default) or PostgreSQL (asyncpg: production). asyncpg connections belong to the
loop that opened them, and the API, the actors and the background jobs each run their own loop
(docs/architecture.md §5), so code reaches the database through ``database_for_loop(url)``, never through a
module-level engine. Not for queries: those live in the repository modules beside this one.

SQLite transactions: ``Database.transaction()`` starts with ``BEGIN IMMEDIATE``, so a writer takes
the database's write lock before its first read and read-then-write code is serialised (SQLite
has no ``SELECT … FOR UPDATE``); waiting writers queue on ``busy_timeout`` instead of failing.
Plain ``Database.session()`` keeps the driver's default: reads outside a transaction, a deferred
``BEGIN`` before the first write.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from hub.db.sql_functions import register_sqlite_functions
from hub.errors import ConfigError

log = structlog.get_logger(__name__)

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./hub.db"

#: How long (ms) an SQLite writer waits for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def normalise_url(url: str) -> str:
    """Return ``url`` in the async-driver form the hub uses.

    ``postgres://``, ``postgresql://`` (and sync-driver variants) become ``postgresql+asyncpg://``
    (a libpq ``sslmode`` query parameter becomes asyncpg's ``ssl``); ``sqlite:///path`` becomes
    ``sqlite+aiosqlite:///path``. Any other backend is a ``ConfigError``.
    """
    raw = url.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise ConfigError(f"database URL {_safe(raw)!r} has no scheme; use postgresql://… or sqlite:///path")
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    if driver is None:
        raise ConfigError(
            f"database URL scheme {scheme!r} is not supported; use postgresql://… or sqlite:///path"
        )
    normalised = f"{driver}://{rest}"
    if driver == "postgresql+asyncpg" and "sslmode=" in rest:
        parsed = make_url(normalised)
        query = dict(parsed.query)
        sslmode = query.pop("sslmode")
        query.setdefault("ssl", sslmode)
        normalised = parsed.set(query=query).render_as_string(hide_password=False)
    return normalised


def _safe(url: str) -> str:
    """``url`` with its password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show only the scheme
        return url.split("://", 1)[0] + "://…"


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(url)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer; NORMAL is durable across application crashes
        # (only an OS crash may lose the last transactions), which is WAL's recommended pairing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
    register_sqlite_functions(dbapi_connection)


def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled asyncpg connection whose socket the server already closed; the pool then
    opens another (a pre-ping without a round trip: asyncpg notices the close on its event loop)."""
    raw = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(raw, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


class Database:
    """An async engine and its sessions, for one URL on one event loop."""

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self.url = url
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        """Create the engine for ``url`` (any form ``normalise_url`` accepts); connects lazily."""
        normalised = normalise_url(url)
        parsed = make_url(normalised)
        # Statement parameters carry buyers' personal data (names, phones, addresses in orders):
        # keep them out of error messages, which end up in logs and dead-letter reasons.
        options: dict[str, Any] = {"hide_parameters": True}
        if parsed.get_backend_name() == "sqlite":
            if _is_memory_sqlite(parsed):
                # One connection shared by every session: only for tests and throw-away tools.
                options.update(poolclass=StaticPool)
            else:
                options.update(pool_size=pool_size, max_overflow=pool_size)
            engine = create_async_engine(normalised, **options)
            event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        else:
            engine = create_async_engine(
                normalised,
                **options,
                pool_size=pool_size,
                max_overflow=pool_size,
                # No pool_pre_ping: with asyncpg it costs BEGIN, a query and ROLLBACK (three round
                # trips) on every checkout. A connection the server closed (restart, failover,
                # idle kill) is dropped on checkout instead (``_drop_closed``); one that dies
                # unnoticed fails its statement, SQLAlchemy then discards the pool's connections and
                # the actor's retry (or the client's) runs on fresh ones.
                pool_recycle=1800,
                connect_args={"server_settings": {"application_name": "connector-hub"}},
            )
            event.listen(engine.sync_engine, "checkout", _drop_closed)
        return cls(normalised, engine)

    def __repr__(self) -> str:
        return f"Database({_safe(self.url)!r})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def session(self) -> AsyncSession:
        """A new session (``async with db.session() as s:``); commit yourself if you write."""
        return self.sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """``async with db.transaction() as s:`` — commits on success, rolls back on any error."""
        async with self.sessions() as session:
            if self.dialect == "sqlite":
                await session.execute(text("BEGIN IMMEDIATE"))
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def ping(self, within_s: float = 2.0) -> bool:
        """True when ``SELECT 1`` answers within ``within_s`` seconds (readiness probe)."""
        try:
            async with asyncio.timeout(within_s):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("db.ping_failed", url=_safe(self.url), error=f"{type(exc).__name__}: {exc}")
            return False

    async def dispose(self) -> None:
        """Close every pooled connection (call on the loop that used them)."""
        await self.engine.dispose()


# One Database per (URL, loop). Keyed by the loop object itself, weakly: a loop that is garbage
# collected takes its entry with it (id(loop) could be reused by the next loop).
_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Database]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def database_for_loop(url: str) -> Database:
    """The ``Database`` for ``url`` on the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    key = normalise_url(url)
    with _registry_lock:
        per_loop = _registry.setdefault(loop, {})
        database = per_loop.get(key)
        if database is None:
            database = Database.connect(key)
            per_loop[key] = database
        return database


async def dispose_all_for_loop() -> None:
    """Dispose every ``Database`` created for the running loop and forget them."""
    loop = asyncio.get_running_loop()
    with _registry_lock:
        databases = list(_registry.pop(loop, {}).values())
    for database in databases:
        await database.dispose()
