"""``hub stock defective`` and ``hub stock dispose``: the damaged units returns put apart, from the
command line — listed per location and SKU with totals (``--json`` for scripts), and scrapped,
returned to the supplier or repaired back on hand in a warehouse. The same service as ``GET`` and
``POST /api/v1/inventory/defective…`` (``hub.services.stock.defective``); ``register`` adds the
commands to the ``hub stock`` group. Not for sellable stock (``hub.stock_cli``).
"""

from __future__ import annotations

import json

import typer

from hub.services.stock.defective import DefectiveAction


def stock_defective(
    ctx: typer.Context,
    location: str | None = typer.Option(None, "--location", metavar="LOCATION", help="Only this location."),
    sku: str | None = typer.Option(None, "--sku", metavar="SKU", help="Only this SKU."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Defective units per location and SKU, with totals."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.stock import defective

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> defective.DefectiveStock:
            async with hub.database().session() as session:
                return await defective.list_defective(session, location=location, merchant_sku=sku)

        found = _run_async(hub, work)
        if as_json:
            typer.echo(json.dumps({
                "items": [{"location": x.location, "merchant_sku": x.merchant_sku, "name": x.name,
                           "quantity": x.quantity, "updated_at": x.updated_at.isoformat()} for x in found.lines],
                "per_location": found.per_location, "per_sku": found.per_sku, "total": found.total,
            }, ensure_ascii=False, indent=2))
            return
        out = _out()
        if not found.lines:
            out.print("no defective stock", markup=False)
            return
        table = Table("location", "SKU", "name", "units", title="Defective stock")
        for x in found.lines:
            table.add_row(x.location, x.merchant_sku, x.name or "-", f"{x.quantity:,}")
        out.print(table)
        per_location = ", ".join(f"{where} {count:,}" for where, count in found.per_location.items())
        out.print(f"{found.total:,} defective unit(s): {per_location}", markup=False)

    run()


def stock_dispose(
    ctx: typer.Context,
    location: str = typer.Argument(..., metavar="LOCATION", help="The defective location (see `hub stock defective`)."),
    sku: str = typer.Argument(..., metavar="SKU"),
    quantity: int = typer.Argument(..., metavar="QTY", min=1, help="Units taken out of the defective location."),
    action: DefectiveAction = typer.Option(..., "--action", case_sensitive=False,
                                           help="scrap or return_to_supplier (out of the hub's count), or repaired "
                                                "(back on hand in --warehouse)."),
    note: str | None = typer.Option(None, "--note", help="Why, kept in the stock ledger."),
    warehouse: str | None = typer.Option(None, "--warehouse", metavar="WAREHOUSE",
                                         help="With --action repaired: where the units go back on hand."),
    key: str | None = typer.Option(None, "--key", metavar="KEY",
                                   help="An idempotency key: running the command again with it does nothing."),
) -> None:
    """Scrap, return to the supplier or put back on hand (repaired) defective units; never below 0."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.stock import defective

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> defective.Disposition:
            return await defective.dispose(hub, location, sku, quantity, action=action, note=note,
                                           actor=_cli_actor(), warehouse=warehouse,
                                           idempotency_key=f"cli.defective:{key}" if key else None)

        done = _run_async(hub, work)
        where = f" back on hand in {done.warehouse}" if done.warehouse else ""
        said = "already done with this --key; nothing changed now: " if done.repeated else ""
        _out().print(f"{said}{done.quantity} unit(s) of {done.merchant_sku} from {done.location}: "
                     f"{done.action.value}{where}; {done.remaining} defective left there"
                     + (f"; {len(done.shops)} shop(s) to push" if done.shops else ""), markup=False)

    run()


def register(stock_app: typer.Typer) -> None:
    """Add ``defective`` and ``dispose`` to the ``hub stock`` group."""
    stock_app.command("defective")(stock_defective)
    stock_app.command("dispose")(stock_dispose)
