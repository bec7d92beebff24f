"""``hub orders batch``, ``hub orders ship-csv`` and ``hub jobs``: batch actions from the command line.

A small batch is run at once; a large one becomes a background job (run by the workers) whose
progress the command shows by polling the database. Either way the command prints a table of each
item's outcome and exits 0 when all succeeded, 1 when some did not (saying how many). The CLI acts
as an admin attributed to the operating-system user (``cli:<user>``). The logic is ``hub.services.batch``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub
    from hub.services.batch.jobs import Result

jobs_app = typer.Typer(help="Background batch jobs: list, show progress and outcomes, cancel, resume.",
                       no_args_is_help=True)

#: Seconds between two looks at a running job's progress.
POLL_S = 0.5
#: Outcomes shown in the table (the rest are counted; ``hub jobs show ID --all`` lists them).
SHOWN = 200


def register(group: typer.Typer) -> None:
    """Add ``hub jobs`` to ``group`` and ``batch``/``ship-csv`` to its ``orders`` group."""
    group.add_typer(jobs_app, name="jobs")
    orders = next((g.typer_instance for g in group.registered_groups if g.name == "orders"), None)
    target = orders if orders is not None else group
    target.command("batch")(batch_command)
    target.command("ship-csv")(ship_csv_command)


def _cli_principal() -> Principal:
    from hub.cli import _cli_actor
    from hub.services.batch.runner import JobPrincipal

    actor = _cli_actor()
    return JobPrincipal(key_id=0, name=actor, prefix="", role="admin", acting_as=actor)


def _params(values: list[str]) -> dict[str, Any]:
    from hub.errors import BadInputError

    out: dict[str, Any] = {}
    for value in values:
        key, eq, raw = value.partition("=")
        if not eq or not key.strip():
            raise BadInputError(f"--param {value!r} is not key=value", field="param")
        out[key.strip()] = raw
    return out


def _ids(ids: list[int], ids_file: Path | None) -> list[int]:
    from hub.errors import BadInputError

    out = list(ids)
    if ids_file is not None:
        for number, line in enumerate(ids_file.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.strip().lstrip("#")
            if not text:
                continue
            if not text.isdigit():
                raise BadInputError(f"{ids_file}: line {number} is not an order id: {line!r}", field="ids-file")
            out.append(int(text))
    return out


def _table(results: list[Result], total: int) -> None:
    from rich.table import Table

    from hub.cli import _out

    table = Table("item", "ok", "message")
    for r in results[:SHOWN]:
        table.add_row(r.id, "yes" if r.ok else "NO", r.message)
    out = _out()
    out.print(table)
    hidden = total - min(len(results), SHOWN)
    if hidden > 0:
        out.print(f"… and {hidden} more (hub jobs show ID --all)", markup=False)


def _finish(succeeded: int, failed: int) -> None:
    from hub.cli import _err

    if failed:
        _err().print(f"{failed} of {succeeded + failed} failed; {succeeded} done", markup=False)
        raise typer.Exit(1)
    _err().print(f"all {succeeded} done", markup=False)


async def _follow(hub: Hub, principal: Principal, job_id: int) -> Any:
    """Poll the job's progress into a bar until it finishes; the finished job."""
    from hub.catalogue_cli import _progress
    from hub.services.batch import jobs, runner

    job = await jobs.get_job(hub, principal, job_id)
    with _progress() as progress:
        task = progress.add_task(f"job {job_id} {job.action}", total=job.total)
        while job.status not in runner.FINISHED:
            progress.update(task, completed=job.done)
            await asyncio.sleep(POLL_S)
            job = await jobs.get_job(hub, principal, job_id)
        progress.update(task, completed=job.done)
    return job


async def _results(hub: Hub, principal: Principal, job_id: int, *, everything: bool) -> list[Result]:
    from hub.services.batch import jobs

    out: list[Result] = []
    cursor = None
    while True:
        rows, cursor = await jobs.job_items(hub, principal, job_id, limit=jobs.MAX_PAGE, cursor=cursor)
        out += [jobs.Result(r.item, r.ok, r.message) for r in rows]
        if cursor is None or (not everything and len(out) >= SHOWN):
            return out


def _run_batch(ctx: typer.Context, action_name: str, items: list[Any], params: dict[str, Any], wait: bool) -> None:
    from hub.cli import _err, _run_async, _state
    from hub.services.batch import jobs

    principal = _cli_principal()
    hub = _state(ctx).hub()

    async def work() -> tuple[list[Result], int, int, int | None]:
        action = jobs.action_for(action_name, principal)
        answer = await jobs.start(hub, principal, action, items, params)
        if isinstance(answer, jobs.Answered):
            return answer.results, answer.succeeded, answer.failed, None
        _err().print(f"job {answer.id}: {answer.total} items queued for the workers", markup=False)
        if not wait:
            return [], 0, 0, answer.id
        job = await _follow(hub, principal, answer.id)
        if job.status != "done":
            _err().print(f"job {job.id} is {job.status}{': ' + job.error if job.error else ''}", markup=False)
        return await _results(hub, principal, job.id, everything=False), job.succeeded, job.failed, job.id

    results, succeeded, failed, job_id = _run_async(hub, work)
    if job_id is not None and not wait:
        return
    _table(results, succeeded + failed)
    _finish(succeeded, failed)


