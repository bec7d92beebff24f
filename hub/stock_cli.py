"""``hub stock``: import a stock file and reconcile shops, from the command line.

``import`` validates every row before applying any (a bad row is named with its field, and nothing
is applied), then applies them all in one transaction with a progress bar; ``--dry-run`` runs the
same checks, each row applied against what is reserved, and rolls back. ``reconcile`` reads
back what each shop shows and repairs drift, with a progress bar and a summary. Not for the
stock logic (``hub.services.stock``: ``adjustments``, ``csv_file``, ``reconcile``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

stock_app = typer.Typer(help="Stock: import counts and reconcile what shops show.", no_args_is_help=True)


def _progress() -> Progress:
    from hub.cli import _err

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_err(), transient=False)


@stock_app.command("import")
def import_stock(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV with columns warehouse, merchant_sku, on_hand (count) and/or delta (±), "
                                     "optional note."),
    reference: str | None = typer.Option(None, "--reference", "-r", help="Document number kept in the ledger."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Run every check of the real import, apply nothing."),
) -> None:
    """Import stock counts or movements; all rows or none."""
    from hub.cli import EXIT_BAD_INPUT, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from contracts.inventory import StockChangeCause
        from hub.cli import CliFailure
        from hub.services.stock import adjustments as stock_adjustments
        from hub.services.stock import csv_file

        try:
            adjustments, labels = csv_file.parse_stock_csv(file.read_text(encoding="utf-8"))
        except csv_file.StockImportError as exc:
            raise CliFailure(f"{file.name}: {exc}", EXIT_BAD_INPUT, [str(p) for p in exc.problems]) from exc
        hub = _state(ctx).hub()

        async def work() -> stock_adjustments.AdjustReport | None:
            if dry_run:
                # Every check of the real import (each row applied against what is reserved), rolled back.
                await stock_adjustments.rehearse_adjustments(hub, adjustments, labels=labels)
                return None
            with _progress() as progress:
                task = progress.add_task(f"importing {file.name}", total=len(adjustments))
                return await stock_adjustments.adjust_stock(
                    hub, adjustments, actor="cli", cause=StockChangeCause.IMPORT,
                    reference=reference or file.name, labels=labels,
                    on_applied=lambda _i: progress.advance(task))

        report = _run_async(hub, work)
        out = _out()
        if report is None:
            out.print(f"{file.name}: {len(adjustments)} row(s) valid; nothing applied (--dry-run)", markup=False)
            return
        out.print(f"{file.name}: applied {report.applied} row(s) to {len(report.skus)} SKU(s), net on-hand change "
                  f"{report.on_hand_delta:+d}; {len(report.shops)} shop(s) to push", markup=False)

    run()


@stock_app.command("reconcile")
def reconcile_stock(
    ctx: typer.Context,
    shop: list[str] | None = typer.Option(None, "--shop", "-s", help="Only this shop (repeatable)."),
) -> None:
    """Read what each shop shows, repair drift, and print what was repaired."""
    from hub.cli import CliFailure, _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.stock import reconcile

        hub = _state(ctx).hub()
        names = shop or [n for n, s in hub.config.shops.items() if s.enabled]
        unknown = sorted(set(names) - set(hub.config.shops))
        if unknown:
            raise CliFailure(f"unknown shop(s) {unknown}; configured: {sorted(hub.config.shops)}", 2)

        async def work() -> list[reconcile.ReconcileReport]:
            reports = []
            with _progress() as progress:
                for name in names:
                    task = progress.add_task(f"reconciling {name}", total=None)

                    def step(done: int, total: int, task: TaskID = task) -> None:
                        progress.update(task, completed=done, total=total)

                    reports.append(await reconcile.reconcile_shop(hub, name, progress=step))
            return reports

        reports = _run_async(hub, work)
        table = Table("shop", "checked", "drifted", "repaired", "unreadable", "note")
        for r in reports:
            note = r.skipped or ("; ".join(r.errors[:3]) if r.errors else "")
            if r.raised_outside:
                note = (f"{r.raised_outside} partitioned listing(s) showed more than the hub granted (edited "
                        f"by hand?); counted, then lowered. {note}").strip()
            table.add_row(r.shop, str(r.checked), str(r.drifted), str(r.repaired), str(r.unreadable), note)
        out = _out()
        out.print(table)
        out.print(f"repaired {sum(r.repaired for r in reports)} of {sum(r.drifted for r in reports)} drifted "
                  f"listing(s) in {len(reports)} shop(s)", markup=False)

    run()
