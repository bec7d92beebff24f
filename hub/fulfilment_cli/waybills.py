"""``hub labels`` and ``hub parcels``: print shipping labels, list parcels, obtain a waybill now.

``hub labels print PARCEL_ID... --out FILE.pdf`` writes one PDF, a 100×150 mm page per parcel, and
marks them printed (reprints allowed), as ``POST /api/v1/labels`` does; the CLI runs on the
server with the configuration's full access, so addresses are printed in full unless ``--mask``.
``hub parcels list`` filters like ``GET /api/v1/parcels``; ``hub parcels waybill ID`` asks the
provider now (a failed parcel is tried again), ``hub parcels waybill ID --number N [--courier C]``
enters the number of a label bought elsewhere. Writes are attributed to ``cli:<os user>``. Not for
the rules behind them (``hub.services.fulfilment.waybills``, ``labels``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

labels_app = typer.Typer(help="Shipping labels: print them as a PDF.", no_args_is_help=True)
parcels_app = typer.Typer(help="Parcels and their electronic waybills.", no_args_is_help=True)


@labels_app.command("print")
def print_labels(
    ctx: typer.Context,
    parcel_ids: list[int] = typer.Argument(..., min=1, help="Parcels to print, in page order."),
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="The PDF file to write."),
    mask: bool = typer.Option(False, "--mask", help="Mask names, phones and streets, as for roles without "
                                                    "orders.read_pii."),
) -> None:
    """Write the parcels' labels to one PDF (one 100×150 mm page each) and mark them printed."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _cli_actor, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.fulfilment import labels, waybills

        hub = _state(ctx).hub()
        try:
            pdf = _run_async(hub, lambda: labels.print_labels(hub, parcel_ids, actor=_cli_actor(), reveal=not mask))
        except waybills.WaybillRefused as exc:
            raise CliFailure(str(exc), EXIT_BAD_INPUT) from exc
        out.write_bytes(pdf)
        _out().print(f"wrote {len(parcel_ids)} label(s) to {out} ({len(pdf)} bytes)")

    run()


@parcels_app.command("list")
def list_parcels(
    ctx: typer.Context,
    status: list[str] | None = typer.Option(None, "--status", "-s", help="Repeat for several statuses."),
    order_id: int | None = typer.Option(None, "--order", min=1, help="Parcels of this order."),
    courier: str | None = typer.Option(None, "--courier", help="A courier code or courier account."),
    delivery_order_id: int | None = typer.Option(None, "--delivery-order", min=1),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
) -> None:
    """Parcels, newest first."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.api.routes.fulfilment_waybills import STATUSES, parcel_page

        bad = [s for s in status or [] if s not in STATUSES]
        if bad:
            raise CliFailure(f"--status {bad[0]!r} is not one of {', '.join(STATUSES)}", EXIT_BAD_INPUT)
        hub = _state(ctx).hub()
        page = _run_async(hub, lambda: parcel_page(hub, status=status, order_id=order_id, courier=courier,
                                                   delivery_order_id=delivery_order_id, limit=limit))
        table = Table("id", "order", "seq", "courier", "account", "waybill", "status", "printed", "last error")
        for p in page.rows:
            table.add_row(str(p.id), str(p.order_id), str(p.seq), p.courier_code, p.courier_account or "",
                          p.waybill_number or "", p.status, p.printed_at.isoformat(timespec="seconds")
                          if p.printed_at else "", (p.last_error or "")[:60])
        _out().print(table)
        if page.next_cursor:
            _out().print(f"(more: raise --limit, or page with GET /api/v1/parcels?cursor={page.next_cursor})")

    run()


@parcels_app.command("waybill")
def issue_waybill(
    ctx: typer.Context,
    parcel_id: int = typer.Argument(..., min=1),
    number: str | None = typer.Option(None, "--number", "-n", help="The tracking number of a label bought "
                                      "elsewhere, for a parcel waiting for one (or whose provider failed it)."),
    courier: str | None = typer.Option(None, "--courier", help="With --number: the carrier (e.g. ems), when it "
                                       "is not the parcel's."),
) -> None:
    """Obtain the parcel's waybill now (a failed parcel is tried again; a transient fault is queued),
    or with --number enter the number of a label bought elsewhere."""
    from hub.cli import EXIT_BAD_INPUT, EXIT_RUNTIME, CliFailure, _cli_actor, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.errors import BadInputError
        from hub.services.fulfilment import waybills

        if courier is not None and number is None:
            raise CliFailure("--courier goes with --number (the carrier of the label bought elsewhere)",
                             EXIT_BAD_INPUT)
        hub = _state(ctx).hub()
        try:
            if number is not None:
                outcome = _run_async(hub, lambda: waybills.enter_waybill(hub, parcel_id, number, courier,
                                                                         actor=_cli_actor()))
            else:
                outcome = _run_async(hub, lambda: waybills.issue_now(hub, parcel_id, actor=_cli_actor()))
        except waybills.WaybillRefused as exc:
            raise CliFailure(str(exc), EXIT_BAD_INPUT) from exc
        except BadInputError as exc:
            raise CliFailure(f"--{'number' if exc.field == 'waybill_number' else 'courier'}: {exc}",
                             EXIT_BAD_INPUT) from exc
        if outcome.status == "failed":
            raise CliFailure(f"parcel {parcel_id}: no waybill: {outcome.error}", EXIT_RUNTIME)
        if outcome.status == "pending":
            _out().print(f"parcel {parcel_id}: not yet ({outcome.error}); a worker asks again with the same key")
            return
        _out().print(f"parcel {parcel_id}: waybill {outcome.waybill_number} ({outcome.status})")

    run()


def register(app: typer.Typer) -> None:
    """Add ``hub labels`` and ``hub parcels``."""
    app.add_typer(labels_app, name="labels")
    app.add_typer(parcels_app, name="parcels")
