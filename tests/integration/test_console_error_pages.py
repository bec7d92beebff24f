"""Wrong addresses in the console answer with a console page, not the API's JSON: an address
that is no page, a link to an address that only takes a form, a page address with a bad part.
The API keeps its JSON for the same mistakes. The language switch on the answer to a form goes
back to the page the form was on (a link cannot repeat a POST). SQLite only: no database work."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.context import Hub
from tests.integration.test_api_support import client_for, make_hub, new_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _app(hub: Hub) -> httpx.AsyncClient:
    from hub.api import create_app

    return client_for(create_app(hub))  # type: ignore[return-value]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


async def _signed_in(client: httpx.AsyncClient, hub: Hub) -> None:
    key = await new_key(hub, "admin")
    page = await client.get("/console/login")
    signed = await client.post("/console/login", data={"csrf_token": _csrf(page.text), "api_key": key})
    assert signed.status_code == 303


@pytest.mark.parametrize(("address", "status", "words", "chinese_words"), [
    ("/console/no-such-screen", 404, "There is no such page in the console", "控制台中没有这个页面"),
    ("/console/orders/abc", 404, "There is no such page in the console", "控制台中没有这个页面"),
    ("/console/orders/1/holds/high_value/release", 405, "not a link, so nothing was done", "只接受表单按钮"),
])
async def test_a_wrong_console_address_is_a_page_in_the_readers_language(
    database_url: str, address: str, status: int, words: str, chinese_words: str,
) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        english = await client.get(address)
        chinese = await client.get(address, headers={"Accept-Language": "zh-CN"})
    assert english.status_code == status and english.headers["content-type"].startswith("text/html")
    assert words in english.text and 'data-testid="error-message"' in english.text
    assert chinese.status_code == status and chinese_words in chinese.text


async def test_the_api_keeps_its_json_for_the_same_mistakes(database_url: str) -> None:
    async with _app(make_hub(database_url)) as client:
        missing = await client.get("/api/v1/no-such-thing")
        static = await client.get("/console/static/no-such-file.js")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert static.status_code == 404 and not static.headers["content-type"].startswith("text/html")


async def test_the_language_switch_on_a_refused_form_goes_back_to_the_forms_page(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        refused = await client.post("/console/orders/1/holds/high_value/release", data={"csrf_token": "stale"},
                                    headers={"Referer": "http://testserver/console/orders/1?back=status%3Dpaid"})
    assert refused.status_code == 403
    switch = re.search(r'data-testid="switch-language" href="([^"]+)"', refused.text)
    assert switch is not None
    back = "/console/orders/1%3Fback%3Dstatus%253Dpaid"  # the page the form was on, with its query
    assert switch.group(1).replace("&amp;", "&") == f"/console/lang/zh-CN?next={back}"


async def test_a_damaged_page_link_on_the_exceptions_queue_names_the_list_in_the_readers_words(
    database_url: str,
) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        chinese = await client.get("/console/exceptions?dl_cursor=zzz", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 422
    problems = chinese.text.split('data-testid="problems"')[1].split("</ul>")[0]
    assert "<strong>死信</strong>" in problems and "此页链接已过期或已损坏" in problems
    assert "dl_cursor" not in problems and "API" not in problems


async def test_an_order_that_does_not_exist_is_said_so_in_the_readers_language(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        chinese = await client.get("/console/orders/424242", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 404
    assert "没有订单 424242" in chinese.text and "does not exist" not in chinese.text
