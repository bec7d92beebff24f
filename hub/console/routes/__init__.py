"""The console's routes, one module per screen; ``router`` gathers them (``hub.console.install_console``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.console.routes import (
    aftersales,
    aftersales_figures,
    api_keys,
    catalogue,
    exceptions,
    fulfilment_delivery,
    fulfilment_merging,
    fulfilment_review,
    fulfilment_tracking,
    fulfilment_warehouse,
    fulfilment_waybills,
    ops_batch,
    ops_exports,
    ops_notifications,
    ops_order_edits,
    ops_reports,
    ops_search,
    ops_tags,
    orders,
    overview,
    plugins,
    service_orders,
    service_orders_case,
    service_orders_figures,
    session,
    shops,
    stock,
    technicians,
    users,
)

router = APIRouter(include_in_schema=False)
router.include_router(session.router)
router.include_router(overview.router)
# operations before the orders screens: /console/orders/search, /edits, /batch are not order ids
for _ops in (ops_search, ops_order_edits, ops_batch, ops_exports, ops_tags, ops_notifications, ops_reports):
    router.include_router(_ops.router)
router.include_router(orders.router)
router.include_router(exceptions.router)
router.include_router(shops.router)
router.include_router(plugins.router)
router.include_router(api_keys.router)
router.include_router(users.router)
router.include_router(stock.router)
router.include_router(catalogue.router)
for _screen in (fulfilment_review, fulfilment_delivery, fulfilment_warehouse, fulfilment_waybills,
                fulfilment_tracking, fulfilment_merging):
    router.include_router(_screen.router)
router.include_router(aftersales_figures.router)  # before /console/aftersales/{case_id}
router.include_router(aftersales.router)
for _screen in (service_orders_figures, technicians, service_orders, service_orders_case):  # figures before {id}
    router.include_router(_screen.router)


@router.get("/console/orders/{order_id}/panel/{panel}", include_in_schema=False)
async def panel_not_built(order_id: int, panel: str) -> HTMLResponse:
    """A fulfilment panel no screen serves (yet): empty, so the order page still reads well."""
    return HTMLResponse("")


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    """The hub's front door is the console."""
    return RedirectResponse("/console", status_code=307)
