"""The console's overview and orders screens read what a merchant expects: today is Shanghai's
day, sales per channel with their currency, held orders counted and findable, low stock listed,
bad filter values named on the form again; a viewer limited to a quiet shop sees its newest orders
and only its figures while another shop is busy. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.fulfilment import Hold
from hub.api.queries.overview import overview
from hub.context import Hub
from hub.services.orders import add_hold, apply_order
from hub.services.stock import adjustments, skus
from hub.testing.factories import make_order
from tests.integration.test_api_support import make_hub, new_key
from tests.integration.test_console_auth import _app, _sign_in_with_key

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)  # 11:00 on Double 11 in Shanghai


async def _order(hub: Hub, *, platform: str, created: datetime, price: str = "100.00", held: bool = False) -> int:
    order = make_order(platform=platform, shop=f"{platform}-main", unit_price=price, created_at=created,
                       updated_at=created)
    async with hub.database().transaction() as session:
        result = await apply_order(session, order, cause="poll")
        if held:
            await add_hold(session, result.order_id, Hold(code="address_check", reason="PO box"), cause="system")
    return result.order_id


async def test_overview_counts_the_merchants_day_per_channel_and_hour(database_url: str) -> None:
    hub = make_hub(database_url)
    await _order(hub, platform="taobao", created=NOW - timedelta(hours=2), price="1200.50")  # 09:00 local
    await _order(hub, platform="taobao", created=NOW, held=True)  # 11:00 local
    await _order(hub, platform="douyin", created=NOW - timedelta(hours=1))  # 10:00 local
    await _order(hub, platform="douyin", created=datetime(2026, 11, 10, 15, 59, tzinfo=UTC))  # 23:59 the day before
    async with hub.database().transaction() as session:
        await skus.define_sku(session, "MUG", name="Mug", low_stock_threshold=5)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse="default", merchant_sku="MUG", on_hand=3)],
                                   actor="test", reference="t")
    async with hub.database().session() as session:
        view = await overview(session, zone=SHANGHAI, shops={"taobao-main": "taobao", "idle": "tmall"}, now=NOW)
    assert [(c.platform, c.orders, str(c.sales)) for c in view.channels] == [
        ("douyin", 1, "100.0000"), ("taobao", 2, "1300.5000")]
    assert view.per_hour[9] == 1 and view.per_hour[10] == 1 and view.per_hour[11] == 1 and sum(view.per_hour) == 3
    assert view.held == 1
    assert [(s.merchant_sku, s.available, s.threshold) for s in view.low_stock] == [("MUG", 3, 5)]
    assert [s.shop for s in view.shops] == ["idle", "taobao-main"]


async def test_overview_page_shows_sales_with_currency_and_the_held_link(database_url: str) -> None:
    hub = make_hub(database_url)
    await _order(hub, platform="taobao", created=datetime.now(UTC), price="1234.5", held=True)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "viewer"))
        page = await client.get("/console", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert "¥1,234.50" in page.text and "/console/exceptions#holds" in page.text and "今日订单" in page.text


async def test_orders_screen_filters_by_hold_and_names_a_bad_date(database_url: str) -> None:
    hub = make_hub(database_url)
    held = await _order(hub, platform="taobao", created=NOW, held=True)
    free = await _order(hub, platform="taobao", created=NOW)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "viewer"))
        only_held = await client.get("/console/orders?held=1")
        that_day = await client.get("/console/orders?date=2026-11-11")
        bad = await client.get("/console/orders?date=11/11/2026&status=lost")
    assert f"/console/orders/{held}" in only_held.text and f"/console/orders/{free}" not in only_held.text
    assert f"/console/orders/{held}" in that_day.text and f"/console/orders/{free}" in that_day.text
    assert bad.status_code == 422
    assert 'data-testid="problem-date"' in bad.text and 'data-testid="problem-status"' in bad.text


async def test_a_viewer_of_a_quiet_shop_sees_its_newest_orders_while_another_shop_is_busy(database_url: str) -> None:
    from hub.config import ShopConfig
    from hub.db import api_keys

    hub = make_hub(database_url, quiet=ShopConfig(platform="fake"), busy=ShopConfig(platform="fake"))
    now = datetime.now(UTC)

    async def placed(shop: str, created: datetime, *, held: bool = False) -> int:
        async with hub.database().transaction() as session:
            result = await apply_order(session, make_order(platform="fake", shop=shop, created_at=created,
                                                           updated_at=created), cause="poll")
            if held:
                await add_hold(session, result.order_id, Hold(code="address_check", reason="PO box"), cause="system")
        return result.order_id

    # The quiet shop's orders are a week old, and more than the overview lists; the busy shop's are newer.
    quiet = [await placed("quiet", now - timedelta(days=7, minutes=-n)) for n in range(10)]
    busy = [await placed("busy", now - timedelta(minutes=n), held=n == 0) for n in range(12)]
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name="quiet-viewer", role="viewer", shops=["quiet"])
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        page = (await client.get("/console")).text
    latest = page[page.index('data-testid="latest-orders"'):]
    latest = latest[:latest.index("</ul>")]
    shown = [int(found) for found in re.findall(r'href="/console/orders/(\d+)"', latest)]
    assert shown == list(reversed(quiet))[:8]  # the quiet shop's 8 newest, newest first
    assert not set(shown) & set(busy)
    # The other figures keep to the quiet shop too: none of its orders is today's or held, and only its card shows.
    assert 'data-testid="orders-today">0<' in page and 'data-testid="held-count">0<' in page
    assert "<td>quiet</td>" in page and "<td>busy</td>" not in page
