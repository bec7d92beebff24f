"""``hub orders tag``, ``untag``, ``priority``, ``hold`` and ``release``: triage many orders from the
command line, attributed to the operating-system user (``cli:<user>``) and written to each order's
history, like the API and console. Not for finding orders (``hub.operations_cli.search``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import typer
from sqlalchemy.ext.asyncio import AsyncSession


def register(group: typer.Typer) -> None:
    """Add the triage commands to the ``hub orders`` group."""
    group.command("tag")(tag)
    group.command("untag")(untag)
    group.command("priority")(priority)
    group.command("hold")(hold)
    group.command("release")(release)


def _apply(ctx: typer.Context, verb: str, change: Callable[[AsyncSession, list[int], str], Awaitable[list[int]]],
           order_ids: list[int]) -> None:
    """Run ``change`` over the existing orders of ``order_ids`` in one transaction and say what it did."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.search.triage import visible_orders

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> tuple[list[int], set[int]]:
            async with hub.database().transaction() as session:
                found = await visible_orders(session, order_ids, None)
                return await change(session, sorted(found), _cli_actor()), found

        changed, found = _run_async(hub, work)
        missing = sorted(set(order_ids) - found)
        _out().print(f"{verb} {len(changed)} order(s): {', '.join(map(str, changed)) or '-'}"
                     + (f"; not found: {', '.join(map(str, missing))}" if missing else ""), markup=False)
        if missing:
            raise typer.Exit(1)

    run()


_IDS = typer.Argument(..., metavar="ID...", min=1)


def tag(ctx: typer.Context, order_ids: list[int] = _IDS,
        name: str = typer.Option(..., "--tag", help="The user tag (hub tags list).")) -> None:
    """Put a user tag on orders."""
    from hub.services.search.tags import attach

    _apply(ctx, "tagged", lambda s, ids, actor: attach(s, name, ids, actor=actor, cause="cli"), order_ids)


def untag(ctx: typer.Context, order_ids: list[int] = _IDS, name: str = typer.Option(..., "--tag")) -> None:
    """Take a user tag off orders."""
    from hub.services.search.tags import detach

    _apply(ctx, "untagged", lambda s, ids, actor: detach(s, name, ids, actor=actor, cause="cli"), order_ids)


def priority(ctx: typer.Context, order_ids: list[int] = _IDS,
             value: int = typer.Option(..., "--set", min=-9, max=9, help="-9..9, higher first; 0 is normal."),
             reason: str | None = typer.Option(None, "--reason")) -> None:
    """Set orders' priority."""
    from hub.services.search.triage import set_priority

    _apply(ctx, "reprioritised",
           lambda s, ids, actor: set_priority(s, ids, value, actor=actor, reason=reason, cause="cli"), order_ids)


def hold(ctx: typer.Context, order_ids: list[int] = _IDS,
         reason: str = typer.Option(..., "--reason", help="Why the orders must wait (people read it).")) -> None:
    """Hold orders by hand (hold code manual)."""
    from hub.services.search.triage import check_reason, hold_orders

    check_reason(reason, "--reason")
    _apply(ctx, "held", lambda s, ids, actor: hold_orders(s, ids, reason=reason, actor=actor, cause="cli"), order_ids)


def release(ctx: typer.Context, order_id: int = typer.Argument(..., metavar="ID", min=1),
            code: str = typer.Option("manual", "--code", help="The hold code (manual, stock_short, ...)."),
            reason: str | None = typer.Option(None, "--reason")) -> None:
    """Release one hold of an order (the order goes on once no hold is left)."""
    from hub.services.orders import release_hold

    async def change(session: AsyncSession, ids: list[int], actor: str) -> list[int]:
        released = [i for i in ids if await release_hold(session, i, code, actor=actor, cause="cli", reason=reason)]
        return released

    _apply(ctx, f"released {code} on", change, [order_id])
