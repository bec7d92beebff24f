"""Who did it: creating and revoking API keys, resuming a shop (by an admin, or by authorising it)
and replaying a dead letter are recorded with the key or operator that did them, shown in the
API-key list and in ``GET /api/v1/audit``; and the last admin key cannot be revoked over the API."""

from __future__ import annotations

from typing import Any, ClassVar

from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel

from contracts import Capability, ShopAuthorization
from hub.api import create_app
from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import build_hub
from hub.db import dead_letters, shops
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.shop_authorization import authorize_shop
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_api_support import FakeChannelsPlugin, api, bearer, client_for, make_hub, new_key, push_shop


async def test_the_api_key_list_shows_who_created_and_who_revoked_each_key(database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin", name="ops-lead")
    prefix_of_admin = admin.split("_")[1]
    async with api(hub) as client:
        created = await client.post("/api/v1/api-keys", json={"name": "picker-1", "role": "warehouse"},
                                    headers=bearer(admin))
        prefix = created.json()["prefix"]
        assert (await client.delete(f"/api/v1/api-keys/{prefix}", headers=bearer(admin))).status_code == 204
        listed = {row["name"]: row for row in (await client.get("/api/v1/api-keys", headers=bearer(admin))).json()}
        audit = (await client.get("/api/v1/audit", params={"subject": f"apikey:{prefix}"},
                                  headers=bearer(admin))).json()
    by = f"apikey:{prefix_of_admin}:ops-lead"
    assert created.json()["created_by"] == by
    assert listed["picker-1"]["created_by"] == by and listed["picker-1"]["revoked_by"] == by
    assert [(e["action"], e["actor"]) for e in audit["items"]] == [("apikey.revoked", by), ("apikey.created", by)]
    assert audit["items"][1]["details"] == {"name": "picker-1", "role": "warehouse"}


async def test_the_last_admin_key_cannot_be_revoked_over_the_api(database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin", name="only-admin")
    prefix = admin.split("_")[1]
    async with api(hub) as client:
        refused = await client.delete(f"/api/v1/api-keys/{prefix}", headers=bearer(admin))
        still_works = await client.get("/api/v1/api-keys", headers=bearer(admin))
        second = await client.post("/api/v1/api-keys", json={"name": "backup-admin", "role": "admin"},
                                   headers=bearer(admin))
        allowed = await client.delete(f"/api/v1/api-keys/{prefix}", headers=bearer(admin))
        backup = second.json()["key"]
        last = await client.delete(f"/api/v1/api-keys/{second.json()['prefix']}", headers=bearer(backup))
    assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    assert "this is the last admin key; create another admin key first" in refused.json()["detail"]
    assert still_works.status_code == 200
    assert allowed.status_code == 204, "with another admin key in place, the first may go"
    assert last.status_code == 409, "the backup is now the last admin key"


async def test_the_audit_log_is_filtered_paged_and_for_admins_only(database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin", name="root")
    viewer = await new_key(hub, "viewer")
    async with api(hub) as client:
        for n in range(5):
            await client.post("/api/v1/api-keys", json={"name": f"bot-{n}", "role": "viewer"}, headers=bearer(admin))
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"action": "apikey.created", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            body = (await client.get("/api/v1/audit", params=params, headers=bearer(admin))).json()
            pages.append([e["details"]["name"] for e in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        refused = await client.get("/api/v1/audit", headers=bearer(viewer))
        bad_cursor = await client.get("/api/v1/audit", params={"cursor": "nonsense"}, headers=bearer(admin))
        by_actor = await client.get("/api/v1/audit", params={"actor": "nobody"}, headers=bearer(admin))
    names = [name for page in pages for name in page]
    # new_key makes the first two keys as the hub; the five over the API come newest first.
    assert names[:5] == ["bot-4", "bot-3", "bot-2", "bot-1", "bot-0"] and all(len(p) <= 2 for p in pages)
    assert refused.status_code == 403 and "audit.read" in refused.json()["detail"]
    assert bad_cursor.status_code == 400 and bad_cursor.json()["field"] == "query.cursor"
    assert by_actor.json() == {"items": [], "next_cursor": None}


async def test_resuming_a_shop_records_the_admin_who_did_it(database_url: str) -> None:
    hub = make_hub(database_url, **{"fp-main": push_shop()})
    async with hub.database().transaction() as session:
        await shops.ensure_shops(session, [("fp-main", "fakepush")])
        await shops.pause_shop(session, "fp-main", "session invalid (code 27); re-authorise the shop")
    admin = await new_key(hub, "admin", name="night-ops")
    async with api(hub) as client:
        resumed = await client.post("/api/v1/shops/fp-main/resume", headers=bearer(admin))
        audit = (await client.get("/api/v1/audit", params={"action": "shop.resumed"}, headers=bearer(admin))).json()
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    [entry] = audit["items"]
    assert entry["subject"] == "shop:fp-main" and entry["actor"].endswith(":night-ops")
    assert entry["details"]["paused_reason"] == "session invalid (code 27); re-authorise the shop"


class _AuthSettings(BaseModel):
    app_key: str = "k"


class AuthorizingChannel:
    """A channel authorised with a code, as Douyin's is."""

    platform: ClassVar[str] = "authshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AUTHORIZE})
    Settings = _AuthSettings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.shop = context.name

    async def authorize(self, code: str) -> ShopAuthorization:
        return ShopAuthorization(shop=self.shop, account_id="4463798")

    async def aclose(self) -> None:
        return None


class _AuthPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [AuthorizingChannel]


async def test_authorising_a_shop_resumes_it_through_the_same_recorded_resume(database_url: str) -> None:
    config = HubConfig(hub=HubSection(database_url=database_url), shops={"dy-1": ShopConfig(platform="authshop")})
    hub = build_hub(config, plugins=build_plugin_manager(extra=[_AuthPlugin()], load_entry_points=False))
    async with hub.database().transaction() as session:
        await shops.ensure_shops(session, [("dy-1", "authshop")])
        await shops.pause_shop(session, "dy-1", "access token expired; re-authorise the shop")
    outcome = await authorize_shop(hub, "dy-1", "the-code", actor="cli:alice")
    admin = await new_key(hub, "admin")
    async with api(hub) as client:
        audit = (await client.get("/api/v1/audit", params={"subject": "shop:dy-1"}, headers=bearer(admin))).json()
    assert outcome.resumed is True
    assert [(e["action"], e["actor"]) for e in audit["items"]] == [("shop.resumed", "cli:alice"),
                                                                  ("shop.authorized", "cli:alice")]
    assert audit["items"][0]["details"]["reason"] == "authorised"
    await hub.close_loop_resources()


async def test_replaying_a_dead_letter_records_the_admin_who_asked(database_url: str) -> None:
    with running_hub(hub_config(database_url), extra_plugins=[FakeChannelsPlugin()], load_entry_points=False,
                     start_workers=False) as hub:
        async with hub.database().transaction() as session:
            dl_id = await dead_letters.record(
                session, actor="process_inbox_batch", queue="ingest", args=[[41]], kwargs={},
                reason="PermanentError: order 1 has no lines", error_class="PermanentError", attempts=3)
        admin = await new_key(hub, "admin", name="ops-lead")
        async with client_for(create_app(hub)) as client:
            replayed = await client.post(f"/api/v1/dead-letters/{dl_id}/replay", headers=bearer(admin))
            shown = (await client.get(f"/api/v1/dead-letters/{dl_id}", headers=bearer(admin))).json()
            audit = (await client.get("/api/v1/audit", params={"subject": f"dead_letter:{dl_id}"},
                                      headers=bearer(admin))).json()
        broker = hub.runtime.broker if hub.runtime else None
    assert replayed.status_code == 200
    assert shown["replayed_by"].endswith(":ops-lead")
    [entry] = audit["items"]
    assert entry["action"] == "dead_letter.replayed" and entry["actor"] == shown["replayed_by"]
    assert entry["details"]["actor"] == "process_inbox_batch"
    assert isinstance(broker, StubBroker) and broker.queues["ingest"].qsize() == 1
