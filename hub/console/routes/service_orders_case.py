"""A service order's page at ``/console/service-orders/{id}``: summary (order, type, status,
technician, region, buyer's date, appointment, time left), the service-level milestones with their
deadlines and whether each was met, the platform's alerts, the history (attributed), the write-backs
with their state (a failed one with the platform's reason), and a form per step allowed now
(assign or reassign, book, check in, complete, cancel, fail) for roles with
``service_orders.write``.

Each form posts, with the page's ``version``, to ``POST /console/service-orders/{id}/step``, which
hands it to ``lifecycle.take_step`` (the API's own service) under the signed-in person's name with
``cause="console"``. Taken: back to the page with a notice naming the write-back's state. Refused:
the page again with the problem beside the field (422), or what changed meanwhile (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus
from hub.console.auth import CSRF_FIELD, ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.i18n import Translator
from hub.console.pages import error_page, render, translator, with_notice, write_session
from hub.console.routes.service_orders_support import (
    READ,
    WRITE,
    FormProblem,
    ServiceWords,
    local_time,
    notice,
    soon_seconds,
)
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.access.scope import check_shop
from hub.services.service_orders import lifecycle, queries, technicians
from hub.services.service_orders.records import ServiceOrderRecord

router = APIRouter(prefix="/console", include_in_schema=False)

BASE = "/console/service-orders"
#: The order the step forms are drawn in.
_FORM_ORDER = (ServiceOrderAction.ASSIGN, ServiceOrderAction.BOOK, ServiceOrderAction.CHECK_IN,
               ServiceOrderAction.COMPLETE, ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL)
#: A service's field name → the form's input it is shown beside.
_FIELD_ALIASES = {"technician": "technician_code", "start": "appointment_start", "end": "appointment_end",
                  "expected_version": "version", "completion_note": "note"}


@dataclass(frozen=True)
class Milestone:
    """One service-level milestone: when due, when reached, and ``state`` (met | missed | overdue | waiting)."""

    name: str
    due_at: datetime | None
    reached_at: datetime | None
    state: str


def milestones(record: ServiceOrderRecord, now: datetime) -> list[Milestone]:
    """The three promised milestones as the page shows them; a milestone with no deadline is left out."""
    completed = record.closed_at if record.status is ServiceOrderStatus.COMPLETED else None
    found = []
    for name, due, reached in (("contact", record.contact_due_at, record.booked_at),
                               ("on_site", record.onsite_due_at, record.on_site_at),
                               ("complete", record.complete_due_at, completed)):
        if due is None:
            continue
        if reached is not None:
            state = "met" if reached <= due else "missed"
        elif record.closed_at is not None:
            state = "waiting" if now <= due else "missed"
        else:
            state = "overdue" if now > due else "waiting"
        found.append(Milestone(name, due, reached, state))
    return found


def _local_input(moment: datetime | None, t: Translator) -> str:
    """``moment`` as a ``datetime-local`` input's value in the merchant's zone."""
    return moment.astimezone(t.zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


async def page_response(request: Request, principal: ConsolePrincipal, service_order_id: int, *,
                        problem: FormProblem | None = None, values: dict[str, str] | None = None,
                        status: int = 200) -> Response:
    """The page; with ``problem`` (and the form's ``values`` kept) after a refused step."""
    hub: Hub = request.app.state.hub
    t = translator(request)
    now = utcnow()
    may_write = principal.may(WRITE)
    async with hub.database().session() as db:
        try:
            detail = await queries.detail(db, service_order_id, now=now)
            check_shop(principal, detail.record.shop, f"service order {service_order_id}")
        except NotFoundError:
            return error_page(request, t.t("service_orders.missing", id=service_order_id), status=404)
        techs = (await technicians.list_technicians(db, active=True, now=now)
                 if may_write and ServiceOrderAction.ASSIGN in detail.actions else [])
    record = detail.record
    words = ServiceWords(t)
    settings = hub.config.service_orders
    return render(request, "service_orders/case.html", {
        "d": detail, "r": record, "w": words, "now": now,
        "due": words.due(record.status.value, detail.seconds_left, soon_seconds(settings.due_soon_hours)),
        "milestones": milestones(record, now), "may_write": may_write,
        "actions": [a.value for a in _FORM_ORDER if a in detail.actions], "technicians": techs,
        "problem": problem, "values": values or {},
        "notice": None if problem else notice(request, words),
        "created": request.query_params.get("created") == "1" and problem is None,
        "start_value": _local_input(record.appointment_start, t), "end_value": _local_input(record.appointment_end, t),
        "here": f"{BASE}/{service_order_id}",
    }, status=status)


@router.get("/service-orders/{service_order_id}")
async def case_page(request: Request, service_order_id: int,
                    principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    return await page_response(request, principal, service_order_id)


class FormInputError(Exception):
    """A form value the console can tell is malformed before asking the service."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(form: dict[str, str], name: str, most: int = 500) -> str | None:
    value = form.get(name, "").strip()
    return value[:most] or None


def _when(form: dict[str, str], name: str, t: Translator) -> datetime | None:
    try:
        return local_time(form.get(name), t.zone)
    except ValueError:
        raise FormInputError(name, t.t("service_orders.problem_when")) from None


def step_from_form(form: dict[str, str], t: Translator) -> lifecycle.StepRequest:
    """The form as the service's ``StepRequest``: only the fields its step takes, malformed values refused."""
    text = form.get("action", "")
    if text not in {a.value for a in ServiceOrderAction}:
        raise FormInputError("action", t.t("service_orders.problem_action"))
    action = ServiceOrderAction(text)
    version_text = form.get("version", "").strip()
    if not version_text.isdigit():
        raise FormInputError("version", t.t("service_orders.problem_version"))
    rating: int | None = None
    if action is ServiceOrderAction.COMPLETE and _text(form, "rating"):
        rating_text = _text(form, "rating") or ""
        if not rating_text.isdigit() or not 1 <= int(rating_text) <= 5:
            raise FormInputError("rating", t.t("service_orders.problem_rating"))
        rating = int(rating_text)
    takes_note = action in (ServiceOrderAction.BOOK, ServiceOrderAction.COMPLETE)
    takes_reason = action in (ServiceOrderAction.ASSIGN, ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL)
    booking = action is ServiceOrderAction.BOOK
    return lifecycle.StepRequest(
        action=action, expected_version=int(version_text),
        technician_code=_text(form, "technician_code", 50) if action is ServiceOrderAction.ASSIGN else None,
        appointment_start=_when(form, "appointment_start", t) if booking else None,
        appointment_end=_when(form, "appointment_end", t) if booking else None,
        note=_text(form, "note") if takes_note else None, rating=rating,
        reason=_text(form, "reason") if takes_reason else None)


@router.post("/service-orders/{service_order_id}/step")
async def step_from_page(request: Request, service_order_id: int) -> Response:
    form, principal = await checked_form(request, WRITE)
    hub: Hub = request.app.state.hub
    t = translator(request)
    action = form.get("action", "")
    kept = {k: v for k, v in form.items() if k not in (CSRF_FIELD, "version")}

    async def refused(problem: FormProblem, status: int) -> Response:
        return await page_response(request, principal, service_order_id, problem=problem, values=kept, status=status)

    try:
        await ensure_owned(hub, principal, "service_order", [service_order_id])
        step = step_from_form(form, t)
        outcome = await lifecycle.take_step(hub, service_order_id, step, actor=principal.actor, cause="console")
    except FormInputError as exc:
        return await refused(FormProblem(action, str(exc), field=exc.field), 422)
    except BadInputError as exc:
        field = _FIELD_ALIASES.get(exc.field or "", exc.field)
        return await refused(FormProblem(action, str(exc), field=field), 422)
    except NotFoundError as exc:  # the service order, or the technician chosen meanwhile removed
        if action == ServiceOrderAction.ASSIGN.value and "technician" in str(exc).lower():
            return await refused(FormProblem(action, str(exc), field="technician_code"), 422)
        return error_page(request, t.t("service_orders.missing", id=service_order_id), status=404)
    except HubError as exc:  # not allowed now, or the page was out of date (ConflictError)
        return await refused(FormProblem(action, t.t("service_orders.conflict", detail=str(exc)), conflict=True),
                             409)
    target = with_notice(f"{BASE}/{service_order_id}", done=step.action.value, state=outcome.write_state)
    return write_session(request, RedirectResponse(target + "#steps", status_code=303))
