"""The overview screen and its live feed: the page, and a server-sent-events stream that sends
the snapshot part of the page again whenever it changes (checked every ``overview_refresh_s``).

The stream ends on its own after ``STREAM_LIFETIME_S`` (the browser's EventSource reconnects at
once), so a forgotten tab never pins a connection or a server shutdown. When the session ends
(it expires while the page is open, or the reconnection finds it gone) the stream sends one
``expired`` event with the sign-in address, and the page goes there (``console.js``). Numbers come from
``hub.api.queries.overview``; the latest orders from the same list query as the orders screen. Both
keep to the viewer's shops in SQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from hub.api.queries.orders import OrderFilters, list_orders
from hub.api.queries.overview import Overview, overview
from hub.console.auth import ConsolePrincipal, console_principal, current_session, signer_for
from hub.console.pages import TEMPLATES, render, sign_in_again_url, translator
from hub.context import Hub

router = APIRouter(prefix="/console")
STREAM_LIFETIME_S = 300.0
LATEST_ORDERS = 8


async def snapshot_context(request: Request) -> dict[str, Any]:
    """Everything the snapshot template shows, read in one database session (the viewer's shops only)."""
    principal = await console_principal(request)
    hub: Hub = request.app.state.hub
    settings = hub.config.console
    shops = {name: shop.platform for name, shop in hub.config.shops.items()}
    async with hub.database().session() as db:
        view: Overview = await overview(db, zone=ZoneInfo(settings.time_zone), shops=shops, viewer=principal)
        # The viewer's shops in the query itself: the newest N of their shops, however busy the others.
        latest = await list_orders(db, OrderFilters(shops=principal.shops), limit=LATEST_ORDERS)
    t = translator(request)
    chart = {
        "hours": [f"{h:02d}" for h in range(24)], "perHour": view.per_hour, "perHourLabel": t.t("overview.per_hour"),
        "statusLabels": [t.status(s) for s in view.statuses], "statusCounts": list(view.statuses.values()),
    }
    return {"view": view, "latest": latest.rows, "chart_json": json.dumps(chart, ensure_ascii=False),
            "default_currency": settings.default_currency}


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
async def overview_page(request: Request, _: ConsolePrincipal = Depends(console_principal)) -> Response:
    return render(request, "overview.html", await snapshot_context(request))


@router.get("/overview/stream", include_in_schema=False)
async def overview_stream(request: Request, _: ConsolePrincipal = Depends(console_principal)) -> Response:
    """``event: snapshot`` with the rendered snapshot whenever it changes; a comment line otherwise."""
    hub: Hub = request.app.state.hub
    every = hub.config.console.overview_refresh_s
    template = TEMPLATES.get_template("_overview_snapshot.html")
    base = {"t": translator(request), "request": request}

    session, max_age_s = current_session(request), signer_for(hub).max_age_s

    async def events() -> AsyncIterator[str]:
        last = ""
        ends = time.monotonic() + STREAM_LIFETIME_S
        yield "retry: 2000\n\n"
        while time.monotonic() < ends and not await request.is_disconnected():
            if time.time() - session.iat > max_age_s:  # the session ended while the page was open
                yield f"event: expired\ndata: {sign_in_again_url(request)}\n\n"
                return
            html = template.render({**base, **await snapshot_context(request)})
            if html != last:
                last = html
                yield "event: snapshot\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"
            else:
                yield ": unchanged\n\n"
            await asyncio.sleep(every)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
