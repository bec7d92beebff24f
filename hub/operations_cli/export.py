"""``hub export orders|lines|aftersales|stock|service-orders --format csv|xlsx --out FILE
[--<filter> VALUE ...] [--reveal]``: a filtered list written to a file, with a running row count
on stderr. The filters are the list's API query parameters as options (``--status paid --status
shipped --shop s1 --created-from 2026-12-01T00:00+08:00``; ``--on-hold true``).

The CLI runs as the machine's operator (every shop); buyers' personal data stays masked unless
``--reveal`` is given, and each export is in the audit log as ``cli:<user>``, revealed or not,
with its row count. The same service as the API (``hub.services.export``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hub.errors import BadInputError

_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(group: typer.Typer) -> None:
    """Add ``hub export`` to ``group``."""
    group.command("export", context_settings=_CONTEXT)(export)


def filter_params(args: list[str]) -> dict[str, list[str]]:
    """``--name value``, ``--name=value`` and a bare ``--flag`` (true) as query parameters."""
    params: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise BadInputError(f"{arg!r} is not a filter option (--name VALUE)", field=arg)
        name, eq, value = arg[2:].partition("=")
        if not eq:
            following = args[i + 1] if i + 1 < len(args) else None
            if following is not None and not following.startswith("--"):
                value = following
                i += 1
            else:
                value = "true"
        params.setdefault(name.replace("-", "_"), []).append(value)
        i += 1
    return params


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="LIST", help="orders, lines, aftersales, stock or service-orders."),
    fmt: str = typer.Option("csv", "--format", metavar="FORMAT", help="csv or xlsx."),
    out: Path = typer.Option(..., "--out", metavar="FILE", help="Where to write the file."),
    reveal: bool = typer.Option(False, "--reveal",
                                help="Write buyers' names, phones and streets in clear (recorded in the audit log)."),
) -> None:
    """A filtered list as CSV or XLSX; filters as the list's API takes them (--status, --shop …)."""
    from zoneinfo import ZoneInfo

    from hub.cli import _cli_actor, _err, _report_errors, _run_async, _state
    from hub.services.export.run import prepare, record_export

    @_report_errors
    def run() -> None:
        params = filter_params(list(ctx.args))
        hub = _state(ctx).hub()
        err = _err()

        def progress(count: int) -> None:
            err.print(f"\r{count:,} rows", end="", markup=False)

        async def work() -> int:
            job = prepare(name, fmt, params, database=hub.database(), principal=None, reveal=reveal,
                          zone=ZoneInfo(hub.config.console.time_zone))
            partial = out.with_name(out.name + ".part")
            try:
                with partial.open("wb") as file:
                    async for block in job.body(progress):
                        file.write(block)
                partial.replace(out)
            finally:
                partial.unlink(missing_ok=True)
            await record_export(hub.database(), job, actor=_cli_actor(), rows=job.rows_written)
            return job.rows_written

        rows = _run_async(hub, work)
        print(file=sys.stderr)
        typer.echo(f"{rows:,} rows written to {out}")

    run()