def batch_command(
    ctx: typer.Context,
    action: str = typer.Argument(..., help="release_holds, approve, print_labels, tag, … (see the docs)."),
    ids: list[int] = typer.Option([], "--id", help="An order id (repeatable)."),
    ids_file: Path | None = typer.Option(None, "--ids-file", exists=True, dir_okay=False,
                                         help="A file with one order id per line."),
    param: list[str] = typer.Option([], "--param", help="An action parameter as key=value (repeatable)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow a background job until it finishes."),
) -> None:
    """Run ACTION over many orders: a result per order; exit 1 when some failed."""
    from hub.cli import _report_errors

    _report_errors(_run_batch)(ctx, action, _ids(ids, ids_file), _params(param), wait)


def ship_csv_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with order_no,courier,tracking_no."),
    warehouse: str | None = typer.Option(None, help="The configured warehouse the parcels left from."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow a background job until it finishes."),
) -> None:
    """Record shipments from a CSV: a result per row (bad rows by number); exit 1 when some failed."""
    from hub.cli import _report_errors
    from hub.services.batch.ship_csv import parse_ship_csv

    def run() -> None:
        rows = parse_ship_csv(file.read_text(encoding="utf-8-sig"), field=str(file))
        _run_batch(ctx, "ship", rows, {"warehouse": warehouse} if warehouse else {}, wait)

    _report_errors(run)()


@jobs_app.command("list")
def list_command(ctx: typer.Context, limit: int = typer.Option(20, min=1, max=200)) -> None:
    """The most recent jobs with their progress."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.batch import jobs

    def run() -> None:
        hub = _state(ctx).hub()
        rows, _ = _run_async(hub, lambda: jobs.list_jobs(hub, _cli_principal(), limit=limit))
        table = Table("id", "action", "status", "done", "ok", "failed", "by", "created")
        for j in rows:
            table.add_row(str(j.id), j.action, j.status, f"{j.done}/{j.total}", str(j.succeeded), str(j.failed),
                          j.created_by, j.created_at.isoformat(timespec="seconds"))
        _out().print(table)

    _report_errors(run)()


@jobs_app.command("show")
def show_command(ctx: typer.Context, job_id: int = typer.Argument(..., min=1),
                 everything: bool = typer.Option(False, "--all", help="List every outcome, not the first 200."),
                 follow: bool = typer.Option(True, "--follow/--no-follow", help="Wait while it runs.")) -> None:
    """A job's progress and outcomes; exit 1 when some items failed."""
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.batch import jobs, runner

    def run() -> None:
        hub = _state(ctx).hub()
        principal = _cli_principal()

        async def work() -> tuple[Any, list[Result]]:
            job = await jobs.get_job(hub, principal, job_id)
            if follow and job.status not in runner.FINISHED:
                job = await _follow(hub, principal, job_id)
            return job, await _results(hub, principal, job_id, everything=everything)

        job, results = _run_async(hub, work)
        _out().print(f"job {job.id} {job.action}: {job.status}, {job.done}/{job.total} done, {job.succeeded} ok, "
                     f"{job.failed} failed{' — ' + job.error if job.error else ''}", markup=False)
        _table(results, job.done)
        _finish(job.succeeded, job.failed)

    _report_errors(run)()


def _on_job(ctx: typer.Context, job_id: int, act: Any, said: str) -> None:
    """``act(hub, principal, job_id)`` (cancel or resume), then ``said`` formatted with the job; a
    job in the wrong state exits 2 with the reason."""
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.errors import ConflictError

    def run() -> None:
        hub = _state(ctx).hub()
        try:
            job = _run_async(hub, lambda: act(hub, _cli_principal(), job_id))
        except ConflictError as exc:
            from hub.cli import EXIT_BAD_INPUT, CliFailure
            raise CliFailure(str(exc), EXIT_BAD_INPUT) from None
        _out().print(said.format(job=job), markup=False)

    _report_errors(run)()


@jobs_app.command("cancel")
def cancel_command(ctx: typer.Context, job_id: int = typer.Argument(..., min=1)) -> None:
    """Stop a job before its next chunk (what is done stays done)."""
    from hub.services.batch import jobs

    _on_job(ctx, job_id, jobs.cancel, "job {job.id} cancelled after {job.done} of {job.total}")


@jobs_app.command("resume")
def resume_command(ctx: typer.Context, job_id: int = typer.Argument(..., min=1)) -> None:
    """Run a failed or cancelled job again from where it stopped (nothing done is redone)."""
    from hub.services.batch import jobs

    _on_job(ctx, job_id, jobs.resume, "job {job.id} queued again at {job.done} of {job.total} (`hub worker` runs it)")
