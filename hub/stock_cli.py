"""``hub stock``: import a stock file and reconcile shops, from the command line.

``import`` validates every row before applying any (a bad row is named with its field, and nothing
is applied), then applies them all in one transaction with a progress bar; ``--dry-run`` runs the
same checks, each row applied against what is reserved, and rolls back. ``import --job`` instead
submits the file as an import job, exactly as the console and ``POST /api/v1/inventory/imports``
do (``hub.services.stock.import_jobs``: batches of 500, resumable, never applied twice by
submitting the same file again); ``--wait`` follows the job to its end with a progress bar,
running it in this process unless a worker already has. ``reconcile`` reads back what each shop
shows and repairs drift, with a progress bar and a summary. Not for the stock logic
(``hub.services.stock``: ``adjustments``, ``csv_file``, ``import_jobs``, ``reconcile``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from hub.context import Hub
    from hub.services.stock.import_jobs import ImportJob

stock_app = typer.Typer(help="Stock: import counts, reconcile what shops show, work off defective units.",
                        no_args_is_help=True)


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
    job: bool = typer.Option(False, "--job", help="Submit the file as an import job, as the console and the API "
                                                 "do: applied in batches of 500 by a worker, resumable, and never "
                                                 "applied twice by submitting the same file again."),
    wait: bool = typer.Option(False, "--wait", help="With --job (implied): follow the job to its end with a "
                                                    "progress bar, running it here unless a worker already is."),
    again: bool = typer.Option(False, "--again", help="With --job: import a file that was imported before "
                                                      "once more."),
) -> None:
    """Import stock counts or movements; all rows or none (or, with --job, as a resumable job)."""
    from hub.cli import EXIT_BAD_INPUT, _out, _report_errors, _run_async, _state

    if job or wait or again:
        _report_errors(_import_as_job)(ctx, file, reference, wait=wait, again=again, dry_run=dry_run)
        return

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


def _import_as_job(ctx: typer.Context, file: Path, reference: str | None, *, wait: bool, again: bool,
                   dry_run: bool) -> None:
    """Submit ``file`` through the console's and API's job path, then (``wait``) follow it."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _cli_actor, _out, _run_async, _state
    from hub.services.stock import import_jobs as stock_import
    from hub.services.stock.csv_file import StockImportError

    if dry_run:
        raise CliFailure("--dry-run checks the file without a job: leave out --job, --wait and --again",
                         EXIT_BAD_INPUT)
    hub = _state(ctx).hub()
    out = _out()
    data = file.read_bytes()

    async def work() -> tuple[stock_import.Received, ImportJob | None]:
        received = await stock_import.receive_file(hub, data, filename=file.name, reference=reference,
                                                   actor=_cli_actor(), again=again)
        if not wait or received.outcome is stock_import.Outcome.ALREADY_DONE:
            return received, None
        return received, await _follow(hub, received.job)

    try:
        received, final = _run_async(hub, work)
    except StockImportError as exc:
        raise CliFailure(f"{file.name}: {exc}", EXIT_BAD_INPUT, [str(p) for p in exc.problems]) from exc
    first = received.job
    if received.outcome is stock_import.Outcome.ALREADY_DONE:
        when = (first.finished_at or first.updated_at).isoformat(timespec="seconds")
        raise CliFailure(f"{file.name} was imported before (import {first.id} by {first.actor}, finished {when}); "
                         f"nothing applied. Add --again to import it once more", EXIT_BAD_INPUT)
    said = {stock_import.Outcome.STARTED: "queued as", stock_import.Outcome.RESUMED: "continues as",
            stock_import.Outcome.IN_PROGRESS: "is being imported now:"}[received.outcome]
    out.print(f"{file.name} {said} import {first.id} ({first.total_rows} row(s))", markup=False)
    if final is None:
        out.print(f"follow it with GET /api/v1/inventory/imports/{first.id}, on the console at "
                  f"/console/stock/imports/{first.id}, or here with --wait", markup=False)
        return
    if final.state == stock_import.DONE:
        out.print(f"import {final.id} done: {final.done_rows} row(s) applied to {final.skus} SKU(s), net on-hand "
                  f"change {final.on_hand_delta:+d}; {len(final.shops)} shop(s) to push", markup=False)
        return
    if final.state == stock_import.FAILED:
        raise CliFailure(f"import {final.id} stopped after {final.done_rows} of {final.total_rows} row(s): "
                         f"{final.error}; fix the cause, then run the same command to continue it")
    raise CliFailure(f"import {final.id} has not moved for {stock_import.STALLED_AFTER_S:g} s "
                     f"({final.done_rows} of {final.total_rows} row(s) done); run the same command to continue it")


#: How often ``--wait`` reads the progress of a job a worker is running.
FOLLOW_EVERY_S = 1.0


async def _follow(hub: Hub, job: ImportJob) -> ImportJob | None:
    """Run the job here if it is still queued (the same ``run_import`` a worker runs), else watch
    the worker's progress until the job ends or stalls."""
    import asyncio

    from hub.services.stock import import_jobs as stock_import

    with _progress() as progress:
        task = progress.add_task(f"import {job.id}", total=job.total_rows, completed=job.done_rows)
        found = await stock_import.run_import(hub, job.id, on_batch=lambda done: progress.update(task, completed=done))
        while found is not None and not found.finished and not found.stalled():
            await asyncio.sleep(FOLLOW_EVERY_S)
            found = await stock_import.get_job(hub, job.id)
            if found is not None:
                progress.update(task, completed=found.done_rows)
    return found


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
