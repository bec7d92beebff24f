"""``hub technicians add|list|show|update|deactivate|activate``: the technician registry from the
command line — who does service work, their skills, regions, working days and hours, daily capacity,
and their load (open orders; appointments today).

The same service as the API (``hub.services.service_orders.technicians``) on the configured
database; each change is attributed to ``cli:<os user>`` in the audit log. Deactivating queues the
technician's open orders for automatic reassignment. A bad value is one line naming the option and
exit code 2. Not for assigning orders (``hub service-orders assign``).
"""

from __future__ import annotations

from typing import Any

import typer

from contracts.service_orders import ServiceOrderType, Technician
from hub.errors import BadInputError

SKILLS = ", ".join(t.value for t in ServiceOrderType)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``hub technicians`` group."""
    app.command("add")(technician_add)
    app.command("list")(technicians_list)
    app.command("show")(technician_show)
    app.command("update")(technician_update)
    app.command("deactivate")(technician_deactivate)
    app.command("activate")(technician_activate)


def parse_days(value: str) -> list[int]:
    """``1-6``, ``1,3,5`` or ``1-5,7`` as ISO weekdays; ``BadInputError`` naming ``--days``."""
    days: set[int] = set()
    try:
        for part in value.split(","):
            first, _, last = part.strip().partition("-")
            days.update(range(int(first), int(last or first) + 1))
    except ValueError:
        raise BadInputError(f"{value!r} is not a list of weekdays such as 1-6 or 1,3,5", field="--days") from None
    if not days or any(not 1 <= d <= 7 for d in days):
        raise BadInputError(f"{value!r}: weekdays are 1 (Monday) to 7 (Sunday)", field="--days")
    return sorted(days)


def parse_hours(value: str) -> tuple[str, str]:
    """``09:00-18:00`` as (start, end); the registry checks each is HH:MM and start < end."""
    start, sep, end = value.partition("-")
    if not sep or not start.strip() or not end.strip():
        raise BadInputError(f"{value!r} is not working hours such as 09:00-18:00", field="--hours")
    return start.strip(), end.strip()


def _changes(*, name: str | None, mobile: str | None, skill: list[str], region: list[str], everywhere: bool,
             days: str | None, hours: str | None, capacity: int | None) -> dict[str, Any]:
    """The options given, as registry fields; each bad one names its option."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if mobile is not None:
        changes["mobile"] = mobile or None
    if skill:
        unknown = [s for s in skill if s not in {t.value for t in ServiceOrderType}]
        if unknown:
            raise BadInputError(f"unknown skill {unknown[0]!r}; the skills are {SKILLS}", field="--skill")
        changes["skills"] = skill
    if everywhere:
        changes["regions"] = []
    elif region:
        changes["regions"] = region
    if days is not None:
        changes["work_days"] = parse_days(days)
    if hours is not None:
        changes["work_start"], changes["work_end"] = parse_hours(hours)
    if capacity is not None:
        if not 0 <= capacity <= 100:
            raise BadInputError(f"{capacity} is not a daily capacity from 0 to 100", field="--capacity")
        changes["daily_capacity"] = capacity
    return changes


#: The option each registry field comes from, for messages.
OPTION_OF = {"code": "CODE", "name": "--name", "mobile": "--mobile", "skills": "--skill", "regions": "--region",
             "work_days": "--days", "work_start": "--hours", "work_end": "--hours", "daily_capacity": "--capacity"}


def _options(field: str | None) -> str | None:
    return OPTION_OF.get(field or "", field)


