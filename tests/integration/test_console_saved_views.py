"""Saved views on the orders screen, and the orders list's form: a person saves the filters shown
under a name and gets them back as a link; bad names give the form again naming the field; the
form token guards saving and deleting; nobody deletes (or sees) another person's view unless it
was shared, and only admins share; the API offers the same views. The list's filters survive
paging and a visit to an order. Through the app in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db import api_keys, users
from hub.db.tables import SavedViewRow
from hub.services.orders import add_hold, apply_order
from hub.testing.api import bearer
from hub.testing.factories import make_order
from tests.integration.test_api_support import make_hub, new_key
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)


async def _order(hub: Hub, platform: str, *, hold: str | None = None, minutes: int = 0, sku: str = "TEE-RED-M",
                 buyer: str = "tb_buyer_1") -> int:
    created = NOW + timedelta(minutes=minutes)
    order = make_order(platform=platform, shop=f"{platform}-main", created_at=created, updated_at=created,
                       lines=[(sku, 1)])
    order = order.model_copy(update={"buyer": order.buyer.model_copy(update={"nick": buyer})})
    async with hub.database().transaction() as session:
        result = await apply_order(session, order, cause="poll")
        if hold:
            await add_hold(session, result.order_id, Hold(code=hold, reason="test"), cause="system")
    return result.order_id


async def _views(hub: Hub) -> list[SavedViewRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(SavedViewRow).order_by(SavedViewRow.id))).scalars())


async def _save(client: httpx.AsyncClient, name: str, token: str | None = None, **filters: str) -> httpx.Response:
    if token is None:
        token = _csrf((await client.get("/console/orders")).text)
    return await client.post("/console/orders/views", data={"csrf_token": token, "name": name, **filters})


async def _sign_in_as_user(client: httpx.AsyncClient, hub: Hub, name: str, role: str) -> None:
    async with hub.database().transaction() as session:
        await users.create_user(session, name=name, password=PASSWORD, role=role, created_by="test")
    page = await client.get("/console/login")
    response = await client.post("/console/login", data={"csrf_token": _csrf(page.text), "user": name,
                                                         "password": PASSWORD})
    assert response.status_code == 303


async def test_a_saved_view_comes_back_as_a_link_to_the_same_filtered_list(database_url: str) -> None:
    hub = make_hub(database_url)
    held_tmall = await _order(hub, "tmall", hold="high_value")
    free_tmall = await _order(hub, "tmall", minutes=1)
    held_taobao = await _order(hub, "taobao", hold="high_value", minutes=2)
    key = await new_key(hub, "operator", name="desk-1")
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        shown = await client.get("/console/orders?platform=tmall&held=1")
        saved = await _save(client, "  Held Tmall orders ", _csrf(shown.text), platform="tmall", held="1")
        landing = await client.get(saved.headers["location"])
        elsewhere = await client.get("/console/orders")
        link = re.search(r'href="([^"]+)" data-testid="view-link"', elsewhere.text)
        assert link, elsewhere.text
        followed = await client.get(link.group(1).replace("&amp;", "&"))
    assert saved.status_code == 303
    assert "Saved the view “Held Tmall orders”" in landing.text
    assert "Held Tmall orders</a>" in elsewhere.text
    ids = set(map(int, re.findall(r'href="/console/orders/(\d+)', followed.text)))
    assert ids == {held_tmall}, (free_tmall, held_taobao)
    assert 'aria-current="true">Held Tmall orders' in followed.text.replace("\n", "")
    [view] = await _views(hub)
    assert (view.name, view.filters, view.shared) == ("Held Tmall orders", {"platform": "tmall", "held": "1"}, False)
    assert view.owner == f"key:{api_keys.parse_prefix(key)}" and view.owner_name == "desk-1"


async def test_a_bad_name_gives_the_form_again_naming_the_field_and_stores_nothing_more(database_url: str) -> None:
    hub = make_hub(database_url)
    await _order(hub, "tmall")
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "viewer"))
        first = await _save(client, "Tmall", platform="tmall")
        empty = await _save(client, "   ", platform="tmall")
        long = await _save(client, "x" * 81, platform="tmall")
        twice = await _save(client, "Tmall", platform="tmall", status="paid")
        bad_filter = await _save(client, "Lost", status="lost")
    assert first.status_code == 303
    for response, words in ((empty, "Give the view a name"), (long, "at most 80 characters"),
                            (twice, "already have a view with this name")):
        assert response.status_code == 422
        problem = re.search(r'data-testid="problem-name">([^<]+)<', response.text)
        assert problem and words in problem.group(1)
        assert 'id="f-name" name="name" value="' in response.text  # the form is there again
    assert 'value="Tmall"' in twice.text and 'name="status" value="paid"' in twice.text  # values kept
    assert bad_filter.status_code == 422 and 'data-testid="problem-status"' in bad_filter.text
    assert [v.name for v in await _views(hub)] == ["Tmall"]


async def test_saving_and_deleting_need_the_sessions_form_token(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "operator"))
        forged = await _save(client, "Forged", token="a-token-from-elsewhere", platform="tmall")
        assert (await _save(client, "Mine", platform="tmall")).status_code == 303
        [view] = await _views(hub)
        delete = await client.post(f"/console/orders/views/{view.id}/delete", data={"csrf_token": "stale"})
        still = [v.name for v in await _views(hub)]
        page = await client.get("/console/orders")
        deleted = await client.post(f"/console/orders/views/{view.id}/delete",
                                    data={"csrf_token": _csrf(page.text), "back": "platform=tmall&evil=1"})
    assert forged.status_code == 403 and delete.status_code == 403 and "Nothing was changed" in delete.text
    assert still == ["Mine"] and await _views(hub) == []
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/orders?platform=tmall&deleted=Mine"


async def test_nobody_deletes_anothers_view_and_only_admins_share(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as li, _app(hub) as desk, _app(hub) as boss:
        await _sign_in_as_user(li, hub, "li.wei", "operator")
        await _sign_in_with_key(desk, await new_key(hub, "operator", name="desk-2"))
        await _sign_in_with_key(boss, await new_key(hub, "admin", name="boss"))
        assert (await _save(li, "Li's paid", status="paid")).status_code == 303
        share_refused = await _save(li, "For all", status="paid", shared="1")
        boss_page = await boss.get("/console/orders")
        assert (await boss.post("/console/orders/views", data={
            "csrf_token": _csrf(boss_page.text), "name": "Cancelled", "status": "cancelled", "shared": "1",
        })).status_code == 303
        private, shared = await _views(hub)
        desk_page = await desk.get("/console/orders")
        token = _csrf(desk_page.text)
        not_seen = await desk.post(f"/console/orders/views/{private.id}/delete", data={"csrf_token": token})
        not_theirs = await desk.post(f"/console/orders/views/{shared.id}/delete", data={"csrf_token": token})
        li_page = await li.get("/console/orders")
    assert share_refused.status_code == 403 and "views.share" in share_refused.text
    assert "Li&#39;s paid" not in desk_page.text and "Cancelled</a>" in desk_page.text
    assert "Cancelled</a>" in li_page.text and "Li&#39;s paid</a>" in li_page.text
    assert 'name="shared"' in boss_page.text and 'name="shared"' not in desk_page.text
    assert not_seen.status_code == 404 and not_theirs.status_code == 403
    assert [v.name for v in await _views(hub)] == ["Li's paid", "Cancelled"]
    assert private.owner == "user:li.wei" and shared.shared
    async with _app(hub) as boss:
        await _sign_in_with_key(boss, await new_key(hub, "admin", name="boss-2"))
        page = await boss.get("/console/orders")
        removed = await boss.post(f"/console/orders/views/{shared.id}/delete", data={"csrf_token": _csrf(page.text)})
    assert removed.status_code == 303 and [v.name for v in await _views(hub)] == ["Li's paid"]


async def test_the_api_keeps_the_same_views_per_key(database_url: str) -> None:
    from hub.testing.api import api_client

    hub = make_hub(database_url)
    key, other = await new_key(hub, "operator", name="erp"), await new_key(hub, "viewer")
    async with api_client(hub) as api:
        made = await api.post("/api/v1/orders/views", headers=bearer(key),
                              json={"name": "Held Tmall orders", "filters": {"platform": "tmall", "held": "1"}})
        duplicate = await api.post("/api/v1/orders/views", headers=bearer(key), json={"name": "Held Tmall orders"})
        bad = await api.post("/api/v1/orders/views", headers=bearer(key),
                             json={"name": "x", "filters": {"status": "lost", "colour": "red"}})
        bad_status = await api.post("/api/v1/orders/views", headers=bearer(key),
                                    json={"name": "x", "filters": {"status": "lost"}})
        empty = await api.post("/api/v1/orders/views", headers=bearer(key), json={"name": ""})
        share = await api.post("/api/v1/orders/views", headers=bearer(key), json={"name": "all", "shared": True})
        mine = await api.get("/api/v1/orders/views", headers=bearer(key))
        theirs = await api.get("/api/v1/orders/views", headers=bearer(other))
        not_theirs = await api.delete(f"/api/v1/orders/views/{made.json()['id']}", headers=bearer(other))
    async with _app(hub) as client:
        await _sign_in_with_key(client, key)
        page = await client.get("/console/orders")
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "/console/orders?platform=tmall&held=1" and made.json()["mine"] is True
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "body.name"
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.filters.colour"
    assert bad_status.status_code == 422 and bad_status.json()["detail"][0]["field"] == "body.filters.status"
    assert empty.status_code == 422 and share.status_code == 403
    assert [v["name"] for v in mine.json()] == ["Held Tmall orders"] and theirs.json() == []
    assert not_theirs.status_code == 404
    assert "Held Tmall orders</a>" in page.text  # the key's console session shares the key's views
    async with api_client(hub) as api:
        gone = await api.delete(f"/api/v1/orders/views/{made.json()['id']}", headers=bearer(key))
        orders_still_route = await api.get("/api/v1/orders/1", headers=bearer(key))
    assert gone.status_code == 204 and await _views(hub) == []
    assert orders_still_route.status_code == 404  # /views did not shadow an order's own route


async def test_filters_survive_paging_and_a_visit_to_an_order(database_url: str) -> None:
    hub = make_hub(database_url)
    from hub.console.routes import orders as orders_screen

    ids = [await _order(hub, "tmall", minutes=n, sku="MUG-BLUE" if n % 2 else "TEE-RED-M", buyer=f"tb_{n:03d}")
           for n in range(6)]
    held = await _order(hub, "tmall", hold="stock_short", minutes=10, sku="MUG-BLUE")
    original = orders_screen.PAGE_SIZE
    orders_screen.PAGE_SIZE = 2
    try:
        async with _app(hub) as client:
            await _sign_in_with_key(client, await new_key(hub, "operator"))
            first = await client.get("/console/orders?sku=MUG&platform=tmall")
            next_url = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
            assert next_url
            second = await client.get(next_url.group(1).replace("&amp;", "&"))
    finally:
        orders_screen.PAGE_SIZE = original
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "operator"))
        by_hold = await client.get("/console/orders?hold=stock_short")
        by_buyer = await client.get("/console/orders?buyer=tb_00")
        order = await client.get(f"/console/orders/{ids[1]}?back=sku%3DMUG%26platform%3Dtmall%26x%3Dy")
        held_page = await client.get(f"/console/orders/{held}?back=sku%3DMUG")
        release = await client.post(f"/console/orders/{held}/holds/stock_short/release",
                                     data={"csrf_token": _csrf(held_page.text), "back": "sku=MUG"})
        after_release = await client.get(release.headers["location"])
    listed = [int(i) for i in re.findall(r'<a href="/console/orders/(\d+)\?back=', first.text + second.text)]
    assert sorted(set(listed)) == sorted([held, ids[1], ids[3], ids[5]])
    assert 'name="sku" value="MUG"' in second.text and '<option value="tmall" selected>' in second.text
    assert set(map(int, re.findall(r'href="/console/orders/(\d+)', by_hold.text))) == {held}
    assert len(set(re.findall(r'href="/console/orders/(\d+)', by_buyer.text))) == 6
    assert 'href="/console/orders?platform=tmall&amp;sku=MUG" data-testid="back-to-orders"' in order.text
    assert release.status_code == 303 and "Hold stock_short released" in after_release.text
    assert 'href="/console/orders?sku=MUG" data-testid="back-to-orders"' in after_release.text


async def test_each_bad_filter_is_named_next_to_its_field(database_url: str) -> None:
    hub = make_hub(database_url)
    async with _app(hub) as client:
        await _sign_in_with_key(client, await new_key(hub, "viewer"))
        bad = await client.get("/console/orders", params={"status": "lost", "date": "11/11/2026", "sku": "S" * 201,
                                                          "hold": "h" * 51, "buyer": "li"},
                               headers={"Accept-Language": "zh-CN"})
        cursor = await client.get("/console/orders?cursor=not-ours&status=paid")
    assert bad.status_code == 422
    for field in ("status", "date", "sku", "hold"):
        assert re.search(rf'aria-describedby="problem-{field}"', bad.text), field
        assert f'data-testid="problem-{field}"' in bad.text
    assert "日期格式为 YYYY-MM-DD" in bad.text and 'value="li"' in bad.text  # in the reader's language, kept
    assert 'data-testid="problem-buyer"' not in bad.text
    assert cursor.status_code == 422 and "page link is out of date" in cursor.text
    async with hub.database().session() as session:
        assert await session.scalar(select(func.count()).select_from(SavedViewRow)) == 0


async def test_the_api_lists_orders_still_held_for_a_reason(database_url: str) -> None:
    from hub.services.orders import release_hold
    from hub.testing.api import api_client

    hub = make_hub(database_url)
    short = await _order(hub, "taobao", hold="stock_short")
    released = await _order(hub, "taobao", hold="stock_short", minutes=1)
    await _order(hub, "taobao", hold="high_value", minutes=2)
    async with hub.database().transaction() as session:
        await release_hold(session, released, "stock_short", actor="test")
    key = await new_key(hub, "viewer")
    async with api_client(hub) as api:
        listed = await api.get("/api/v1/orders", params={"hold": "stock_short"}, headers=bearer(key))
    assert listed.status_code == 200 and [o["id"] for o in listed.json()["items"]] == [short]
