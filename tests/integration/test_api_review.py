"""The review over the API, on SQLite and PostgreSQL: the queue with every reason (filters, cursor
pages), a person's hold and approval (attributed, handed to the flow), releasing the last review
hold through the orders API approving the order, a review run again, and bad input refused with
the field named: unknown order 404, blank reason 422, an order that cannot be reviewed 409."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from contracts import OrderStatus
from hub.context import Hub
from hub.db.tables import OrderEventRow
from hub.services import order_flow
from hub.testing.api import api_client, bearer, new_key
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
)
from tests.integration.review_support import handed_to_flow, paid_orders


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, fulfilment={"review": {"amount_above": "50", "cities": ["杭州"]}})
    await seed(h, "MUG", 100)
    yield h
    await close_hub(h)


async def test_the_queue_lists_held_orders_with_every_reason(hub: Hub) -> None:
    small, big = await paid_orders(hub, [("MUG", 1)], [("MUG", 3)])
    [other_shop] = await paid_orders(hub, [("MUG", 1)], shop="shop-b")
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        page = (await client.get("/api/v1/fulfilment/review", headers=bearer(viewer))).json()
        assert [i["id"] for i in page["items"]] == [small, big, other_shop]
        by_id = {i["id"]: i for i in page["items"]}
        assert [h["code"] for h in by_id[big]["holds"]] == ["review_amount", "review_region"]
        assert by_id[big]["review_status"] == "held" and Decimal(by_id[big]["total"]["amount"]) == Decimal("59.70")
        only_amount = (await client.get("/api/v1/fulfilment/review", params={"code": "review_amount"},
                                        headers=bearer(viewer))).json()
        assert [i["id"] for i in only_amount["items"]] == [big]
        shop_b = (await client.get("/api/v1/fulfilment/review", params={"shop": "shop-b"},
                                   headers=bearer(viewer))).json()
        assert [i["id"] for i in shop_b["items"]] == [other_shop]
        first = (await client.get("/api/v1/fulfilment/review", params={"limit": 2}, headers=bearer(viewer))).json()
        rest = (await client.get("/api/v1/fulfilment/review", params={"limit": 2, "cursor": first["next_cursor"]},
                                 headers=bearer(viewer))).json()
        assert [i["id"] for i in first["items"] + rest["items"]] == [small, big, other_shop]
        assert rest["next_cursor"] is None
        bad_cursor = await client.get("/api/v1/fulfilment/review", params={"cursor": "nope"}, headers=bearer(viewer))
        bad_limit = await client.get("/api/v1/fulfilment/review", params={"limit": 0}, headers=bearer(viewer))
        one = (await client.get(f"/api/v1/orders/{big}/review", headers=bearer(viewer))).json()
    assert bad_cursor.status_code == 400 and bad_cursor.json()["field"] == "query.cursor"
    assert bad_limit.status_code == 422 and bad_limit.json()["detail"][0]["field"] == "query.limit"
    assert one["review_status"] == "held" and one["reviewed_by"] is None
    assert [h["code"] for h in one["holds"]] == ["review_amount", "review_region"]


async def test_a_person_holds_and_approves_attributed(hub: Hub) -> None:
    [order_id] = await paid_orders(hub, [("MUG", 1)])  # held by the city rule
    operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
    async with api_client(hub) as client:
        refused = await client.post(f"/api/v1/orders/{order_id}/approve", headers=bearer(viewer))
        held = await client.post(f"/api/v1/orders/{order_id}/hold", json={"reason": "  buyer  called "},
                                 headers=bearer(operator))
        approved = await client.post(f"/api/v1/orders/{order_id}/approve", headers=bearer(operator))
        again = await client.post(f"/api/v1/orders/{order_id}/approve", headers=bearer(operator))
        queue = (await client.get("/api/v1/fulfilment/review", headers=bearer(operator))).json()
    assert refused.status_code == 403
    assert held.status_code == 200, held.text
    assert {h["code"]: h["reason"] for h in held.json()["holds"]} == {"review_region": held.json()["holds"][0][
        "reason"], "manual": "buyer called"}
    body = approved.json()
    assert approved.status_code == 200 and body["review_status"] == "approved"
    assert sorted(body["released"]) == ["manual", "review_region"] and body["holds"] == []
    assert body["reviewed_by"].endswith(":alice")
    assert again.status_code == 200 and again.json()["released"] == []
    assert queue["items"] == [] and await handed_to_flow(hub) == [[order_id]]
    async with hub.database().session() as session:
        released = (await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == order_id, OrderEventRow.kind == "hold_released"))).scalars().all()
    assert {e.detail["code"] for e in released} == {"manual", "review_region"}
    assert all(e.actor and e.actor.endswith(":alice") for e in released)


async def test_releasing_the_last_review_hold_over_the_api_approves(hub: Hub) -> None:
    [order_id] = await paid_orders(hub, [("MUG", 3)])
    operator = await new_key(hub, "operator", "bob")
    async with api_client(hub) as client:
        for code in ("review_amount", "review_region"):
            answer = await client.post(f"/api/v1/orders/{order_id}/holds/{code}/release", headers=bearer(operator))
            assert answer.status_code == 200, answer.text
            await order_flow.after_hold_released(hub, order_id)  # what the release's follow-up does
        state = (await client.get(f"/api/v1/orders/{order_id}/review", headers=bearer(operator))).json()
    assert state["review_status"] == "approved" and state["reviewed_by"].endswith(":bob")
    assert await handed_to_flow(hub) == [[order_id]]


async def test_review_run_again(hub: Hub) -> None:
    big, small = await paid_orders(hub, [("MUG", 3)], [("MUG", 1)])
    cancelled = await place_order(hub, [("MUG", 1)], status=OrderStatus.CANCELLED)
    operator = await new_key(hub, "operator", "alice")
    async with api_client(hub) as client:
        answer = await client.post("/api/v1/fulfilment/review/run", json={"order_ids": [big, small, cancelled, 10**9]},
                                   headers=bearer(operator))
        empty = await client.post("/api/v1/fulfilment/review/run", json={"order_ids": []}, headers=bearer(operator))
        bad = await client.post("/api/v1/fulfilment/review/run", json={"order_ids": [0]}, headers=bearer(operator))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"approved": [], "held": {str(big): ["review_amount", "review_region"],
                                                      str(small): ["review_region"]},
                             "waiting": [], "skipped": [cancelled], "unknown": [10**9]}
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "body.order_ids"
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"].startswith("body.order_ids")


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/api/v1/orders/999999/approve", None, 404, None),
    ("/api/v1/orders/999999/hold", {"reason": "why"}, 404, None),
    ("/api/v1/orders/{id}/hold", {"reason": "   "}, 422, "body.reason"),
    ("/api/v1/orders/{id}/hold", {"reason": ""}, 422, "body.reason"),
    ("/api/v1/orders/{id}/hold", {"reason": "x" * 501}, 422, "body.reason"),
    ("/api/v1/orders/{id}/hold", {}, 422, "body.reason"),
    ("/api/v1/orders/0/approve", None, 422, "path.order_id"),
    ("/api/v1/orders/{cancelled}/approve", None, 409, None),
    ("/api/v1/orders/{cancelled}/hold", {"reason": "why"}, 409, None),
])
async def test_bad_input_is_refused_naming_the_field(hub: Hub, path: str, body: dict[str, Any] | None, status: int,
                                                     field: str | None) -> None:
    [order_id] = await paid_orders(hub, [("MUG", 1)])
    cancelled = await place_order(hub, [("MUG", 1)], status=OrderStatus.CANCELLED)
    operator = await new_key(hub, "operator")
    async with api_client(hub) as client:
        answer = await client.post(path.format(id=order_id, cancelled=cancelled), json=body,
                                   headers=bearer(operator))
        unknown = await client.get("/api/v1/orders/999999/review", headers=bearer(operator))
    assert answer.status_code == status, answer.text
    if field:
        assert answer.json()["detail"][0]["field"] == field
    assert unknown.status_code == 404