def _write(ctx: typer.Context, work: Any) -> Technician:
    """Run ``work(session)`` in a transaction; registry errors name the option, a taken code exits 2."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _run_async, _state
    from hub.services.service_orders.lifecycle import ConflictError

    hub = _state(ctx).hub()

    async def run() -> Technician:
        async with hub.database().transaction() as session:
            result: Technician = await work(session)
            return result

    try:
        return _run_async(hub, run)
    except ConflictError as exc:
        raise CliFailure(str(exc), EXIT_BAD_INPUT) from None
    except BadInputError as exc:
        raise BadInputError(str(exc), field=_options(exc.field)) from None


def _hours(t: Technician) -> str:
    return f"{t.work_start:%H:%M}-{t.work_end:%H:%M}"


def _days(t: Technician) -> str:
    return ",".join(str(d) for d in t.work_days) or "-"


def _print_one(t: Technician) -> None:
    from hub.cli import _out

    out = _out()
    out.print(f"technician {t.code}: {t.name}{'' if t.active else ' (deactivated)'}", markup=False)
    for label, value in (("mobile", t.mobile or "-"), ("skills", ", ".join(sorted(t.skills)) or "-"),
                         ("regions", ", ".join(t.regions) or "everywhere"), ("work days", _days(t)),
                         ("hours", _hours(t)), ("capacity", f"{t.daily_capacity} a day"),
                         ("load", f"{t.open_load} open, {t.today_load} today")):
        out.print(f"  {label}: {value}", markup=False)


def technician_add(
    ctx: typer.Context,
    code: str = typer.Argument(..., metavar="CODE", help="Unique; never reused for another person."),
    name: str = typer.Option(..., "--name", metavar="NAME"),
    mobile: str | None = typer.Option(None, "--mobile", metavar="PHONE"),
    skill: list[str] = typer.Option(..., "--skill", metavar="TYPE", help=f"Repeat for several: {SKILLS}."),
    region: list[str] = typer.Option([], "--region", metavar="NAME",
                                     help="A province, city or district served (repeat); none: everywhere."),
    days: str = typer.Option("1-6", "--days", metavar="DAYS", help="ISO weekdays: 1-6, 1,3,5 (1 = Monday)."),
    hours: str = typer.Option("09:00-18:00", "--hours", metavar="HH:MM-HH:MM"),
    capacity: int = typer.Option(4, "--capacity", metavar="N", help="Appointments a day (0 to 100)."),
) -> None:
    """Add a technician."""
    from hub.cli import _cli_actor, _report_errors
    from hub.services.service_orders import technicians

    @_report_errors
    def run() -> None:
        values = _changes(name=name, mobile=mobile, skill=skill, region=region, everywhere=False, days=days,
                          hours=hours, capacity=capacity)
        try:
            technician = technicians.new_technician(code, values)
        except BadInputError as exc:
            raise BadInputError(str(exc), field=_options(exc.field)) from None
        _print_one(_write(ctx, lambda session: technicians.create(session, technician, actor=_cli_actor())))

    run()


def technicians_list(
    ctx: typer.Context,
    everyone: bool = typer.Option(False, "--all", help="Include deactivated technicians."),
) -> None:
    """Technicians with their load (open orders, appointments today), by code."""
    from rich.table import Table

    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.service_orders import technicians

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> list[Technician]:
            from zoneinfo import ZoneInfo

            async with hub.database().session() as session:
                return await technicians.list_technicians(session, active=None if everyone else True,
                                                          zone=ZoneInfo(hub.config.console.time_zone))

        found = _run_async(hub, work)
        if not found:
            _out().print("no technician yet: add one with `hub technicians add`", markup=False)
            return
        table = Table(title="Technicians")
        for column in ("code", "name", "skills", "regions", "days", "hours", "open", "today", "capacity", "active"):
            table.add_column(column, overflow="fold")
        for t in found:
            table.add_row(t.code, t.name, ", ".join(sorted(t.skills)), ", ".join(t.regions) or "everywhere",
                          _days(t), _hours(t), str(t.open_load), str(t.today_load), str(t.daily_capacity),
                          "yes" if t.active else "no")
        _out().print(table)

    run()


def technician_show(ctx: typer.Context, code: str = typer.Argument(..., metavar="CODE")) -> None:
    """One technician with their load."""
    from hub.cli import _report_errors, _run_async, _state
    from hub.services.service_orders import technicians

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> Technician:
            async with hub.database().session() as session:
                return await technicians.get(session, code)

        _print_one(_run_async(hub, work))

    run()


def technician_update(
    ctx: typer.Context,
    code: str = typer.Argument(..., metavar="CODE"),
    name: str | None = typer.Option(None, "--name", metavar="NAME"),
    mobile: str | None = typer.Option(None, "--mobile", metavar="PHONE", help="An empty value clears it."),
    skill: list[str] = typer.Option([], "--skill", metavar="TYPE", help=f"Replaces the skills (repeat): {SKILLS}."),
    region: list[str] = typer.Option([], "--region", metavar="NAME", help="Replaces the regions (repeat)."),
    everywhere: bool = typer.Option(False, "--everywhere", help="Clear the regions: serve everywhere."),
    days: str | None = typer.Option(None, "--days", metavar="DAYS"),
    hours: str | None = typer.Option(None, "--hours", metavar="HH:MM-HH:MM"),
    capacity: int | None = typer.Option(None, "--capacity", metavar="N"),
) -> None:
    """Change a technician (only the options given)."""
    from hub.cli import _cli_actor, _report_errors
    from hub.services.service_orders import technicians

    @_report_errors
    def run() -> None:
        changes = _changes(name=name, mobile=mobile, skill=skill, region=region, everywhere=everywhere, days=days,
                           hours=hours, capacity=capacity)
        if not changes:
            raise BadInputError("nothing to change: give at least one option", field="options")
        _print_one(_write(ctx, lambda session: technicians.update(session, code, changes, actor=_cli_actor())))

    run()


def _set_active(ctx: typer.Context, code: str, active: bool) -> None:
    from hub.cli import _cli_actor, _out, _report_errors
    from hub.services.service_orders import technicians

    @_report_errors
    def run() -> None:
        t = _write(ctx, lambda session: technicians.update(session, code, {"active": active}, actor=_cli_actor()))
        if active:
            _out().print(f"technician {t.code} is active again", markup=False)
        else:
            _out().print(f"technician {t.code} deactivated; {t.open_load} open order(s) queued for reassignment",
                         markup=False)

    run()


def technician_deactivate(ctx: typer.Context, code: str = typer.Argument(..., metavar="CODE")) -> None:
    """Deactivate a technician: their open orders go to someone else automatically; history stays theirs."""
    _set_active(ctx, code, False)


def technician_activate(ctx: typer.Context, code: str = typer.Argument(..., metavar="CODE")) -> None:
    """Make a deactivated technician available again."""
    _set_active(ctx, code, True)
