"""``hub service-orders`` commands that take steps on a service order: assign (or reassign, with a
reason), book, check-in, complete, cancel, fail.

The same steps as ``POST /api/v1/service-orders/{id}/<step>`` through
``hub.services.service_orders.lifecycle``, attributed to ``cli:<os user>`` (cause ``cli``). Prints
the order's status and version after the step and its write-back's state. Exit 0 when the step was
taken (whatever the platform answered: the note says), 2 for a bad value (naming the field) or an
unknown order, 1 when the step is not allowed now or the order changed since ``--if-version``.
Not for reading orders (``cases``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

ORDER = typer.Argument(..., metavar="ID", min=1, help="The hub's id of the service order.")
IF_VERSION = typer.Option(None, "--if-version", min=1,
                          help="Only if the order is still at this version (as last shown).")


def _when(value: str, field: str) -> datetime:
    from hub.errors import BadInputError

    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"{value!r} is not an ISO date and time (e.g. 2026-12-08T09:00+08:00)",
                            field=field) from None


def _take(ctx: typer.Context, service_order_id: int, action: str, **fields: Any) -> None:
    from contracts.service_orders import ServiceOrderAction
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.service_orders import lifecycle

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        values = dict(fields)
        for name, field in (("appointment_start", "start"), ("appointment_end", "end")):
            if isinstance(values.get(name), str):
                values[name] = _when(values[name], field)
        request = lifecycle.StepRequest(ServiceOrderAction(action), **values)
        outcome = _run_async(hub, lambda: lifecycle.take_step(hub, service_order_id, request, actor=_cli_actor(),
                                                              cause="cli"))
        out = _out()
        out.print(f"service order {service_order_id}: {action} taken; status {outcome.status.value}, version "
                  f"{outcome.version}; write-back {outcome.write_state}", markup=False)
        if outcome.note:
            out.print(f"  {outcome.note}", markup=False)

    run()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``hub service-orders`` group."""

    @app.command("assign")
    def assign(ctx: typer.Context, service_order_id: int = ORDER,
               technician: str = typer.Argument(..., metavar="TECH", help="The technician's code."),
               reason: str | None = typer.Option(None, "--reason", help="Needed to reassign from another technician."),
               if_version: int | None = IF_VERSION) -> None:
        """Give a service order to a technician (another one: with --reason)."""
        _take(ctx, service_order_id, "assign", technician_code=technician, reason=reason, expected_version=if_version)

    @app.command("book")
    def book(ctx: typer.Context, service_order_id: int = ORDER,
             start: str = typer.Option(..., "--start", help="The appointment's start, ISO with its zone."),
             end: str = typer.Option(..., "--end", help="The appointment's end, ISO with its zone."),
             note: str | None = typer.Option(None, "--note"), if_version: int | None = IF_VERSION) -> None:
        """Book (or rebook) the appointment agreed with the buyer."""
        _take(ctx, service_order_id, "book", appointment_start=start, appointment_end=end, note=note,
              expected_version=if_version)

    @app.command("check-in")
    def check_in(ctx: typer.Context, service_order_id: int = ORDER, if_version: int | None = IF_VERSION) -> None:
        """The technician is on site."""
        _take(ctx, service_order_id, "check_in", expected_version=if_version)

    @app.command("complete")
    def complete(ctx: typer.Context, service_order_id: int = ORDER,
                 note: str | None = typer.Option(None, "--note", help="What was done."),
                 rating: int | None = typer.Option(None, "--rating", help="The buyer's rating, 1 to 5."),
                 if_version: int | None = IF_VERSION) -> None:
        """The work is done."""
        _take(ctx, service_order_id, "complete", note=note, rating=rating, expected_version=if_version)

    @app.command("cancel")
    def cancel(ctx: typer.Context, service_order_id: int = ORDER,
               reason: str = typer.Option(..., "--reason", help="Why it is no longer wanted."),
               if_version: int | None = IF_VERSION) -> None:
        """No longer wanted."""
        _take(ctx, service_order_id, "cancel", reason=reason, expected_version=if_version)

    @app.command("fail")
    def fail(ctx: typer.Context, service_order_id: int = ORDER,
             reason: str = typer.Option(..., "--reason", help="Why it could not be done."),
             if_version: int | None = IF_VERSION) -> None:
        """Could not be done."""
        _take(ctx, service_order_id, "fail", reason=reason, expected_version=if_version)
