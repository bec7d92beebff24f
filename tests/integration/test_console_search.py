"""The orders screens' search and triage in the console: the one box finds an order by its phone's
last four, a tag made on /console/tags is put on the order from its page and filters the list, the
priority and a hold by hand are saved with the order's history, and a viewer sees no triage forms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.context import Hub, set_current_hub
from hub.services.orders import OrderReport, apply_orders
from hub.testing.api import new_key
from hub.testing.factories import make_order
from tests.integration.test_api_support import make_hub
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

#: The console screens only render what the search query returns
#: (tests/integration/test_order_search.py runs it on both databases): SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    hub = make_hub(database_url)
    set_current_hub(hub)
    yield hub
    set_current_hub(None)


async def _store(hub: Hub) -> int:
    async with hub.database().transaction() as session:
        [result] = await apply_orders(session, [OrderReport(make_order(shop="tb-main"), "push")])
    return result.order_id


async def test_search_tag_prioritise_and_hold_from_the_console(hub: Hub) -> None:
    order_id = await _store(hub)  # phone 13812345678
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "operator", "olga"))).status_code == 303
        found = await client.get("/console/orders", params={"q": "5678"})
        assert f"/console/orders/{order_id}" in found.text and 'data-testid="search-q"' in found.text
        assert f"/console/orders/{order_id}" not in (await client.get("/console/orders", params={"q": "0000"})).text
        bad = await client.get("/console/orders", params={"phone": "12"})
        assert bad.status_code == 422 and 'data-testid="problem-phone"' in bad.text
        tags_page = await client.get("/console/tags")
        made = await client.post("/console/tags", data={"csrf_token": _csrf(tags_page.text), "name": "VIP",
                                                        "colour": "#d97706"})
        assert made.status_code == 303
        page = (await client.get(f"/console/orders/{order_id}")).text
        token = _csrf(page)
        assert (await client.post(f"/console/orders/{order_id}/tags",
                                  data={"csrf_token": token, "tag": "VIP"})).status_code == 303
        assert (await client.post(f"/console/orders/{order_id}/priority",
                                  data={"csrf_token": token, "priority": "4", "reason": ""})).status_code == 303
        assert (await client.post(f"/console/orders/{order_id}/hold",
                                  data={"csrf_token": token, "reason": "call the buyer"})).status_code == 303
        page = (await client.get(f"/console/orders/{order_id}?triaged=held")).text
        assert 'data-testid="order-tag"' in page and "call the buyer" in page
        listed = (await client.get("/console/orders", params={"user_tag": "VIP", "sort": "-priority"})).text
        assert f"/console/orders/{order_id}" in listed and "#d97706" in listed
        assert '<td class="num" data-testid="priority">4</td>' in listed


async def test_a_viewer_sees_no_triage_forms_and_may_not_post_them(hub: Hub) -> None:
    order_id = await _store(hub)
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "viewer", "val"))).status_code == 303
        page = (await client.get(f"/console/orders/{order_id}")).text
        assert 'data-testid="hold-form"' not in page
        refused = await client.post(f"/console/orders/{order_id}/hold", data={"csrf_token": _csrf(page),
                                                                               "reason": "x"})
        assert refused.status_code == 403
