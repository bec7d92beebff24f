"""Every console page refuses to be shown in another site's frame (so a page elsewhere cannot lay
a decoy over a Release or Revoke button), and tells the browser not to guess content types nor
send the console's addresses to other sites. SQLite only: no database work."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_api_support import client_for, make_hub, new_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_console_pages_forbid_framing(database_url: str) -> None:
    from hub.api import create_app

    hub = make_hub(database_url)
    async with client_for(create_app(hub)) as client:
        login = await client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token is not None
        await client.post("/console/login", data={"csrf_token": token.group(1), "api_key": await new_key(hub, "admin")})
        pages = [login, await client.get("/console/orders"), await client.get("/console/no-such-page"),
                 await client.post("/console/logout", data={"csrf_token": "stale"})]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html"), page.request.url
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
