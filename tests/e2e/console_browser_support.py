"""Shared plumbing for the console's browser tests: Debian's Chromium driven by Playwright, a
hub served over real HTTP (``taobao_console_hub``: with one Taobao sandbox shop), a signed-in page,
and screenshots saved where the README takes them.

Nothing here downloads a browser (never ``playwright install``): without ``/usr/bin/chromium`` a
test is skipped outside CI and fails in CI (``$CI`` set), where ``.ci/run`` installs it with apt.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.asgi_server import BackgroundServer
from hub.context import Hub
from tests.e2e.hub_e2e_support import Served, close_test_loop, e2e_config, e2e_hub, served_sandboxes

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("HUB_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "docs" / "screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def browser_or_skip() -> Any:
    """Playwright's ``async_playwright``, once Chromium is known to be there."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing in CI: .ci/run installs it with apt")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.async_api import async_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return async_playwright


async def shot(page: Any, name: str) -> None:
    """Save the whole page as ``docs/screenshots/<name>.png`` (what the README shows).

    Written to a file of this process's own and renamed into place: tests on parallel workers
    (one per backend) save the same screens, and a reader never sees half a PNG."""
    target = SCREENSHOTS / f"{name}.png"
    partial = target.with_name(f".{name}.{os.getpid()}.png.part")
    partial.write_bytes(await page.screenshot(full_page=True))
    os.replace(partial, target)


def browser_on_postgres_redis(backend: Any) -> None:
    """Skip unless ``backend`` is PostgreSQL + Redis (a screen does not depend on the backend, so
    its browser test runs once), then make sure Chromium is there (``browser_or_skip``)."""
    if backend.redis_url is None:
        pytest.skip("the browser test runs on PostgreSQL + Redis only (the screen does not depend on the backend)")
    browser_or_skip()


@asynccontextmanager
async def taobao_console_hub(backend: Any, **sections: Any) -> AsyncIterator[tuple[Hub, Served]]:
    """The hub of a browser test on one Taobao sandbox shop: skipped unless ``backend`` is
    PostgreSQL + Redis with Chromium there (``browser_on_postgres_redis``); the sandbox served, the
    hub configured for it with ``sections`` (``e2e_config``) and running, its test loop closed after."""
    browser_on_postgres_redis(backend)
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served, **sections)) as hub:
        try:
            yield hub, served["taobao"]
        finally:
            await close_test_loop(hub)


async def page_width(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth"))


async def fits_a_phone(
    page: Any, screen: str, *, ready: Any = None, slack: int = 0, screenshot: str | None = None,
) -> None:
    """Reload ``page`` on a phone's viewport, wait for ``ready`` (a locator) when given, assert
    nothing is wider than the screen (``slack`` pixels allowed), save ``screenshot`` when named,
    and go back to the desktop viewport."""
    await page.set_viewport_size(PHONE)
    await page.reload()
    if ready is not None:
        await ready.wait_for()
    width = await page_width(page)
    assert width <= PHONE["width"] + slack, f"{screen} is {width} px wide on a {PHONE['width']} px phone"
    if screenshot is not None:
        await shot(page, screenshot)
    await page.set_viewport_size(DESKTOP)


@dataclass
class ConsoleBrowser:
    """A signed-in browser page on a served hub."""

    page: Any
    base_url: str
    key: str

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path)


async def make_key(hub: Hub, *, name: str = "e2e-console", role: str = "admin") -> str:
    from hub.db import api_keys

    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name=name, role=role)
    return key


@asynccontextmanager
async def signed_in_console(
    hub: Hub, *, role: str = "admin", name: str = "e2e-console", locale: str = "en-US",
    viewport: dict[str, int] | None = None,
) -> AsyncIterator[ConsoleBrowser]:
    """Serve ``hub``'s app, open Chromium and sign in with a new API key of ``role``."""
    async_playwright = browser_or_skip()
    from hub.api import create_app

    key = await make_key(hub, name=name, role=role)
    server = BackgroundServer(create_app(hub)).start()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            context = await browser.new_context(locale=locale, viewport=viewport or DESKTOP)
            page = await context.new_page()
            await page.goto(f"{server.base_url}/console/login")
            await page.fill("input[name=api_key]", key)
            await page.click("button[value=key]")
            await page.wait_for_url(f"{server.base_url}/console")
            try:
                yield ConsoleBrowser(page, server.base_url, key)
            finally:
                await context.close()
                await browser.close()
    finally:
        server.stop()
