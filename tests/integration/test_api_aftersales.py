"""After-sale cases over the API, on SQLite and PostgreSQL: the list's filters, sorts and cursor
pages; one case in full with the actions allowed now, each marked written back or recorded only;
a case opened in the hub (422 naming the field for a bad line or quantity); the order detail
listing its cases; bad input refused with a reason (bad cursor, unknown status, from after to) and
404 for an unknown case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from contracts import AfterSaleStatus, AfterSaleType, Capability, Money
from contracts.aftersales import AfterSale, AfterSaleAction, AfterSaleLine
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.aftersales import intake
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config

T0 = datetime(2026, 11, 12, tzinfo=UTC)
URL = "/api/v1/aftersales"


class _Settings(BaseModel):
    app_key: str = "k"


class DecidingChannel:
    """A platform that writes back refunds and refusals, nothing else."""

    platform: ClassVar[str] = "fakedecide"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AFTERSALES, Capability.DECIDE_AFTERSALES})
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = frozenset(
        {AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        return []

    async def get_aftersale(self, external_id: str) -> AfterSale:
        raise NotImplementedError

    async def decide_aftersale(self, case: Any, decision: Any) -> Any:
        raise NotImplementedError

    async def aftersale_refuse_reasons(self, case: Any) -> list[Any]:
        return []

    async def aclose(self) -> None:
        return None


class DecidingPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [DecidingChannel]


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    config = hub_config(database_url, shops={"shop-d": {"platform": "fakedecide"}, "shop-t": {"platform": "taobao"}})
    yield Hub(config, build_plugin_manager(extra=[DecidingPlugin()]))
    await dispose_all_for_loop()


async def _order(hub: Hub, shop: str, platform: str, **kwargs: Any) -> tuple[int, Any]:
    order = make_order(platform=platform, shop=shop, **kwargs)
    async with hub.database().transaction() as session:
        return (await orders.apply_order(session, order, cause="test")).order_id, order


async def _case(hub: Hub, order: Any, *, deadline: datetime | None, applied: datetime = T0,
                type: AfterSaleType = AfterSaleType.REFUND_ONLY,
                status: AfterSaleStatus = AfterSaleStatus.REQUESTED, **update: Any) -> int:
    case = make_aftersale(order, type=type, status=status, updated_at=applied)
    case = case.model_copy(update={"deadline": deadline, "created_at": applied, **update})
    async with hub.database().transaction() as session:
        return (await intake.apply_aftersale(session, case, cause="push"))[0]


async def _world(hub: Hub) -> dict[str, int]:
    """Five cases: three of shop-d (deadlines in 1 and 3 days, none), two of shop-t (2 days, closed)."""
    _, o1 = await _order(hub, "shop-d", "fakedecide")
    _, o2 = await _order(hub, "shop-t", "taobao")
    return {
        "d3": await _case(hub, o1, deadline=T0 + timedelta(days=3), applied=T0),
        "d1": await _case(hub, o1, deadline=T0 + timedelta(days=1), applied=T0 + timedelta(hours=1),
                          type=AfterSaleType.RETURN_AND_REFUND),
        "none": await _case(hub, o1, deadline=None, applied=T0 + timedelta(hours=2)),
        "t2": await _case(hub, o2, deadline=T0 + timedelta(days=2), applied=T0 + timedelta(hours=3)),
        "closed": await _case(hub, o2, deadline=T0 + timedelta(hours=1), applied=T0 + timedelta(hours=4),
                              status=AfterSaleStatus.CLOSED),
    }


async def _ids(client: Any, key: str, **params: Any) -> list[int]:
    response = await client.get(URL, params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


async def test_the_list_filters_and_sorts_due_soonest_first_without_deadline_last(hub: Hub) -> None:
    c = await _world(hub)
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        assert await _ids(client, viewer) == [c["closed"], c["d1"], c["t2"], c["d3"], c["none"]]
        assert await _ids(client, viewer, open="true") == [c["d1"], c["t2"], c["d3"], c["none"]]
        assert await _ids(client, viewer, shop="shop-t") == [c["closed"], c["t2"]]
        assert await _ids(client, viewer, platform="fakedecide", type="return_and_refund") == [c["d1"]]
        assert await _ids(client, viewer, status=["closed", "requested"], shop="shop-t") == [c["closed"], c["t2"]]
        assert await _ids(client, viewer, deadline_before=(T0 + timedelta(days=2)).isoformat()) == [
            c["closed"], c["d1"]]
        assert await _ids(client, viewer, applied_from=(T0 + timedelta(hours=1)).isoformat(),
                          applied_to=(T0 + timedelta(hours=3)).isoformat()) == [c["d1"], c["none"]]
        assert await _ids(client, viewer, sort="applied") == [c["closed"], c["t2"], c["none"], c["d1"], c["d3"]]
        first = await _ids(client, viewer, sort="updated")
        assert sorted(first) == sorted(c.values())


@pytest.mark.parametrize("sort", ["due", "applied", "updated"])
async def test_cursor_pages_walk_every_case_once_in_order(hub: Hub, sort: str) -> None:
    c = await _world(hub)
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        whole = await _ids(client, viewer, sort=sort)
        seen: list[int] = []
        cursor = None
        for _ in range(5):
            params: dict[str, Any] = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(URL, params=params, headers=bearer(viewer))).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == whole and len(seen) == len(c)


async def test_bad_input_is_refused_with_a_reason(hub: Hub) -> None:
    await _world(hub)
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        due_page = (await client.get(URL, params={"limit": 1}, headers=bearer(viewer))).json()
        other_sort = await client.get(URL, params={"sort": "applied", "cursor": due_page["next_cursor"]},
                                      headers=bearer(viewer))
        garbage = await client.get(URL, params={"cursor": "nope"}, headers=bearer(viewer))
        status = await client.get(URL, params={"status": "lost"}, headers=bearer(viewer))
        reversed_range = await client.get(URL, params={"applied_from": T0.isoformat(),
                                                       "applied_to": (T0 - timedelta(days=1)).isoformat()},
                                          headers=bearer(viewer))
        sort = await client.get(URL, params={"sort": "cheapest"}, headers=bearer(viewer))
        # Year 1 east of UTC does not exist in UTC: a 422 naming the parameter, not a 500.
        no_such_time = await client.get(URL, params={"deadline_before": "0001-01-01T00:00:00+14:00"},
                                        headers=bearer(viewer))
        no_such_order_time = await client.get("/api/v1/orders", params={"created_to": "9999-12-31T23:00:00-05:00"},
                                              headers=bearer(viewer))
        unknown = await client.get(f"{URL}/999999", headers=bearer(viewer))
        anonymous = await client.get(URL)
    assert other_sort.status_code == 400 and other_sort.json()["field"] == "query.cursor"
    assert garbage.status_code == 400 and garbage.json()["field"] == "query.cursor"
    assert status.status_code == 422 and status.json()["detail"][0]["field"] == "query.status.0"
    assert reversed_range.status_code == 400 and reversed_range.json()["field"] == "query.applied_from"
    assert sort.status_code == 422
    assert no_such_time.status_code == 422 and no_such_time.json()["detail"][0]["field"] == "query.deadline_before"
    assert no_such_order_time.status_code == 422
    assert no_such_order_time.json()["detail"][0]["field"] == "query.created_to"
    assert unknown.status_code == 404 and "999999" in unknown.json()["detail"]
    assert anonymous.status_code == 401


async def test_one_case_in_full_with_what_may_be_decided_and_what_is_written_back(hub: Hub) -> None:
    order_id, order = await _order(hub, "shop-d", "fakedecide", lines=[("SKU-A", 2)])
    case_id = await _case(hub, order, deadline=T0 + timedelta(days=1), reason="broken",
                          description="the handle came off", evidence=["https://img.example/1.jpg"],
                          max_refund=Money(amount="39.80", currency="CNY"), version="7",
                          lines=[AfterSaleLine(merchant_sku="SKU-A", quantity=1,
                                               refund_amount=Money(amount="19.90", currency="CNY"))])
    _, other = await _order(hub, "shop-t", "taobao")
    taobao_case = await _case(hub, other, deadline=None, type=AfterSaleType.EXCHANGE)
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        found = (await client.get(f"{URL}/{case_id}", headers=bearer(viewer))).json()
        elsewhere = (await client.get(f"{URL}/{taobao_case}", headers=bearer(viewer))).json()
    assert found["order_id"] == order_id and found["reason"] == "broken" and found["version"] == "7"
    assert found["description"] == "the handle came off" and found["evidence"] == ["https://img.example/1.jpg"]
    assert Decimal(found["max_refund"]["amount"]) == Decimal("39.80") and found["max_refund"]["currency"] == "CNY"
    assert Decimal(found["refund_amount"]["amount"]) == order.total.amount
    assert [(li["merchant_sku"], li["quantity"]) for li in found["lines"]] == [("SKU-A", 1)]
    assert found["lines"][0]["order_line_id"] is not None
    assert [(h["kind"], h["new_status"]) for h in found["history"]] == [("reported", "requested")]
    assert found["allowed"] == [{"action": "approve_refund", "written_back": True},
                                {"action": "refuse", "written_back": True}]
    assert found["local"] is False and found["decisions"] == []
    # TOP has no exchange write API for Taobao shops: agreeing is recorded only, refusing is written back
    assert [(a["action"], a["written_back"]) for a in elsewhere["allowed"]] == [("agree_exchange", False),
                                                                                 ("refuse", True)]


async def test_a_case_opened_in_the_hub_and_the_order_detail_listing_its_cases(hub: Hub) -> None:
    order_id, order = await _order(hub, "shop-t", "taobao", lines=[("SKU-A", 2), ("SKU-B", 1)])
    platform_case = await _case(hub, order, deadline=T0 + timedelta(days=1))
    operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
    async with api_client(hub) as client:
        detail = (await client.get(f"/api/v1/orders/{order_id}", headers=bearer(viewer))).json()
        line_ids = {li["merchant_sku"]: li["id"] for li in detail["lines"]}
        body = {"order_id": order_id, "type": "exchange", "reason": "agreed by chat: size M",
                "lines": [{"order_line_id": line_ids["SKU-A"], "quantity": 1}]}
        opened = await client.post(URL, json=body, headers=bearer(operator))
        refused = await client.post(URL, json=body, headers=bearer(viewer))
        too_many = await client.post(URL, json={**body, "lines": [{"order_line_id": line_ids["SKU-B"],
                                                                   "quantity": 2}]}, headers=bearer(operator))
        foreign = await client.post(URL, json={**body, "lines": [{"order_line_id": 987654, "quantity": 1}]},
                                    headers=bearer(operator))
        no_order = await client.post(URL, json={**body, "order_id": 987654}, headers=bearer(operator))
        bad_type = await client.post(URL, json={**body, "type": "swap"}, headers=bearer(operator))
        after = (await client.get(f"/api/v1/orders/{order_id}", headers=bearer(viewer))).json()
    assert [c["id"] for c in detail["aftersales"]] == [platform_case]
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["external_id"] == f"hub-{case['id']}" and case["local"] is True
    assert (case["shop"], case["platform"], case["status"], case["type"]) == ("shop-t", "taobao", "requested",
                                                                              "exchange")
    assert [(li["order_line_id"], li["quantity"]) for li in case["lines"]] == [(line_ids["SKU-A"], 1)]
    [opened_event] = case["history"]
    assert opened_event["kind"] == "opened" and opened_event["actor"].endswith(":alice")
    assert [a["action"] for a in case["allowed"]] == ["agree_exchange", "refuse"]
    assert not any(a["written_back"] for a in case["allowed"])
    assert refused.status_code == 403
    assert too_many.status_code == 422 and too_many.json()["field"] == "body.lines[0].quantity"
    assert foreign.status_code == 422 and foreign.json()["field"] == "body.lines[0].order_line_id"
    assert no_order.status_code == 422 and no_order.json()["field"] == "body.order_id"
    assert bad_type.status_code == 422
    assert {c["id"] for c in after["aftersales"]} == {platform_case, case["id"]}
    assert after["aftersales"][0]["id"] == case["id"]  # newest first
