"""The API's contract with every client: who may call what (401/403 naming the permission), errors
always as ``{"error", "detail"}`` JSON naming the bad field, no stack trace ever, and health,
readiness and metrics endpoints an orchestrator can rely on — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi import Request
from pydantic import BaseModel, Field

from hub.api import create_app
from hub.db import api_keys
from hub.errors import BadInputError, ConfigError
from tests.integration.test_api_support import api, bearer, client_for, make_hub, new_key


async def test_missing_key_is_401_with_json_error(database_url: str) -> None:
    async with api(make_hub(database_url)) as client:
        response = await client.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_unknown_and_malformed_keys_are_401(database_url: str) -> None:
    hub = make_hub(database_url)
    async with api(hub) as client:
        unknown = await client.get("/api/v1/orders", headers=bearer("chk_AAAAAAAA_not-a-real-secret"))
        garbage = await client.get("/api/v1/orders", headers={"X-API-Key": "hello"})
        wrong_scheme = await client.get("/api/v1/orders", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    for response in (unknown, garbage, wrong_scheme):
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"


async def test_revoked_key_stops_working(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        assert (await client.get("/api/v1/orders", headers=bearer(key))).status_code == 200
        async with hub.database().transaction() as session:
            assert await api_keys.revoke_key(session, api_keys.parse_prefix(key) or "")
        response = await client.get("/api/v1/orders", headers=bearer(key))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


async def test_x_api_key_header_is_accepted(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "operator")
    async with api(hub) as client:
        response = await client.get("/api/v1/orders", headers={"X-API-Key": key})
    assert response.status_code == 200


async def test_wrong_role_is_403_naming_permission_and_roles(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "warehouse")
    async with api(hub) as client:
        response = await client.get("/api/v1/dead-letters", headers=bearer(key))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden"
    assert "dead_letters.manage" in body["detail"] and "'warehouse'" in body["detail"] and "admin" in body["detail"]


async def test_invalid_query_is_422_naming_each_field(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get(
            "/api/v1/orders", params={"limit": "500", "created_from": "2026-11-11T00:00:00"}, headers=bearer(key)
        )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    fields = {p["field"] for p in body["detail"]}
    assert fields == {"query.limit", "query.created_from"}, "a naive datetime is refused, not guessed"


class _Adjustment(BaseModel):
    merchant_sku: str
    quantity: int = Field(gt=0)


async def test_invalid_body_is_422_with_location_path_and_no_echo(database_url: str) -> None:
    app = create_app(make_hub(database_url))

    @app.post("/test/adjust")
    async def adjust(body: _Adjustment) -> dict[str, str]:
        return {"ok": "yes"}

    async with client_for(app) as client:
        response = await client.post("/test/adjust", json={"quantity": -3, "note": "13812345678"})
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert {p["field"] for p in problems} == {"body.merchant_sku", "body.quantity"}
    assert "13812345678" not in response.text


async def test_unknown_route_and_unknown_order_are_404_json(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        route = await client.get("/api/v1/nothing-here", headers=bearer(key))
        order = await client.get("/api/v1/orders/424242", headers=bearer(key))
    assert route.status_code == 404 and route.json()["error"] == "not_found"
    assert order.status_code == 404 and order.json() == {"error": "not_found", "detail": "order 424242 does not exist"}


async def test_unexpected_error_is_500_with_request_id_and_no_trace(database_url: str) -> None:
    app = create_app(make_hub(database_url))

    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("db password hunter2 leaked in a traceback")

    async with client_for(app) as client:
        response = await client.get("/test/boom", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and body["request_id"] == "trace-me-1"
    assert response.headers["X-Request-ID"] == "trace-me-1"
    assert "hunter2" not in response.text and "Traceback" not in response.text and "RuntimeError" not in response.text


async def test_hub_errors_map_to_400_with_field_and_safe_500(database_url: str) -> None:
    app = create_app(make_hub(database_url))

    @app.get("/test/bad-input")
    async def bad_input() -> None:
        raise BadInputError("quantity must be positive", field="body.quantity")

    @app.get("/test/config")
    async def config(request: Request) -> None:
        raise ConfigError("shop 'tb': TB_APP_SECRET missing", [("shops.tb.credentials.app_secret", "not set")])

    async with client_for(app) as client:
        bad = await client.get("/test/bad-input")
        misconfigured = await client.get("/test/config")
    assert bad.status_code == 400
    assert bad.json() == {"error": "bad_input", "detail": "quantity must be positive", "field": "body.quantity"}
    assert misconfigured.status_code == 500 and misconfigured.json()["error"] == "config_error"
    assert "TB_APP_SECRET" not in misconfigured.text and "hub check-config" in misconfigured.json()["detail"]


async def test_healthz_needs_no_key(database_url: str) -> None:
    async with api(make_hub(database_url)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_is_ready_with_a_reachable_database(database_url: str) -> None:
    async with api(make_hub(database_url)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and response.json()["checks"]["database"] == "ok"


async def test_readyz_is_503_naming_the_database_when_unreachable() -> None:
    hub = make_hub("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    async with api(hub) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["database"]


@pytest.mark.redis
async def test_readyz_is_503_naming_the_broker_when_redis_is_unreachable(database_url: str) -> None:
    hub = make_hub(database_url)
    hub.config.hub.redis_url = "redis://127.0.0.1:1/0"
    async with api(hub) as client:
        response = await client.get("/readyz")
    await hub.close_loop_resources()
    assert response.status_code == 503 and response.json()["failed"] == ["broker"]


@pytest.mark.redis
async def test_readyz_pings_a_configured_redis(database_url: str) -> None:
    hub = make_hub(database_url)
    hub.config.hub.redis_url = "redis://127.0.0.1:6379/0"
    async with api(hub) as client:
        response = await client.get("/readyz")
    await hub.close_loop_resources()
    assert response.status_code == 200 and response.json()["checks"]["broker"] == "ok"


async def test_metrics_are_prometheus_text_without_a_key(database_url: str) -> None:
    async with api(make_hub(database_url)) as client:
        await client.post("/webhooks/nope/nope", content=b"{}")
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert 'hub_webhook_requests_total{outcome="rejected",platform="unknown"}' in response.text
    assert "# TYPE hub_stock_sync_lag_seconds histogram" in response.text


async def test_openapi_documents_every_endpoint(database_url: str) -> None:
    async with api(make_hub(database_url)) as client:
        schema = (await client.get("/openapi.json")).json()
    for path in ("/healthz", "/readyz", "/metrics", "/api/v1/plugins", "/api/v1/shops", "/api/v1/orders",
                 "/api/v1/orders/{order_id}", "/api/v1/dead-letters", "/api/v1/dead-letters/{dead_letter_id}",
                 "/api/v1/dead-letters/{dead_letter_id}/replay", "/api/v1/api-keys", "/api/v1/api-keys/{prefix}",
                 "/webhooks/{platform}/{shop}"):
        assert path in schema["paths"], path
    assert "OrderDetail" in schema["components"]["schemas"]
