"""The technicians at ``/console/technicians``: each one's skills, regions, working days and hours,
daily capacity, open load and today's load (a small bar against the capacity), active or not; and,
for roles with ``technicians.manage``, the forms that add one, change one, and deactivate or
activate one (``POST /console/technicians``, ``/console/technicians/{code}``,
``/console/technicians/{code}/active``).

Reads and writes through ``hub.services.service_orders.technicians`` (the API's own service); a
refused form shows the page again with the problem beside that form and the values kept.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from contracts.service_orders import ServiceOrderType
from hub.console.auth import CSRF_FIELD, ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import render, translator, with_notice, write_session
from hub.console.routes.service_orders_support import MANAGE, READ, ServiceWords
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services.service_orders import technicians

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/technicians"
#: The form's ``add`` key: a problem on the add form (an edit form is keyed by the technician's code).
ADD = "+add"
_NOTICES = ("added", "saved")


async def page_response(request: Request, principal: ConsolePrincipal, *, problem: tuple[str, str, str] | None = None,
                        values: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The page; ``problem`` is (form, field, message) after a refused form, ``values`` what it sent."""
    hub: Hub = request.app.state.hub
    t = translator(request)
    async with hub.database().session() as db:
        techs = await technicians.list_technicians(db, now=utcnow())
    done, code = request.query_params.get("done", ""), request.query_params.get("code", "")
    notice = (t.t(f"service_orders.technician_{done}", code=code)
              if done in _NOTICES and problem is None and any(x.code == code for x in techs) else None)
    return render(request, "service_orders/technicians.html", {
        "technicians": techs, "w": ServiceWords(t), "types": [k.value for k in ServiceOrderType],
        "days": range(1, 8), "may_manage": principal.may(MANAGE), "problem": problem, "values": values or {},
        "add": ADD, "notice": notice,
    }, status=status)


@router.get("/technicians")
async def technicians_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    return await page_response(request, principal)


def _clock(text: str, field: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError("give a time such as 09:00", field=field) from None


async def _fields(request: Request, form: dict[str, str]) -> dict[str, Any]:
    """The technician's fields from the form (skills and work days are checkbox lists)."""
    multi = await request.form()
    skills = {s for s in multi.getlist("skills") if isinstance(s, str) and s in {k.value for k in ServiceOrderType}}
    days = sorted({int(d) for d in multi.getlist("work_days") if isinstance(d, str) and d in "1234567" and d})
    capacity = form.get("daily_capacity", "").strip()
    if not capacity.isdigit():
        raise BadInputError("a whole number from 0 to 100", field="daily_capacity")
    return {
        "name": form.get("name", "").strip(), "mobile": form.get("mobile", "").strip() or None,
        "skills": frozenset(ServiceOrderType(s) for s in skills),
        "regions": tuple(r.strip() for r in form.get("regions", "").replace("，", ",").split(",") if r.strip()),
        "work_days": tuple(days), "work_start": _clock(form.get("work_start", ""), "work_start"),
        "work_end": _clock(form.get("work_end", ""), "work_end"), "daily_capacity": int(capacity),
    }


def _kept(request_form: Any, form: dict[str, str]) -> dict[str, Any]:
    kept: dict[str, Any] = {k: v for k, v in form.items() if k != CSRF_FIELD}
    kept["skills"] = [s for s in request_form.getlist("skills") if isinstance(s, str)]
    kept["work_days"] = [d for d in request_form.getlist("work_days") if isinstance(d, str)]
    return kept


def _validation_problem(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    return (str(first["loc"][0]) if first.get("loc") else "form"), str(first.get("msg", "invalid"))


@router.post("/technicians")
async def add_from_form(request: Request) -> Response:
    form, principal = await checked_form(request, MANAGE)
    hub: Hub = request.app.state.hub
    code = form.get("code", "").strip()
    try:
        technician = technicians.new_technician(code, await _fields(request, form))
        async with hub.database().transaction() as db:
            await technicians.create(db, technician, actor=principal.actor)
    except ValidationError as exc:
        field, message = _validation_problem(exc)
        return await _refused(request, principal, ADD, field, message, form, 422)
    except BadInputError as exc:
        return await _refused(request, principal, ADD, exc.field or "code", str(exc), form, 422)
    except HubError as exc:  # the code is taken (ConflictError)
        return await _refused(request, principal, ADD, "code", str(exc), form, 409)
    return write_session(request, RedirectResponse(with_notice(BASE, done="added", code=code), status_code=303))


async def _refused(request: Request, principal: ConsolePrincipal, which: str, field: str, message: str,
                   form: dict[str, str], status: int) -> Response:
    return await page_response(request, principal, problem=(which, field, message),
                               values=_kept(await request.form(), form), status=status)


@router.post("/technicians/{code}")
async def edit_from_form(request: Request, code: str) -> Response:
    form, principal = await checked_form(request, MANAGE)
    hub: Hub = request.app.state.hub
    try:
        changes = await _fields(request, form)
        async with hub.database().transaction() as db:
            await technicians.update(db, code, changes, actor=principal.actor)
    except ValidationError as exc:
        field, message = _validation_problem(exc)
        return await _refused(request, principal, code, field, message, form, 422)
    except NotFoundError:
        return await _refused(request, principal, code, "code",
                              translator(request).t("service_orders.technician_missing", code=code), form, 404)
    except BadInputError as exc:
        return await _refused(request, principal, code, exc.field or "name", str(exc), form, 422)
    return write_session(request, RedirectResponse(with_notice(BASE, done="saved", code=code), status_code=303))


@router.post("/technicians/{code}/active")
async def activate_from_form(request: Request, code: str) -> Response:
    form, principal = await checked_form(request, MANAGE)
    hub: Hub = request.app.state.hub
    try:
        async with hub.database().transaction() as db:
            await technicians.update(db, code, {"active": form.get("active") == "1"}, actor=principal.actor)
    except NotFoundError:
        return await _refused(request, principal, code, "code",
                              translator(request).t("service_orders.technician_missing", code=code), {}, 404)
    except BadInputError as exc:
        return await _refused(request, principal, code, exc.field or "active", str(exc), {}, 422)
    return write_session(request, RedirectResponse(with_notice(BASE, done="saved", code=code), status_code=303))
