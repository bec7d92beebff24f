"""Reports with charts at ``/console/reports``: period (day, week, month), dimension (none, channel,
shop, SKU, province), date range and shop pickers; a line chart of sales and orders over time, a bar
chart of sales by the dimension, the figures table (with gross profit for those who may see it), new
and repeat buyers and the buyer tiers; and, for those who may write costs, a form setting a SKU's
cost price. The table holds 50 keys a page, ranked by sales, with previous and next links.

Reads through ``hub.services.reports.report`` (the API's own report). No SQL here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.auth import Permission
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError, NotFoundError
from hub.services.access.scope import visible_shops
from hub.services.reports import costs, report
from hub.services.reports.dimensions import DIMENSIONS
from hub.services.reports.periods import PERIODS

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 30
#: How many bars the dimension chart shows (the table shows every row of the page).
CHART_BARS = 20
#: Keys per page of the figures table, ranked by sales (500 SKUs' daily rows would be 15,000 a month).
PAGE_KEYS = 50


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _today(hub: Hub) -> date:
    from zoneinfo import ZoneInfo
    return datetime.now(ZoneInfo(hub.config.console.time_zone)).date()


def chart_data(got: report.SalesReport, over_time: report.SalesReport | None = None) -> dict[str, Any]:
    """Sales and orders per bucket (all keys together: from ``over_time`` when given, the report
    without a dimension, since ``got`` holds one page of keys), and sales per key over the range."""
    per_bucket: dict[date, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    per_key: dict[str, Decimal] = defaultdict(Decimal)
    for row in (over_time or got).rows:
        if row.bucket is not None:
            per_bucket[row.bucket][0] += row.sales
            per_bucket[row.bucket][1] += row.orders
    for row in got.rows:
        per_key[row.key] += row.sales
    buckets = sorted(per_bucket)
    keyed = sorted(per_key.items(), key=lambda kv: (-kv[1], kv[0]))[:CHART_BARS]
    return {"buckets": [b.isoformat() for b in buckets],
            "sales": [float(per_bucket[b][0]) for b in buckets], "orders": [per_bucket[b][1] for b in buckets],
            "keys": [k or "-" for k, _ in keyed], "keySales": [float(v) for _, v in keyed]}


@router.get("/console/reports")
async def reports_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.REPORTS_READ)
    hub: Hub = request.app.state.hub
    t = translator(request)
    q = request.query_params
    period = q.get("period") if q.get("period") in PERIODS else "day"
    dimension = q.get("dimension") if q.get("dimension") in DIMENSIONS else "shop"
    last = _day(q.get("to")) or _today(hub)
    first = _day(q.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    shops = visible_shops(principal, sorted(hub.config.shops))
    shop = q.get("shop") or ""
    offset = int(q["offset"]) if q.get("offset", "").isdigit() else 0
    with_profit = principal.may(Permission.REPORTS_PROFIT)
    problem = None
    got = buyers = over_time = None
    try:
        async with hub.database().session() as session:
            got = await report.sales_report(
                session, period=period, dimension=dimension, first=first, last=last,  # type: ignore[arg-type]
                settings=hub.config.reports, time_zone=hub.config.console.time_zone,
                shops=[shop] if shop else None, principal=principal, with_profit=with_profit,
                limit=PAGE_KEYS, offset=offset)
            if dimension != "none" and (offset or got.keys_total > PAGE_KEYS):
                over_time = await report.sales_report(
                    session, period=period, dimension="none", first=first, last=last,  # type: ignore[arg-type]
                    settings=hub.config.reports, time_zone=hub.config.console.time_zone,
                    shops=[shop] if shop else None, principal=principal)
            _, buyers = await report.buyers_report(
                session, period=period, first=first, last=last,  # type: ignore[arg-type]
                settings=hub.config.reports, time_zone=hub.config.console.time_zone,
                shops=[shop] if shop else None, principal=principal)
    except BadInputError as exc:
        problem = t.t(f"reports.bad_{exc.field}") if exc.field in ("from", "to") else str(exc)
    chart = chart_data(got, over_time) if got is not None else None
    here = {k: v for k, v in (("period", period), ("dimension", dimension), ("from", first.isoformat()),
                              ("to", last.isoformat()), ("shop", shop)) if v}
    return render(request, "reports/index.html", {
        "report": got, "buyers": buyers, "problem": problem, "with_profit": with_profit,
        "may_set_cost": principal.may(Permission.COSTS_WRITE),
        "period": period, "dimension": dimension, "first": first, "last": last, "shop": shop, "shops": shops,
        "periods": PERIODS, "dimensions": DIMENSIONS, "time_zone": hub.config.console.time_zone,
        "done": q.get("done"), "offset": offset, "page_keys": PAGE_KEYS, "here": here,
        # "</" cannot close the script element the JSON sits in.
        "chart_json": json.dumps(chart, ensure_ascii=False).replace("</", "<\\/") if chart else "",
    }, status=422 if problem else 200)


@router.post("/console/reports/cost")
async def set_cost(request: Request) -> Response:
    """Set (or with an empty amount clear) a SKU's cost price."""
    values, principal = await checked_form(request, Permission.COSTS_WRITE)
    t = translator(request)
    sku = values.get("merchant_sku", "").strip()
    try:
        amount = costs.parse_cost(values.get("cost_price", ""))
        async with request.app.state.hub.database().transaction() as session:
            await costs.set_cost(session, sku, amount, actor=principal.actor)
    except BadInputError as exc:
        return error_page(request, t.t("reports.bad_cost", reason=str(exc)), status=422)
    except NotFoundError:
        return error_page(request, t.t("reports.no_sku", sku=sku), status=404)
    return write_session(request, RedirectResponse("/console/reports?done=cost", status_code=303))
