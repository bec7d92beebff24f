"""The after-sales figures at ``/console/aftersales/figures``: refund and return rates per SKU and
per shop (tables), a bar chart of the SKUs' rates (the vendored Chart.js) and the buyers' reasons
ranked, over a period chosen on the page (the last 7, 30, 90 or 365 days) and optionally one shop.

Reads through ``hub.services.aftersales.figures`` (the API's own figures). Registered before the
case page so ``figures`` is never read as a case id.
"""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.console.auth import ConsolePrincipal, console_principal, require_right
from hub.console.pages import render, translator
from hub.console.routes.aftersales_support import READ
from hub.context import Hub
from hub.db.tables import utcnow
from hub.services.aftersales import figures

router = APIRouter(prefix="/console", include_in_schema=False)

#: The periods offered, in days; the first page shows the last 30 days.
PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
#: How many SKUs the chart shows (the tables show up to ``ROWS``).
CHART_SKUS = 15
ROWS = 50


@router.get("/aftersales/figures")
async def figures_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    period_text = request.query_params.get("period", "")
    period = int(period_text) if period_text.isdigit() and int(period_text) in PERIODS else DEFAULT_PERIOD
    shop = request.query_params.get("shop") or None
    if shop not in hub.config.shops:
        shop = None
    until = utcnow()
    since = until - timedelta(days=period)
    async with hub.database().session() as db:
        per_sku = await figures.rates(db, by="sku", since=since, until=until, shop=shop, limit=ROWS)
        per_shop = await figures.rates(db, by="shop", since=since, until=until, shop=shop, limit=ROWS)
        reasons = await figures.reasons(db, since=since, until=until, shop=shop)
    charted = per_sku[:CHART_SKUS]
    chart = {
        "labels": [r.key for r in charted],
        "datasets": [
            {"label": t.t("aftersales.refund_rate"), "data": [round(r.refund_rate * 100, 2) for r in charted]},
            {"label": t.t("aftersales.return_rate"), "data": [round(r.return_rate * 100, 2) for r in charted]},
        ],
    }
    return render(request, "aftersales/figures.html", {
        "per_sku": per_sku, "per_shop": per_shop, "reasons": reasons, "period": period,
        "periods": [(days, t.t(f"aftersales.period_{days}")) for days in PERIODS],
        "shop": shop, "shops": sorted(hub.config.shops), "since": since, "until": until,
        # "</" cannot close the script element the JSON sits in.
        "chart_json": json.dumps(chart, ensure_ascii=False).replace("</", "<\\/"),
        "currency": hub.config.console.default_currency,
    })
