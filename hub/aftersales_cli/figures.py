"""``hub aftersales figures``: refund and return rates per SKU or shop over a period, as a table (or
JSON with ``--json``), then the buyers' reasons ranked.

``hub aftersales figures [--by sku|shop] [--since 2026-11-01] [--until 2026-12-01] [--shop S] [--json]``.
What the figures count: ``hub.services.aftersales.figures``. Not for cases (``cases``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import typer
from rich.table import Table

from hub.errors import BadInputError

DEFAULT_DAYS = 30


def parse_time(value: str | None, option: str) -> datetime | None:
    """A date (``2026-11-01``, midnight UTC) or an ISO 8601 time (no zone: UTC); a bad one is a
    ``BadInputError`` naming the option."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise BadInputError(f"not a date or time: {value!r} (use 2026-11-01 or 2026-11-01T08:00+08:00)",
                                field=option) from None
        parsed = datetime(day.year, day.month, day.day)
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise BadInputError(f"out of range: {value!r}", field=option) from None


def _period(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    end = parse_time(until, "--until") or datetime.now(UTC)
    try:
        start = parse_time(since, "--since") or end - timedelta(days=DEFAULT_DAYS)
    except OverflowError:
        raise BadInputError("--until is too early to count 30 days back from; give --since", field="--until") from None
    if start > end:
        raise BadInputError("--since must not be after --until", field="--since")
    return start, end


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _amounts(refunded: dict[str, Decimal]) -> str:
    """``19.90 CNY, 5.00 USD``; ``0.00`` when nothing was refunded."""
    return ", ".join(f"{a:,.2f} {c}" for c, a in sorted(refunded.items())) or "0.00"


def register(app: typer.Typer) -> None:
    """Add ``figures`` to the ``hub aftersales`` group."""
    app.command("figures")(figures_command)


def figures_command(
    ctx: typer.Context,
    by: str = typer.Option("sku", "--by", help="sku (units sold vs units in cases) or shop (orders vs cases)."),
    since: str | None = typer.Option(None, "--since", help="From this date or time (UTC). Default: 30 days ago."),
    until: str | None = typer.Option(None, "--until", help="Before this date or time (UTC). Default: now."),
    shop: str | None = typer.Option(None, "--shop", help="Only this shop."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Refund and return rates per SKU or shop, and the buyers' reasons ranked."""
    from hub import cli
    from hub.services.aftersales import figures

    @cli._report_errors
    def run() -> None:
        if by not in figures.BY:
            raise BadInputError(f"--by must be sku or shop, not {by!r}", field="--by")
        start, end = _period(since, until)

        async def fetch(database: Any) -> tuple[list[figures.RateRow], list[figures.ReasonRow]]:
            async with database.session() as session:
                rows = await figures.rates(session, by=by, since=start, until=end, shop=shop, limit=limit)
                ranked = await figures.reasons(session, since=start, until=end, shop=shop)
                return rows, ranked

        rows, ranked = cli._with_database(ctx, fetch)
        out = cli._out()
        if as_json:
            out.print(json.dumps({
                "by": by, "since": start.isoformat(), "until": end.isoformat(), "shop": shop,
                "rows": [{**vars(r), "refunded": {c: str(a) for c, a in r.refunded.items()}} for r in rows],
                "reasons": [vars(r) for r in ranked]}, ensure_ascii=False, indent=2), markup=False)
            return
        span = f"{start.isoformat(timespec='minutes')} – {end.isoformat(timespec='minutes')}"
        if not rows:
            out.print(f"no sales and no cases {span}", markup=False)
            return
        table = Table(title=f"After-sales per {by}, {span}" + (f", shop {shop}" if shop else ""))
        for column in (by, "sold", "refunds", "returns", "exchanges", "refund rate", "return rate", "refunded"):
            table.add_column(column, justify="left" if column == by else "right", overflow="fold")
        for r in rows:
            table.add_row(r.key, f"{r.sold:,}", f"{r.refunds:,}", f"{r.returns:,}", f"{r.exchanges:,}",
                          _percent(r.refund_rate), _percent(r.return_rate), _amounts(r.refunded))
        out.print(table)
        if ranked:
            reasons_table = Table(title="Reasons")
            for column in ("reason", "cases", "share"):
                reasons_table.add_column(column, justify="left" if column == "reason" else "right", overflow="fold")
            for reason in ranked:
                reasons_table.add_row(reason.reason, f"{reason.cases:,}", _percent(reason.share))
            out.print(reasons_table)

    run()
