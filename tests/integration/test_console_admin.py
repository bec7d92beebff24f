"""The console's admin screens through the app in-process: shops (health, resume, listing sync),
plugins, API keys and users. Only admins reach keys and users (others get the 403 page and no
link); every form needs the session's token; bad values give the form again (422) naming each
field with nothing stored; the last admin key and the last active admin user stay; and every
change lands in the audit log under the person who made it.
On SQLite only: users and keys are stored by hub.db.users / hub.db.api_keys, tested on both databases."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from hub.context import Hub
from hub.db import api_keys, audit, users
from hub.db import shops as shop_rows
from hub.db.tables import ApiKeyRow, UserRow
from tests.integration.test_api_support import bearer, make_hub, new_key, push_shop
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PASSWORD = "correct horse battery"


async def _sign_in_as_user(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post("/console/login", data={"csrf_token": _csrf(page.text), "user": name,
                                                     "password": password, "next": "/console"})


async def _add_user(hub: Hub, name: str, role: str) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name=name, password=PASSWORD, role=role, created_by="test")


async def _entries(hub: Hub, action: str) -> list[tuple[str, str]]:
    async with hub.database().session() as session:
        page = await audit.list_entries(session, audit.AuditFilters(action=action))
    return [(row.actor, row.subject) for row in page.rows]


async def _count(hub: Hub, row: type) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(row)) or 0)


async def _user(hub: Hub, name: str) -> UserRow | None:
    async with hub.database().session() as session:
        return await users.get_user(session, name)


# ------------------------------------------------------------------------------------- roles


async def test_others_than_admins_see_no_key_or_user_links_and_are_refused_with_nothing_changed(
        database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "operator"))
        home = await client.get("/console")
        keys = await client.get("/console/api-keys")
        people = await client.get("/console/users")
        token = _csrf(home.text)
        made_key = await client.post("/console/api-keys", data={"csrf_token": token, "name": "x", "role": "admin"})
        made_user = await client.post("/console/users", data={"csrf_token": token, "name": "eve", "role": "admin",
                                                               "password": PASSWORD, "password_again": PASSWORD})
    assert 'href="/console/shops"' in home.text and 'href="/console/plugins"' in home.text
    assert 'href="/console/api-keys"' not in home.text and 'href="/console/users"' not in home.text
    assert keys.status_code == 403 and "api_keys.manage" in keys.text and "Nothing was changed" in keys.text
    assert people.status_code == 403 and "users.manage" in people.text
    assert made_key.status_code == 403 and made_user.status_code == 403
    assert await _count(hub, ApiKeyRow) == 1 and await _count(hub, UserRow) == 0


async def test_every_admin_form_needs_the_sessions_token(database_url: str) -> None:
    hub = make_hub(database_url, **{"fp-main": push_shop()})
    admin = await new_key(hub, "admin")
    await _add_user(hub, "li.wei", "operator")
    async with hub.database().transaction() as session:
        await shop_rows.ensure_shops(session, [("fp-main", "fakepush")])
        await shop_rows.pause_shop(session, "fp-main", "session invalid (27): re-authorise")
    async with _app(hub) as client:
        await _sign_in_with_key(client, admin)
        stale = {"csrf_token": "a-token-from-an-older-session"}
        answers = [
            await client.post("/console/api-keys", data={**stale, "name": "x", "role": "admin"}),
            await client.post(f"/console/api-keys/{api_keys.parse_prefix(admin)}/revoke", data=stale),
            await client.post("/console/users", data={**stale, "name": "eve", "role": "admin",
                                                      "password": PASSWORD, "password_again": PASSWORD}),
            await client.post("/console/users/li.wei/deactivate", data={}),
            await client.post("/console/users/li.wei/password", data={**stale, "password": "x" * 12,
                                                                      "password_again": "x" * 12}),
            await client.post("/console/shops/fp-main/resume", data=stale),
        ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    assert all("Nothing was changed" in a.text for a in answers)
    assert await _count(hub, ApiKeyRow) == 1 and await _count(hub, UserRow) == 1
    assert (await _user(hub, "li.wei")).active  # type: ignore[union-attr]
    async with hub.database().session() as session:
        assert (await shop_rows.shop_status(session, "fp-main")).paused  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------- API keys


async def test_an_admin_creates_a_key_shown_once_that_works_and_revokes_it_after_confirming(
        database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin", name="desk-admin")
    async with _app(hub) as client:
        await _sign_in_with_key(client, admin)
        page = await client.get("/console/api-keys")
        posted = await client.post("/console/api-keys", data={"csrf_token": _csrf(page.text), "name": "erp-sync",
                                                              "role": "service"})
        assert posted.status_code == 303, posted.text
        created = await client.get(posted.headers["location"])
        key = re.search(r'data-testid="new-key-value">(chk_[^<]+)<', created.text)
        assert created.status_code == 200 and key, created.text
        plaintext = key.group(1)
        prefix = api_keys.parse_prefix(plaintext)
        listed = await client.get("/console/api-keys")
        works = await client.get("/api/v1/orders", headers=bearer(plaintext))
        confirm = await client.get(f"/console/api-keys/{prefix}/revoke")
        revoked = await client.post(f"/console/api-keys/{prefix}/revoke", data={"csrf_token": _csrf(confirm.text)})
        after = await client.get(revoked.headers["location"])
        refused = await client.get("/api/v1/orders", headers=bearer(plaintext))
    assert "shown" in created.text and "erp-sync" in listed.text and plaintext not in listed.text
    assert works.status_code == 200
    assert confirm.status_code == 200 and "401" in confirm.text and 'data-testid="confirm-revoke"' in confirm.text
    assert revoked.status_code == 303 and f"Key {prefix} revoked" in after.text
    assert refused.status_code == 401
    admin_prefix = api_keys.parse_prefix(admin)
    actor = f"apikey:{admin_prefix}:desk-admin"
    assert await _entries(hub, "apikey.created") == [(actor, f"apikey:{prefix}"), ("hub", f"apikey:{admin_prefix}")]
    assert await _entries(hub, "apikey.revoked") == [(actor, f"apikey:{prefix}")]


async def test_a_bad_key_form_comes_back_naming_each_field_and_stores_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "admin"))
        page = await client.get("/console/api-keys")
        both = await client.post("/console/api-keys", data={"csrf_token": _csrf(page.text), "name": "   ",
                                                            "role": "root"})
        long_name = await client.post("/console/api-keys", data={"csrf_token": _csrf(page.text), "name": "n" * 101,
                                                                 "role": "viewer"})
    assert both.status_code == 422
    assert 'data-testid="problem-name"' in both.text and 'data-testid="problem-role"' in both.text
    assert "choose one of: admin, operator, service, warehouse, finance, viewer" in both.text
    assert long_name.status_code == 422 and 'data-testid="problem-name"' in long_name.text
    assert 'data-testid="problem-role"' not in long_name.text and 'value="' + "n" * 101 + '"' in long_name.text
    assert await _count(hub, ApiKeyRow) == 1


async def test_the_last_admin_key_is_not_revoked_and_the_page_says_why(database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin")
    prefix = api_keys.parse_prefix(admin)
    async with _app(hub) as client:
        await _sign_in_with_key(client, admin)
        confirm = await client.get(f"/console/api-keys/{prefix}/revoke")
        refused = await client.post(f"/console/api-keys/{prefix}/revoke", data={"csrf_token": _csrf(confirm.text)})
        unknown = await client.get("/console/api-keys/ZZZZZZZZ/revoke")
    assert refused.status_code == 409 and "last active admin key" in refused.text
    assert unknown.status_code == 404
    async with hub.database().session() as session:
        assert await api_keys.verify_key(session, admin) is not None
    assert await _entries(hub, "apikey.revoked") == []


# ------------------------------------------------------------------------------------- users


async def test_an_admin_adds_a_user_who_signs_in_then_resets_deactivates_and_reactivates_them(
        database_url: str) -> None:
    hub = make_hub(database_url)
    await _add_user(hub, "boss", "admin")
    new_password = "a different long one"
    async with _app(hub) as admin:
        await _sign_in_as_user(admin, "boss", PASSWORD)
        page = await admin.get("/console/users")
        token = _csrf(page.text)
        added = await admin.post("/console/users", data={"csrf_token": token, "name": "li.wei", "role": "operator",
                                                         "password": PASSWORD, "password_again": PASSWORD})
        shown = await admin.get(added.headers["location"])
        async with _app(hub) as li:
            assert (await _sign_in_as_user(li, "li.wei", PASSWORD)).status_code == 303
            assert "li.wei (operator)" in (await li.get("/console")).text
        reset = await admin.post("/console/users/li.wei/password", data={
            "csrf_token": token, "password": new_password, "password_again": new_password})
        stopped = await admin.post("/console/users/li.wei/deactivate", data={"csrf_token": token})
        async with _app(hub) as li:
            assert (await _sign_in_as_user(li, "li.wei", new_password)).status_code == 401
        started = await admin.post("/console/users/li.wei/reactivate", data={"csrf_token": token})
        async with _app(hub) as li:
            assert (await _sign_in_as_user(li, "li.wei", PASSWORD)).status_code == 401  # the old password
            assert (await _sign_in_as_user(li, "li.wei", new_password)).status_code == 303
        listed = await admin.get("/console/users")
    assert added.status_code == 303 and added.headers["location"] == "/console/users/li.wei?done=created"
    assert "User li.wei added" in shown.text and PASSWORD not in shown.text
    assert [r.status_code for r in (reset, stopped, started)] == [303, 303, 303]
    assert 'href="/console/users/li.wei"' in listed.text and PASSWORD not in listed.text
    row = await _user(hub, "li.wei")
    assert row is not None and row.active and row.created_by == "user:boss"
    assert row.password_hash.startswith("$argon2id$")
    async with hub.database().session() as session:
        entries = (await audit.list_entries(session, audit.AuditFilters(subject="user:li.wei"))).rows
    assert [(e.action, e.actor) for e in reversed(entries)] == [
        ("user.created", "user:boss"), ("user.password_changed", "user:boss"), ("user.deactivated", "user:boss"),
        ("user.reactivated", "user:boss")]
    assert all(PASSWORD not in str(e.details) and new_password not in str(e.details) for e in entries)


async def test_a_bad_user_form_comes_back_naming_each_field_and_stores_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    await _add_user(hub, "li.wei", "operator")
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "admin"))
        token = _csrf((await client.get("/console/users")).text)
        all_bad = await client.post("/console/users", data={"csrf_token": token, "name": "li wei!", "role": "root",
                                                             "password": "short", "password_again": "short"})
        differ = await client.post("/console/users", data={"csrf_token": token, "name": "zhang", "role": "viewer",
                                                           "password": PASSWORD, "password_again": PASSWORD + "x"})
        taken = await client.post("/console/users", data={"csrf_token": token, "name": "li.wei", "role": "viewer",
                                                          "password": PASSWORD, "password_again": PASSWORD})
        reset = await client.post("/console/users/li.wei/password", data={"csrf_token": token, "password": "short",
                                                                         "password_again": "short"})
        nobody = await client.get("/console/users/nobody")
    assert all_bad.status_code == 422
    for field in ("name", "role", "password"):
        assert f'data-testid="problem-{field}"' in all_bad.text, field
    assert "at least 10 characters" in all_bad.text and 'value="li wei!"' in all_bad.text
    assert 'value="short"' not in all_bad.text  # the password is never echoed back
    assert differ.status_code == 422 and 'data-testid="problem-password_again"' in differ.text
    assert 'value="zhang"' in differ.text and PASSWORD not in differ.text
    assert taken.status_code == 422 and "a user named li.wei already exists" in taken.text
    assert reset.status_code == 422 and 'data-testid="problem-password"' in reset.text
    assert nobody.status_code == 404
    assert [u.name for u in await _users(hub)] == ["li.wei"]
    async with _app(hub) as li:
        assert (await _sign_in_as_user(li, "li.wei", PASSWORD)).status_code == 303  # password unchanged


async def _users(hub: Hub) -> list[UserRow]:
    async with hub.database().session() as session:
        return await users.list_users(session)


async def test_the_last_active_admin_user_stays_active(database_url: str) -> None:
    hub = make_hub(database_url)
    await _add_user(hub, "boss", "admin")
    async with _app(hub) as client:
        await _sign_in_as_user(client, "boss", PASSWORD)
        token = _csrf((await client.get("/console/users/boss")).text)
        refused = await client.post("/console/users/boss/deactivate", data={"csrf_token": token})
        assert refused.status_code == 409 and "last active admin user" in refused.text
        assert (await _user(hub, "boss")).active  # type: ignore[union-attr]
        await _add_user(hub, "deputy", "admin")
        done = await client.post("/console/users/boss/deactivate", data={"csrf_token": token})
        after = await client.get("/console/users")
    assert done.status_code == 303 and not (await _user(hub, "boss")).active  # type: ignore[union-attr]
    assert after.status_code == 303 and "expired=1" in after.headers["location"]  # boss's own session ended
    async with hub.database().transaction() as session:  # the CLI's --force may, as with the last admin key
        assert await users.deactivate_user(session, "deputy", allow_last_admin=True)


# ------------------------------------------------------------------------------------- shops and plugins


async def test_shops_screen_shows_a_lost_authorisation_and_only_admins_resume_it(database_url: str) -> None:
    hub = make_hub(database_url, **{"fp-main": push_shop(), "fp-off": push_shop(enabled=False)})
    async with hub.database().transaction() as session:
        await shop_rows.ensure_shops(session, [("fp-main", "fakepush"), ("fp-off", "fakepush")])
        await shop_rows.pause_shop(session, "fp-main", "session invalid (27): re-authorise the app")
    async with _app(hub) as viewer:
        await _sign_in_with_key(viewer, await new_key(hub, "viewer"))
        seen = await viewer.get("/console/shops")
        tried = await viewer.post("/console/shops/fp-main/resume", data={"csrf_token": _csrf(seen.text)})
    assert seen.status_code == 200 and 'data-status="paused"' in seen.text and "session invalid (27)" in seen.text
    assert "Lost: re-authorise the shop" in seen.text and 'data-testid="resume-fp-main"' not in seen.text
    assert tried.status_code == 403 and "shops.manage" in tried.text
    async with _app(hub) as admin:
        await _sign_in_with_key(admin, await new_key(hub, "admin", name="ops-lead"))
        page = await admin.get("/console/shops")
        assert 'data-testid="resume-fp-main"' in page.text and 'data-testid="resume-fp-off"' not in page.text
        resumed = await admin.post("/console/shops/fp-main/resume", data={"csrf_token": _csrf(page.text)})
        after = await admin.get(resumed.headers["location"])
        unknown = await admin.post("/console/shops/nope/resume", data={"csrf_token": _csrf(page.text)})
        cards = await admin.get("/console/shops/cards")
    assert resumed.status_code == 303 and "Shop fp-main resumed" in after.text
    assert 'data-status="paused"' not in after.text and 'data-status="disabled"' in after.text
    assert unknown.status_code == 404
    assert cards.status_code == 200 and "<html" not in cards.text and 'id="shop-cards"' in cards.text
    [(actor, subject)] = await _entries(hub, "shop.resumed")
    assert actor.endswith(":ops-lead") and subject == "shop:fp-main"


async def test_the_cards_refresh_sends_the_page_to_sign_in_once_the_session_ended(database_url: str) -> None:
    async with _app(make_hub(database_url)) as client:
        response = await client.get("/console/shops/cards", headers={
            "HX-Request": "true", "HX-Current-URL": "http://hub.test/console/shops"})
    assert response.status_code == 401 and "<form" not in response.text
    assert response.headers["HX-Redirect"] == "/console/login?next=/console/shops&expired=1"


async def test_a_listing_sync_says_what_happened(database_url: str) -> None:
    hub = make_hub(database_url, **{"fp-main": push_shop()})
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "operator"))
        page = await client.get("/console/shops")
        synced = await client.post("/console/shops/fp-main/listings/sync", data={"csrf_token": _csrf(page.text)})
    assert 'data-testid="sync-fp-main"' not in page.text  # the fake connector cannot list listings
    assert synced.status_code == 200 and "Listings of fp-main not synced" in synced.text
    assert "LIST_LISTINGS" in synced.text


async def test_plugins_screen_shows_connectors_capabilities_and_who_uses_them(database_url: str) -> None:
    hub = make_hub(database_url, **{"fp-main": push_shop()})
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "viewer"))
        page = await client.get("/console/plugins", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "插件" in page.text
    row = page.text[page.text.index('data-testid="connector-channel-fakepush"'):]
    row = row[:row.index("</tr>")]
    assert '<span class="badge" title="receive_push">' in row and "fp-main" in row
    fakepoll = page.text[page.text.index('data-testid="connector-channel-fakepoll"'):]
    assert "未配置" in fakepoll[:fakepoll.index("</tr>")]


async def test_shops_screen_shows_a_message_channel_held_back_by_the_inbox_backlog(database_url: str) -> None:
    """Backpressure (#12): while the workers are behind, a shop's message channel is not drained;
    the operator sees that on the shop's card, with since when, and it goes once intake resumes."""
    from hub.config import ShopConfig
    from hub.plugins import build_plugin_manager
    from hub.services import message_channel
    from tests.integration.test_api_support import FakeChannelsPlugin

    class _Opens:
        async def open_message_channel(self) -> list[str]:
            return ["taobao_trade_TradeBuyerPay"]

    tb = {"app_key": "k", "app_secret": "s", "session": "x"}
    hub = make_hub(database_url, **{"tb-held": ShopConfig(platform="taobao", settings=tb)})
    hub.plugins = build_plugin_manager(extra=[FakeChannelsPlugin()])
    state = await message_channel.ensure_open(hub, "tb-held", _Opens())
    assert state is not None
    async with _app(hub) as viewer:
        await _sign_in_with_key(viewer, await new_key(hub, "viewer"))
        before = await viewer.get("/console/shops")
        await message_channel.record_held(hub, "tb-held", state, True)
        held = await viewer.get("/console/shops")
        await message_channel.record_held(hub, "tb-held", state, False)
        after = await viewer.get("/console/shops/cards")
    assert 'data-testid="channel-open"' in before.text and 'data-testid="channel-held"' not in before.text
    assert 'data-testid="channel-held"' in held.text and "inbox backlog over its limit" in held.text
    assert 'data-testid="channel-held"' not in after.text
