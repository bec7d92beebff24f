"""Where a console session meets its edges, through the app in-process:
a fragment that keeps refreshing (a shop card, a SKU's numbers, an import's progress) after the
session ended takes the whole page to sign in instead of showing the sign-in page inside itself;
the overview's event stream says so too; and a new API key's page shows the key once, so a
reload neither creates a second key nor shows the first again.
On SQLite only: a session is a signed cookie; what it reads is tested on both databases elsewhere."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import func, select

from hub.console.auth import SESSION_COOKIE, ConsoleSession, signer_for
from hub.console.routes import api_keys as key_screen
from hub.console.routes import overview
from hub.context import Hub
from hub.db import api_keys
from hub.db.tables import ApiKeyRow
from hub.services.stock import skus
from tests.integration.test_api_support import make_hub, new_key
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _htmx(page: str) -> dict[str, str]:
    """The headers htmx sends with a fragment request made from ``page``."""
    return {"HX-Request": "true", "HX-Current-URL": f"http://hub.test{page}"}


async def _expired_session(client: httpx.AsyncClient, hub: Hub, key: str) -> None:
    """Give the client a session of ``key`` that ended."""
    started = int(time.time()) - hub.config.console.session_max_age_s - 1
    old = ConsoleSession(csrf="old", kind="key", sub=api_keys.parse_prefix(key), iat=started)
    client.cookies.set(SESSION_COOKIE, signer_for(hub).dump(old), path="/console")


async def _key_count(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


async def test_a_refreshing_fragment_sends_the_page_to_sign_in_once_the_session_ended(database_url: str) -> None:
    hub = make_hub(database_url)
    key = await new_key(hub, "admin")
    async with hub.database().transaction() as session:
        await skus.define_sku(session, "TEE")
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        live = await client.get("/console/stock/TEE", params={"part": "live"}, headers=_htmx("/console/stock/TEE"))
        assert live.status_code == 200 and 'id="sku-live"' in live.text
        await _expired_session(client, hub, key)
        ended = {  # where each fragment's page should go: sign in, then back to that page
            "/console/login?next=/console/stock/TEE%3Ftab%3D1&expired=1": await client.get(
                "/console/stock/TEE", params={"part": "live"}, headers=_htmx("/console/stock/TEE?tab=1")),
            "/console/login?next=/console/shops&expired=1": await client.get(
                "/console/shops/cards", headers=_htmx("/console/shops")),
            "/console/login?next=/console/stock/imports/7&expired=1": await client.get(
                "/console/stock/imports/7/progress", headers=_htmx("/console/stock/imports/7")),
        }
        elsewhere = await client.get("/console/shops/cards", headers=_htmx("/somewhere/else"))
        not_htmx = await client.get("/console/stock/TEE", params={"part": "live"})
    for target, response in ended.items():
        assert response.status_code == 401 and "<form" not in response.text, target
        assert response.headers["HX-Redirect"] == target
    assert elsewhere.headers["HX-Redirect"] == "/console/login?next=/console&expired=1", "never off the console"
    assert not_htmx.status_code == 303 and "expired=1" in not_htmx.headers["location"], "a page load redirects"


class _SessionRunsOut:
    """The overview's clock: now for the stream's first look, then long after the session's end."""

    def __init__(self) -> None:
        self.looks = 0
        self.monotonic = time.monotonic

    def time(self) -> float:
        self.looks += 1
        return time.time() + (0 if self.looks == 1 else 10**6)


async def test_the_overview_stream_says_the_session_ended(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = make_hub(database_url)
    hub.config.console.overview_refresh_s = 0.5
    key = await new_key(hub, "viewer")
    async with _app(hub) as client:
        stranger = await client.get("/console/overview/stream", headers={"Referer": "http://hub.test/console"})
        await _sign_in_with_key(client, key)
        monkeypatch.setattr(overview, "time", _SessionRunsOut())
        ending = await client.get("/console/overview/stream", headers={"Referer": "http://hub.test/console/"})
    assert stranger.status_code == 200 and stranger.headers["content-type"].startswith("text/event-stream")
    assert "event: expired\ndata: /console/login?next=/console&expired=1\n\n" in stranger.text
    assert "retry: 600000" in stranger.text, "no reconnection storm while the page goes to sign in"
    assert ending.status_code == 200 and ending.text.count("event: snapshot") == 1
    assert ending.text.endswith("event: expired\ndata: /console/login?next=/console/&expired=1\n\n")


async def test_a_new_key_is_shown_once_and_a_reload_neither_shows_it_again_nor_makes_another(
        database_url: str) -> None:
    hub = make_hub(database_url)
    admin = await new_key(hub, "admin")
    async with _app(hub) as client, _app(hub) as other:
        await _sign_in_with_key(client, admin)
        await _sign_in_with_key(other, admin)
        page = await client.get("/console/api-keys")
        posted = await client.post("/console/api-keys", data={"csrf_token": _csrf(page.text), "name": "erp-sync",
                                                              "role": "service"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/console/api-keys/created/")
        cookie = posted.headers["set-cookie"]
        carried = client.cookies.get(key_screen.NEW_KEY_COOKIE)
        assert carried is not None
        other.cookies.set(key_screen.NEW_KEY_COOKIE, carried, path=key_screen.SHOWN_PATH)
        elsewhere = await other.get(posted.headers["location"])  # the same admin, another browser
        first = await client.get(posted.headers["location"])
        reload = await client.get(posted.headers["location"])
        listed = await client.get("/console/api-keys")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and f"Path={key_screen.SHOWN_PATH}" in cookie
    shown = re.search(r'data-testid="new-key-value">(chk_[^<]+)<', first.text)
    assert first.status_code == 200 and shown, first.text
    prefix = api_keys.parse_prefix(shown.group(1))
    assert posted.headers["location"] == f"/console/api-keys/created/{prefix}"
    for later in (reload, elsewhere):
        assert later.status_code == 410 and 'data-testid="key-already-shown"' in later.text
        assert "chk_" not in later.text and f"Key {prefix} (erp-sync) was shown once" in later.text
    assert client.cookies.get(key_screen.NEW_KEY_COOKIE) is None, "the page that showed it deleted it"
    assert listed.text.count("erp-sync") == 1 and await _key_count(hub) == 2


async def test_a_carried_key_is_not_shown_after_its_time_nor_for_another_key(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "admin"))
        page = await client.get("/console/api-keys")
        made = await client.post("/console/api-keys", data={"csrf_token": _csrf(page.text), "name": "late",
                                                            "role": "viewer"})
        carried = client.cookies.get(key_screen.NEW_KEY_COOKIE)
        monkeypatch.setattr(key_screen, "SHOW_FOR_S", -1)
        late = await client.get(made.headers["location"])
        monkeypatch.undo()
        client.cookies.set(key_screen.NEW_KEY_COOKIE, carried or "", path=key_screen.SHOWN_PATH)
        wrong = await client.get("/console/api-keys/created/ZZZZZZZZ")
        viewer_key = await new_key(hub, "viewer")
    async with _app(hub) as viewer:
        await _sign_in_with_key(viewer, viewer_key)
        refused = await viewer.get(made.headers["location"])
    assert late.status_code == 410 and "chk_" not in late.text
    assert wrong.status_code == 404 and "chk_" not in wrong.text
    assert refused.status_code == 403
