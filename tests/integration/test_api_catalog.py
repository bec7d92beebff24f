"""``/api/v1/plugins``, ``/api/v1/shops`` and ``/api/v1/dead-letters``: what is installed, how each
shop is doing (paused and why), and the dead letters an admin can inspect and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dramatiq.brokers.stub import StubBroker

from hub.api import create_app
from hub.config import ShopConfig
from hub.db import dead_letters, shops
from hub.errors import RetryableError
from hub.plugins import build_plugin_manager
from hub.services import message_channel, shop_health
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_api_support import (
    PUSH_SECRET,
    FakeChannelsPlugin,
    api,
    bearer,
    client_for,
    make_hub,
    new_key,
    push_shop,
)

#: The plugins the hub ships (pyproject entry points). Some land while others are being written:
#: this test fails, naming the missing ones, until all six load.
BUILT_IN_PLUGINS = {"taobao", "tmall", "douyin", "aliexpress", "logistics", "warehouse"}


async def test_plugins_lists_the_six_built_in_plugins_with_connectors(database_url: str) -> None:
    hub = make_hub(database_url)
    hub.plugins = build_plugin_manager()
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get("/api/v1/plugins", headers=bearer(key))
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    loaded = {name for name, row in rows.items() if row["status"] == "loaded"}
    assert BUILT_IN_PLUGINS <= loaded, f"built-in plugins not loaded yet: {sorted(BUILT_IN_PLUGINS - loaded)}"
    for name in BUILT_IN_PLUGINS:
        assert rows[name]["distribution"] == "connector-hub" and rows[name]["version"]
        assert rows[name]["connectors"], f"{name} registers no connector"
    platforms = {c["platform"] for row in rows.values() for c in row.get("connectors", [])}
    assert {"taobao", "tmall", "douyin", "aliexpress", "kuaidi100", "qimen"} <= platforms


async def test_plugins_show_hooks_and_capabilities_of_a_registered_connector(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "warehouse")
    async with api(hub) as client:
        rows = (await client.get("/api/v1/plugins", headers=bearer(key))).json()
    (fake,) = [row for row in rows if "register_channels" in row["hooks"]]
    assert {(c["platform"], tuple(c["capabilities"])) for c in fake["connectors"]} == {
        ("fakepush", ("receive_push",)), ("fakepoll", ()),
    }


async def test_shops_show_platform_capabilities_and_paused_reason(database_url: str) -> None:
    hub = make_hub(
        database_url,
        **{"fp-main": push_shop(), "fp-poll": ShopConfig(platform="fakepoll", settings={"secret": PUSH_SECRET}),
           "ghost": ShopConfig(platform="notinstalled")},
    )
    async with hub.database().transaction() as session:
        await shops.ensure_shops(session, [("fp-main", "fakepush"), ("fp-poll", "fakepoll")])
        await shops.pause_shop(session, "fp-main", "session invalid (code 27); re-authorise the shop",
                               until=datetime.now(UTC) + timedelta(hours=1))
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get("/api/v1/shops", headers=bearer(key))
    assert response.status_code == 200
    by_name = {row["name"]: row for row in response.json()}
    assert by_name["fp-main"]["status"] == "paused"
    assert by_name["fp-main"]["paused_reason"] == "session invalid (code 27); re-authorise the shop"
    assert by_name["fp-main"]["capabilities"] == ["receive_push"]
    assert by_name["fp-poll"]["status"] == "active" and by_name["fp-poll"]["paused_reason"] is None
    assert by_name["ghost"]["connector_installed"] is False and by_name["ghost"]["status"] == "unknown"


async def test_shops_are_not_shown_active_while_their_channel_is_closed_or_their_poll_fails(
        database_url: str) -> None:
    tb = {"app_key": "k", "app_secret": "s", "session": "x"}
    hub = make_hub(database_url, **{"tb-new": ShopConfig(platform="taobao", settings=tb),
                                    "tb-open": ShopConfig(platform="taobao", settings=tb),
                                    "tb-off": ShopConfig(platform="taobao", settings=tb, enabled=False),
                                    "fp-poll": ShopConfig(platform="fakepoll", settings={"secret": PUSH_SECRET})})
    hub.plugins = build_plugin_manager(extra=[FakeChannelsPlugin()])
    await message_channel.request_reopen(hub, "tb-new")  # resumed: to be permitted again
    await shop_health.record_poll(hub, "tb-new")
    await message_channel.ensure_open(hub, "tb-open", _OpensChannel())
    await shop_health.record_poll(hub, "tb-open")
    await shop_health.record_poll(hub, "fp-poll", RetryableError("shop 'fp-poll': HTTP 503; retry later"))
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        by_name = {row["name"]: row for row in (await client.get("/api/v1/shops", headers=bearer(key))).json()}
    assert (by_name["tb-new"]["status"], by_name["tb-new"]["status_reason"]) == (
        "degraded", "message channel not open yet")
    assert by_name["tb-new"]["message_channel"]["open"] is False and by_name["tb-new"]["last_poll_ok_at"]
    assert by_name["tb-open"]["status"] == "active" and by_name["tb-open"]["status_reason"] is None
    assert by_name["tb-open"]["message_channel"]["open"] is True
    assert by_name["tb-open"]["message_channel"]["topics"] == ["taobao_trade_TradeBuyerPay"]
    assert by_name["tb-off"]["status"] == "disabled"
    assert by_name["fp-poll"]["status"] == "degraded" and by_name["fp-poll"]["message_channel"] is None
    assert "last poll failed: RetryableError: shop 'fp-poll': HTTP 503" in by_name["fp-poll"]["status_reason"]
    assert by_name["fp-poll"]["last_poll_error_at"] and by_name["fp-poll"]["last_poll_ok_at"] is None


class _OpensChannel:
    async def open_message_channel(self) -> list[str]:
        return ["taobao_trade_TradeBuyerPay"]


async def test_dead_letters_list_show_and_replay_for_admins(database_url: str) -> None:
    config = hub_config(database_url)
    with running_hub(config, extra_plugins=[FakeChannelsPlugin()], load_entry_points=False,
                     start_workers=False) as hub:
        async with hub.database().transaction() as session:
            dl_id = await dead_letters.record(
                session, actor="process_inbox_batch", queue="ingest", args=[[41, 42]], kwargs={"force": True},
                reason="PermanentError: order 1 has no lines", error_class="PermanentError", attempts=3, inbox_id=41,
            )
        admin = await new_key(hub, "admin", name="ops-lead")
        async with client_for(create_app(hub)) as client:
            listed = (await client.get("/api/v1/dead-letters", headers=bearer(admin))).json()
            shown = (await client.get(f"/api/v1/dead-letters/{dl_id}", headers=bearer(admin))).json()
            missing = await client.get("/api/v1/dead-letters/999999", headers=bearer(admin))
            replayed = await client.post(f"/api/v1/dead-letters/{dl_id}/replay", headers=bearer(admin))
            after = (await client.get("/api/v1/dead-letters", headers=bearer(admin))).json()
            with_replayed = (await client.get("/api/v1/dead-letters", params={"include_replayed": "true"},
                                              headers=bearer(admin))).json()
            replay_missing = await client.post("/api/v1/dead-letters/999999/replay", headers=bearer(admin))
        broker = hub.runtime.broker if hub.runtime else None
    assert [row["id"] for row in listed] == [dl_id] and listed[0]["reason"].startswith("PermanentError")
    assert shown["args"] == [[41, 42]] and shown["keyword_args"] == {"force": True} and shown["inbox_id"] == 41
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert replayed.status_code == 200 and replayed.json()["replayed"] is True
    assert "ops-lead" in replayed.json()["detail"], "the replay is attributed to the key that asked"
    assert after == [], "a replayed letter leaves the default list"
    assert with_replayed[0]["replay_count"] == 1 and with_replayed[0]["replayed_at"]
    assert replay_missing.status_code == 404
    assert isinstance(broker, StubBroker) and broker.queues["ingest"].qsize() == 1, "the message was sent again"


async def test_replay_without_a_queue_in_the_process_is_503(database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin")
    async with api(hub) as client:
        response = await client.post("/api/v1/dead-letters/1/replay", headers=bearer(admin))
    assert response.status_code == 503 and "hub dlq replay" in response.json()["detail"]
