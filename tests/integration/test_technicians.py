"""The technician registry and automatic assignment over the API, on SQLite and PostgreSQL: add,
read and change technicians with their load (open orders; appointments today), a taken code 409, a
bad value 422 naming the field, audited; an order assigned by skill, then region, then load, the
``assign_service_order`` hook overriding the choice (a code not among the candidates ignored), why
nobody fits recorded once and answered as 409; deactivating a technician reassigns their open orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub.context import Hub, set_current_hub
from hub.db import audit
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import OutboxRow, ServiceOrderEventRow, ServiceOrderRow
from hub.pipeline.service_orders_assign import service_order_reassign
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.service_orders import assignment
from hub.testing.api import api_client, bearer, new_key
from hub.testing.hub import hub_config
from hub.testing.service_orders import make_technician, store_service_order, store_technician

URL = "/api/v1/technicians"
NEW_T01 = {"code": "T01", "name": "Wang", "mobile": "13800001111", "skills": ["installation"],
           "regions": ["杭州市"], "work_days": [1, 2, 3, 4, 5], "work_start": "08:30", "work_end": "17:30",
           "daily_capacity": 3}


class Chooser:
    """A plugin that picks ``choice`` (None: lets the hub's rule decide)."""

    choice: str | None = None
    seen: list[list[str]]

    def __init__(self) -> None:
        self.seen = []

    @hookimpl
    def assign_service_order(self, service_order: Any, service_order_id: int, technicians: list[Any]) -> str | None:
        self.seen.append([t.code for t in technicians])
        return self.choice


@pytest.fixture
async def hub_and_plugin(database_url: str) -> AsyncIterator[tuple[Hub, Chooser]]:
    plugin = Chooser()
    yield Hub(hub_config(database_url), build_plugin_manager(extra=[plugin])), plugin
    await dispose_all_for_loop()


async def _order(hub: Hub, **columns: Any) -> int:
    """A service order created in the hub (steps on it are recorded only), in 杭州市 西湖区."""
    async with hub.database().transaction() as session:
        return await store_service_order(session, origin="manual", **columns)


async def _technician(hub: Hub, code: str, **fields: Any) -> int:
    async with hub.database().transaction() as session:
        return await store_technician(session, make_technician(code, **fields))


async def _events(hub: Hub, service_order_id: int) -> list[ServiceOrderEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(ServiceOrderEventRow).where(
            ServiceOrderEventRow.service_order_id == service_order_id).order_by(ServiceOrderEventRow.id))).scalars())


async def _technician_of(hub: Hub, service_order_id: int) -> int | None:
    async with hub.database().session() as session:
        return await session.scalar(select(ServiceOrderRow.technician_id).where(ServiceOrderRow.id == service_order_id))


async def test_registry_over_the_api_with_load_refusals_and_audit(
        hub_and_plugin: tuple[Hub, Chooser]) -> None:
    hub, _ = hub_and_plugin
    service, viewer = bearer(await new_key(hub, "service")), bearer(await new_key(hub, "viewer"))
    async with api_client(hub) as client:
        created = await client.post(URL, json=NEW_T01, headers=service)
        assert created.status_code == 201, created.text
        assert created.json() | {} == {**NEW_T01, "active": True, "open_load": 0, "today_load": 0}
        taken = await client.post(URL, json={**NEW_T01, "name": "Someone else"}, headers=service)
        assert taken.status_code == 409 and "T01" in taken.json()["detail"]
        bad_skill = await client.post(URL, json={**NEW_T01, "code": "T02", "skills": ["plumbing"]}, headers=service)
        assert bad_skill.status_code == 422 and bad_skill.json()["detail"][0]["field"] == "body.skills.0"
        backwards = await client.post(URL, json={**NEW_T01, "code": "T02", "work_start": "18:00"}, headers=service)
        assert backwards.status_code == 422 and backwards.json()["field"] == "body.work_end"
        assert (await client.post(URL, json={**NEW_T01, "code": "T03"}, headers=viewer)).status_code == 403

        t01 = await _technician_of_code(hub, "T01")
        now = datetime.now(UTC)
        await _order(hub, status=ServiceOrderStatus.BOOKED, technician_id=t01, appointment_start=now)
        await _order(hub, status=ServiceOrderStatus.ASSIGNED, technician_id=t01)
        await _order(hub, status=ServiceOrderStatus.COMPLETED, technician_id=t01, appointment_start=now)
        await _order(hub, status=ServiceOrderStatus.CANCELLED, technician_id=t01, appointment_start=now)
        [listed] = (await client.get(URL, headers=viewer)).json()
        assert (listed["open_load"], listed["today_load"]) == (2, 2)  # completed today counts today, not open
        assert listed["mobile"] == "138****1111"  # masked for a viewer

        changed = await client.patch(URL + "/T01", json={"daily_capacity": 5, "regions": []}, headers=service)
        assert changed.status_code == 200 and (changed.json()["daily_capacity"], changed.json()["regions"]) == (5, [])
        bad_day = await client.patch(URL + "/T01", json={"work_days": [1, 8]}, headers=service)
        assert bad_day.status_code == 422 and bad_day.json()["detail"][0]["field"] == "body.work_days.1"
        assert (await client.patch(URL + "/NOPE", json={"name": "x"}, headers=service)).status_code == 404
        assert (await client.get(URL, params={"active": "false"}, headers=viewer)).json() == []
        assert (await client.get(URL + "/T01", headers=service)).json()["mobile"] == "13800001111"
    async with hub.database().session() as session:
        rows = (await audit.list_entries(session, audit.AuditFilters(subject="technician:T01"))).rows
    assert [(r.action, r.details.get("fields")) for r in reversed(rows)] == [
        ("technician.created", None), ("technician.updated", ["daily_capacity", "regions"])]
    assert all("13800001111" not in str(r.details) for r in rows)


