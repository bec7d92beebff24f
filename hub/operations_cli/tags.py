"""``hub tags list|create|update|delete``: the user tags people put on orders, from the command line
(the same service as ``/api/v1/tags``). Attaching them is ``hub orders tag``.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``hub tags`` group to ``hub``."""
    group = typer.Typer(help="User tags on orders: list, create, recolour, delete.", no_args_is_help=True)
    group.command("list")(tags_list)
    group.command("create")(tags_create)
    group.command("update")(tags_update)
    group.command("delete")(tags_delete)
    app.add_typer(group, name="tags")


def tags_list(ctx: typer.Context) -> None:
    """Every user tag with its colour and how many orders carry it."""
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.search.tags import TagView, list_tags

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> list[TagView]:
            async with hub.database().session() as session:
                return await list_tags(session)

        found = _run_async(hub, work)
        for t in found:
            _out().print(f"{t.name}\t{t.colour}\t{t.orders} order(s)\t{t.description}", markup=False)
        if not found:
            _out().print("no user tag yet: hub tags create NAME --colour '#d97706'", markup=False)

    run()


def _write(ctx: typer.Context, done: str, work_for: object) -> None:
    from hub.cli import _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> None:
            async with hub.database().transaction() as session:
                await work_for(session)  # type: ignore[operator]

        _run_async(hub, work)
        _out().print(done, markup=False)

    run()


def tags_create(ctx: typer.Context, name: str = typer.Argument(...),
                colour: str = typer.Option("#6b7280", "--colour", help="#rrggbb"),
                description: str = typer.Option("", "--description")) -> None:
    """Create a user tag."""
    from hub.cli import _cli_actor
    from hub.services.search.tags import create_tag

    _write(ctx, f"created tag {name}", lambda s: create_tag(s, name, colour=colour, description=description,
                                                            actor=_cli_actor()))


def tags_update(ctx: typer.Context, name: str = typer.Argument(...),
                colour: str | None = typer.Option(None, "--colour"),
                description: str | None = typer.Option(None, "--description")) -> None:
    """Recolour or re-describe a user tag."""
    from hub.services.search.tags import update_tag

    _write(ctx, f"updated tag {name}", lambda s: update_tag(s, name, colour=colour, description=description))


def tags_delete(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a user tag (and take it off every order)."""
    from hub.services.search.tags import delete_tag

    _write(ctx, f"deleted tag {name}", lambda s: delete_tag(s, name))
