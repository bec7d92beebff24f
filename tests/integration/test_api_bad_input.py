"""Bad input is a 4xx that names what is wrong, never a 500: ids beyond a 64-bit integer, NUL
characters in a query, a path or a JSON body, JSON nested too deep to parse, bodies over the
route's limit; a push keeps its good messages when one cannot be stored, and a push during a
queue outage is stored and acknowledged, its processing owed in the outbox until the queue is back."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from hub.asgi_server import free_port
from hub.config import HubConfig, HubSection, LimitsSection
from hub.context import Hub, build_hub
from hub.db.tables import InboxRow
from hub.plugins import build_plugin_manager
from hub.services.backlog import PUSH_PROCESS_ACTOR
from tests.integration.test_api_support import FakeChannelsPlugin, api, bearer, new_key, push_shop, sign
from tests.integration.test_api_webhooks_douyin import APP_KEY as DOUYIN_APP_KEY
from tests.integration.test_api_webhooks_douyin import SECRET as DOUYIN_SECRET
from tests.integration.test_api_webhooks_douyin import _hub as douyin_hub

DEEP = 20_000  # well past Python's recursion limit, within the body limits


@pytest.fixture
def hub(database_url: str) -> Hub:
    config = HubConfig(hub=HubSection(database_url=database_url), shops={"fp-main": push_shop()},
                       limits=LimitsSection(api_body_bytes=64 * 1024, webhook_body_bytes=256 * 1024))
    return build_hub(config, plugins=build_plugin_manager(extra=[FakeChannelsPlugin()], load_entry_points=False))


async def _inbox(hub: Hub) -> list[str]:
    async with hub.database().session() as session:
        return list((await session.execute(select(InboxRow.message_id).order_by(InboxRow.id))).scalars())


@pytest.mark.parametrize(("method", "path", "field"), [
    ("GET", "/api/v1/orders/9223372036854775808", "path.order_id"),
    ("GET", "/api/v1/shipments/-9223372036854775809", "path.shipment_id"),
    ("POST", "/api/v1/dead-letters/99999999999999999999/replay", "path.dead_letter_id"),
    ("GET", "/api/v1/dead-letters/0", "path.dead_letter_id"),
])
async def test_ids_beyond_a_64_bit_integer_are_refused_with_422(hub: Hub, method: str, path: str, field: str) -> None:
    key = await new_key(hub, "admin")
    async with api(hub) as client:
        response = await client.request(method, path, headers=bearer(key))
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["detail"]] == [field]


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/orders?buyer=%00", "query.buyer"),
    ("/api/v1/orders?cursor=%00", "query.cursor"),
    ("/api/v1/inventory?prefix=a%00", "query.prefix"),
    ("/api/v1/inventory/A%00B", "path"),
])
async def test_nul_in_a_query_or_path_is_refused_with_422_naming_it(hub: Hub, path: str, field: str) -> None:
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get(path, headers=bearer(key))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/api-keys", {"name": "ops\u0000", "role": "viewer"}, "body.name"),
    ("/api/v1/inventory/adjustments",
     {"adjustments": [{"warehouse": "main", "merchant_sku": "A\u0000B", "delta": 1}]},
     "body.adjustments.0.merchant_sku"),
])
async def test_nul_in_a_json_body_is_refused_with_422_naming_the_field(
    hub: Hub, path: str, body: dict[str, object], field: str
) -> None:
    key = await new_key(hub, "admin")
    async with api(hub) as client:
        response = await client.post(path, json=body, headers=bearer(key))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_over_long_query_text_is_refused_with_422(hub: Hub) -> None:
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get("/api/v1/orders", params={"sku": "x" * 201}, headers=bearer(key))
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["query.sku"]


async def test_json_nested_too_deep_is_refused_with_400(hub: Hub) -> None:
    key = await new_key(hub, "admin")
    body = b'{"name": ' + b"[" * DEEP + b"]" * DEEP + b', "role": "viewer"}'
    async with api(hub) as client:
        response = await client.post("/api/v1/api-keys", content=body,
                                     headers={**bearer(key), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nests deeper" in response.json()["detail"]


async def test_a_body_over_the_limit_is_refused_before_authentication(hub: Hub) -> None:
    async with api(hub) as client:
        response = await client.post("/api/v1/api-keys", content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


async def test_a_signed_push_nested_too_deep_is_refused_and_nothing_is_stored(hub: Hub) -> None:
    body = b'{"events": [{"id": "m-1", "order": "1", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}]}"
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 400
    assert await _inbox(hub) == []


@pytest.mark.parametrize("path", ["/webhooks/douyin/dy", "/webhooks/douyin"])
async def test_a_signed_push_nested_too_deep_inside_an_escaped_string_is_refused_with_400(
    database_url: str, path: str
) -> None:
    # Douyin's ``data`` is JSON text inside the push's JSON: ``\u005b`` is a ``[`` once the outer
    # JSON is parsed, so the connector's second parse meets the nesting the raw bytes hide.
    hub = douyin_hub(database_url)
    nested = "\\u005b" * DEEP + "\\u005d" * DEEP
    good = json.dumps(json.dumps({"p_id": "1", "shop_id": "123"}))
    body = f'[{{"tag":"101","msg_id":"m-1","data":"{nested}"}},{{"tag":"101","msg_id":"m-2","data":{good}}}]'.encode()
    sign = hashlib.md5(DOUYIN_APP_KEY.encode() + body + DOUYIN_SECRET.encode()).hexdigest()
    async with api(hub) as client:
        response = await client.post(path, content=body, headers={"app-id": DOUYIN_APP_KEY, "event-sign": sign})
    await hub.close_loop_resources()
    assert response.status_code == 400, response.text
    assert "nests deeper" in response.json()["detail"]
    assert await _inbox(hub) == []


async def test_unstorable_messages_are_refused_alone_and_the_rest_of_the_batch_is_stored(hub: Hub) -> None:
    events = [{"id": "good-1", "order": "1"}, {"id": "x" * 201, "order": "2"},
              {"id": "bad\u0000id", "order": "3"}, {"id": "good-2", "order": "4"}]
    body = json.dumps({"events": events}).encode()
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    assert response.status_code == 200, response.text
    assert response.json() == {"code": 0, "msg": "success"}, "the platform hears success: the batch is not redelivered"
    assert await _inbox(hub) == ["good-1", "good-2"]
    listed = response.headers["X-Rejected-Messages"].split(",")
    assert listed == ["x" * 61 + "...", "bad?id"]


async def test_a_push_while_the_queue_is_unreachable_is_acknowledged_and_its_processing_stays_owed(hub: Hub) -> None:
    from hub.db.tables import OutboxRow
    from hub.queue.runtime import QueueRuntime
    from hub.runner import import_actor_modules

    import_actor_modules()
    # A real Redis client pointed at a port nothing listens on: the broker is down.
    hub.runtime = QueueRuntime.create(redis_url=f"redis://127.0.0.1:{free_port()}/0",
                                      database_url=hub.config.database_url)
    body = json.dumps({"events": [{"id": "m-1", "order": "1"}]}).encode()
    async with api(hub) as client:
        response = await client.post("/webhooks/fakepush/fp-main", content=body, headers={"X-Sign": sign(body)})
    # The queue is not on the push's path: the rows and the message owed for them commit together,
    # and the outbox relay sends it once the broker answers (tests/integration/test_api_webhooks_group_commit.py).
    assert response.status_code == 200, response.text
    assert response.json() == {"code": 0, "msg": "success"}
    assert await _inbox(hub) == ["m-1"]
    async with hub.database().session() as session:
        [owed] = (await session.execute(select(OutboxRow))).scalars().all()
        inbox_id = await session.scalar(select(InboxRow.id))
    assert (owed.actor, owed.args, owed.published_at) == (PUSH_PROCESS_ACTOR, [[inbox_id]], None)
