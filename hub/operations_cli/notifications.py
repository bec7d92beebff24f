"""``hub notifications`` (channels, rules, the delivery log, test a channel, resend a delivery) and
``hub reminders`` (the unpaid orders due for a reminder, as a table or CSV; mark one reminded).

The same services as the API (``hub.services.notifications``) on the configured database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from hub.errors import BadInputError


def register(group: typer.Typer) -> None:
    """Add ``hub notifications`` and ``hub reminders`` to ``group``."""
    notifications = typer.Typer(help="Notification channels, rules and the delivery log.", no_args_is_help=True)
    notifications.command("channels")(channels_command)
    notifications.command("rules")(rules_command)
    notifications.command("deliveries")(deliveries_command)
    notifications.command("test")(test_command)
    notifications.command("resend")(resend_command)
    group.add_typer(notifications, name="notifications")
    reminders = typer.Typer(help="Unpaid orders to remind buyers about (催付).", no_args_is_help=True)
    reminders.command("unpaid")(unpaid_command)
    reminders.command("done")(done_command)
    group.add_typer(reminders, name="reminders")


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, ensure_ascii=False, indent=2))


def channels_command(ctx: typer.Context) -> None:
    """The configured channels (kind, enabled, settings without secrets)."""
    from hub.cli import _report_errors, _state
    from hub.services.notifications import channels

    @_report_errors
    def run() -> None:
        _print(channels.describe(_state(ctx).hub()))

    run()


def rules_command(ctx: typer.Context) -> None:
    """The configured rules and the daily summary."""
    from hub.cli import _report_errors, _state

    @_report_errors
    def run() -> None:
        section = _state(ctx).hub().config.notifications
        _print({"rules": [r.model_dump() for r in section.rules], "daily_summary": section.daily_summary.model_dump()})

    run()


def deliveries_command(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending | sent | failed | dead"),
    channel: str | None = typer.Option(None, "--channel", metavar="NAME"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """The delivery log, newest first."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.notifications import deliveries

    @_report_errors
    def run() -> None:
        if status is not None and status not in deliveries.STATUSES:
            raise BadInputError(f"--status must be one of {list(deliveries.STATUSES)}", field="--status")
        hub = _state(ctx).hub()
        rows = _run_async(hub, lambda: deliveries.listing(hub, status=status, channel=channel, limit=limit))
        table = Table(title=f"Deliveries ({len(rows)})")
        for column in ("id", "channel", "kind", "shop", "status", "attempts", "created", "last error"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(str(r.id), r.channel, r.kind, r.shop or "-", r.status, str(r.attempts),
                          r.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), r.last_error or "")
        _out().print(table)

    run()


def test_command(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Send a test notification to channel NAME now."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.notifications import deliveries

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        _run_async(hub, lambda: deliveries.send_test(hub, name))
        typer.echo(f"sent a test notification to {name}")

    run()


def resend_command(ctx: typer.Context, delivery_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Send delivery ID again now."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.notifications import deliveries

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> str | None:
            await deliveries.resend(hub, delivery_id, "cli")
            return await deliveries.send_one(hub, delivery_id)

        typer.echo(f"delivery {delivery_id}: {_run_async(hub, work) or 'pending'}")

    run()


def unpaid_command(
    ctx: typer.Context,
    csv_file: Path | None = typer.Option(None, "--csv", metavar="FILE", help="Write the list as CSV to FILE."),
) -> None:
    """Unpaid orders due for a reminder, oldest first."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.notifications import reminders

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        rows = _run_async(hub, lambda: reminders.due(hub, datetime.now(UTC)))
        if csv_file is not None:
            csv_file.write_text(reminders.to_csv(rows), encoding="utf-8")
            typer.echo(f"{len(rows)} order(s) written to {csv_file}")
            return
        table = Table(title=f"Unpaid orders to remind ({len(rows)})")
        for column in ("order id", "shop", "platform id", "created", "amount"):
            table.add_column(column)
        for r in rows:
            created = r.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
            table.add_row(str(r.order_id), r.shop, r.external_id, created,
                          f"{r.amount:.2f} {r.currency}")
        _out().print(table)

    run()


def done_command(ctx: typer.Context, order_id: int = typer.Argument(..., metavar="ORDER_ID")) -> None:
    """Record that the buyer of ORDER_ID was reminded (attributed to ``cli``)."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.notifications import reminders

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        _run_async(hub, lambda: reminders.mark_done(hub, order_id, "cli"))
        typer.echo(f"order {order_id} marked reminded")

    run()
