"""The service figures at ``/console/service-orders/figures``: per type, product and technician,
how many service orders, how many completed, the service level met (%), the median hours to
complete, the buyers' rating and the overdue ones open now (tables), and a bar chart of the service
level met and the counts per type or per technician (the vendored Chart.js), over a period chosen
on the page (the last 7, 30, 90 or 365 days) and optionally one shop.

Reads through ``hub.services.service_orders.figures`` (the API's own report). Registered before the
service order's page so ``figures`` is never read as an id.
"""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.i18n import Translator
from hub.console.pages import render, translator
from hub.console.routes.service_orders_support import READ, ServiceWords
from hub.context import Hub
from hub.db.tables import utcnow
from hub.services.service_orders import figures

router = APIRouter(prefix="/console", include_in_schema=False)

#: The periods offered, in days; the first page shows the last 30 days.
PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
#: What the chart may be drawn by; the tables show all three.
CHARTS = ("type", "technician")
#: How many bars the chart shows (the tables show up to ``ROWS``).
CHART_BARS = 15
ROWS = 50


def _label(row: figures.ServiceFigures, by: str, words: ServiceWords, t: Translator) -> str:
    if not row.key:
        return t.t("service_orders.none_key")
    return words.type(row.key) if by == "type" else (row.label or row.key)


def chart_data(rows: list[figures.ServiceFigures], by: str, words: ServiceWords, t: Translator) -> dict[str, object]:
    """The chart's labels and two datasets: the service level met (%, left axis) and the orders (right axis)."""
    charted = rows[:CHART_BARS]
    return {
        "labels": [_label(r, by, words, t) for r in charted],
        "datasets": [
            {"label": t.t("service_orders.sla_met_pct"), "yAxisID": "pct",
             "data": [round(r.sla_met_pct, 1) if r.sla_met_pct is not None else None for r in charted]},
            {"label": t.t("service_orders.orders"), "yAxisID": "count", "data": [r.count for r in charted]},
        ],
    }


@router.get("/service-orders/figures")
async def figures_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    words = ServiceWords(t)
    period_text = request.query_params.get("period", "")
    period = int(period_text) if period_text.isdigit() and int(period_text) in PERIODS else DEFAULT_PERIOD
    shop = request.query_params.get("shop") or None
    if shop not in hub.config.shops:
        shop = None
    chart_by = request.query_params.get("chart")
    chart_by = chart_by if chart_by in CHARTS else "type"
    until = utcnow()
    since = until - timedelta(days=period)
    tables: dict[str, list[figures.ServiceFigures]] = {}
    async with hub.database().session() as db:
        for by in ("type", "product", "technician"):
            tables[by] = await figures.figures(db, by, since=since, until=until, shop=shop, limit=ROWS)
    labelled = {by: [(r, _label(r, by, words, t)) for r in rows] for by, rows in tables.items()}
    return render(request, "service_orders/figures.html", {
        "tables": labelled, "period": period, "chart_by": chart_by,
        "periods": [(days, t.t(f"service_orders.period_{days}")) for days in PERIODS],
        "charts": [(by, t.t(f"service_orders.per_{by}")) for by in CHARTS],
        "sections": [(by, t.t(f"service_orders.per_{by}")) for by in tables],
        "shop": shop, "shops": sorted(hub.config.shops), "since": since, "until": until,
        # "</" cannot close the script element the JSON sits in.
        "chart_json": json.dumps(chart_data(tables[chart_by], chart_by, words, t),
                                 ensure_ascii=False).replace("</", "<\\/"),
        "has_chart": bool(tables[chart_by]),
    })
