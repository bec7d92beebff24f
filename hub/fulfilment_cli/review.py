"""``hub review``: the review (审单) queue from the command line — list the orders waiting for a
person with every reason, approve, hold, release, review again after the rules changed.

The same operations as the API (``/api/v1/fulfilment/review``, ``/api/v1/orders/{id}/approve``,
``/hold``) through ``hub.services.fulfilment.review``, attributed to ``cli:<os user>``. The
hand-over of approved orders to the flow is an outbox row the running hub's relay sends. Not for
the rules themselves (``[fulfilment.review]`` in hub.toml).
"""

from __future__ import annotations

from typing import Any

import typer

review_app = typer.Typer(help="Review (审单): orders held by review or waiting for a person.", no_args_is_help=True)


def _print_state(state: Any, released: list[str] | None = None, *, verb: str) -> None:
    from hub.cli import _out

    out = _out()
    if released:
        out.print(f"released: {', '.join(released)}", markup=False)
    out.print(f"order {state.order_id} {verb}: review {state.review_status or 'not yet'}", markup=False)
    for hold in state.open_holds:
        out.print(f"  held: {hold.code}: {hold.reason}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``hub review`` to ``hub``."""
    app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list(
    ctx: typer.Context,
    code: str | None = typer.Option(None, "--code", help="Only orders with an open hold of this code."),
    shop: str | None = typer.Option(None, "--shop", help="Only this shop's orders."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
) -> None:
    """Orders held by review or waiting for a person, oldest first, with every open reason."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.fulfilment import review

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> Any:
            async with hub.database().session() as session:
                return await review.queue(session, code=code, shop=shop, limit=limit)

        page = _run_async(hub, work)
        if not page.rows:
            _out().print("no order waits for review", markup=False)
            return
        table = Table(title="Review queue")
        for column in ("order", "shop", "external id", "total", "review", "reasons"):
            table.add_column(column, overflow="fold")
        for entry in page.rows:
            row = entry.order
            table.add_row(str(row.id), row.shop, row.external_id, f"{row.total_amount:.2f} {row.currency}",
                          row.review_status or "-", "\n".join(f"{h.code}: {h.reason}" for h in entry.holds))
        _out().print(table)
        if page.next_cursor:
            _out().print(f"more than {limit}: narrow with --code/--shop or raise --limit", markup=False)

    run()


@review_app.command("approve")
def review_approve(ctx: typer.Context, order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1)) -> None:
    """Approve an order: its review holds released under your name, then on to fulfilment."""
    from hub.cli import _cli_actor, _report_errors, _run_async, _state
    from hub.services.fulfilment import review

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        state, released = _run_async(hub, lambda: review.approve(hub, order_id, actor=_cli_actor()))
        _print_state(state, released, verb="approved")

    run()


@review_app.command("hold")
def review_hold(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1),
    reason: str = typer.Option(..., "--reason", help="Why the order must wait (shown to whoever reviews it)."),
) -> None:
    """Hold an order for a reason of your own (code manual) until a person releases or approves it."""
    from hub.cli import _cli_actor, _report_errors, _run_async, _state
    from hub.services.fulfilment import review

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        state, added = _run_async(hub, lambda: review.hold(hub, order_id, reason, actor=_cli_actor()))
        _print_state(state, verb="held" if added else "was held already")

    run()


@review_app.command("release")
def review_release(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1),
    code: str | None = typer.Option(None, "--code", help="Only this hold (default: every review hold)."),
) -> None:
    """Release an order's review holds (or one hold); with none left the order is approved."""
    from hub.cli import _cli_actor, _report_errors, _run_async, _state
    from hub.services.fulfilment import review

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        state, released = _run_async(hub, lambda: review.release(hub, order_id, actor=_cli_actor(), code=code))
        _print_state(state, released, verb="released" if released else "had no review hold open")

    run()


@review_app.command("run")
def review_run(ctx: typer.Context,
               order_ids: list[int] = typer.Argument(..., metavar="ORDER_ID...", min=1)) -> None:
    """Review orders again with the rules as configured now (after changing [fulfilment.review])."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.fulfilment import review

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        result, unknown = _run_async(hub, lambda: review.review_again(hub, order_ids, actor=_cli_actor()))
        out = _out()
        for order_id in sorted(result.approved):
            out.print(f"order {order_id}: approved", markup=False)
        for order_id, holds in sorted(result.held.items()):
            out.print(f"order {order_id}: held: {', '.join(h.code for h in holds) or 'manual'}", markup=False)
        for order_id in result.waiting:
            out.print(f"order {order_id}: waits for a person", markup=False)
        for order_id in result.skipped:
            out.print(f"order {order_id}: not reviewable (not paid, cancelled, shipped or past routing)",
                      markup=False)
        for order_id in unknown:
            out.print(f"order {order_id}: does not exist", markup=False)

    run()
