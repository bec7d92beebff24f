"""The service-order screens through the app in-process, on SQLite and PostgreSQL, for what the
browser test does not walk: a viewer reads a service order but is offered no step and refused one;
a reassignment without a reason, and a step from a page that is out of date, are refused with the
problem beside the form and nothing changed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.service_orders import ServiceOrderStatus
from hub.context import Hub
from hub.services.service_orders import records
from hub.testing.api import new_key
from hub.testing.service_orders import make_technician, store_service_order, store_technician
from tests.integration.inventory_support import close_hub, database, database_url, make_hub  # noqa: F401
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, service_orders={"auto_assign": False})
    yield h
    await close_hub(h)


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str, name: str) -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, name))).status_code == 303


def _hidden(page: str, action: str) -> dict[str, str]:
    found = re.search(rf'data-testid="form-{action}".*?</form>', page, re.S)
    assert found, f"no {action} form on the page"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0)))


async def test_steps_are_refused_to_a_viewer_without_a_reason_to_reassign_and_from_an_old_page(hub: Hub) -> None:
    async with hub.database().transaction() as db:
        first = await store_technician(db, make_technician("T01", name="Wang Wei"))
        await store_technician(db, make_technician("T02", name="Li Na"))
        order_id = await store_service_order(db, status=ServiceOrderStatus.ASSIGNED, technician_id=first)
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer", "val")
        viewed = await client.get(f"/console/service-orders/{order_id}")
        refused = await client.post(f"/console/service-orders/{order_id}/step", data={
            "csrf_token": _csrf(viewed.text), "action": "cancel", "version": "1", "reason": "no"})
    assert viewed.status_code == 200 and 'data-testid="read-only"' in viewed.text
    assert 'data-testid="form-assign"' not in viewed.text
    assert refused.status_code == 403

    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "olga")
        page = (await client.get(f"/console/service-orders/{order_id}")).text
        assert "Reassign" in page and "Li Na (T02)" in page
        no_reason = await client.post(f"/console/service-orders/{order_id}/step",
                                      data={**_hidden(page, "assign"), "technician_code": "T02"})
        stale = await client.post(f"/console/service-orders/{order_id}/step",
                                  data={**_hidden(page, "cancel"), "version": "0", "reason": "buyer moved"})
    assert no_reason.status_code == 422
    assert 'data-testid="problem-assign-reason"' in no_reason.text
    assert stale.status_code == 409 and 'data-testid="problem-cancel"' in stale.text
    async with hub.database().session() as db:
        record = await records.load(db, order_id)
    assert (record.status, record.technician_code, record.version) == (ServiceOrderStatus.ASSIGNED, "T01", 1)
