"""The technician registry: who does service work, with their skills, regions, working hours and
daily capacity, and their load (open orders assigned; appointments today).

Codes are unique and never reused for another person; a technician is deactivated, never deleted
(their history stays attributed). Deactivating one queues their open orders for reassignment
(``service_order_reassign``, which keeps the order attributed to them until someone else takes it).
Each change is in the audit log (field names only: a technician's phone stays out of it). Not for
choosing a technician (``assignment``) nor for a person's assignment step (``lifecycle``).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType, Technician
from hub.db import audit, outbox
from hub.db.tables import ServiceOrderRow, TechnicianRow, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, NotFoundError
from hub.services.service_orders.lifecycle import ConflictError

#: The statuses in which an order counts towards a technician's open load.
OPEN_STATUSES = (ServiceOrderStatus.NEW.value, ServiceOrderStatus.ASSIGNED.value, ServiceOrderStatus.BOOKED.value,
                 ServiceOrderStatus.ON_SITE.value)
#: Appointments that did not take place do not count towards a day's load.
_NOT_HELD = (ServiceOrderStatus.CANCELLED.value, ServiceOrderStatus.FAILED.value)
#: The day "today" is, for today's load: the merchant's (the platforms served are in China).
SERVICE_ZONE = ZoneInfo("Asia/Shanghai")
#: The actor that takes a deactivated technician's open orders to someone else.
REASSIGN_ACTOR = "service_order_reassign"
FIELDS = ("name", "mobile", "skills", "regions", "work_days", "work_start", "work_end", "daily_capacity", "active")
MAX_REGIONS = 200
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


# --------------------------------------------------------------------------- reading


def _day(now: datetime | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Today's start and the next day's start in ``zone``, for ``now`` (default: the present)."""
    local = (now or utcnow()).astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    return start, start + timedelta(days=1)


async def _loads(session: AsyncSession, ids: list[int], now: datetime | None,
                 zone: ZoneInfo) -> dict[int, tuple[int, int]]:
    """(open orders, appointments today) per technician id, in one statement."""
    if not ids:
        return {}
    start, end = _day(now, zone)
    today = and_(ServiceOrderRow.appointment_start >= start, ServiceOrderRow.appointment_start < end,
                 ServiceOrderRow.status.notin_(_NOT_HELD))
    is_open = ServiceOrderRow.status.in_(OPEN_STATUSES)
    rows = (await session.execute(
        select(ServiceOrderRow.technician_id, func.sum(case((is_open, 1), else_=0)),
               func.sum(case((today, 1), else_=0)))
        .where(ServiceOrderRow.technician_id.in_(ids), or_(is_open, today))
        .group_by(ServiceOrderRow.technician_id))).all()
    return {int(tid): (int(open_ or 0), int(today_ or 0)) for tid, open_, today_ in rows}


