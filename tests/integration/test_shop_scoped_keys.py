"""Keys and users limited to shops: created and changed over the API, the CLI and the console,
refused for unknown shops with the field named, shown in the lists, and a limited admin kept
away from what spans every shop (keys, users, dead letters). A user changed to another shop sees
that shop's service orders only, from their next request; the last admin user of every shop is
not limited without ``--force``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.api import create_app
from hub.cli import app as cli_app
from hub.context import Hub, build_hub
from hub.db import api_keys, audit, users
from hub.db.engine import dispose_all_for_loop
from hub.plugins import build_plugin_manager
from hub.testing.api import bearer, client_for, new_key
from hub.testing.cli import runner
from hub.testing.hub import hub_config
from hub.testing.service_orders import store_service_order

SHOPS = {"shop-a": {"platform": "taobao"}, "shop-b": {"platform": "taobao"}}


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    yield build_hub(hub_config(database_url, shops=SHOPS), plugins=build_plugin_manager(load_entry_points=False))
    await dispose_all_for_loop()


async def test_api_keys_take_shops_and_a_limited_admin_may_not_manage_keys(hub: Hub) -> None:
    admin = await new_key(hub, "admin")
    async with client_for(create_app(hub)) as client:
        r = await client.post("/api/v1/api-keys", headers=bearer(admin),
                              json={"name": "cs-a", "role": "service", "shops": ["shop-a"]})
        assert r.status_code == 201 and r.json()["shops"] == ["shop-a"], r.text
        prefix, limited = r.json()["prefix"], r.json()["key"]
        bad = await client.post("/api/v1/api-keys", headers=bearer(admin),
                                json={"name": "x", "role": "viewer", "shops": ["shop-z"]})
        assert bad.status_code == 422 and "shops" in bad.text and "shop-z" in bad.text
        listed = {k["prefix"]: k["shops"] for k in (await client.get("/api/v1/api-keys", headers=bearer(admin))).json()}
        assert listed[prefix] == ["shop-a"]
        changed = await client.patch(f"/api/v1/api-keys/{prefix}", headers=bearer(admin), json={"shops": ["shop-b"]})
        assert changed.status_code == 200 and changed.json()["shops"] == ["shop-b"]
        # the change applies at once: the key now sees shop-b's service orders, not shop-a's
        assert (await client.get("/api/v1/service-orders?shop=shop-a", headers=bearer(limited))).json()["total"] == 0
        lifted = await client.patch(f"/api/v1/api-keys/{prefix}", headers=bearer(admin), json={"shops": None})
        assert lifted.json()["shops"] is None
        limited_admin = (await client.post("/api/v1/api-keys", headers=bearer(admin),
                                           json={"name": "adm-a", "role": "admin", "shops": ["shop-a"]})).json()["key"]
        refused = await client.post("/api/v1/api-keys", headers=bearer(limited_admin),
                                    json={"name": "escape", "role": "admin"})
        assert refused.status_code == 403 and "spans every shop" in refused.text
        assert (await client.get("/api/v1/dead-letters", headers=bearer(limited_admin))).status_code == 403
    async with hub.database().session() as session:
        entries = (await audit.list_entries(session, audit.AuditFilters(subject=f"apikey:{prefix}"))).rows
    assert [e.action for e in entries].count("apikey.shops_changed") == 2


def test_cli_creates_limited_keys_and_users_and_lists_their_shops(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{database_url}"\n[shops.shop-a]\nplatform = "taobao"\n'
                      '[shops.shop-b]\nplatform = "taobao"\n', encoding="utf-8")
    base = ["--config", str(config)]
    made = runner.invoke(cli_app, [*base, "apikey", "create", "--name", "wh-a", "--role", "warehouse",
                                   "--shop", "shop-a"])
    assert made.exit_code == 0, made.output
    unknown = runner.invoke(cli_app, [*base, "apikey", "create", "--name", "x", "--role", "viewer", "--shop", "nope"])
    assert unknown.exit_code != 0 and "--shop" in unknown.output and "nope" in unknown.output
    listed = runner.invoke(cli_app, [*base, "apikey", "list"])
    assert re.search(r"wh-a.*warehouse.*shop-a", listed.output), listed.output
    added = runner.invoke(cli_app, [*base, "user", "add", "fin", "--role", "finance", "--shop", "shop-b",
                                    "--password-stdin"], input="a-long-password-1\n")
    assert added.exit_code == 0, added.output
    users_out = runner.invoke(cli_app, [*base, "user", "list"])
    assert re.search(r"fin.*finance.*shop-b", users_out.output), users_out.output


async def test_console_forms_take_shops_and_a_limited_user_sees_its_shops_only(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name="root", password="a-long-password-1", role="admin", created_by="test")
        _, row = await api_keys.create_key(session, name="k", role="viewer", shops=["shop-a"])
    async with client_for(create_app(hub)) as client:
        page = await client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        signed = await client.post("/console/login", data={"csrf_token": token.group(1), "user": "root",
                                                           "password": "a-long-password-1"})
        assert signed.status_code in (200, 303), signed.text
        keys_page = await client.get("/console/api-keys")
        assert f'data-testid="shops-{row.prefix}">shop-a<' in keys_page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', keys_page.text)
        assert csrf is not None
        created = await client.post("/console/api-keys", data={"csrf_token": csrf.group(1), "name": "cs-b",
                                                                "role": "service", "shops": ["shop-b"]})
        assert created.status_code in (200, 303), created.text
        refused = await client.post("/console/users", data={
            "csrf_token": csrf.group(1), "name": "bob", "role": "warehouse", "shops": ["shop-z"],
            "password": "a-long-password-1", "password_again": "a-long-password-1"})
        assert refused.status_code == 422 and "shop-z" in refused.text
        added = await client.post("/console/users", data={
            "csrf_token": csrf.group(1), "name": "bob", "role": "warehouse", "shops": ["shop-a"],
            "password": "a-long-password-1", "password_again": "a-long-password-1"})
        assert added.status_code in (200, 303), added.text
    async with hub.database().session() as session:
        keys = {k.name: k.shops for k in await api_keys.list_keys(session)}
        bob = await users.get_user(session, "bob")
    assert keys["cs-b"] == ["shop-b"] and bob is not None and bob.shops == ["shop-a"]


async def _signed_in(client: Any, name: str) -> str:
    """Sign ``name`` in to the console (password ``a-long-password-1``); the form token."""
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed = await client.post("/console/login", data={"csrf_token": token.group(1), "user": name,
                                                       "password": "a-long-password-1"})
    assert signed.status_code in (200, 303), signed.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/console/service-orders")).text)
    assert csrf is not None
    return csrf.group(1)


async def test_a_limited_user_changed_to_another_shop_over_the_api_sees_only_that_shop(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name="bob", password="a-long-password-1", role="service",
                                created_by="test", shops=["shop-a"])
        in_a = await store_service_order(session, shop="shop-a", platform="taobao", external_id="WC-A1")
        await store_service_order(session, shop="shop-b", platform="taobao", external_id="WC-B1")
    admin = await new_key(hub, "admin")
    app = create_app(hub)
    async with client_for(app) as api, client_for(app) as bob:
        await _signed_in(bob, "bob")
        board = (await bob.get("/console/service-orders")).text
        assert "WC-A1" in board and "WC-B1" not in board

        changed = await api.patch("/api/v1/users/bob", headers=bearer(admin), json={"shops": ["shop-b"]})
        assert changed.status_code == 200 and changed.json()["shops"] == ["shop-b"], changed.text
        board = (await bob.get("/console/service-orders")).text  # the same session, its next request
        assert "WC-B1" in board and "WC-A1" not in board
        assert (await bob.get(f"/console/service-orders/{in_a}")).status_code == 404

        unknown = await api.patch("/api/v1/users/bob", headers=bearer(admin), json={"shops": ["shop-z"]})
        assert unknown.status_code == 422 and unknown.json()["field"] == "body.shops" and "shop-z" in unknown.text
        empty = await api.patch("/api/v1/users/bob", headers=bearer(admin), json={"shops": []})
        assert empty.status_code == 422 and empty.json()["field"] == "body.shops"
        assert (await api.patch("/api/v1/users/nobody", headers=bearer(admin),
                                json={"shops": None})).status_code == 404
        listed = {u["name"]: u["shops"] for u in (await api.get("/api/v1/users", headers=bearer(admin))).json()}
        assert listed == {"bob": ["shop-b"]}
        lifted = await api.patch("/api/v1/users/bob", headers=bearer(admin), json={"shops": None})
        assert lifted.status_code == 200 and lifted.json()["shops"] is None
        board = (await bob.get("/console/service-orders")).text
        assert "WC-A1" in board and "WC-B1" in board

        async with hub.database().transaction() as session:
            limited_admin, _ = await api_keys.create_key(session, name="adm-a", role="admin", shops=["shop-a"])
        refused = await api.patch("/api/v1/users/bob", headers=bearer(limited_admin), json={"shops": ["shop-a"]})
        assert refused.status_code == 403 and "spans every shop" in refused.text
    async with hub.database().session() as session:
        entries = (await audit.list_entries(session, audit.AuditFilters(subject="user:bob"))).rows
        bob_row = await users.get_user(session, "bob")
    changes = [e.details for e in entries if e.action == "user.shops_changed"]
    assert sorted(map(str, changes)) == sorted(map(str, [{"before": ["shop-a"], "after": ["shop-b"]},
                                                        {"before": ["shop-b"], "after": None}]))
    assert all(e.actor.startswith("apikey:") for e in entries if e.action == "user.shops_changed")
    assert bob_row is not None and bob_row.shops is None


async def test_an_admin_sets_a_keys_shops_on_the_console_but_not_the_last_admin_key_of_every_shop(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name="root", password="a-long-password-1", role="admin", created_by="test")
        _, erp = await api_keys.create_key(session, name="erp", role="service")
        _, admin = await api_keys.create_key(session, name="ops-admin", role="admin")
    async with client_for(create_app(hub)) as client:
        csrf = await _signed_in(client, "root")
        page = await client.get(f"/console/api-keys/{erp.prefix}/shops")
        assert page.status_code == 200 and 'data-testid="key-shops-now">All shops<' in page.text
        unknown = await client.post(f"/console/api-keys/{erp.prefix}/shops",
                                    data={"csrf_token": csrf, "shops": ["shop-z"]})
        assert unknown.status_code == 422 and 'data-testid="problem-shops"' in unknown.text
        done = await client.post(f"/console/api-keys/{erp.prefix}/shops",
                                 data={"csrf_token": csrf, "shops": ["shop-b"]})
        assert done.status_code == 303 and done.headers["location"].endswith(f"shops={erp.prefix}")
        listed = (await client.get(done.headers["location"])).text
        assert f'data-testid="shops-{erp.prefix}">shop-b<' in listed and 'data-testid="shops-changed"' in listed
        last = await client.post(f"/console/api-keys/{admin.prefix}/shops",
                                 data={"csrf_token": csrf, "shops": ["shop-a"]})
        assert last.status_code == 409 and 'data-testid="refusal"' in last.text
        gone = await client.get("/console/api-keys/nosuchkey/shops")
        assert gone.status_code == 404
    async with hub.database().session() as session:
        rows = {row.prefix: row.shops for row in await api_keys.list_keys(session)}
    assert rows[erp.prefix] == ["shop-b"] and rows[admin.prefix] is None


async def test_an_admin_sets_and_clears_a_users_shops_on_the_console(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name="root", password="a-long-password-1", role="admin", created_by="test")
        await users.create_user(session, name="bob", password="a-long-password-1", role="viewer", created_by="test")
    async with client_for(create_app(hub)) as client:
        csrf = await _signed_in(client, "root")
        page = await client.get("/console/users/bob")
        assert 'data-testid="user-shops">All shops<' in page.text and 'data-testid="change-shops"' in page.text
        refused = await client.post("/console/users/bob/shops", data={"csrf_token": csrf, "shops": ["shop-z"]})
        assert refused.status_code == 422 and 'data-testid="problem-shops"' in refused.text
        assert "shop-z" in refused.text
        done = await client.post("/console/users/bob/shops", data={"csrf_token": csrf, "shops": ["shop-b"]})
        assert done.status_code == 303 and done.headers["location"].endswith("done=shops")
        page = await client.get(done.headers["location"])
        assert 'data-testid="user-shops">shop-b<' in page.text and 'data-testid="done"' in page.text
        assert 'data-testid="user-shops-bob">shop-b<' in (await client.get("/console/users")).text
        cleared = await client.post("/console/users/bob/shops", data={"csrf_token": csrf})  # none ticked
        assert cleared.status_code == 303
        # root is the last admin user of every shop: limiting them would leave nobody to manage users
        last = await client.post("/console/users/root/shops", data={"csrf_token": csrf, "shops": ["shop-a"]})
        assert last.status_code == 409 and 'data-testid="refusal"' in last.text
        stale = await client.post("/console/users/bob/shops", data={"csrf_token": "forged", "shops": ["shop-a"]})
        assert stale.status_code in (400, 403)
    async with hub.database().session() as session:
        bob, root = await users.get_user(session, "bob"), await users.get_user(session, "root")
    assert bob is not None and bob.shops is None and root is not None and root.shops is None


async def test_the_last_admin_key_of_every_shop_is_not_limited_to_some_shops(hub: Hub) -> None:
    """A limited admin key may not manage keys: limiting the only one that spans every shop would
    leave nobody who could over the API (409), until another admin key of every shop exists."""
    admin = await new_key(hub, "admin")
    prefix = admin.split("_")[1]
    async with client_for(create_app(hub)) as client:
        refused = await client.patch(f"/api/v1/api-keys/{prefix}", headers=bearer(admin), json={"shops": ["shop-a"]})
        assert refused.status_code == 409 and "last admin key of every shop" in refused.json()["detail"]
        assert (await client.get("/api/v1/api-keys", headers=bearer(admin))).status_code == 200, "nothing changed"
        assert (await client.post("/api/v1/api-keys", headers=bearer(admin),
                                  json={"name": "backup", "role": "admin"})).status_code == 201
        allowed = await client.patch(f"/api/v1/api-keys/{prefix}", headers=bearer(admin), json={"shops": ["shop-a"]})
        assert allowed.status_code == 200 and allowed.json()["shops"] == ["shop-a"]


def test_cli_sets_and_clears_a_keys_shops(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{database_url}"\n[shops.shop-a]\nplatform = "taobao"\n'
                      '[shops.shop-b]\nplatform = "taobao"\n', encoding="utf-8")
    base = ["--config", str(config)]
    prefixes = {}
    for name, role in (("root", "admin"), ("erp", "service")):
        created = runner.invoke(cli_app, [*base, "apikey", "create", "--name", name, "--role", role])
        assert created.exit_code == 0, created.output
        prefixes[name] = created.stdout.strip().split("_")[1]
    erp, root = prefixes["erp"], prefixes["root"]
    changed = runner.invoke(cli_app, [*base, "apikey", "shops", erp, "--shop", "shop-b", "--shop", "shop-a"])
    assert changed.exit_code == 0 and f"{erp} now reaches: shop-a, shop-b" in changed.output, changed.output
    assert re.search(rf"{erp}.*erp.*service.*shop-a, shop-b", runner.invoke(cli_app, [*base, "apikey", "list"]).output)
    unknown = runner.invoke(cli_app, [*base, "apikey", "shops", erp, "--shop", "nope"])
    assert unknown.exit_code == 2 and "--shop" in unknown.output and "nope" in unknown.output
    neither = runner.invoke(cli_app, [*base, "apikey", "shops", erp])
    assert neither.exit_code == 2 and "--all-shops" in neither.output
    nobody = runner.invoke(cli_app, [*base, "apikey", "shops", "zzzzzzzz", "--all-shops"])
    assert nobody.exit_code == 2 and "no active API key" in nobody.output
    last = runner.invoke(cli_app, [*base, "apikey", "shops", root, "--shop", "shop-a"])
    assert last.exit_code == 2 and "--force" in last.output
    cleared = runner.invoke(cli_app, [*base, "apikey", "shops", erp, "--all-shops"])
    assert cleared.exit_code == 0 and f"{erp} now reaches: all" in cleared.output
    forced = runner.invoke(cli_app, [*base, "apikey", "shops", root, "--shop", "shop-a", "--force"])
    assert forced.exit_code == 0, forced.output


def test_cli_sets_and_clears_a_users_shops(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{database_url}"\n[shops.shop-a]\nplatform = "taobao"\n'
                      '[shops.shop-b]\nplatform = "taobao"\n', encoding="utf-8")
    base = ["--config", str(config)]
    for name, role in (("root", "admin"), ("wh", "warehouse")):
        added = runner.invoke(cli_app, [*base, "user", "add", name, "--role", role, "--password-stdin"],
                              input="a-long-password-1\n")
        assert added.exit_code == 0, added.output
    changed = runner.invoke(cli_app, [*base, "user", "shops", "wh", "--shop", "shop-b", "--shop", "shop-a"])
    assert changed.exit_code == 0 and "wh now sees: shop-a, shop-b" in changed.output, changed.output
    assert re.search(r"wh.*warehouse.*shop-a, shop-b", runner.invoke(cli_app, [*base, "user", "list"]).output)
    unknown = runner.invoke(cli_app, [*base, "user", "shops", "wh", "--shop", "nope"])
    assert unknown.exit_code == 2 and "--shop" in unknown.output and "nope" in unknown.output
    neither = runner.invoke(cli_app, [*base, "user", "shops", "wh"])
    assert neither.exit_code == 2 and "--all-shops" in neither.output
    nobody = runner.invoke(cli_app, [*base, "user", "shops", "ghost", "--all-shops"])
    assert nobody.exit_code == 2 and "no user named 'ghost'" in nobody.output
    last = runner.invoke(cli_app, [*base, "user", "shops", "root", "--shop", "shop-a"])
    assert last.exit_code == 2 and "--force" in last.output
    cleared = runner.invoke(cli_app, [*base, "user", "shops", "wh", "--all-shops"])
    assert cleared.exit_code == 0 and "wh now sees: all" in cleared.output
    forced = runner.invoke(cli_app, [*base, "user", "shops", "root", "--shop", "shop-a", "--force"])
    assert forced.exit_code == 0, forced.output
