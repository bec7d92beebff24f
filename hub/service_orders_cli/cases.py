"""``hub service-orders list`` and ``show``: service orders from the command line — the list most
urgent first (a table, or ``--json``) and one order whole (technician, deadlines, history,
write-backs, platform alerts and the steps allowed now).

The same service as the API (``hub.services.service_orders.queries``) on the configured database.
Taking steps is ``hub.service_orders_cli.steps``'s, creating one ``creation``'s.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import typer

from hub.errors import BadInputError


def register(app: typer.Typer) -> None:
    """Add ``list`` and ``show`` to the ``hub service-orders`` group."""
    app.command("list")(orders_list)
    app.command("show")(order_show)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _print_json(value: Any) -> None:
    plain = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
    typer.echo(json.dumps(plain, default=_json_value, ensure_ascii=False, indent=2))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO time given on the command line; without an offset it is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{value!r} is not an ISO time (2026-12-05T18:00+08:00)", field=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def time_left(seconds: float | None) -> str:
    """``3d 4h``, ``2h 15m``, ``40m`` left, or ``overdue 2h 15m``; ``-`` without a deadline."""
    if seconds is None:
        return "-"
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    span = f"{days}d {hours}h" if days else f"{hours}h {mins}m" if hours else f"{mins}m"
    return f"overdue {span}" if seconds < 0 else span


def _appointment(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "-"
    return f"{_when(start)}–{end.astimezone(UTC).strftime('%H:%M')}" if end else _when(start)


def orders_list(
    ctx: typer.Context,
    status: list[str] = typer.Option([], "--status", metavar="STATUS",
                                     help="Only this status: new, assigned, booked, on_site, completed, cancelled, "
                                          "failed (repeat for several)."),
    type: str | None = typer.Option(None, "--type", metavar="TYPE",
                                    help="Only this type: installation, repair, maintenance, measure, "
                                         "return_pickup, other."),
    technician: str | None = typer.Option(None, "--technician", metavar="CODE",
                                          help="Only this technician's orders (\"none\": unassigned ones)."),
    region: str | None = typer.Option(None, "--region", metavar="NAME", help="A province, city or district name."),
    shop: str | None = typer.Option(None, "--shop", metavar="SHOP", help="Only this shop's orders."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open orders past their next deadline."),
    due_before: str | None = typer.Option(None, "--due-before", metavar="TIME",
                                          help="Only orders whose next deadline is before this time (ISO; UTC "
                                               "without an offset)."),
    q: str | None = typer.Option(None, "--search", metavar="TEXT",
                                 help="Part of the work-order id, the sales order's id or the SKU."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """Service orders, most urgent first (open by next deadline, then newest)."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.service_orders import queries

    @_report_errors
    def run() -> None:
        flt = queries.ServiceFilter(status=tuple(status), type=type, technician=technician, region=region, shop=shop,
                                    due_before=_moment(due_before, "--due-before"), overdue=overdue, q=q,
                                    limit=limit)
        hub = _state(ctx).hub()

        async def work() -> tuple[list[queries.ServiceOrderSummary], int]:
            async with hub.database().session() as session:
                return await queries.list_service_orders(session, flt)

        found, total = _run_async(hub, work)
        if as_json:
            _print_json({"service_orders": [dataclasses.asdict(s) for s in found], "total": total})
            return
        if not found:
            _out().print("no service order matches", markup=False)
            return
        table = Table(title=f"Service orders ({len(found)} of {total})")
        for column in ("id", "shop", "platform id", "type", "status", "technician", "appointment", "time left"):
            table.add_column(column, overflow="fold")
        for s in found:
            table.add_row(str(s.id), s.shop, s.external_id, s.type, s.status,
                          s.technician_name or s.technician_code or "-",
                          _appointment(s.appointment_start, s.appointment_end), time_left(s.seconds_left))
        _out().print(table)
        if total > len(found):
            _out().print(f"{total - len(found)} more: narrow with --status/--shop/--technician or raise --limit",
                         markup=False)

    run()


def order_show(
    ctx: typer.Context,
    service_order_id: int = typer.Argument(..., metavar="ID", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print the order as JSON."),
) -> None:
    """One service order whole: technician, deadlines, history, write-backs, alerts, steps allowed now."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.service_orders import queries

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> queries.ServiceOrderDetail:
            async with hub.database().session() as session:
                return await queries.detail(session, service_order_id)

        found = _run_async(hub, work)
        if as_json:
            plain = dataclasses.asdict(found)
            plain["record"].pop("data", None)  # the platform's report as stored: not for a terminal
            _print_json(plain)
        else:
            _print_detail(found)

    run()


def _print_detail(found: Any) -> None:
    from rich.table import Table

    from hub.cli import _out
    from hub.services.service_orders.queries import ServiceOrderDetail

    assert isinstance(found, ServiceOrderDetail)
    out = _out()
    r = found.record
    origin = f"{r.platform} work order {r.external_id}" if not r.is_local else f"created in the hub ({r.origin})"
    out.print(f"service order {r.id} ({origin}), shop {r.shop}, order {r.order_id or '-'} "
              f"({found.order_external_id or '-'})", markup=False)
    out.print(f"  {r.type.value}: {r.status.value} (platform: {r.raw_status}); "
              f"{r.merchant_sku or '-'} × {r.quantity} {r.product_title or ''}".rstrip(), markup=False)
    technician = f"{r.technician_name} ({r.technician_code})" if r.technician_code else "unassigned"
    for label, value in (
        ("region", " ".join(r.region.names())), ("technician", technician),
        ("appointment", _appointment(r.appointment_start, r.appointment_end) if r.appointment_start else None),
        ("next deadline", f"{r.due_milestone or '-'} by {_when(r.due_at)} ({time_left(found.seconds_left)})"
         if r.due_at else None),
        ("service level", r.sla_state), ("rating", str(r.rating) if r.rating else None),
        ("note", r.completion_note), ("reason", r.reason),
    ):
        if value:
            out.print(f"  {label}: {value}", markup=False)
    history = Table(title="History")
    for column in ("at", "what", "status", "by", "cause"):
        history.add_column(column, overflow="fold")
    for e in found.events:
        moved = f"{e['old_status'] or '-'} → {e['new_status']}" if e["new_status"] else "-"
        history.add_row(_when(e["at"]), e["kind"], moved, e["actor"] or "-", e["cause"])
    out.print(history)
    for w in found.writes:
        error = f" ({w['error']})" if w["error"] else ""
        out.print(f"  write-back {w['id']}: {w['action']} {w['state']} by {w['actor'] or '-'}, "
                  f"{w['attempts']} attempt(s){error}", markup=False)
    for a in found.alerts:
        out.print(f"  alert {a['alert_id']} (level {a['level']}) {_when(a['raised_at'])}: {a['content']}",
                  markup=False)
    if found.actions:
        from contracts.service_orders import ServiceOrderAction

        order = list(ServiceOrderAction)
        out.print("steps allowed now: " + ", ".join(a.value for a in sorted(found.actions, key=order.index)),
                  markup=False)
    else:
        out.print("no step allowed now (closed)", markup=False)
