"""A real platform's push through the webhook route: the Douyin connector verifies ``event-sign``
on the raw bytes, the 19-digit order id reaches the inbox as an exact string, and Douyin hears
the reply it expects. Uses the shared platform test vector (docs/platforms/douyin.md, "Test vectors": the push)."""

from __future__ import annotations

import json

from sqlalchemy import select

from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, build_hub
from hub.db.tables import InboxRow
from hub.plugins import build_plugin_manager
from tests.integration.test_api_support import api

APP_KEY = "1234567890123456789"
SECRET = "test-secret"
BODY = b'[{"tag":"100","msg_id":"7000000000000000001","data":"{\\"p_id\\":4891234567890123456,\\"shop_id\\":123}"}]'
EVENT_SIGN = "da33c14edc8b0677d0bc9310a4bc9504"


def _hub(database_url: str) -> Hub:
    shop = ShopConfig(platform="douyin", settings={"app_key": APP_KEY, "app_secret": SECRET, "shop_id": "123",
                                                   "access_token": "token"})
    config = HubConfig(hub=HubSection(database_url=database_url), shops={"dy": shop})
    return build_hub(config, plugins=build_plugin_manager())


async def test_douyin_push_is_verified_stored_with_exact_ids_and_acknowledged(database_url: str) -> None:
    hub = _hub(database_url)
    async with api(hub) as client:
        response = await client.post("/webhooks/douyin/dy", content=BODY,
                                     headers={"app-id": APP_KEY, "event-sign": EVENT_SIGN,
                                              "content-type": "application/json"})
        tampered = await client.post("/webhooks/douyin/dy", content=BODY.replace(b"123}", b"124}"),
                                     headers={"app-id": APP_KEY, "event-sign": EVENT_SIGN})
    await hub.close_loop_resources()
    assert response.status_code == 200, response.text
    assert json.loads(response.content).get("code") == 0
    assert tampered.status_code == 401 and tampered.json()["error"] == "bad_signature"
    async with hub.database().session() as session:
        rows = (await session.execute(select(InboxRow))).scalars().all()
    assert [(r.platform, r.shop, r.source, r.message_id) for r in rows] == [
        ("douyin", "dy", "push", "7000000000000000001")
    ]
    assert rows[0].external_id == "4891234567890123456", "a 19-digit id must not pass through a float"
