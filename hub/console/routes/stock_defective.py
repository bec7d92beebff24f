"""The defective stock page (``/console/stock/defective``, linked from the stock screen): the
damaged units returns put apart, per location and SKU with totals, and the dispose form (scrap,
return to the supplier, or repaired back on hand in a warehouse).

The list is ``hub.services.stock.defective.list_defective``, as ``GET /api/v1/inventory/defective``
reads it; the form goes through ``defective.dispose`` like ``POST
/api/v1/inventory/defective/dispositions``, with an idempotency key per form shown, so a form sent
twice disposes once. A refused form comes back (422) with the field named and nothing changed.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError
from hub.services.stock import defective
from hub.services.stock.defective import DefectiveAction
from hub.services.stock.levels import known_warehouses

router = APIRouter(prefix="/defective")
PAGE_URL = "/console/stock/defective"
FIELDS = ("location", "merchant_sku", "quantity", "action", "warehouse", "note", "form_key")


async def _page(request: Request, form: dict[str, str], problems: dict[str, str], *, status: int = 200,
                done: dict[str, str] | None = None) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        found = await defective.list_defective(db)
    locations = sorted(set(found.per_location) | {hub.config.aftersales.defective_warehouse})
    return render(request, "stock_defective.html", {
        "found": found, "form": form, "problems": problems, "done": done, "locations": locations,
        "warehouses": sorted(known_warehouses(hub.config)), "actions": [a.value for a in DefectiveAction],
        "prefill": lambda line: PAGE_URL + "?" + urlencode({"location": line.location, "sku": line.merchant_sku})
        + "#dispose",
    }, status=status)


def _blank_form(location: str = "", sku: str = "") -> dict[str, str]:
    return {"location": location, "merchant_sku": sku, "quantity": "", "action": "", "warehouse": "", "note": "",
            "form_key": secrets.token_urlsafe(18)}


@router.get("", include_in_schema=False)
async def defective_page(request: Request, location: str = "", sku: str = "", done: str | None = None,
                         principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    shown = {k: request.query_params.get(k, "") for k in ("quantity", "action", "location", "sku", "repeated")}
    return await _page(request, _blank_form(location[:100], sku[:200]), {}, done=shown if done else None)


def _explain(t: Any, exc: BadInputError, form: dict[str, str], held: int) -> tuple[str, str]:
    """The form field a refusal is about and what to tell the reader, in their language."""
    if exc.field == "quantity":
        if not form["quantity"].lstrip("-").isdigit():
            return "quantity", t.t("stock.problem.whole_number")
        if int(form["quantity"]) < 1:
            return "quantity", t.t("defective.problem.positive")
        return "quantity", t.t("defective.problem.too_many", location=form["location"], held=t.number(held))
    if exc.field == "action":
        return "action", t.t("defective.problem.action")
    if exc.field == "warehouse":
        if form["action"] == DefectiveAction.REPAIRED.value and not form["warehouse"]:
            return "warehouse", t.t("defective.problem.warehouse_needed")
        if form["action"] != DefectiveAction.REPAIRED.value:
            return "warehouse", t.t("defective.problem.no_warehouse")
        return "warehouse", t.t("stock.problem.unknown_warehouse", warehouse=form["warehouse"])
    if exc.field == "merchant_sku":
        return "merchant_sku", t.t("defective.problem.sku", detail=str(exc).split(": ", 1)[-1])
    if exc.field in ("location", "note"):
        return exc.field, t.t("stock.problem.other", detail=str(exc))
    return "quantity", t.t("stock.problem.other", detail=str(exc))


@router.post("", include_in_schema=False)
async def dispose(request: Request) -> Response:
    """Dispose of defective units; a refused form comes back with the field named, nothing changed."""
    values, principal = await checked_form(request, Permission.STOCK_ADJUST)
    hub: Hub = request.app.state.hub
    t = translator(request)
    form = {k: values.get(k, "").strip() for k in FIELDS}
    problems = {k: t.t("stock.problem.required") for k in ("location", "merchant_sku", "quantity", "action")
                if not form[k]}
    if len(form["note"]) > defective.NOTE_MAX:
        problems["note"] = t.t("stock.problem.too_long", max=defective.NOTE_MAX)
    done = None
    if not problems:
        quantity: int | str
        try:
            quantity = int(form["quantity"])
        except ValueError:
            quantity = form["quantity"]
        try:
            done = await defective.dispose(
                hub, form["location"], form["merchant_sku"], quantity,  # type: ignore[arg-type]  # checked there
                action=form["action"], note=form["note"] or None, actor=principal.actor,
                warehouse=form["warehouse"] or None,
                idempotency_key=f"console.defective:{form['form_key']}"[:200] if form["form_key"] else None)
        except BadInputError as exc:
            async with hub.database().session() as db:
                line = await defective.list_defective(db, location=form["location"],
                                                      merchant_sku=form["merchant_sku"])
            field, message = _explain(t, exc, form, line.total)
            problems[field] = message
    if done is None:
        form["form_key"] = form["form_key"] or secrets.token_urlsafe(18)
        return await _page(request, form, problems, status=422)
    query = {"done": "1", "quantity": str(done.quantity), "action": done.action.value, "location": done.location,
             "sku": done.merchant_sku}
    if done.repeated:
        query["repeated"] = "1"
    return write_session(request, RedirectResponse(f"{PAGE_URL}?{urlencode(query)}", status_code=303))