def parse_hhmm(value: str) -> time:
    """A stored or checked ``HH:MM`` as a time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _contract(row: TechnicianRow, load: tuple[int, int]) -> Technician:
    return Technician(code=row.code, name=row.name, mobile=row.mobile,
                      skills=frozenset(ServiceOrderType(s) for s in row.skills or ()),
                      regions=tuple(row.regions or ()), work_days=tuple(row.work_days or ()),
                      work_start=parse_hhmm(row.work_start), work_end=parse_hhmm(row.work_end),
                      daily_capacity=row.daily_capacity, active=row.active, open_load=load[0], today_load=load[1])


async def list_technicians(session: AsyncSession, *, active: bool | None = None,
                           now: datetime | None = None, zone: ZoneInfo = SERVICE_ZONE) -> list[Technician]:
    """Every technician (``active`` filters), with ``open_load`` and ``today_load`` (appointments
    starting on ``now``'s day in ``zone``, not cancelled or failed), by code."""
    query = select(TechnicianRow).order_by(TechnicianRow.code)
    if active is not None:
        query = query.where(TechnicianRow.active == active)
    rows = list((await session.execute(query)).scalars().all())
    loads = await _loads(session, [r.id for r in rows], now, zone)
    return [_contract(r, loads.get(r.id, (0, 0))) for r in rows]


async def _row(session: AsyncSession, code: str) -> TechnicianRow:
    row = (await session.execute(select(TechnicianRow).where(TechnicianRow.code == code))).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no technician {code!r}; `hub technicians list --all` shows the registry")
    return row


async def get(session: AsyncSession, code: str, *, now: datetime | None = None,
              zone: ZoneInfo = SERVICE_ZONE) -> Technician:
    """One technician with their load; ``NotFoundError`` naming the code."""
    row = await _row(session, code)
    loads = await _loads(session, [row.id], now, zone)
    return _contract(row, loads.get(row.id, (0, 0)))


async def id_of(session: AsyncSession, code: str) -> int:
    """The row id of technician ``code``; ``NotFoundError`` naming the code."""
    found = await session.scalar(select(TechnicianRow.id).where(TechnicianRow.code == code))
    if found is None:
        raise NotFoundError(f"no technician {code!r}; `hub technicians list --all` shows the registry")
    return int(found)


# --------------------------------------------------------------------------- checking values


def _time_value(value: Any, field: str) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, str) and _HHMM.match(value.strip()):
        return value.strip()
    raise BadInputError(f"{value!r} is not a time of day as HH:MM (09:00)", field=field)


def _text(value: Any, field: str, *, max_length: int, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInputError(f"{field} must not be empty", field=field)
        return None
    if not isinstance(value, str):
        raise BadInputError(f"{field} must be text", field=field)
    if len(value.strip()) > max_length:
        raise BadInputError(f"{field} is longer than {max_length} characters", field=field)
    return value.strip()


def _column(field: str, value: Any) -> Any:
    """The stored value of one field, or ``BadInputError`` naming it."""
    if field == "name":
        return _text(value, field, max_length=100, required=True)
    if field == "mobile":
        return _text(value, field, max_length=30, required=False)
    if field == "skills":
        if not isinstance(value, list | tuple | set | frozenset):
            raise BadInputError("skills is a list of service types", field=field)
        known = {t.value for t in ServiceOrderType}
        skills = {str(getattr(s, "value", s)) for s in value}
        unknown = sorted(skills - known)
        if unknown:
            raise BadInputError(f"unknown skill(s) {', '.join(unknown)}; the service types are "
                                f"{', '.join(sorted(known))}", field=field)
        return sorted(skills)
    if field == "regions":
        if not isinstance(value, list | tuple):
            raise BadInputError("regions is a list of province, city or district names", field=field)
        regions = [_text(r, field, max_length=100, required=True) for r in value]
        if len(regions) > MAX_REGIONS:
            raise BadInputError(f"at most {MAX_REGIONS} regions", field=field)
        return list(dict.fromkeys(regions))
    if field == "work_days":
        if not isinstance(value, list | tuple | set) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                                 for d in value):
            raise BadInputError("work_days is a list of ISO weekdays (1 = Monday … 7 = Sunday)", field=field)
        if any(not 1 <= d <= 7 for d in value):
            raise BadInputError("work days are ISO weekdays from 1 (Monday) to 7 (Sunday)", field=field)
        return sorted(set(value))
    if field in ("work_start", "work_end"):
        return _time_value(value, field)
    if field == "daily_capacity":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise BadInputError("daily_capacity is a whole number from 0 to 100", field=field)
        return value
    if field == "active":
        if not isinstance(value, bool):
            raise BadInputError("active is true or false", field=field)
        return value
    raise BadInputError(f"unknown field {field!r}; the fields are {', '.join(FIELDS)}", field=field)


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    return {field: _column(field, value) for field, value in changes.items()}


def _check_hours(start: str, end: str, field: str) -> None:
    if not start < end:  # zero-padded HH:MM compares as the time it is
        raise BadInputError(f"the working day must end after it starts ({start}–{end})", field=field)


