"""``hub warehouse``: the own warehouse's pick list, pick, pack and ship from the command line.

The same services as ``/api/v1/warehouse/*`` and ``/api/v1/delivery-orders/{id}/pack|ship``
(``hub.services.fulfilment.own_warehouse``), attributed to the operating-system user. A state
that does not allow the step exits 1 with the current state named; bad input exits 2. Not for
WMS delivery orders (the WMS picks, packs and ships them).
"""

from __future__ import annotations

import typer

warehouse_app = typer.Typer(help="Own warehouse: pick list, pick, pack and ship delivery orders.",
                            no_args_is_help=True)


@warehouse_app.command("pick-list")
def pick_list(
    ctx: typer.Context,
    warehouse: str | None = typer.Option(None, "--warehouse", "-w", help="Only this warehouse's delivery orders."),
    csv_out: bool = typer.Option(False, "--csv", help="CSV (one row per line, with the parcels' waybills)."),
) -> None:
    """Delivery orders to pick (sent or picking), their lines, parcels and the units per SKU."""
    from hub.cli import _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from rich.table import Table

        from hub.services.fulfilment import own_warehouse

        hub = _state(ctx).hub()
        listed = _run_async(hub, lambda: own_warehouse.pick_list(hub, warehouse=warehouse))
        out = _out()
        if csv_out:
            out.print(listed.csv(), end="", markup=False)
            return
        table = Table("id", "code", "status", "order", "lines", "parcels")
        for entry in listed.entries:
            lines = ", ".join(f"{line.merchant_sku or line.line_external_id} x{line.quantity}" for line in entry.lines)
            parcels = ", ".join(p.waybill_number or f"#{p.seq} {p.status}" for p in entry.parcels) or "-"
            table.add_row(str(entry.id), entry.code, entry.status, str(entry.order_id), lines, parcels)
        out.print(table)
        totals = ", ".join(f"{sku or '(no SKU)'} x{qty}" for sku, qty in listed.sku_totals.items())
        out.print(f"{len(listed.entries)} delivery order(s) to pick; units per SKU: {totals or '-'}", markup=False)

    run()


@warehouse_app.command("pick")
def pick(ctx: typer.Context, ids: list[int] = typer.Argument(..., help="Delivery order ids.")) -> None:
    """Start picking delivery orders (all or none)."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.fulfilment import own_warehouse

        hub = _state(ctx).hub()
        changed = _run_async(hub, lambda: own_warehouse.pick(hub, ids, actor=_cli_actor()))
        _out().print(f"picking: {', '.join(map(str, ids))} ({len(changed)} changed)", markup=False)

    run()


@warehouse_app.command("pack")
def pack(
    ctx: typer.Context,
    delivery_order_id: int = typer.Argument(..., help="Delivery order id."),
    weight: list[int] = typer.Option(..., "--weight", "-g", min=1,
                                     help="Grams of a parcel; once per parcel (one parcel: every line in it)."),
) -> None:
    """Record the packed parcels' weights; more parcels than planned get waybills of their own."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _cli_actor, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.fulfilment import own_warehouse

        if len(weight) > 1:
            raise CliFailure("several parcels must list their items: pack them through the API or the console",
                             EXIT_BAD_INPUT)
        hub = _state(ctx).hub()
        parcels = [own_warehouse.PackedParcel(grams) for grams in weight]
        entry = _run_async(hub, lambda: own_warehouse.pack(hub, delivery_order_id, parcels, actor=_cli_actor()))
        waybills = ", ".join(p.waybill_number or f"#{p.seq} waiting for its waybill" for p in entry.parcels)
        _out().print(f"delivery order {entry.id} ({entry.code}) packed: {waybills}", markup=False)

    run()


@warehouse_app.command("ship")
def ship(ctx: typer.Context, delivery_order_id: int = typer.Argument(..., help="Delivery order id.")) -> None:
    """Record that a packed delivery order left (its channel is told); once, however often run."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.fulfilment import own_warehouse

        hub = _state(ctx).hub()
        outcome = _run_async(hub, lambda: own_warehouse.ship(hub, delivery_order_id, actor=_cli_actor()))
        again = " (already shipped)" if outcome.repeated else ""
        _out().print(f"delivery order {delivery_order_id} shipped{again}: shipment(s) "
                     f"{', '.join(map(str, outcome.shipment_ids))}", markup=False)

    run()


def register(app: typer.Typer) -> None:
    """Add ``hub warehouse`` to ``hub``."""
    app.add_typer(warehouse_app, name="warehouse")
