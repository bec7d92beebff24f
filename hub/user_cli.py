"""``hub user add|passwd|shops|list|deactivate|reactivate``: the people who sign in to the operator console.

Passwords are asked for twice without echo, or read from standard input with ``--password-stdin``
(one line, for scripts); never taken as an argument, where shell history and ``ps`` would keep them.
Each change is attributed to ``cli:<operating-system user>`` in the audit log, as ``hub apikey`` is.
Not for API keys (``hub apikey``) nor for the hashing (``hub.db.users``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

if TYPE_CHECKING:
    from hub.db.engine import Database

user_app = typer.Typer(help="Console users: people who sign in with a name and password.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``hub user`` to the root CLI."""
    app.add_typer(user_app, name="user")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("add")
def add_user(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The sign-in name."),
    role: str = typer.Option(..., "--role", help="admin, operator, service, warehouse, finance or viewer."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    shop: list[str] | None = typer.Option(None, "--shop", help="Limit the user to this shop (repeat for more); "
                                                               "omit for every shop."),
) -> None:
    """Add a user who signs in to the console with a password."""
    from hub.cli import _cli_actor, _cli_shops, _out, _report_errors, _with_database

    @_report_errors
    def run() -> None:
        from hub.db import users

        shops = _cli_shops(ctx, shop)
        password = _password(password_stdin)

        async def create(database: Database) -> Any:
            async with database.transaction() as session:
                row = await users.create_user(session, name=name, password=password, role=role,
                                              created_by=_cli_actor(), shops=shops)
                return row.role

        created_role = _with_database(ctx, create)
        _out().print(f"user {name} added (role {created_role}); sign in at /console", markup=False)

    run()


@user_app.command("passwd")
def change_password(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user whose password to replace."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Set a new password for a user."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _cli_actor, _out, _report_errors, _with_database

    @_report_errors
    def run() -> None:
        from hub.db import users

        password = _password(password_stdin)

        async def change(database: Database) -> bool:
            async with database.transaction() as session:
                return await users.set_password(session, name, password, actor=_cli_actor())

        if not _with_database(ctx, change):
            raise CliFailure(f"no user named {name!r}; see `hub user list`", EXIT_BAD_INPUT)
        _out().print(f"password of {name} changed", markup=False)

    run()


@user_app.command("shops")
def change_shops(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user whose shops to change."),
    shop: list[str] | None = typer.Option(None, "--shop", help="Limit the user to this shop (repeat for more)."),
    all_shops: bool = typer.Option(False, "--all-shops", help="Lift the limit: the user sees every shop."),
    force: bool = typer.Option(False, "--force", help="Even the last active admin user of every shop "
                                                      "(nobody could then manage users on the console)."),
) -> None:
    """Set the shops a user is limited to (--shop, repeated) or lift the limit (--all-shops)."""
    from hub.cli import _cli_actor, _cli_shop_limit, _guarded_change, _out, _report_errors, shops_label

    @_report_errors
    def run() -> None:
        from hub.db import users

        shops = _cli_shop_limit(ctx, shop, all_shops)

        async def change(database: Database) -> bool:
            async with database.transaction() as session:
                row = await users.set_shops(session, name, shops, actor=_cli_actor(), allow_last_admin=force)
                return row is not None

        _guarded_change(ctx, change, guard=users.LastAdminUserError, anyway="limit them",
                        missing=f"no user named {name!r}; see `hub user list`")
        _out().print(f"user {name} now sees: {shops_label(shops)}", markup=False)

    run()


@user_app.command("list")
def list_users(ctx: typer.Context) -> None:
    """List users, deactivated ones included."""
    from hub.cli import _out, _report_errors, _with_database, shops_label

    @_report_errors
    def run() -> None:
        from hub.db import users

        async def fetch(database: Database) -> list[Any]:
            async with database.session() as session:
                return await users.list_users(session)

        rows = _with_database(ctx, fetch)
        if not rows:
            _out().print("no users; add one with `hub user add NAME --role ROLE`", markup=False)
            return
        table = Table(title="Console users")
        for column in ("name", "role", "shops", "active", "created", "by"):
            table.add_column(column)
        for r in rows:
            table.add_row(r.name, r.role, shops_label(r.shops), "yes" if r.active else "no",
                          r.created_at.isoformat(timespec="seconds"),
                          r.created_by or "-")
        _out().print(table)

    run()


@user_app.command("deactivate")
def deactivate(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user to stop."),
    force: bool = typer.Option(False, "--force", help="Even the last active admin user."),
) -> None:
    """Stop a user signing in; their open console sessions end at their next request."""
    from hub.cli import _cli_actor, _guarded_change, _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.db import users

        async def stop(database: Database) -> bool:
            async with database.transaction() as session:
                return await users.deactivate_user(session, name, actor=_cli_actor(), allow_last_admin=force)

        _guarded_change(ctx, stop, guard=users.LastAdminUserError, anyway="deactivate them",
                        missing=f"no active user named {name!r}; see `hub user list`")
        _out().print(f"user {name} deactivated", markup=False)

    run()


@user_app.command("reactivate")
def reactivate(ctx: typer.Context, name: str = typer.Argument(..., help="The user to let back in.")) -> None:
    """Let a deactivated user sign in again, with their role and password as they were."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _cli_actor, _out, _report_errors, _with_database

    @_report_errors
    def run() -> None:
        from hub.db import users

        async def start(database: Database) -> bool:
            async with database.transaction() as session:
                return await users.reactivate_user(session, name, actor=_cli_actor())

        if not _with_database(ctx, start):
            raise CliFailure(f"no deactivated user named {name!r}; see `hub user list`", EXIT_BAD_INPUT)
        _out().print(f"user {name} reactivated", markup=False)

    run()
