"""User tags, priority and manual holds: created and attached over the API, shown on the order with
their colours, filtered by, written to the order's history with who did it; a manual hold stops the
order like any hold and is released the ordinary way; a viewer may do none of it; batch actions
refuse another shop's orders as not found — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.api.auth import Principal
from hub.context import Hub
from hub.db.tables import OrderEventRow
from hub.services.batch.registry import load_actions, parse_params
from hub.services.orders import OrderReport, apply_orders
from hub.testing.factories import make_order
from tests.integration.test_api_support import api, bearer, make_hub, new_key


@pytest.fixture
def hub(database_url: str) -> Hub:
    return make_hub(database_url)


async def _store(hub: Hub, shop: str = "tb-main") -> int:
    async with hub.database().transaction() as session:
        [result] = await apply_orders(session, [OrderReport(make_order(shop=shop), "push")])
    return result.order_id


async def _history(hub: Hub, order_id: int) -> list[tuple[str, str | None, dict[str, object]]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderEventRow).where(OrderEventRow.order_id == order_id)
                                      .order_by(OrderEventRow.id))).scalars().all()
    return [(e.kind, e.actor, dict(e.detail or {})) for e in rows]


async def test_tag_an_order_see_it_with_its_colour_filter_by_it_and_untag(hub: Hub) -> None:
    order_id, other = await _store(hub), await _store(hub)
    key = bearer(await new_key(hub, "operator", "ops"))
    async with api(hub) as client:
        created = await client.post("/api/v1/tags", json={"name": "VIP", "colour": "#D97706"}, headers=key)
        assert created.status_code == 201, created.text
        assert (await client.post("/api/v1/tags", json={"name": "VIP"}, headers=key)).status_code == 409
        bad = await client.post("/api/v1/tags", json={"name": "x", "colour": "orange"}, headers=key)
        assert bad.status_code == 400 and "colour" in bad.text
        tagged = await client.post(f"/api/v1/orders/{order_id}/tags", json={"tag": "VIP"}, headers=key)
        assert tagged.json()["user_tags"][0] == {"name": "VIP", "colour": "#d97706", "description": "", "orders": 0}
        detail = (await client.get(f"/api/v1/orders/{order_id}", headers=key)).json()
        assert detail["user_tags"] == [{"name": "VIP", "colour": "#d97706", "description": ""}]
        listed = (await client.get("/api/v1/orders", params={"user_tag": "VIP"}, headers=key)).json()
        assert [i["id"] for i in listed["items"]] == [order_id]
        recoloured = await client.patch("/api/v1/tags/VIP", json={"colour": "#2563eb"}, headers=key)
        assert recoloured.json()["colour"] == "#2563eb"
        tags = (await client.get("/api/v1/tags", headers=key)).json()
        assert tags == [{"name": "VIP", "colour": "#2563eb", "description": "", "orders": 1}]
        untagged = await client.delete(f"/api/v1/orders/{order_id}/tags/VIP", headers=key)
        assert untagged.json()["user_tags"] == []
        missing = await client.post(f"/api/v1/orders/{other}/tags", json={"tag": "nope"}, headers=key)
        assert missing.status_code == 404
        assert (await client.delete("/api/v1/tags/VIP", headers=key)).status_code == 204
    history = await _history(hub, order_id)
    assert [(k, d) for k, _, d in history if k in ("tagged", "untagged")] == [
        ("tagged", {"tag": "VIP"}), ("untagged", {"tag": "VIP"})]
    assert all(a and a.endswith(":ops") for k, a, _ in history if k in ("tagged", "untagged"))


async def test_priority_and_manual_hold_are_recorded_and_the_hold_releases_the_ordinary_way(hub: Hub) -> None:
    order_id = await _store(hub)
    key = bearer(await new_key(hub, "operator", "ops"))
    async with api(hub) as client:
        high = await client.post(f"/api/v1/orders/{order_id}/priority", json={"priority": 7, "reason": "VIP"},
                                 headers=key)
        assert high.json() == {"order_id": order_id, "priority": 7, "on_hold": False, "changed": True}
        assert (await client.post(f"/api/v1/orders/{order_id}/priority", json={"priority": 10},
                                  headers=key)).status_code == 422
        no_reason = await client.post(f"/api/v1/orders/{order_id}/hold", json={"reason": ""}, headers=key)
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        held = await client.post(f"/api/v1/orders/{order_id}/hold", json={"reason": "buyer asked to wait"},
                                 headers=key)
        assert [h["code"] for h in held.json()["holds"]] == ["manual"]
        listed = (await client.get("/api/v1/orders", params={"on_hold": "true", "priority_min": "5"},
                                   headers=key)).json()
        assert [i["id"] for i in listed["items"]] == [order_id]
        detail = (await client.get(f"/api/v1/orders/{order_id}", headers=key)).json()
        assert [(h["code"], h["reason"]) for h in detail["holds"]] == [("manual", "buyer asked to wait")]
        released = await client.post(f"/api/v1/orders/{order_id}/holds/manual/release", headers=key)
        assert released.status_code == 200
        assert (await client.get(f"/api/v1/orders/{order_id}", headers=key)).json()["on_hold"] is False
    kinds = [(k, d) for k, _, d in await _history(hub, order_id) if k in ("priority_changed", "hold_added",
                                                                           "hold_released")]
    assert kinds == [("priority_changed", {"from": 0, "to": 7, "reason": "VIP"}),
                     ("hold_added", {"code": "manual", "reason": "buyer asked to wait"}),
                     ("hold_released", {"code": "manual"})]


async def test_a_viewer_may_not_tag_prioritise_hold_or_manage_tags(hub: Hub) -> None:
    order_id = await _store(hub)
    key = bearer(await new_key(hub, "viewer"))
    async with api(hub) as client:
        for method, url, body in (("post", "/api/v1/tags", {"name": "VIP"}),
                                  ("post", f"/api/v1/orders/{order_id}/tags", {"tag": "VIP"}),
                                  ("post", f"/api/v1/orders/{order_id}/priority", {"priority": 1}),
                                  ("post", f"/api/v1/orders/{order_id}/hold", {"reason": "x"})):
            response = await client.request(method.upper(), url, json=body, headers=key)
            assert response.status_code == 403, (url, response.text)
        assert (await client.get("/api/v1/tags", headers=key)).status_code == 200


async def test_batch_actions_apply_to_visible_orders_and_refuse_another_shops_as_not_found(hub: Hub) -> None:
    mine, theirs = await _store(hub, "tb-main"), await _store(hub, "jd-other")
    principal = Principal(key_id=1, name="ops", prefix="p", role="operator", shops=frozenset({"tb-main"}))
    actions = load_actions()
    async with hub.database().transaction() as session:
        from hub.services.search.tags import create_tag

        await create_tag(session, "VIP", actor="test")
        outcomes = {}
        for name, raw in (("tag", {"tag": "VIP"}), ("set_priority", {"priority": 3}), ("hold", {"reason": "check"})):
            action = actions[name]
            outcomes[name] = await action.handler(session, hub, [mine, theirs, 999999],
                                                  parse_params(action, raw), principal)
    for name, result in outcomes.items():
        assert result[mine].ok, name
        assert not result[theirs].ok and result[theirs].message == "not found"
        assert not result[999999].ok
    key = bearer(await new_key(hub, "viewer"))
    async with api(hub) as client:
        listed = (await client.get("/api/v1/orders", params={"user_tag": "VIP", "on_hold": "true",
                                                              "sort": "-priority"}, headers=key)).json()
    assert [(i["id"], i["priority"]) for i in listed["items"]] == [(mine, 3)]


async def test_the_review_queue_puts_higher_priority_first_then_the_oldest_and_pages_in_that_order(hub: Hub) -> None:
    first, second, third = [await _store(hub) for _ in range(3)]
    key = bearer(await new_key(hub, "operator", "ops"))
    async with api(hub) as client:
        for order_id in (first, second, third):
            assert (await client.post(f"/api/v1/orders/{order_id}/hold", json={"reason": "check stock"},
                                      headers=key)).status_code == 200
        assert (await client.post(f"/api/v1/orders/{third}/priority", json={"priority": 5, "reason": "VIP"},
                                  headers=key)).status_code == 200
        seen: list[int] = []
        cursor = None
        while True:
            page = (await client.get("/api/v1/fulfilment/review", params={"limit": 1, **(
                {"cursor": cursor} if cursor else {})}, headers=key)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    assert seen == [third, first, second]
