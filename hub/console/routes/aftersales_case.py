"""The after-sales case page at ``/console/aftersales/{id}``: summary (order, shop, type, status,
amounts, reason, description, evidence, return parcel, deadline and time left), lines with what
came back good or damaged, history, decisions with their write-back state, and a form per action
allowed now (one that the platform has no API for says the hub only records it).

``case_page_response`` also answers a refused decision (``aftersales_decisions``): the page again
with the problem beside its form and the values kept. Reads through
``hub.services.aftersales.queries`` and the platform's refusal reasons through ``decisions``.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from contracts.aftersales import AfterSaleAction, RefuseReason
from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.pages import error_page, render, translator
from hub.console.routes.aftersales_support import (
    DECIDE,
    PROOF_MOST_BYTES,
    READ,
    CaseWords,
    FormProblem,
    alert_window,
    notice,
)
from hub.context import Hub
from hub.db.tables import utcnow
from hub.errors import HubError, NotFoundError
from hub.services.access.scope import check_shop
from hub.services.aftersales import decisions, queries

#: Included by ``aftersales.router``, under its ``/console`` prefix.
router = APIRouter(include_in_schema=False)

BASE = "/console/aftersales"
_REFUSALS = (AfterSaleAction.REFUSE.value, AfterSaleAction.REFUSE_RETURN.value)


async def _detail(hub: Hub, case_id: int) -> queries.CaseDetail:
    """The case with the actions allowed now marked as written back or recorded only: read once to
    learn its shop, then with that shop's connector's actions (when it decides any)."""
    async with hub.database().session() as db:
        found = await queries.case_detail(db, case_id)
        acts = queries.platform_actions(hub, found.summary.shop)
        if acts is not None:
            found = await queries.case_detail(db, case_id, platform_actions=acts)
    return found


async def _refuse_reasons(hub: Hub, detail: queries.CaseDetail) -> tuple[list[RefuseReason], str | None]:
    """The platform's refusal reasons when a refusal is allowed now; the error when they could not
    be read (the form then takes free text only)."""
    if not any(a.action in _REFUSALS for a in detail.allowed):
        return [], None
    try:
        return await decisions.refuse_reasons(hub, detail.summary.id), None
    except HubError as exc:
        return [], str(exc)


async def case_page_response(request: Request, principal: ConsolePrincipal, case_id: int, *,
                             problem: FormProblem | None = None, values: dict[str, str] | None = None,
                             status: int = 200) -> Response:
    """The case page; with ``problem`` (and the form's ``values`` kept) after a refused decision."""
    hub: Hub = request.app.state.hub
    t = translator(request)
    try:
        detail = await _detail(hub, case_id)
        check_shop(principal, detail.summary.shop, f"after-sale case {case_id}")
    except NotFoundError:
        return error_page(request, t.t("aftersales.missing", id=case_id), status=404)
    may_decide = principal.may(DECIDE)
    reasons, reasons_error = await _refuse_reasons(hub, detail) if may_decide else ([], None)
    words = CaseWords(t)
    settings = hub.config.aftersales
    return render(request, "aftersales/case.html", {
        "case": detail, "s": detail.summary, "w": words, "now": utcnow(),
        # Only web addresses become links and images (never a ``javascript:`` one from a report).
        "evidence": [u for u in detail.evidence if u.startswith(("https://", "http://"))],
        "alert": alert_window(settings.deadline_alert_hours), "may_decide": may_decide,
        # What an agreement to a return or an exchange sends (the decisions service reads the same setting).
        "return_address": settings.return_addresses.get(detail.summary.shop) or settings.default_return_address,
        "problem": problem, "values": values or {}, "notice": None if problem else notice(request, words),
        "reasons": reasons, "reasons_error": reasons_error, "form_key": secrets.token_urlsafe(18),
        "warehouses": sorted(hub.config.warehouses), "couriers": sorted(hub.config.couriers),
        "proof_most_mb": PROOF_MOST_BYTES // (1024 * 1024), "here": f"{BASE}/{case_id}",
    }, status=status)


@router.get("/aftersales/{case_id}")
async def case_page(request: Request, case_id: int,
                    principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    return await case_page_response(request, principal, case_id)
