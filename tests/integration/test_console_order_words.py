"""A Chinese reader sees the order's page and the exceptions queue in Chinese, not in stored codes:
the history's events and where they came from, the fulfilment state, the source messages' state,
hold codes in words (with the code, which filters and the API take) and how long ago in 秒/分钟.
SQLite only: the words do not depend on the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.services.orders import add_hold, apply_order
from hub.testing.factories import make_order
from tests.integration.test_api_support import client_for, make_hub, new_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _app(hub: Hub) -> httpx.AsyncClient:
    from hub.api import create_app

    return client_for(create_app(hub))  # type: ignore[return-value]


async def _signed_in(client: httpx.AsyncClient, hub: Hub) -> None:
    page = await client.get("/console/login", headers=CHINESE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed = await client.post("/console/login", data={"csrf_token": token.group(1),
                                                       "api_key": await new_key(hub, "admin")})
    assert signed.status_code == 303


async def _held_order(hub: Hub) -> int:
    async with hub.database().transaction() as session:
        result = await apply_order(session, make_order(shop="tb-main", created_at=datetime.now(UTC)), cause="poll")
        await add_hold(session, result.order_id, Hold(code="high_value", reason="total above 70"), cause="audit")
        await add_hold(session, result.order_id, Hold(code="plugin_check", reason="look"), cause="audit")
    return result.order_id


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_order_page_tells_its_story_in_chinese(database_url: str) -> None:
    hub = make_hub(database_url)
    order_id = await _held_order(hub)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get(f"/console/orders/{order_id}", headers=CHINESE)
    assert page.status_code == 200
    history = _text(page.text.split('data-testid="history"')[1].split("</ol>")[0])
    assert "创建" in history and "轮询" in history, "the created event and where it came from, in words"
    assert "挂起" in history and "审单规则" in history
    assert "created" not in history and "hold_added" not in history and "audit" not in history
    fulfilment = page.text.split('data-testid="fulfilment">')[1].split("<")[0]
    assert fulfilment == "未开始"
    holds = _text(page.text.split('data-testid="holds"')[1].split("</section>")[0])
    assert "高金额（high_value）" in holds, "a known hold code in words, with the code beside it"
    assert "plugin_check" in holds, "a plugin's own code as it is"


async def test_the_exceptions_queue_says_how_long_in_chinese(database_url: str) -> None:
    hub = make_hub(database_url)
    await _held_order(hub)
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get("/console/exceptions", headers=CHINESE)
    assert page.status_code == 200
    text = _text(page.text)
    assert "高金额（high_value）" in text
    assert re.search(r"\d+ (秒|分钟)", text), "how long held, in Chinese units"
    assert not re.search(r"\d+ (s|min)\b", text)
