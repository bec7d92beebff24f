"""``hub aftersales list``, ``show`` and ``open``: after-sale cases from the command line — the list
the soonest deadline first (a table, or ``--json``), one case in full with what may be decided now,
and a case opened in the hub for an order (an exchange or reissue agreed with the buyer by chat).

The same services as the API (``hub.services.aftersales.queries`` and ``local_cases``) on the
configured database; a case opened here is attributed to ``cli:<os user>``. Deciding a case is
``hub.aftersales_cli.decisions``'s.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import typer

from hub.errors import BadInputError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``hub aftersales`` group."""
    app.command("list")(cases_list)
    app.command("show")(case_show)
    app.command("open")(case_open)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _print_json(value: Any) -> None:
    plain = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
    typer.echo(json.dumps(plain,
                          default=_json_value, ensure_ascii=False, indent=2))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _amount(amount: Decimal | None, currency: str | None) -> str:
    return f"{amount:,.2f} {currency or ''}".strip() if amount is not None else "-"


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO time given on the command line; without an offset it is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{value!r} is not an ISO time (2026-11-12T18:00+08:00)", field=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cases_list(
    ctx: typer.Context,
    status: list[str] = typer.Option([], "--status", metavar="STATUS",
                                     help="Only this status (repeat for several)."),
    shop: str | None = typer.Option(None, "--shop", metavar="SHOP", help="Only this shop's cases."),
    type: list[str] = typer.Option([], "--type", metavar="TYPE",
                                   help="Only this type: refund_only, return_and_refund, exchange, reissue... "
                                        "(repeat for several)."),
    due_before: str | None = typer.Option(None, "--due-before", metavar="TIME",
                                          help="Only cases the platform decides before this time (ISO; UTC "
                                               "without an offset)."),
    open_only: bool = typer.Option(False, "--open", help="Only cases not refunded, completed or closed."),
    sort: str = typer.Option("due", "--sort", metavar="SORT",
                             help="due (soonest deadline first), applied or updated (newest first)."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON."),
) -> None:
    """After-sale cases, the soonest deadline first (cases without one last)."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.aftersales import queries

    @_report_errors
    def run() -> None:
        flt = queries.CaseFilter(statuses=tuple(status), types=tuple(type), shop=shop,
                                 deadline_before=_moment(due_before, "--due-before"), open_only=open_only)
        hub = _state(ctx).hub()

        async def work() -> Any:
            async with hub.database().session() as session:
                return await queries.list_cases(session, flt, sort=sort, limit=limit)

        page = _run_async(hub, work)
        if as_json:
            _print_json(page)
            return
        if not page.items:
            _out().print("no after-sale case matches", markup=False)
            return
        table = Table(title="After-sale cases")
        for column in ("id", "shop", "case", "order", "type", "status", "amount", "deadline", "reason"):
            table.add_column(column, overflow="fold")
        for c in page.items:
            table.add_row(str(c.id), c.shop, c.external_id, str(c.order_id or c.order_external_id), c.type, c.status,
                          _amount(c.refund_amount, c.currency), _when(c.deadline), c.reason or "-")
        _out().print(table)
        if page.next_cursor:
            _out().print(f"more than {limit}: narrow with --status/--shop/--type or raise --limit", markup=False)

    run()


def case_show(
    ctx: typer.Context,
    case_id: int = typer.Argument(..., metavar="ID", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print the case as JSON."),
) -> None:
    """One case in full: lines, amounts, evidence, history, decisions and what may be decided now."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.aftersales import queries

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        found = _run_async(hub, lambda: queries.detail_for(hub, case_id))
        if as_json:
            _print_json(found)
        else:
            _print_detail(found)

    run()


def _print_detail(found: Any) -> None:
    from rich.table import Table

    from hub.cli import _out

    out = _out()
    c = found.summary
    origin = "opened in the hub" if found.local else f"{c.platform} case {c.external_id}"
    out.print(f"case {c.id} ({origin}), shop {c.shop}, order {c.order_id or '-'} ({c.order_external_id})",
              markup=False)
    out.print(f"  {c.type}: {c.status} (platform: {c.raw_status}); amount {_amount(c.refund_amount, c.currency)}"
              f"; applied {_when(c.applied_at)}; deadline {_when(c.deadline)}", markup=False)
    for label, value in (("reason", c.reason), ("description", found.description),
                         ("evidence", ", ".join(found.evidence)),
                         ("return parcel", " ".join(v for v in (found.return_courier, found.return_tracking_number)
                                                    if v)),
                         ("exchange for", found.exchange_sku), ("resolution", found.resolution)):
        if value:
            out.print(f"  {label}: {value}", markup=False)
    if found.lines:
        lines = Table(title="Lines")
        for column in ("#", "order line", "SKU", "qty", "amount", "back good", "back damaged"):
            lines.add_column(column)
        for li in found.lines:
            lines.add_row(str(li.position), str(li.order_line_id or "-"), li.merchant_sku or li.line_external_id or "-",
                          str(li.quantity), _amount(li.refund_amount, c.currency), str(li.received_good),
                          str(li.received_damaged))
        out.print(lines)
    history = Table(title="History")
    for column in ("at", "what", "status", "by", "cause"):
        history.add_column(column, overflow="fold")
    for e in found.history:
        moved = f"{e.old_status or '-'} → {e.new_status}" if e.new_status else "-"
        history.add_row(_when(e.at), e.kind, moved, e.actor or "-", e.cause)
    out.print(history)
    for d in found.decisions:
        out.print(f"  decision {d.id}: {d.action} {d.state} by {d.actor or '-'}"
                  f"{f' ({d.error})' if d.error else ''}", markup=False)
    if found.allowed:
        out.print("may be decided now: " + ", ".join(
            a.action + ("" if a.written_back else " (recorded in the hub only)") for a in found.allowed),
            markup=False)
    else:
        out.print("nothing to decide now", markup=False)


def _line(value: str) -> tuple[int, int]:
    line_id, _, quantity = value.partition(":")
    try:
        return int(line_id), int(quantity or "1")
    except ValueError:
        raise BadInputError(f"{value!r} is not ORDER_LINE_ID[:QUANTITY]", field="--line") from None


def case_open(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., metavar="ORDER_ID", min=1),
    type: str = typer.Option(..., "--type", metavar="TYPE",
                             help="exchange, reissue, return_and_refund, refund_only, repair, other."),
    line: list[str] = typer.Option(..., "--line", metavar="LINE",
                                   help="ORDER_LINE_ID[:QUANTITY] (repeat for several lines)."),
    reason: str | None = typer.Option(None, "--reason", metavar="TEXT", help="What was agreed with the buyer."),
) -> None:
    """Open a case in the hub for an order (nothing is written back to the platform)."""
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.aftersales import local_cases

    @_report_errors
    def run() -> None:
        lines = [_line(v) for v in line]
        hub = _state(ctx).hub()
        case_id = _run_async(hub, lambda: local_cases.open_case(hub, order_id, type=type, lines=lines, reason=reason,
                                                                actor=_cli_actor(), cause="cli"))
        _out().print(f"case {case_id} opened on order {order_id} (hub-{case_id})", markup=False)

    run()
