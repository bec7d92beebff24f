"""Schema migrations, run programmatically with the Alembic scripts shipped in ``hub/migrations``.

``upgrade(url)`` brings any database (SQLite or PostgreSQL, any URL form ``normalise_url``
accepts) to the newest schema; no ``alembic.ini`` is needed in the working directory. To add a
migration after changing ``hub/db/tables.py``::

    python -m hub.db.migrate revision "add orders.priority"

autogenerates it against a scratch SQLite database at head; review it (batch mode, names from
the naming convention) and commit it with the table change. ``tests/integration/test_db_migrations``
fails while tables and migrations disagree. Not for creating tables any other way.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub.db.engine import normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Alembic keeps its running context in a module global, so two migrations in one process at once
# would share it; across processes, env.py's database lock keeps them apart.
_alembic_lock = threading.Lock()


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` pointing at the shipped scripts and at ``url``."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: ConfigParser would treat '%' in a password as syntax.
    config.attributes["database_url"] = normalise_url(url)
    return config


def _in_fresh_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` where no event loop is running (Alembic's env.py runs its own)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="hub-migrate")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (blocking; safe inside or outside a loop)."""
    if _loop_running():
        _in_fresh_thread(upgrade, url, revision)
        return
    with _alembic_lock:
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` for empty)."""
    if _loop_running():
        _in_fresh_thread(downgrade, url, revision)
        return
    with _alembic_lock:
        command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """``upgrade`` from async code, without blocking the running loop."""
    await asyncio.to_thread(_in_fresh_thread, upgrade, url, revision)


async def _current_revision(url: str) -> str | None:
    engine = create_async_engine(normalise_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    result: str | None = _in_fresh_thread(asyncio.run, _current_revision(url))
    return result


def head_revision() -> str | None:
    """The newest revision shipped with this version of the hub."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def make_revision(message: str) -> None:
    """Autogenerate a new revision from ``hub/db/tables.py`` against a scratch database at head."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/scratch.db"
        upgrade(url)
        with _alembic_lock:
            command.revision(alembic_config(url), message=message, autogenerate=True)


def main(argv: list[str]) -> int:
    usage = "usage: python -m hub.db.migrate (upgrade URL | current URL | revision MESSAGE)"
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return 2
    action, arg = argv
    if action == "upgrade":
        upgrade(arg)
    elif action == "current":
        print(current_revision(arg))
    elif action == "revision":
        make_revision(arg)
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
