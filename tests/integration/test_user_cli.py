"""``hub user`` against real databases: the last active admin user is only deactivated with
``--force`` (as the console refuses it outright), a deactivated user can be reactivated, and every
change is in the audit log under ``cli:<user>`` without the password."""

from __future__ import annotations

from hub.cli import app
from hub.db import audit
from hub.db.engine import database_for_loop, dispose_all_for_loop
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop

__all__ = ["clean_environment"]
PASSWORD = "correct horse battery"


async def _audit(url: str) -> list[tuple[str, str, str]]:
    try:
        async with database_for_loop(url).session() as session:
            rows = (await audit.list_entries(session, audit.AuditFilters(subject="user:boss"))).rows
        return [(row.action, row.actor, str(row.details)) for row in reversed(rows)]
    finally:
        await dispose_all_for_loop()


def test_the_last_admin_user_needs_force_and_comes_back_with_reactivate(database_url: str) -> None:
    env = {"HUB_DATABASE_URL": database_url}
    added = runner.invoke(app, ["user", "add", "boss", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n",
                          env=env)
    assert added.exit_code == 0, added.output
    refused = runner.invoke(app, ["user", "deactivate", "boss"], env=env)
    assert refused.exit_code == 2 and "last active admin user" in refused.output and "--force" in refused.output
    forced = runner.invoke(app, ["user", "deactivate", "boss", "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    back = runner.invoke(app, ["user", "reactivate", "boss"], env=env)
    assert back.exit_code == 0 and "reactivated" in back.output
    twice = runner.invoke(app, ["user", "reactivate", "boss"], env=env)
    assert twice.exit_code == 2 and "no deactivated user" in twice.output
    entries = run_in_fresh_loop(lambda: _audit(database_url))
    assert [action for action, _, _ in entries] == ["user.created", "user.deactivated", "user.reactivated"]
    assert all(actor.startswith("cli:") for _, actor, _ in entries)
    assert all(PASSWORD not in details for _, _, details in entries)
