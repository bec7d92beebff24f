"""``hub reports`` and ``hub costs``: the sales and buyers reports as rich tables (or CSV), and cost
prices per SKU.

``hub reports sales [--period day|week|month] [--by none|channel|shop|sku|province] [--from D] [--to D]
[--shop S …] [--csv FILE]``, ``hub reports buyers [--period …] [--from D] [--to D] [--shop S …]``,
``hub reports refresh`` and ``hub reports rebuild`` (the daily rollups: the days changed since the
last refresh, or all of them), ``hub costs set SKU AMOUNT`` and ``hub costs import FILE`` (CSV
``merchant_sku,cost_price``). The CLI runs as the operator of the machine: every shop, gross profit
included. What is counted: ``hub.services.reports.figures``.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hub.errors import BadInputError

DEFAULT_DAYS = 30
SALES_COLUMNS = ("bucket", "key", "orders", "paid_orders", "sales_orders", "sales", "aov", "units",
                 "cancellation_rate", "refund_rate", "return_rate")
PROFIT_COLUMNS = ("cost", "freight", "fees", "gross_profit", "lines_without_cost")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"not a date: {value!r} (use 2026-11-01)", field=option) from None


def _days(first: str | None, last: str | None) -> tuple[date, date]:
    end = parse_day(last, "--to") or date.today()
    return parse_day(first, "--from") or end - timedelta(days=DEFAULT_DAYS - 1), end


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def sales_cells(row: Any) -> dict[str, str]:
    """A report row as text cells (profit columns when the row has them)."""
    cells = {"bucket": row.bucket.isoformat() if row.bucket else "total", "key": row.key,
             "orders": str(row.orders), "paid_orders": str(row.paid_orders), "sales_orders": str(row.sales_orders),
             "sales": str(row.sales), "aov": str(row.aov), "units": str(row.units),
             "cancellation_rate": str(row.cancellation_rate), "refund_rate": str(row.refund_rate),
             "return_rate": str(row.return_rate)}
    if row.profit is not None:
        cells.update(cost=str(row.profit.cost), freight=str(row.profit.freight), fees=str(row.profit.fees),
                     gross_profit=str(row.gross_profit), lines_without_cost=str(row.profit.lines_without_cost))
    return cells


def register(group: typer.Typer) -> None:
    """Add ``hub reports`` and ``hub costs`` to ``hub``."""
    reports = typer.Typer(help="Reports: sales, rates and gross profit; new and repeat buyers.", no_args_is_help=True)
    reports.command("sales")(sales_command)
    reports.command("buyers")(buyers_command)
    reports.command("refresh")(refresh_command)
    reports.command("rebuild")(rebuild_command)
    group.add_typer(reports, name="reports")
    costs = typer.Typer(help="Cost price per SKU, for gross profit.", no_args_is_help=True)
    costs.command("set")(cost_set_command)
    costs.command("import")(cost_import_command)
    group.add_typer(costs, name="costs")


PERIOD = typer.Option("day", "--period", help="day, week (from Monday) or month, in the console's time zone.")
FROM = typer.Option(None, "--from", help="First local day (default: 30 days before --to).")
TO = typer.Option(None, "--to", help="Last local day, included (default: today).")
SHOP = typer.Option(None, "--shop", help="Only this shop (repeat for several).")


def sales_command(
    ctx: typer.Context,
    period: str = PERIOD,
    by: str = typer.Option("none", "--by", help="none, channel, shop, sku or province."),
    first: str | None = FROM,
    last: str | None = TO,
    shop: list[str] | None = SHOP,
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write the rows (and totals) to this CSV file."),
    limit: int = typer.Option(0, "--limit", min=0, help="Only this many keys, those with the most sales (0: all)."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many keys first (with --limit: the next page)."),
) -> None:
    """Orders, sales, AOV, rates and gross profit per period and dimension."""
    from hub import cli
    from hub.services.reports import report

    @cli._report_errors
    def run() -> None:
        start, end = _days(first, last)
        hub = cli._state(ctx).hub()

        async def fetch(database: Any) -> report.SalesReport:
            async with database.session() as session:
                return await report.sales_report(
                    session, period=period, dimension=by, first=start, last=end,  # type: ignore[arg-type]
                    settings=hub.config.reports, time_zone=hub.config.console.time_zone, shops=shop or None,
                    with_profit=True, limit=limit or None, offset=offset)

        try:
            got = cli._with_database(ctx, fetch)
        except BadInputError as exc:
            raise BadInputError(str(exc), field=f"--{'by' if exc.field == 'dimension' else exc.field}") from None
        rows = [sales_cells(r) for r in [*got.rows, got.totals]]
        columns = [*SALES_COLUMNS, *PROFIT_COLUMNS]
        if csv_file is not None:
            with csv_file.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        out = cli._out()
        table = Table(title=f"Sales per {period}" + (f" and {by}" if by != "none" else "")
                      + f", {start} – {end} ({hub.config.console.time_zone})")
        shown = [c for c in columns if c not in ("paid_orders", "units", "lines_without_cost")]
        for column in shown:
            table.add_column(column.replace("_", " "), justify="left" if column in ("bucket", "key") else "right")
        for cells in rows:
            table.add_row(*[_percent(float(cells[c])) if c.endswith("_rate") else cells.get(c, "") for c in shown])
        out.print(table)
        shown_keys = len({r.key for r in got.rows})
        if by != "none" and shown_keys < got.keys_total:
            out.print(f"keys {offset + 1 if shown_keys else offset}–{offset + shown_keys} of {got.keys_total} "
                      f"by sales (--offset {offset + shown_keys} for the next)", markup=False)
        if not got.fees_reported:
            out.print("platform fees: not reported by the channels (counted as 0)", markup=False)
        missing = got.totals.profit.lines_without_cost if got.totals.profit else 0
        if missing:
            out.print(f"{missing} sales lines have no cost price (counted as 0): hub costs set/import", markup=False)

    run()


def buyers_command(
    ctx: typer.Context,
    period: str = PERIOD,
    first: str | None = FROM,
    last: str | None = TO,
    shop: list[str] | None = SHOP,
) -> None:
    """New and repeat buyers per period, and buyers in tiers by spend."""
    from hub import cli
    from hub.services.reports import report

    @cli._report_errors
    def run() -> None:
        start, end = _days(first, last)
        hub = cli._state(ctx).hub()

        async def fetch(database: Any) -> Any:
            async with database.session() as session:
                return await report.buyers_report(session, period=period, first=start, last=end,  # type: ignore[arg-type]
                                                  settings=hub.config.reports,
                                                  time_zone=hub.config.console.time_zone, shops=shop or None)

        try:
            _, got = cli._with_database(ctx, fetch)
        except BadInputError as exc:
            raise BadInputError(str(exc), field=f"--{exc.field}") from None
        out = cli._out()
        table = Table(title=f"Buyers per {period}, {start} – {end}: {got.buyers:,} buyers, {got.new:,} new")
        for column in ("bucket", "buyers", "new", "repeat"):
            table.add_column(column, justify="left" if column == "bucket" else "right")
        for b in got.buckets:
            table.add_row(b.bucket.isoformat(), f"{b.buyers:,}", f"{b.new:,}", f"{b.repeat:,}")
        out.print(table)
        tiers = Table(title="Buyers by spend over the range")
        for column in ("tier", "from", "buyers", "spend"):
            tiers.add_column(column, justify="left" if column == "tier" else "right")
        for t in got.tiers:
            tiers.add_row(t.tier, str(t.min_spend), f"{t.buyers:,}", str(t.spend))
        out.print(tiers)

    run()


def _rollups(ctx: typer.Context, *, full: bool) -> None:
    from zoneinfo import ZoneInfo

    from hub import cli
    from hub.services.reports import refresh

    @cli._report_errors
    def run() -> None:
        hub = cli._state(ctx).hub()
        zone = ZoneInfo(hub.config.console.time_zone)

        async def work(database: Any) -> refresh.Refreshed:
            async with database.transaction() as session:
                if full:
                    return await refresh.rebuild(session, hub.config.reports, zone)
                return await refresh.refresh(session, hub.config.reports, zone)

        done = cli._with_database(ctx, work)
        what = "rebuilt" if done.rebuilt else "refreshed"
        cli._out().print(f"report rollups {what}: {done.days:,} days ({zone.key})", markup=False)

    run()


def refresh_command(ctx: typer.Context) -> None:
    """Bring the report rollups up to date (the days changed since the last refresh; the worker does this
    every minute)."""
    _rollups(ctx, full=False)


def rebuild_command(ctx: typer.Context) -> None:
    """Rebuild every report rollup row from the orders (after a restore, or to check the incremental ones)."""
    _rollups(ctx, full=True)


def cost_set_command(
    ctx: typer.Context,
    sku: str = typer.Argument(..., help="The merchant SKU."),
    amount: str = typer.Argument(..., help="Cost per unit (≥ 0); '' clears it."),
) -> None:
    """Set a SKU's cost price."""
    from hub import cli
    from hub.services.reports import costs

    @cli._report_errors
    def run() -> None:
        value = costs.parse_cost(amount, field="AMOUNT")

        async def store(database: Any) -> None:
            async with database.transaction() as session:
                await costs.set_cost(session, sku, value, actor=cli._cli_actor())

        cli._with_database(ctx, store)
        cli._out().print(f"{sku}: cost price {value if value is not None else 'cleared'}", markup=False)

    run()


def cost_import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with merchant_sku,cost_price."),
) -> None:
    """Set many SKUs' cost prices from a CSV file (all or nothing)."""
    from hub import cli
    from hub.services.reports import costs

    @cli._report_errors
    def run() -> None:
        parsed = costs.parse_costs_csv(file.read_text(encoding="utf-8"))

        async def store(database: Any) -> costs.CostImport:
            async with database.transaction() as session:
                return await costs.import_costs(session, parsed, actor=f"import:{file.name}"[:100])

        done = cli._with_database(ctx, store)
        cli._out().print(f"{done.updated:,} cost prices set from {file.name}", markup=False)

    run()
