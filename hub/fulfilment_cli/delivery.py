"""CLI commands for routing and delivery orders: to a WMS or the own warehouse.

``hub delivery list|show|cancel|route``: the same reads and writes as ``/api/v1/delivery-orders``
and ``POST /api/v1/orders/{id}/route``; writes are attributed to ``cli:<os user>``. Not for the
rules (``hub.services.fulfilment``).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

delivery_app = typer.Typer(help="Delivery orders: routing orders to warehouses, listing and cancelling.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``hub delivery …``."""
    app.add_typer(delivery_app, name="delivery")
    for command in (delivery_list, delivery_show, delivery_cancel, delivery_route):
        delivery_app.command(command.__name__.removeprefix("delivery_"))(_reported(command))


def _reported(fn: Any) -> Any:
    from hub.cli import _report_errors

    return _report_errors(fn)


def _run(ctx: typer.Context, work: Any) -> Any:
    from hub.cli import _run_async, _state

    hub = _state(ctx).hub()
    return _run_async(hub, lambda: work(hub))


def _time(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def delivery_list(
    ctx: typer.Context,
    status: list[str] = typer.Option([], "--status", help="Repeat for several: pending, sent, picking, packed, "
                                                          "shipped, cancelling, cancelled, failed."),
    warehouse: str | None = typer.Option(None, "--warehouse"),
    kind: str | None = typer.Option(None, "--kind", help="wms or own."),
    order_id: int | None = typer.Option(None, "--order", min=1, help="Delivery orders with lines of this order."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """List delivery orders, newest first."""
    from hub.cli import _out
    from hub.errors import BadInputError
    from hub.services.fulfilment import delivery_orders as dos

    bad = [s for s in status if s not in dos.STATUSES]
    if bad:
        raise BadInputError(f"unknown status {bad[0]!r}; one of {', '.join(dos.STATUSES)}", field="--status")
    if kind is not None and kind not in (dos.WMS, dos.OWN):
        raise BadInputError("kind is wms or own", field="--kind")
    filters = dos.DeliveryFilters(status=tuple(status), warehouse=warehouse, kind=kind, order_id=order_id)

    async def fetch(hub: Any) -> list[Any]:
        async with hub.database().session() as session:
            return (await dos.list_delivery_orders(session, filters, limit=limit)).rows

    rows = _run(ctx, fetch)
    if not rows:
        _out().print("no delivery orders", markup=False)
        return
    table = Table(title="Delivery orders")
    for column in ("id", "code", "order", "warehouse", "kind", "status", "courier", "created", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.code, str(r.order_id), r.warehouse, r.kind, r.status, r.courier_code or "-",
                      _time(r.created_at), (r.last_error or "")[:80])
    _out().print(table)


def delivery_show(ctx: typer.Context, do_id: int = typer.Argument(..., metavar="ID", min=1)) -> None:
    """Show one delivery order: lines, parcels and history."""
    from hub.cli import _out
    from hub.errors import NotFoundError
    from hub.services.fulfilment import delivery_orders as dos

    async def fetch(hub: Any) -> Any:
        async with hub.database().session() as session:
            return await dos.delivery_detail(session, do_id)

    found = _run(ctx, fetch)
    if found is None:
        raise NotFoundError(f"delivery order {do_id} does not exist; list them with `hub delivery list`")
    row, out = found.row, _out()
    for label, value in (("id", row.id), ("code", row.code), ("order", row.order_id), ("warehouse", row.warehouse),
                         ("kind", row.kind), ("status", row.status), ("courier", row.courier_code or "-"),
                         ("wms id", row.warehouse_order_id or "-"), ("reason", (row.data or {}).get("reason", "")),
                         ("attempts", row.attempts), ("error", row.last_error or "-"),
                         ("created", f"{_time(row.created_at)} by {row.created_by or '-'}"),
                         ("sent", _time(row.sent_at)), ("cancelled", _time(row.cancelled_at))):
        out.print(f"{label:>9}: {value}", markup=False)
    for line in found.lines:
        out.print(f"     line: order {line.order_id} {line.line_external_id} {line.merchant_sku or '-'} "
                  f"× {line.quantity}", markup=False)
    for parcel in found.parcels:
        out.print(f"   parcel: {parcel.id} {parcel.key} {parcel.courier_code} {parcel.waybill_number or '-'} "
                  f"{parcel.status}", markup=False)
    for entry in (row.data or {}).get("history", []):
        extra = {k: v for k, v in entry.items() if k not in ("at", "event", "actor")}
        out.print(f"  history: {entry.get('at')} {entry.get('event')} by {entry.get('actor') or '-'} "
                  f"{extra or ''}", markup=False)


def delivery_cancel(
    ctx: typer.Context,
    do_id: int = typer.Argument(..., metavar="ID", min=1),
    reason: str = typer.Option("cancelled by a person", "--reason"),
) -> None:
    """Cancel a delivery order: locally if no warehouse has it yet, else at its WMS."""
    from hub.cli import EXIT_RUNTIME, CliFailure, _cli_actor, _out
    from hub.services.fulfilment import delivery_orders as dos

    async def work(hub: Any) -> bool:
        return await dos.cancel_delivery_order(hub, do_id, reason=reason, actor=_cli_actor())

    if not _run(ctx, work):
        raise CliFailure(f"delivery order {do_id} cannot be cancelled: already shipped or packed, or its warehouse "
                         "refused; see `hub delivery show`", EXIT_RUNTIME)
    _out().print(f"delivery order {do_id} cancelled", markup=False)


def delivery_route(ctx: typer.Context, order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1)) -> None:
    """Route an order now (or again after a hold was released) and create its delivery orders."""
    from hub.cli import EXIT_RUNTIME, CliFailure, _cli_actor, _out
    from hub.services.fulfilment import flow

    async def work(hub: Any) -> tuple[str | None, Any]:
        why = await flow.why_not_routable(hub, order_id)
        if why is not None:
            return why, None
        return None, await flow.fulfil_orders(hub, [order_id], actor=_cli_actor(), manual=True)

    why, result = _run(ctx, work)
    if why is not None:
        raise CliFailure(why, EXIT_RUNTIME)
    if order_id in result.held:
        raise CliFailure(f"order {order_id} held ({result.held[order_id]}): {result.reasons.get(order_id, '')}",
                         EXIT_RUNTIME)
    ids = result.routed.get(order_id, [])
    _out().print(f"order {order_id} routed: delivery order(s) {', '.join(map(str, ids)) or '-'} "
                 f"({result.reasons.get(order_id, '')})", markup=False)
