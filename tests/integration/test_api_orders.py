"""``/api/v1/orders``: every filter narrows the list as a merchant expects, pagination walks all
orders exactly once newest first, and the detail shows lines, holds, history and sources with the
buyer's data masked unless the key's role may see it — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import OrderStatus
from hub.context import Hub
from hub.db.tables import InboxRow, OrderEventRow, OrderHoldRow, OrderLineRow, OrderRow
from hub.testing.factories import make_order
from tests.integration.test_api_support import api, bearer, make_hub, new_key

T0 = datetime(2026, 11, 11, tzinfo=UTC)


async def _insert(
    hub: Hub,
    *,
    shop: str = "tb-main",
    platform: str = "taobao",
    status: OrderStatus = OrderStatus.PAID,
    created: datetime = T0,
    paid: datetime | None = T0,
    nick: str = "nick-a",
    skus: tuple[str, ...] = ("SKU-1",),
    tags: tuple[str, ...] = (),
) -> int:
    order = make_order(platform=platform, shop=shop, status=status, lines=[(s, 1) for s in skus], tags=list(tags))
    order = order.model_copy(update={"created_at": created, "paid_at": paid})
    async with hub.database().transaction() as session:
        row = OrderRow(
            platform=platform, shop=shop, external_id=order.ref.external_id, status=status.value,
            raw_status=order.raw_status, channel_created_at=created, channel_updated_at=created, paid_at=paid,
            total_amount=order.total.amount, currency="CNY", buyer_nick=nick, data=order.model_dump(mode="json"),
            tags=list(tags),
        )
        session.add(row)
        await session.flush()
        for line in order.lines:
            session.add(OrderLineRow(order_id=row.id, external_id=line.external_id, merchant_sku=line.merchant_sku,
                                     channel_item_id=line.channel_item_id, channel_sku_id=line.channel_sku_id,
                                     title=line.title, quantity=line.quantity, unit_price=line.unit_price.amount))
        return row.id


@pytest.fixture
def hub(database_url: str) -> Hub:
    return make_hub(database_url)


async def _ids(hub: Hub, key: str, **params: str | list[str]) -> list[int]:
    async with api(hub) as client:
        response = await client.get("/api/v1/orders", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_each_filter_selects_the_matching_orders(hub: Hub) -> None:
    a = await _insert(hub, shop="tb-main", status=OrderStatus.PAID, nick="alice", skus=("SKU-1",), tags=("vip",))
    b = await _insert(hub, shop="dy-main", platform="douyin", status=OrderStatus.SHIPPED, nick="bob",
                      skus=("SKU-2", "SKU-3"), created=T0 + timedelta(days=1), paid=T0 + timedelta(days=1))
    c = await _insert(hub, shop="tb-main", status=OrderStatus.PENDING_PAYMENT, nick="alice", skus=("SKU-3",),
                      created=T0 + timedelta(days=2), paid=None, tags=("gift", "vip-plus"))
    key = await new_key(hub, "viewer")
    assert await _ids(hub, key) == [c, b, a]
    assert await _ids(hub, key, status="paid") == [a]
    assert await _ids(hub, key, status=["paid", "shipped"]) == [b, a]
    assert await _ids(hub, key, platform="douyin") == [b]
    assert await _ids(hub, key, shop="tb-main") == [c, a]
    assert await _ids(hub, key, buyer="alice") == [c, a]
    assert await _ids(hub, key, sku="SKU-3") == [c, b]
    assert await _ids(hub, key, tag="vip") == [a], "tags match exactly, not as substrings"
    assert await _ids(hub, key, created_from="2026-11-12T00:00:00+00:00") == [c, b]
    assert await _ids(hub, key, created_to="2026-11-12T00:00:00+00:00") == [a]
    # 2026-11-12 00:00 UTC is 08:00 in Beijing: offsets are honoured, not dropped.
    assert await _ids(hub, key, created_from="2026-11-12T08:00:00+08:00", created_to="2026-11-13T00:00:00Z") == [b]
    assert await _ids(hub, key, paid_from="2026-11-11T12:00:00Z") == [b]
    assert await _ids(hub, key, paid_to="2026-11-11T12:00:00Z") == [a]
    assert await _ids(hub, key, shop="tb-main", sku="SKU-3", buyer="alice") == [c]


async def test_cursor_pagination_returns_every_order_once_newest_first(hub: Hub) -> None:
    ids = [await _insert(hub, created=T0 + timedelta(minutes=i)) for i in range(7)]
    key = await new_key(hub, "viewer")
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    async with api(hub) as client:
        while True:
            params: dict[str, str] = {"limit": "3"}
            if cursor:
                params["cursor"] = cursor
            body = (await client.get("/api/v1/orders", params=params, headers=bearer(key))).json()
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
            # An order arriving mid-walk must not shift the pages already being read.
            if pages == 1:
                await _insert(hub)
    assert seen == sorted(ids, reverse=True) and pages == 3


async def test_a_forged_cursor_is_400_naming_the_cursor(hub: Hub) -> None:
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        response = await client.get("/api/v1/orders", params={"cursor": "bm90LW91cnM"}, headers=bearer(key))
    assert response.status_code == 400 and response.json()["field"] == "query.cursor"


async def test_list_items_carry_money_as_decimal_strings_and_big_ids_as_strings(hub: Hub) -> None:
    await _insert(hub)
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        item = (await client.get("/api/v1/orders", headers=bearer(key))).json()["items"][0]
    assert item["total"] == {"amount": "19.9000", "currency": "CNY"} or item["total"]["amount"] in ("19.90", "19.9")
    assert isinstance(item["external_id"], str) and int(item["external_id"]) > 2**53
    assert "phone" not in str(item) and "张三" not in str(item)


async def _story(hub: Hub) -> int:
    order_id = await _insert(hub)
    async with hub.database().transaction() as session:
        inbox = InboxRow(platform="taobao", shop="tb-main", message_id="tmc-1", source="message_channel",
                         kind="order", topic="taobao_trade_TradeBuyerPay", external_id="x", payload={},
                         status="done")
        session.add(inbox)
        await session.flush()
        session.add_all([
            OrderEventRow(order_id=order_id, at=T0, kind="created", new_status="pending_payment",
                          cause="message_channel", inbox_id=inbox.id, detail={}),
            OrderEventRow(order_id=order_id, at=T0 + timedelta(minutes=1), kind="status_changed",
                          old_status="pending_payment", new_status="paid", cause="poll", inbox_id=None,
                          detail={"receiver_mobile": "13812345678"}),
            OrderHoldRow(order_id=order_id, code="high_value", reason="total above 5000 CNY"),
        ])
    return order_id


@pytest.mark.parametrize(("role", "masked"), [("admin", False), ("service", False), ("operator", True),
                                              ("warehouse", True), ("viewer", True)])
async def test_detail_masks_buyer_data_unless_the_role_may_see_it(hub: Hub, role: str, masked: bool) -> None:
    order_id = await _story(hub)
    key = await new_key(hub, role)
    async with api(hub) as client:
        response = await client.get(f"/api/v1/orders/{order_id}", headers=bearer(key))
    assert response.status_code == 200
    body = response.json()
    assert body["pii_masked"] is masked
    if masked:
        assert "13812345678" not in response.text and "文一西路" not in response.text and "张三" not in response.text
        assert body["order"]["shipping_address"]["phone"] == "138****5678"
        assert body["order"]["shipping_address"]["city"] == "杭州市", "regions stay visible for routing questions"
    else:
        assert body["order"]["shipping_address"]["phone"] == "13812345678"
        assert body["order"]["buyer"]["name"] == "张三"


async def test_detail_shows_lines_holds_history_in_order_and_source_events(hub: Hub) -> None:
    order_id = await _story(hub)
    key = await new_key(hub, "admin")
    async with api(hub) as client:
        body = (await client.get(f"/api/v1/orders/{order_id}", headers=bearer(key))).json()
    assert [line["merchant_sku"] for line in body["lines"]] == ["SKU-1"]
    assert [(h["code"], h["released_at"]) for h in body["holds"]] == [("high_value", None)]
    assert [(e["kind"], e["old_status"], e["new_status"], e["cause"]) for e in body["history"]] == [
        ("created", None, "pending_payment", "message_channel"),
        ("status_changed", "pending_payment", "paid", "poll"),
    ]
    (source,) = body["source_events"]
    assert source["topic"] == "taobao_trade_TradeBuyerPay" and source["source"] == "message_channel"
    assert source["id"] == body["history"][0]["inbox_id"] and source["received_at"]
