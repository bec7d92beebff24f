"""Finding orders: each kind of search (order number, buyer, recipient name, full phone, last four,
the one box) finds the order through keyed hashes — no clear copy of a name or phone is stored for
it —, a caller limited to another shop finds nothing, and every sort pages through all orders once
in its order with keyset cursors (unpaid orders last) — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from contracts.money import Money
from contracts.orders import Address, OrderStatus
from hub.api.queries.orders import OrderFilters, list_orders
from hub.context import Hub, set_current_hub
from hub.db.tables import OrderRow
from hub.services.orders import OrderReport, apply_orders
from hub.services.search.hashing import key_for
from hub.services.search.reindex import reindex
from hub.services.search.terms import quick_search
from hub.testing.factories import make_order
from tests.integration.test_api_support import api, bearer, make_hub, new_key

T0 = datetime(2026, 11, 11, tzinfo=UTC)


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    hub = make_hub(database_url)
    set_current_hub(hub)
    yield hub
    set_current_hub(None)


async def _store(hub: Hub, n: int = 1, *, shop: str = "tb-main", name: str = "王 小明",
                 phone: str = "+86 139-0011-2233", nick: str = "nick-w", external_id: str | None = None) -> list[int]:
    orders = []
    for i in range(n):
        order = make_order(shop=shop, external_id=external_id if n == 1 else None)
        order = order.model_copy(update={
            "shipping_address": Address(name=name, phone=phone, province="浙江省", city="杭州市", street="x路1号"),
            "buyer": order.buyer.model_copy(update={"nick": nick}),
            "paid_at": None if i % 4 == 3 else T0 + timedelta(hours=i % 3),
            "total": Money(amount=Decimal(10 + i % 2), currency="CNY"),
        })
        orders.append(order)
    async with hub.database().transaction() as session:
        results = await apply_orders(session, [OrderReport(o, "push") for o in orders])
    return [r.order_id for r in results]


async def _ids(hub: Hub, key: str, **params: str) -> list[int]:
    async with api(hub) as client:
        response = await client.get("/api/v1/orders", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_each_kind_of_search_finds_the_order_and_only_it(hub: Hub) -> None:
    [wanted] = await _store(hub, external_id="ORDER-777")
    await _store(hub, name="李四", phone="13700004444", nick="nick-other")
    key = await new_key(hub, "viewer")
    for params in ({"order_no": "ORDER-777"}, {"buyer": "nick-w"}, {"recipient": " 王小明 "},
                   {"phone": "13900112233"}, {"phone": "2233"}, {"q": "ORDER-777"}, {"q": "nick-w"},
                   {"q": "王小明"}, {"q": "139 0011 2233"}, {"q": "2233"}):
        assert await _ids(hub, key, **params) == [wanted], params
    assert await _ids(hub, key, q="5555") == []


async def test_hashes_are_stored_and_no_clear_copy_and_reindex_keeps_them(hub: Hub) -> None:
    [order_id] = await _store(hub)
    async with hub.database().session() as session:
        row = (await session.execute(select(OrderRow.recipient_hash, OrderRow.phone_hash, OrderRow.phone_last4_hash)
                                     .where(OrderRow.id == order_id))).one()
    assert all(h and len(h) == 64 for h in row)
    assert not any("2233" in h or "13900112233" in h for h in row)
    async with hub.database().transaction() as session:
        await session.execute(update(OrderRow).values(recipient_hash=None, phone_hash=None, phone_last4_hash=None))
    done = await reindex(hub.database(), key_for(hub.config)[0], batch=1)
    assert done.orders == 1
    key = await new_key(hub, "viewer")
    assert await _ids(hub, key, phone="2233") == [order_id]


async def test_a_caller_limited_to_another_shop_finds_nothing(hub: Hub) -> None:
    [order_id] = await _store(hub, shop="tb-main")
    search = quick_search("2233", key_for(hub.config)[0])
    async with hub.database().session() as session:
        mine = await list_orders(session, OrderFilters(quick=search, shops=frozenset({"tb-main"})))
        theirs = await list_orders(session, OrderFilters(quick=search, shops=frozenset({"jd-other"})))
    assert [r.id for r in mine.rows] == [order_id]
    assert theirs.rows == []


@pytest.mark.parametrize("sort", ["-id", "-paid_at", "paid_at", "-total", "total", "-priority"])
async def test_every_sort_pages_through_all_orders_once_in_order(hub: Hub, sort: str) -> None:
    ids = await _store(hub, 9)
    async with hub.database().transaction() as session:
        await session.execute(update(OrderRow).where(OrderRow.id.in_(ids[:3])).values(priority=5))
    key = await new_key(hub, "viewer")
    seen: list[dict[str, object]] = []
    cursor = None
    async with api(hub) as client:
        while True:
            params = {"sort": sort, "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/orders", params=params, headers=bearer(key))).json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    assert sorted(i["id"] for i in seen) == sorted(ids)
    field, descending = sort.lstrip("-"), sort.startswith("-")
    values = [(i["paid_at"] if field == "paid_at" else Decimal(i["total"]["amount"]) if field == "total"
               else i[field]) for i in seen]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    assert values[len(present):] == [None] * (len(values) - len(present))  # unpaid last


async def test_a_cursor_of_another_sort_is_refused_naming_the_field(hub: Hub) -> None:
    await _store(hub, 3)
    key = await new_key(hub, "viewer")
    async with api(hub) as client:
        first = (await client.get("/api/v1/orders", params={"sort": "-total", "limit": "1"},
                                  headers=bearer(key))).json()
        wrong = await client.get("/api/v1/orders", params={"sort": "total", "cursor": first["next_cursor"]},
                                 headers=bearer(key))
        bad_sort = await client.get("/api/v1/orders", params={"sort": "name"}, headers=bearer(key))
    assert wrong.status_code == 400 and "query.cursor" in wrong.text
    assert bad_sort.status_code == 400 and "query.sort" in bad_sort.text


async def test_status_filter_still_combines_with_search(hub: Hub) -> None:
    [order_id] = await _store(hub)
    key = await new_key(hub, "viewer")
    assert await _ids(hub, key, q="2233", status=OrderStatus.PAID.value) == [order_id]
    assert await _ids(hub, key, q="2233", status=OrderStatus.SHIPPED.value) == []