def new_technician(code: str, fields: dict[str, Any]) -> Technician:
    """A technician to ``create`` from plain values (as a form or the command line gives them:
    skills as type names, hours as ``HH:MM``); fields left out take the registry's defaults.
    ``BadInputError`` naming the field (``code`` or one of ``FIELDS``)."""
    checked = _checked({f: v for f, v in fields.items() if f != "active"})
    clean_code = _text(code, "code", max_length=50, required=True)
    if "name" not in checked:
        raise BadInputError("a technician needs a name", field="name")
    defaults = Technician(code="-", name="-")
    start = checked.get("work_start", f"{defaults.work_start:%H:%M}")
    end = checked.get("work_end", f"{defaults.work_end:%H:%M}")
    _check_hours(start, end, "work_end")
    return Technician(code=str(clean_code), name=checked["name"], mobile=checked.get("mobile"),
                      skills=frozenset(ServiceOrderType(s) for s in checked.get("skills", ())),
                      regions=tuple(checked.get("regions", ())),
                      work_days=tuple(checked.get("work_days", defaults.work_days)),
                      work_start=parse_hhmm(start), work_end=parse_hhmm(end),
                      daily_capacity=checked.get("daily_capacity", defaults.daily_capacity))


# --------------------------------------------------------------------------- writing


async def create(session: AsyncSession, technician: Technician, *, actor: str) -> Technician:
    """Add ``technician``; ``ConflictError`` when the code is taken. Audited."""
    code = _text(technician.code, "code", max_length=50, required=True)
    values = _checked({field: getattr(technician, field) for field in FIELDS})
    _check_hours(values["work_start"], values["work_end"], "work_end")
    now = utcnow()
    dialect = session.get_bind().dialect.name
    created = (await session.execute(
        insert_ignore(TechnicianRow, dialect, ["code"])
        .values(code=code, created_at=now, updated_at=now, **values).returning(TechnicianRow.id))).scalar()
    if created is None:
        raise ConflictError(f"technician code {code!r} is taken (codes are never reused); choose another code")
    await audit.record(session, actor=actor, action="technician.created", subject=f"technician:{code}",
                       details={"skills": values["skills"], "daily_capacity": values["daily_capacity"]})
    return await get(session, str(code))


async def update(session: AsyncSession, code: str, changes: dict[str, Any], *, actor: str) -> Technician:
    """Change the fields in ``changes`` (any of name, mobile, skills, regions, work_days, work_start,
    work_end, daily_capacity, active); ``BadInputError`` naming a field it refuses. Deactivating
    queues the technician's open orders for automatic reassignment. Audited."""
    values = _checked(changes)
    row = await _row(session, code)
    start, end = values.get("work_start", row.work_start), values.get("work_end", row.work_end)
    _check_hours(start, end, "work_end" if "work_end" in values else "work_start")
    changed = sorted(f for f, v in values.items() if getattr(row, f) != v)
    if not changed:
        return await get(session, code)
    deactivated = "active" in changed and not values["active"]
    await session.execute(sql_update(TechnicianRow).where(TechnicianRow.id == row.id)
                          .values(updated_at=utcnow(), **{f: values[f] for f in changed}))
    details: dict[str, Any] = {"fields": changed}
    if deactivated:
        open_ids = list((await session.execute(
            select(ServiceOrderRow.id).where(ServiceOrderRow.technician_id == row.id,
                                             ServiceOrderRow.status.in_(OPEN_STATUSES))
            .order_by(ServiceOrderRow.id))).scalars().all())
        for service_order_id in open_ids:  # the outbox batches them into the commit's one flush
            outbox.add(session, REASSIGN_ACTOR, int(service_order_id))
        details["reassigning"] = [int(i) for i in open_ids]
    action = ("technician.deactivated" if deactivated
              else "technician.activated" if "active" in changed else "technician.updated")
    await audit.record(session, actor=actor, action=action, subject=f"technician:{code}", details=details)
    session.expire(row)
    return await get(session, code)
