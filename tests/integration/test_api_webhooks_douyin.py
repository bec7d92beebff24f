"""A real platform's push through the webhook route: the Douyin connector verifies ``event-sign``
on the raw bytes, the 19-digit order id reaches the inbox as an exact string, and Douyin hears
the reply it expects (the first test uses the platform test vector in docs/platforms/douyin.md,
"Test vectors": the push). One app's push URL hands each message to the shop its ``shop_id`` names,
and a shop's own URL refuses another shop's messages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from hub.api import create_app
from hub.api.routes import webhooks
from hub.asgi_server import serve_in_thread
from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, build_hub
from hub.db.tables import InboxRow
from hub.plugins import build_plugin_manager
from tests.integration.test_api_support import api


class _Recorded:
    """Stands in for the webhook routes' structlog logger and keeps what it was told (event and
    fields), so a test reads the hub's log lines whatever an earlier test in the worker left
    structlog configured with (``capture_logs`` missed them under some orders of the suite)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        def record(event: str, **fields: object) -> None:
            self.entries.append({"event": event, "log_level": level, **fields})
        return record


@pytest.fixture
def webhook_log(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What the webhook routes log during the test."""
    recorded = _Recorded()
    monkeypatch.setattr(webhooks, "log", recorded)
    return recorded.entries


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


# --------------------------------------------------------------------------- one app, several shops
# One Douyin app pushes the messages of every shop that authorised it to one URL; each message's
# ``data`` names its ``shop_id``. Pushes go over real HTTP to a served app, signed as Douyin signs:
# lowercase hex MD5(app_key + raw body + app_secret), computed here independently of the plugin.

NORTH_ID, SOUTH_ID = "10000001", "10000002"


def _douyin_hub(database_url: str) -> Hub:
    def shop(shop_id: str, app_key: str = APP_KEY, secret: str = SECRET) -> ShopConfig:
        return ShopConfig(platform="douyin", settings={"app_key": app_key, "app_secret": secret, "shop_id": shop_id,
                                                       "access_token": f"token-{shop_id}"})

    shops = {"dy-north": shop(NORTH_ID), "dy-south": shop(SOUTH_ID),
             "dy-other-app": shop("10000003", app_key="7999999999999999999", secret="other-secret")}
    config = HubConfig(hub=HubSection(database_url=database_url), shops=shops)
    return build_hub(config, plugins=build_plugin_manager())


def _push(messages: list[tuple[str, str, str]], *, app_key: str = APP_KEY, secret: str = SECRET
          ) -> tuple[bytes, dict[str, str]]:
    """A signed push of trade-paid messages given as (msg_id, shop_id, p_id)."""
    items = [{"tag": "101", "msg_id": msg_id,
              "data": f'{{"p_id":{p_id},"shop_id":{shop_id},"order_status":2,"update_time":1764985600}}'}
             for msg_id, shop_id, p_id in messages]
    body = json.dumps(items, separators=(",", ":")).encode()
    sign = hashlib.md5(app_key.encode() + body + secret.encode()).hexdigest()
    return body, {"app-id": app_key, "event-sign": sign, "content-type": "application/json"}


async def _stored(hub: Hub) -> list[tuple[str, str, str | None]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(InboxRow).order_by(InboxRow.id))).scalars().all()
    await hub.close_loop_resources()
    return [(r.shop, r.message_id, r.external_id) for r in rows]


async def test_app_level_push_lands_each_message_in_the_shop_it_names(database_url: str) -> None:
    hub = _douyin_hub(database_url)
    body, headers = _push([("7100000000000000001", NORTH_ID, "4891234567890123001"),
                           ("7100000000000000002", SOUTH_ID, "4891234567890123002"),
                           ("7100000000000000003", NORTH_ID, "4891234567890123003")])
    with serve_in_thread(create_app(hub)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.post("/webhooks/douyin", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"code": 0, "msg": "success"}
    assert "x-rejected-messages" not in response.headers
    assert sorted(await _stored(hub)) == [("dy-north", "7100000000000000001", "4891234567890123001"),
                                          ("dy-north", "7100000000000000003", "4891234567890123003"),
                                          ("dy-south", "7100000000000000002", "4891234567890123002")]


async def test_app_level_push_lists_a_message_for_an_unknown_shop_as_rejected_and_keeps_the_rest(
    database_url: str, webhook_log: list[dict[str, object]],
) -> None:
    hub = _douyin_hub(database_url)
    # 10000003 is configured, but under another app: this app's push cannot speak for it.
    body, headers = _push([("7200000000000000001", "99999999", "4891234567890124001"),
                           ("7200000000000000002", SOUTH_ID, "4891234567890124002"),
                           ("7200000000000000003", "10000003", "4891234567890124003")])
    logs = webhook_log
    with serve_in_thread(create_app(hub)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.post("/webhooks/douyin", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["code"] == 0, "Douyin must not resend the batch"
    assert response.headers["x-rejected-messages"] == "7200000000000000001,7200000000000000003"
    assert await _stored(hub) == [("dy-south", "7200000000000000002", "4891234567890124002")]
    rejected = [e for e in logs if e["event"] == "push.message_rejected"]
    assert [(e["message_id"], e["reason"]) for e in rejected] == [
        ("7200000000000000001", "shop id 99999999 is not a configured shop of this app"),
        ("7200000000000000003", "shop id 10000003 is not a configured shop of this app"),
    ]


async def test_app_level_push_is_verified_with_the_apps_secret(database_url: str) -> None:
    hub = _douyin_hub(database_url)
    message = [("7300000000000000001", NORTH_ID, "4891234567890125001")]
    forged_body, forged = _push(message, secret="not-the-app-secret")
    unknown_body, unknown = _push(message, app_key="7000000000000000042")
    other_body, other = _push([("7300000000000000002", "10000003", "4891234567890125002")],
                              app_key="7999999999999999999", secret="other-secret")
    with serve_in_thread(create_app(hub)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            bad_sign = await client.post("/webhooks/douyin", content=forged_body, headers=forged)
            no_shop = await client.post("/webhooks/douyin", content=unknown_body, headers=unknown)
            other_app = await client.post("/webhooks/douyin", content=other_body, headers=other)
    assert bad_sign.status_code == 401 and bad_sign.json()["error"] == "bad_signature"
    assert no_shop.status_code == 404 and no_shop.json()["error"] == "not_found"
    assert other_app.status_code == 200, "the other app's push is verified with its own secret"
    assert await _stored(hub) == [("dy-other-app", "7300000000000000002", "4891234567890125002")]


async def test_per_shop_push_rejects_a_message_that_names_another_shop(database_url: str,
                                                                       webhook_log: list[dict[str, object]]) -> None:
    hub = _douyin_hub(database_url)
    body, headers = _push([("7400000000000000001", NORTH_ID, "4891234567890126001"),
                           ("7400000000000000002", SOUTH_ID, "4891234567890126002")])
    logs = webhook_log
    with serve_in_thread(create_app(hub)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.post("/webhooks/douyin/dy-north", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"code": 0, "msg": "success"}
    assert response.headers["x-rejected-messages"] == "7400000000000000002"
    assert await _stored(hub) == [("dy-north", "7400000000000000001", "4891234567890126001")], \
        "dy-south's order must not become dy-north's"
    [rejected] = [e for e in logs if e["event"] == "push.message_rejected"]
    assert rejected["shop"] == "dy-north"
    assert rejected["reason"] == f"names shop id {SOUTH_ID}, not this shop's {NORTH_ID}"


async def test_two_shops_pushed_the_same_message_id_each_keep_their_message(database_url: str) -> None:
    """The inbox is unique per (platform, shop, message id): Douyin numbers messages per app, not
    per shop, and a colliding id must not hide the second shop's order until the next poll. One
    app-level push carrying both (one group commit), then one push on each shop's own URL."""
    hub = _douyin_hub(database_url)
    both, both_headers = _push([("7500000000000000001", NORTH_ID, "4891234567890127001"),
                                ("7500000000000000001", SOUTH_ID, "4891234567890127002")])
    north, north_headers = _push([("7500000000000000002", NORTH_ID, "4891234567890127003")])
    south, south_headers = _push([("7500000000000000002", SOUTH_ID, "4891234567890127004")])
    with serve_in_thread(create_app(hub)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            answers = [await client.post("/webhooks/douyin", content=both, headers=both_headers),
                       await client.post("/webhooks/douyin/dy-north", content=north, headers=north_headers),
                       await client.post("/webhooks/douyin/dy-south", content=south, headers=south_headers),
                       await client.post("/webhooks/douyin", content=both, headers=both_headers)]  # redelivered
    assert [a.status_code for a in answers] == [200] * 4 and all("x-rejected-messages" not in a.headers
                                                                 for a in answers)
    assert sorted(await _stored(hub)) == [("dy-north", "7500000000000000001", "4891234567890127001"),
                                          ("dy-north", "7500000000000000002", "4891234567890127003"),
                                          ("dy-south", "7500000000000000001", "4891234567890127002"),
                                          ("dy-south", "7500000000000000002", "4891234567890127004")]
