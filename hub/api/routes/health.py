"""Liveness, readiness and Prometheus metrics: the endpoints orchestrators and scrapers call.

``/healthz`` answers while the process runs; ``/readyz`` checks what a request needs (the database,
the broker when one is configured, and with RabbitMQ as the broker also the Redis that coordinates
processes) and says which failed. No authentication: these
reveal nothing but up/down. Not for business statistics.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from hub import metrics
from hub.api.deps import get_hub
from hub.api.models import Health, Readiness

log = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


async def _check_database(request: Request) -> str:
    try:
        ok = await get_hub(request).database().ping(CHECK_TIMEOUT_S)
    except Exception as exc:  # a bad URL or a missing driver is "not ready" too, with the reason logged
        log.warning("readyz.database_failed", error=f"{type(exc).__name__}: {exc}")
        return f"error: {type(exc).__name__}"
    return "ok" if ok else "unreachable"


async def _check_broker(request: Request) -> str:
    hub = get_hub(request)
    if hub.config.broker_kind == "rabbitmq":
        from hub.queue.broker import BrokerUnreachable, check_broker

        url = hub.config.broker_url
        assert url is not None
        try:
            await asyncio.to_thread(check_broker, url, CHECK_TIMEOUT_S)
        except BrokerUnreachable as exc:
            log.warning("readyz.broker_failed", error=str(exc))
            return "unreachable: RabbitMQ"
        return "ok"
    return await _check_redis(request)


async def _check_redis(request: Request) -> str:
    client = get_hub(request).redis()
    if client is None:
        return "ok (in-process broker)"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await client.ping()
    except Exception as exc:
        log.warning("readyz.broker_failed", error=f"{type(exc).__name__}: {exc}")
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready to serve: database and broker reachable",
    responses={503: {"model": Readiness, "description": "A dependency failed; `failed` names it."}},
)
async def readyz(request: Request) -> Response:
    checks = dict(zip(("database", "broker"), await asyncio.gather(_check_database(request), _check_broker(request)),
                      strict=True))
    if get_hub(request).config.broker_kind == "rabbitmq":  # Redis still coordinates the processes
        checks["redis"] = await _check_redis(request)
    failed = [name for name, result in checks.items() if not result.startswith("ok")]
    body = Readiness(status="unavailable" if failed else "ready", checks=checks, failed=failed)
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
