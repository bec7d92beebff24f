"""CLI commands for parcel tracking: a parcel's timeline, the fulfilment exceptions queue, and
resolving one as a person (attributed like every CLI write).

``hub tracking show PARCEL_ID``, ``hub tracking exceptions [--kind K] [--order ID] [--all]``,
``hub tracking resolve ID [--note TEXT]``. Not for the rules (``hub.services.fulfilment.tracking``).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

tracking_app = typer.Typer(help="Parcel tracking and the fulfilment exceptions queue.", no_args_is_help=True)


@tracking_app.command("show")
def show(ctx: typer.Context, parcel_id: int = typer.Argument(..., metavar="PARCEL_ID", min=1)) -> None:
    """A parcel's newest state and its scans, oldest first."""
    from hub import cli
    from hub.db.tables import ParcelRow
    from hub.errors import NotFoundError
    from hub.services.fulfilment import tracking

    @cli._report_errors
    def run() -> None:
        async def fetch(database: Any) -> tuple[Any, list[Any]]:
            async with database.session() as session:
                parcel = await session.get(ParcelRow, parcel_id)
                events = (await tracking.timeline(session, [parcel_id]))[parcel_id] if parcel else []
                return parcel, events

        parcel, events = cli._with_database(ctx, fetch)
        if parcel is None:
            raise NotFoundError(f"parcel {parcel_id} does not exist")
        out = cli._out()
        for label, value in (
            ("parcel", parcel.id), ("order", parcel.order_id), ("shipment", parcel.shipment_id or "-"),
            ("courier", parcel.courier_code), ("waybill", parcel.waybill_number or "-"), ("status", parcel.status),
            ("tracking", parcel.tracking_state or "-"),
            ("subscribed", parcel.subscribed_at.isoformat(timespec="seconds") if parcel.subscribed_at else "no"),
            ("delivered", parcel.delivered_at.isoformat(timespec="seconds") if parcel.delivered_at else "no"),
        ):
            out.print(f"{label:>10}: {value}", markup=False)
        if not events:
            out.print("no scans yet", markup=False)
            return
        table = Table(title=f"Scans of parcel {parcel.id}")
        for column in ("when", "state", "what"):
            table.add_column(column, overflow="fold")
        for e in events:
            table.add_row(e.occurred_at.isoformat(timespec="minutes"), e.state, e.description)
        out.print(table)

    run()


@tracking_app.command("exceptions")
def list_exceptions(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="not_collected, stalled, returned, …"),
    order_id: int | None = typer.Option(None, "--order", min=1, help="Only this order's."),
    include_resolved: bool = typer.Option(False, "--all", help="Resolved ones too."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
) -> None:
    """The fulfilment exceptions queue, oldest first (open ones unless --all)."""
    from hub import cli
    from hub.services.fulfilment import exceptions

    @cli._report_errors
    def run() -> None:
        async def fetch(database: Any) -> Any:
            async with database.session() as session:
                return await exceptions.list_exceptions(session, state="all" if include_resolved else "open",
                                                        kind=kind, order_id=order_id, limit=limit)

        page = cli._with_database(ctx, fetch)
        if not page.rows:
            cli._out().print("no fulfilment exceptions", markup=False)
            return
        table = Table(title="Fulfilment exceptions")
        for column in ("id", "order", "kind", "subject", "raised", "resolved", "reason"):
            table.add_column(column, overflow="fold")
        for r in page.rows:
            resolved = f"{r.resolved_at.isoformat(timespec='minutes')} by {r.resolved_by}" if r.resolved_at else "-"
            table.add_row(str(r.id), str(r.order_id), r.kind, r.subject, r.raised_at.isoformat(timespec="minutes"),
                          resolved, r.reason[:160])
        cli._out().print(table)

    run()


@tracking_app.command("resolve")
def resolve(
    ctx: typer.Context,
    exception_id: int = typer.Argument(..., metavar="ID", min=1),
    note: str | None = typer.Option(None, "--note", help="What was done (kept in the order's history)."),
) -> None:
    """Resolve a fulfilment exception as a person (attributed to you)."""
    from hub import cli
    from hub.services.fulfilment import exceptions

    @cli._report_errors
    def run() -> None:
        hub = cli._state(ctx).hub()
        try:
            row = cli._run_async(hub, lambda: exceptions.resolve(hub, exception_id, actor=cli._cli_actor(), note=note))
        except exceptions.AlreadyResolved as exc:
            raise cli.CliFailure(str(exc)) from exc
        cli._out().print(f"resolved fulfilment exception {row.id} ({row.kind}, {row.subject}) as {row.resolved_by}",
                         markup=False)

    run()


def register(app: typer.Typer) -> None:
    """Add ``hub tracking …``."""
    app.add_typer(tracking_app, name="tracking")
