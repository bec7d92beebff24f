"""The export buttons' downloads: ``/console/export/{list}.{csv|xlsx}?<the screen's own query>``,
the filtered list a screen shows as a file, for the signed-in person (``data.export`` and the
list's read permission; personal data masked unless their role reveals it; only their shops).

The buttons (``_export_buttons.html``) carry the screen's query as it is, so each list's form
values are read here the way its screen reads them (orders: ``hub.api.queries.order_form``;
after-sales: open cases when nothing is chosen; service orders: ``overdue=1``, ``q``) into the
list's filter object, and the export is the same service and audit entry as
``GET /api/v1/exports/…`` (``hub.services.export``). A bad filter is an error page naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from hub.api.auth import Permission
from hub.api.queries.order_form import form_problems, form_values, order_filters
from hub.api.routes.exports import attachment
from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.pages import error_page, translator
from hub.context import Hub
from hub.errors import BadInputError, NotFoundError
from hub.services.aftersales.queries import CaseFilter
from hub.services.service_orders.queries import ServiceFilter

router = APIRouter(include_in_schema=False)


def _orders(params: dict[str, str], zone: ZoneInfo) -> Any:
    values = form_values(params)
    for field, problem in form_problems(values).items():
        raise BadInputError(f"{field}: {problem.message}", field=f"query.{field}")
    return order_filters(values, zone)


def _aftersales(params: dict[str, str], zone: ZoneInfo) -> Any:
    chosen = {k: v for k, v in params.items() if k in ("status", "type", "shop", "platform", "due_before", "open")}
    if not chosen and "f" not in params:  # the screen opens on the cases still waiting for an answer
        chosen = {"open": "1"}
    try:
        due = datetime.fromisoformat(chosen["due_before"]).replace(tzinfo=zone) if chosen.get("due_before") else None
    except ValueError:
        raise BadInputError("due_before is not a date and time", field="query.due_before") from None
    return CaseFilter(statuses=(chosen["status"],) if chosen.get("status") else (),
                      types=(chosen["type"],) if chosen.get("type") else (), shop=chosen.get("shop"),
                      platform=chosen.get("platform"), deadline_before=due, open_only=chosen.get("open") == "1")


def _stock(params: dict[str, str], zone: ZoneInfo) -> Any:
    from hub.services.export.stock import StockFilter

    return StockFilter(prefix=params.get("prefix") or None, warehouse=params.get("warehouse") or None)


def _service_orders(params: dict[str, str], zone: ZoneInfo) -> Any:
    return ServiceFilter(status=(params["status"],) if params.get("status") else (), type=params.get("type"),
                         technician=params.get("technician"), region=params.get("region"), shop=params.get("shop"),
                         overdue=params.get("overdue") == "1", q=params.get("q"))


#: How each screen's query becomes its list's filters.
SCREEN_FILTERS: dict[str, Callable[[dict[str, str], ZoneInfo], Any]] = {
    "orders": _orders, "lines": _orders, "aftersales": _aftersales, "stock": _stock,
    "service-orders": _service_orders,
}


@router.get("/console/export/{name}.{fmt}")
async def console_export(request: Request, name: str, fmt: str,
                         principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    from hub.services.export.registry import export_list  # the lists import the API's queries
    from hub.services.export.run import prepare_filtered, record_export

    require_right(principal, Permission.DATA_EXPORT)
    hub: Hub = request.app.state.hub
    t = translator(request)
    zone = ZoneInfo(hub.config.console.time_zone)
    params = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    try:
        spec = export_list(name)
        require_right(principal, Permission(spec.read_permission))
        export = prepare_filtered(name, fmt, SCREEN_FILTERS[name](params, zone), database=hub.database(),
                                  principal=principal, reveal=principal.may(Permission.ORDERS_READ_PII), zone=zone)
    except NotFoundError as exc:
        return error_page(request, t.t("error.not_found", detail=str(exc)), status=404)
    except BadInputError as exc:
        return error_page(request, t.t("error.bad_input", detail=str(exc)), status=422)
    await record_export(hub.database(), export, actor=principal.actor)
    return StreamingResponse(export.body(), media_type=export.media_type, headers=attachment(export.filename))
