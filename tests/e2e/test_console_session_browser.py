"""The console's session edges in a real browser (Debian's Chromium driven by Playwright): a new
API key's page shows the key once and a reload neither shows it again nor makes a second key; a
page whose session ends while it refreshes itself — the live overview (server-sent events) and
the shop cards (htmx polling) — goes to the sign-in page as a whole, and back after signing in.

PostgreSQL + Redis only. The overview's stream is made to reconnect every second (it does every
five minutes in production), so the test need not wait for it.
"""

from __future__ import annotations

import re

import pytest

from hub.console.routes import overview
from hub.context import Hub
from hub.db import api_keys
from tests.e2e.console_browser_support import signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop, e2e_config, e2e_hub

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

WITHIN_MS = 60_000  # generous: the stream's reconnection, the cards' 5 s refresh, a busy machine


async def _revoke(hub: Hub, key: str) -> None:
    async with hub.database().transaction() as session:
        assert await api_keys.revoke_key(session, api_keys.parse_prefix(key) or "", allow_last_admin=True)


async def test_a_new_key_is_shown_once_and_pages_go_to_sign_in_when_the_session_ends(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend.redis_url is None:
        pytest.skip("the console's session edges are browser-tested once, on PostgreSQL + Redis")
    monkeypatch.setattr(overview, "STREAM_LIFETIME_S", 1.0)
    with e2e_hub(e2e_config(backend, {})) as hub:
        try:
            async with signed_in_console(hub, name="e2e-session") as console:
                page = console.page

                # A new key: its page shows it once; reloading says so and makes no second key.
                await console.goto("/console/api-keys")
                await page.fill("form[data-testid=new-key] input[name=name]", "e2e-second")
                await page.select_option("form[data-testid=new-key] select[name=role]", "admin")
                await page.click("[data-testid=create-key]")
                second = (await page.locator("[data-testid=new-key-value]").inner_text()).strip()
                assert re.match(r"^/console/api-keys/created/\w+$", page.url.removeprefix(console.base_url))
                await page.reload()
                await page.locator("[data-testid=key-already-shown]").wait_for()
                assert second not in await page.content()
                await console.goto("/console/api-keys")
                assert await page.locator("[data-testid=keys-table] tr", has_text="e2e-second").count() == 1

                # The live overview: the key it was signed in with is revoked, the page goes to sign in.
                await console.goto("/console")
                await page.locator("#snapshot").wait_for()
                await _revoke(hub, console.key)
                await page.wait_for_url(f"{console.base_url}/console/login?next=/console&expired=1",
                                        timeout=WITHIN_MS)
                assert await page.locator("input[name=api_key]").is_visible()

                # Signed in again, the shop cards' refresh does the same from the shops screen.
                await page.fill("input[name=api_key]", second)
                await page.click("button[value=key]")
                await page.wait_for_url(f"{console.base_url}/console")
                await console.goto("/console/shops")
                await page.locator("[data-testid=shop-cards]").wait_for()
                await _revoke(hub, second)
                await page.wait_for_url(f"{console.base_url}/console/login?next=/console/shops&expired=1",
                                        timeout=WITHIN_MS)
                assert await page.locator("[data-testid=shop-cards]").count() == 0
        finally:
            await close_test_loop(hub)
