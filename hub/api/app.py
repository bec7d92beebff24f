"""The FastAPI application factory: ``create_app(hub)`` builds a fresh app around one ``Hub``.

No module-global app: the runner, tests and embedders each build their own. The lifespan closes
the per-loop resources (engines, Redis client, connectors' HTTP clients) that the API's event loop
opened, so nothing outlives uvicorn's loop (docs/architecture.md §5). Not for process start-up (``hub.runner``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from hub.api import inventory_routes
from hub.api.body_limits import BodyLimitMiddleware
from hub.api.errors import ErrorBody, RequestContextMiddleware, install_error_handlers
from hub.api.routes import aftersales as aftersales_cases
from hub.api.routes import (
    aftersales_decisions,
    aftersales_figures,
    api_keys,
    batch_jobs,
    catalog,
    catalogue_files,
    dead_letters,
    defective_stock,
    exports,
    fulfilment_delivery,
    fulfilment_merging,
    fulfilment_review,
    fulfilment_tracking,
    fulfilment_warehouse,
    fulfilment_waybills,
    health,
    notifications,
    order_edits,
    order_search,
    order_views,
    orders,
    reports,
    service_orders_actions,
    service_orders_create,
    service_orders_figures,
    shipments,
    shops_auth,
    stock_imports,
    tags,
    technicians,
    users,
    webhooks,
)
from hub.api.routes import audit as audit_routes
from hub.api.routes import listings as listing_routes
from hub.api.routes import service_orders as service_order_cases
from hub.api.routes import skus as sku_routes
from hub.console import install_console
from hub.context import Hub

log = structlog.get_logger(__name__)

_ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed request, e.g. JSON nested too deep (bad_request, bad_input)."},
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key (unauthorized)."},
    403: {"model": ErrorBody, "description": "The key's role lacks the permission (forbidden)."},
    404: {"model": ErrorBody, "description": "No such route, or no such object (not_found)."},
    408: {"model": ErrorBody, "description": "The body did not arrive within [limits] body_timeout_s."},
    409: {"model": ErrorBody, "description": "Conflicts with what is stored: a duplicate, or a state that no longer "
                                             "allows the change (conflict)."},
    413: {"model": ErrorBody, "description": "The body is larger than this route allows (too_large)."},
    422: {"model": ErrorBody, "description": "Invalid request; detail lists each bad field (invalid_request), "
                                             "e.g. a NUL character, a value too long or an id out of range."},
    500: {"model": ErrorBody, "description": "Unexpected error; request_id identifies it in the logs."},
    503: {"model": ErrorBody, "description": "The queue or the database is unreachable; retry after Retry-After."},
}


def create_app(hub: Hub) -> FastAPI:
    """Build the API for ``hub`` (routes, error rendering, request ids, lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("api.started")
        try:
            yield
        finally:
            await hub.close_loop_resources()
            log.info("api.stopped")

    app = FastAPI(
        title="Connector Hub",
        version=_version(),
        summary="Orders, stock, fulfilment and after-sales across Taobao, Tmall, Douyin and AliExpress.",
        lifespan=lifespan,
        responses=_ERRORS,  # type: ignore[arg-type]
    )
    app.state.hub = hub
    install_error_handlers(app)
    # Pushes are answered inside both middlewares below (request id, body limits), before routing.
    app.add_middleware(webhooks.WebhookFastPath, hub=hub)
    # Added before RequestContextMiddleware, so it runs inside it: its refusals carry the request id.
    app.add_middleware(BodyLimitMiddleware, limits=hub.config.limits)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(fulfilment_warehouse.webhook_router)  # before /webhooks/{platform}/{shop}
    app.include_router(fulfilment_tracking.webhook_router)  # before /webhooks/{platform}/{shop}
    app.include_router(webhooks.router)
    app.include_router(catalog.router)
    app.include_router(order_views.router)  # before orders: /api/v1/orders/views is not an order id
    # operations before orders: /api/v1/orders/search, /edits, /batch are not order ids
    for operations_routes in (order_search, order_edits, batch_jobs, exports, tags, notifications, reports):
        app.include_router(operations_routes.router)
    app.include_router(orders.router)
    app.include_router(shipments.router)
    app.include_router(stock_imports.router)  # before inventory: /api/v1/inventory/imports is not a SKU
    app.include_router(defective_stock.router)  # before inventory: /api/v1/inventory/defective is not a SKU
    app.include_router(inventory_routes.router)
    app.include_router(dead_letters.router)
    app.include_router(api_keys.router)
    app.include_router(users.router)
    app.include_router(audit_routes.router)
    app.include_router(shops_auth.router)
    app.include_router(sku_routes.router)
    app.include_router(catalogue_files.router)
    app.include_router(listing_routes.router)
    for fulfilment_routes in (fulfilment_review, fulfilment_delivery, fulfilment_warehouse, fulfilment_waybills,
                              fulfilment_tracking, fulfilment_merging):
        app.include_router(fulfilment_routes.router)
    # figures and decisions before the case routes: /api/v1/aftersales/figures is not a case id
    for aftersales_routes in (aftersales_figures, aftersales_decisions, aftersales_cases):
        app.include_router(aftersales_routes.router)
    # figures before the service-order routes: /api/v1/service-orders/figures is not an id
    for service_routes in (service_orders_figures, service_orders_create, service_orders_actions,
                           service_order_cases, technicians):
        app.include_router(service_routes.router)
    install_console(app)  # the operator console under /console (hub.console)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("connector-hub")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"
