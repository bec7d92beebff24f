"""``/api/v1/api-keys``: an admin creates a key (shown once), lists keys (never the key), revokes
one; other roles are refused; a bad role is a 422/400 naming the field."""

from __future__ import annotations

from hub.context import Hub
from tests.integration.test_api_support import api, bearer, make_hub, new_key


async def test_admin_creates_lists_and_revokes_a_key(database_url: str) -> None:
    hub: Hub = make_hub(database_url)
    admin = await new_key(hub, "admin", name="root")
    async with api(hub) as client:
        created = await client.post("/api/v1/api-keys", json={"name": "picker-1", "role": "warehouse"},
                                    headers=bearer(admin))
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        prefix = created.json()["prefix"]
        assert key.startswith(f"chk_{prefix}_") and created.json()["role"] == "warehouse"

        assert (await client.get("/api/v1/orders", headers=bearer(key))).status_code == 200
        listed = await client.get("/api/v1/api-keys", headers=bearer(admin))
        assert {row["name"] for row in listed.json()} == {"root", "picker-1"}
        assert key not in listed.text

        assert (await client.delete(f"/api/v1/api-keys/{prefix}", headers=bearer(admin))).status_code == 204
        assert (await client.get("/api/v1/orders", headers=bearer(key))).status_code == 401
        again = await client.delete(f"/api/v1/api-keys/{prefix}", headers=bearer(admin))
        assert again.status_code == 404


async def test_only_admins_manage_keys_and_bad_roles_are_named(database_url: str) -> None:
    hub = make_hub(database_url)
    operator = await new_key(hub, "operator")
    admin = await new_key(hub, "admin")
    async with api(hub) as client:
        refused = await client.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=bearer(operator))
        bad_role = await client.post("/api/v1/api-keys", json={"name": "x", "role": "root"}, headers=bearer(admin))
        no_name = await client.post("/api/v1/api-keys", json={"role": "viewer"}, headers=bearer(admin))
    assert refused.status_code == 403 and "api_keys.manage" in refused.json()["detail"]
    assert bad_role.status_code == 400 and bad_role.json()["field"] == "role"
    assert "admin, operator, service, warehouse, finance, viewer" in bad_role.json()["detail"]
    assert no_name.status_code == 422 and no_name.json()["detail"][0]["field"] == "body.name"
