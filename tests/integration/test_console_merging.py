"""The merge screen and the order's merging panel through the app in-process, on SQLite and
PostgreSQL: a viewer is offered no merge and refused one, a stale form or bad ids change nothing,
an operator's merge and "ship alone" are attributed, the API's 422 reads as a page, the panel
answers 404 for an unknown order."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import FulfilmentPlanRow
from hub.plugins import build_plugin_manager
from hub.testing.api import new_key
from hub.testing.hub import hub_config
from hub.testing.merging_factories import approved_order
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

PAGE = "/console/fulfilment/merges"


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str, name: str | None = None) -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, name))).status_code == 303


async def _post(client: httpx.AsyncClient, data: dict[str, Any]) -> httpx.Response:
    token = _csrf((await client.get(PAGE)).text)
    return await client.post(PAGE, data={"csrf_token": token, **data})


async def _plans(hub: Hub) -> list[tuple[int, str, str | None]]:
    async with hub.database().session() as session:
        return [tuple(r) for r in (await session.execute(select(  # type: ignore[misc]
            FulfilmentPlanRow.order_id, FulfilmentPlanRow.kind, FulfilmentPlanRow.created_by).order_by(
            FulfilmentPlanRow.order_id))).all()]


async def test_merge_screen_roles_forms_and_attribution(database_url: str) -> None:
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        c = await approved_order(session, buyer="b2", street="别处1号")
        d = await approved_order(session, buyer="b2", street="别处1号")
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer")
        page = await client.get(PAGE)
        assert page.status_code == 200 and f'data-testid="proposal-{a}"' in page.text
        assert f'data-testid="merge-{a}"' not in page.text
        refused = await _post(client, {"order_ids": f"{a},{b}"})
        assert refused.status_code == 403
        panel = await client.get(f"/console/orders/{a}/panel/merging")
        assert panel.status_code == 200 and 'data-testid="no-interception"' in panel.text
        assert (await client.get("/console/orders/99999/panel/merging")).status_code == 404

        await _signed_in(client, hub, "operator", "bob")
        stale = await client.post(PAGE, data={"csrf_token": "old", "order_ids": f"{a},{b}"})
        assert stale.status_code == 403
        bad = await _post(client, {"order_ids": "1,two"})
        assert bad.status_code == 400
        mismatch = await _post(client, {"order_ids": f"{a},{c}"})
        assert mismatch.status_code == 422 and "force" in mismatch.text
        assert await _plans(hub) == []
        merged = await _post(client, {"order_ids": f"{a},{b}"})
        assert merged.status_code == 303 and "merged=" in merged.headers["location"]
        alone = await _post(client, {"order_ids": f"{c},{d}", "alone": "1"})
        assert alone.status_code == 303
        done = await client.get(merged.headers["location"])
        assert f"Orders {a} {b} merged into one delivery." in done.text
        panel = await client.get(f"/console/orders/{a}/panel/merging")
        assert f'href="/console/orders/{b}"' in panel.text
    plans = await _plans(hub)
    assert [(o, k) for o, k, _ in plans] == [(a, "merge"), (b, "merge"), (c, "separate"), (d, "separate")]
    assert all(who is not None and who.endswith(":bob") for _, _, who in plans)
