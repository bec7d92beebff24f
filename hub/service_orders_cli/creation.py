"""``hub service-orders create``: a service order created in the hub for an order of any shop (a
Douyin order that needs installation), from the command line.

The same service as the API (``hub.services.service_orders.creation``) on the configured database,
attributed to ``cli:<os user>``. Not for steps on it (``hub.service_orders_cli.steps``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from contracts.service_orders import ServiceOrderType
from hub.errors import BadInputError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``hub service-orders`` group."""
    app.command("create")(service_order_create)


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO time given on the command line; without an offset it is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{value!r} is not an ISO time (2026-12-01T10:00+08:00)", field=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def service_order_create(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1),
    type: str = typer.Option(..., "--type", metavar="TYPE",
                             help="installation, repair, maintenance, measure, return_pickup, other."),
    line: int | None = typer.Option(None, "--line", metavar="ID", min=1,
                                    help="The order line (its id in the order detail); default the first with goods."),
    expected: str | None = typer.Option(None, "--expected", metavar="ISO",
                                        help="The date the buyer asked for (ISO; UTC without an offset)."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="What the technician should know."),
) -> None:
    """Create a service order in the hub for an order (nothing is written back to the platform)."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.service_orders import creation

    @_report_errors
    def run() -> None:
        try:
            kind = ServiceOrderType(type)
        except ValueError:
            choices = ", ".join(t.value for t in ServiceOrderType)
            raise BadInputError(f"--type {type!r} is not one of {choices}", field="--type") from None
        wanted = creation.CreateRequest(order_id=order_id, type=kind, order_line_id=line,
                                        expected_at=_moment(expected, "--expected"), note=note)
        hub = _state(ctx).hub()
        service_order_id, created = _run_async(
            hub, lambda: creation.create_or_find(hub, wanted, actor=_cli_actor(), cause="cli"))
        if created:
            _out().print(f"service order {service_order_id} created for order {order_id} ({kind.value})", markup=False)
        else:
            _out().print(f"order {order_id} already has {kind.value} service order {service_order_id}", markup=False)

    run()