async def _technician_of_code(hub: Hub, code: str) -> int:
    from hub.services.service_orders import technicians

    async with hub.database().session() as session:
        return await technicians.id_of(session, code)


async def test_auto_assign_by_skill_region_load_and_the_hook(hub_and_plugin: tuple[Hub, Chooser]) -> None:
    hub, plugin = hub_and_plugin
    a = await _technician(hub, "A", regions=("杭州市",))
    await _technician(hub, "B", regions=("杭州市",))
    await _technician(hub, "P", regions=("浙江省",))
    await _technician(hub, "R", skills=(ServiceOrderType.REPAIR,), regions=())
    await _order(hub, status=ServiceOrderStatus.ASSIGNED, technician_id=a)  # A has one open order
    first, second, third, fourth = [await _order(hub) for _ in range(4)]
    operator = bearer(await new_key(hub, "operator"))
    async with api_client(hub) as client:
        done = await client.post(f"/api/v1/service-orders/{first}/auto-assign", headers=operator)
        assert done.status_code == 200 and done.json() == {"service_order_id": first, "technician": "B"}
        again = await client.post(f"/api/v1/service-orders/{first}/auto-assign", headers=operator)
        assert again.status_code == 409 and "assigned to B already" in again.json()["detail"]
    assert plugin.seen == [["B", "A", "P"]]  # the city before the province, the lighter load first; no repairer
    assert await assignment.auto_assign(hub, second) == "A"  # A and B have one each now: by code

    plugin.choice = "P"
    assert await assignment.auto_assign(hub, third) == "P"
    plugin.choice = "R"  # not a candidate (no installation skill): ignored, the rule decides
    assert await assignment.auto_assign(hub, fourth) == "B"  # A has two open now, B one
    [step] = [e for e in await _events(hub, third) if e.kind == "step"]
    assert (step.actor, step.detail["technician"], step.new_status) == ("hub:auto", "P", "assigned")

    plugin.choice = None
    measure = await _order(hub, kind=ServiceOrderType.MEASURE)
    far = await _order(hub, region_province="江苏省", region_city="南京市", region_district="鼓楼区")
    async with api_client(hub) as client:
        nobody = await client.post(f"/api/v1/service-orders/{measure}/auto-assign", headers=operator)
    assert nobody.status_code == 409 and nobody.json()["detail"] == "no active technician has the skill measure"
    assert await assignment.auto_assign(hub, measure) is None
    assert await assignment.auto_assign(hub, far) is None
    assert [e.detail["why"] for e in await _events(hub, measure)] == ["no active technician has the skill measure"]
    assert [e.detail["why"] for e in await _events(hub, far)] == [
        "no active technician with the skill installation serves 江苏省 / 南京市 / 鼓楼区"]


async def test_deactivating_a_technician_reassigns_their_open_orders(hub_and_plugin: tuple[Hub, Chooser]) -> None:
    hub, _ = hub_and_plugin
    gone = await _technician(hub, "T1")
    stays = await _technician(hub, "T2")
    open_order = await _order(hub)
    assert await assignment.auto_assign(hub, open_order) == "T1"
    closed = await _order(hub, status=ServiceOrderStatus.COMPLETED, technician_id=gone)
    service = bearer(await new_key(hub, "service"))
    async with api_client(hub) as client:
        off = await client.patch(URL + "/T1", json={"active": False}, headers=service)
    assert off.status_code == 200 and (off.json()["active"], off.json()["open_load"]) == (False, 1)
    async with hub.database().session() as session:
        queued = [row.args for row in (await session.execute(
            select(OutboxRow).where(OutboxRow.actor == "service_order_reassign"))).scalars()]
    assert queued == [[open_order]]
    assert await _technician_of(hub, open_order) == gone  # attributed to T1 until someone else takes it

    set_current_hub(hub)
    try:
        for args in queued:
            await service_order_reassign(*args)
        await service_order_reassign(*queued[0])  # delivered twice: a no-op, T2 is active
    finally:
        set_current_hub(None)
    assert (await _technician_of(hub, open_order), await _technician_of(hub, closed)) == (stays, gone)
    steps = [e for e in await _events(hub, open_order) if e.kind == "step"]
    assert [(s.detail["technician"], s.detail["reason"], s.cause) for s in steps] == [
        ("T1", None, "auto"), ("T2", "automatic", "reassign")]
