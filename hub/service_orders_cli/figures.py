"""``hub service-orders figures [--by type|product|technician] [--days 30] [--shop S] [--json]``:
service figures for the orders created in the last days, per type, product or technician, as a
table with a total line (or JSON).

What the figures count: ``hub.services.service_orders.figures``. Not for orders (``cases``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import typer

from hub.errors import BadInputError

DEFAULT_DAYS = 30


def register(app: typer.Typer) -> None:
    """Add ``figures`` to the ``hub service-orders`` group."""
    app.command("figures")(figures_command)


def _number(value: float | None, suffix: str = "") -> str:
    return f"{value:,.1f}{suffix}" if value is not None else "-"


def figures_command(
    ctx: typer.Context,
    by: str = typer.Option("type", "--by", help="type, product (SKU) or technician."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", min=1, max=3660,
                             help="The orders created in the last this many days."),
    shop: str | None = typer.Option(None, "--shop", help="Only this shop."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Service figures per type, product or technician: orders, completed, SLA met, hours, rating."""
    from rich.table import Table

    from hub import cli
    from hub.services.service_orders import figures

    @cli._report_errors
    def run() -> None:
        if by not in figures.BY:
            raise BadInputError(f"--by must be type, product or technician, not {by!r}", field="--by")
        end = datetime.now(UTC)
        start = end - timedelta(days=days)

        async def fetch(database: Any) -> tuple[list[figures.ServiceFigures], figures.ServiceFigures]:
            async with database.session() as session:
                rows = await figures.figures(session, cast("figures.By", by), since=start, until=end, shop=shop,
                                             limit=limit)
                return rows, await figures.totals(session, since=start, until=end, shop=shop)

        rows, total = cli._with_database(ctx, fetch)
        out = cli._out()
        if as_json:
            out.print(json.dumps({"by": by, "since": start.isoformat(), "until": end.isoformat(), "shop": shop,
                                  "total": vars(total), "rows": [vars(r) for r in rows]},
                                 ensure_ascii=False, indent=2), markup=False)
            return
        if not rows:
            out.print(f"no service order created in the last {days} days", markup=False)
            return
        table = Table(title=f"Service orders per {by}, last {days} days" + (f", shop {shop}" if shop else ""),
                      show_footer=False)
        columns = (by, "orders", "completed", "cancelled", "failed", "SLA met", "median h", "rating", "overdue")
        for column in columns:
            table.add_column(column, justify="left" if column == by else "right", overflow="fold")
        for r in [*rows, total]:
            sla = f"{_number(r.sla_met_pct, '%')} ({r.sla_met}/{r.sla_closed})" if r.sla_closed else "-"
            rating = f"{r.rating_avg:.2f} ({r.rating_count})" if r.rating_avg is not None else "-"
            table.add_row(r.label if r is not total else "all", f"{r.count:,}", f"{r.completed:,}",
                          f"{r.cancelled:,}", f"{r.failed:,}", sla, _number(r.median_hours_to_complete), rating,
                          f"{r.overdue_open:,}", end_section=r is rows[-1])
        out.print(table)

    run()
