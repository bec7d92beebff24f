"""Service orders end to end, on SQLite (with the in-process queue) and PostgreSQL (with the real
Redis): a paid Tmall order reaches the hub from the Tmall sandbox; the sandbox issues an
installation work card for it, which arrives over TMC (a trigger the hub completes with
``querybyseller``), is linked to its order and line, typed by the shop's code table and assigned by
the hub to the installer of its district (skill, then the most specific region), the assignment written back
(``workcard.assignworker``); a person reassigns it with a reason, books, checks in and completes it
with the buyer's rating over the API — each step written back once and attributed in its history.
A second card whose TMC message was lost arrives by the safety-net poll (``querybyseller`` over
≤15-minute windows); it was created five hours ago and nobody booked it within the two hours the
shop promises, so the service-level scan flags it overdue (history, ``?overdue=true``), and the
platform's own alert on it raises its alert level.

Everything runs on real HTTP servers with real TOP signatures and real workers (the fulfilment e2e
harness); the test waits by polling the hub's API with generous deadlines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.service_orders import ServiceOrderType
from hub.services.service_orders.settings import SlaHours
from tests.e2e.hub_e2e_support import Backend, backend, eventually
from tests.e2e.test_fulfilment_flow_e2e import Case, Partners, _case, _create_paid_order, _ingested, partners

__all__ = ["backend", "partners"]
pytestmark = pytest.mark.e2e

DEADLINE_S = 90.0
INSTALL_CODE = "TMALL_INSTALL"
TECHNICIANS = [
    {"code": "HZ-INST", "name": "王师傅", "skills": ["installation"], "regions": ["杭州市"], "daily_capacity": 4},
    {"code": "SH-INST", "name": "李师傅", "skills": ["installation"], "regions": ["上海市"], "daily_capacity": 4},
    {"code": "HZ-FIX", "name": "赵师傅", "skills": ["repair"], "regions": ["杭州市"], "daily_capacity": 4},
    {"code": "HZ-INST2", "name": "钱师傅", "skills": ["installation"], "regions": ["西湖区"], "daily_capacity": 4},
]


async def _technicians(case: Case) -> None:
    for body in TECHNICIANS:
        reply = await case.client.post("/api/v1/technicians", json=body)
        assert reply.status_code == 201, reply.text


async def _service_order_of_card(case: Case, card_id: str) -> dict[str, Any]:
    async def listed() -> dict[str, Any]:
        reply = await case.client.get("/api/v1/service-orders", params={"q": card_id})
        assert reply.status_code == 200, reply.text
        items = [i for i in reply.json()["service_orders"] if i["external_id"] == card_id]
        return items[0] if items else {}

    return await eventually(listed, timeout_s=DEADLINE_S, every_s=0.1, what=f"work card {card_id} in the hub")


async def _detail_when(case: Case, so_id: int, check: Any, what: str, every_s: float = 0.1) -> dict[str, Any]:
    async def reached() -> dict[str, Any]:
        reply = await case.client.get(f"/api/v1/service-orders/{so_id}")
        assert reply.status_code == 200, reply.text
        detail: dict[str, Any] = reply.json()
        return detail if check(detail) else {}

    return await eventually(reached, timeout_s=DEADLINE_S, every_s=every_s, what=what)


async def _step(case: Case, so_id: int, action: str, **body: Any) -> dict[str, Any]:
    """Take a step over the API; once every write-back of the order is done (a step taken while an
    earlier one is still being written answers 202 and goes right after it), the outcome."""
    reply = await case.client.post(f"/api/v1/service-orders/{so_id}/{action}", json=body)
    assert reply.status_code in (200, 202), reply.text
    outcome: dict[str, Any] = reply.json()

    async def written() -> bool:
        writes = (await case.client.get(f"/api/v1/service-orders/{so_id}/writes")).json()
        return bool(writes) and all(w["state"] == "done" for w in writes)

    await eventually(written, timeout_s=DEADLINE_S, every_s=0.1, what=f"the {action} written back")
    return outcome


def _card(case: Case, card_id: str) -> dict[str, Any]:
    raw: dict[str, Any] = case.channel.sandbox.workcard_raw(card_id)
    return raw


async def test_installation_work_cards_flow_from_tmall_to_completed_and_late_ones_are_flagged(
        backend: Backend, partners: Partners) -> None:
    async with _case(backend, partners, "tmall", "own") as case:
        settings = case.hub.config.service_orders
        settings.service_codes = {INSTALL_CODE: ServiceOrderType.INSTALLATION}
        settings.sla[ServiceOrderType.INSTALLATION] = SlaHours(contact_hours=2, on_site_hours=24, complete_hours=48)
        await _technicians(case)
        external_id = _create_paid_order(case)
        order_id = await _ingested(case, external_id)
        box = case.channel.sandbox

        # Intake by TMC, linked, typed, auto-assigned by skill then region (the district's installer).
        card_id = box.create_workcard(order_external_id=external_id, merchant_sku=case.sku, service_code=INSTALL_CODE,
                                      city="杭州市", district="西湖区")
        listed = await _service_order_of_card(case, card_id)
        so_id = int(listed["id"])
        assigned = await _detail_when(case, so_id, lambda d: d["status"] == "assigned", "automatic assignment")
        assert assigned["order_id"] == order_id and assigned["type"] == "installation"
        assert assigned["technician"]["code"] == "HZ-INST2"
        assert any(e["kind"] == "reported" and e["cause"] == "message_channel" for e in assigned["history"])
        await eventually(lambda: _async(_card(case, card_id)["service_provider"].get("worker_name") == "钱师傅"),
                         timeout_s=DEADLINE_S, what="the assignment written back")

        # A person reassigns, books, checks in and completes; each step written back once.
        version = assigned["version"]
        moved = await _step(case, so_id, "assign", technician="HZ-INST", reason="钱师傅 is on leave", version=version)
        start = datetime.now(UTC) + timedelta(hours=3)
        moved = await _step(case, so_id, "book", start=start.isoformat(), end=(start + timedelta(hours=2)).isoformat(),
                            version=moved["version"])
        moved = await _step(case, so_id, "check-in", version=moved["version"])
        moved = await _step(case, so_id, "complete", note="installed, tested", rating=5, version=moved["version"])
        done = await _detail_when(case, so_id, lambda d: d["status"] == "completed", "completion")
        assert done["rating"] == 5 and done["technician"]["code"] == "HZ-INST"
        people = [(e["detail"].get("action"), e["actor"]) for e in done["history"] if e["kind"] == "step"]
        assert [a for a, _ in people] == ["assign", "assign", "book", "check_in", "complete"]
        assert people[0][1] == "hub:auto" and all(actor.startswith("apikey:") for _, actor in people[1:])
        assert _card(case, card_id)["gmt_identify"]  # completed at the platform

        # A card whose TMC message was lost, created five hours ago: the poll brings it; nobody booked it
        # within the promised two hours, so it is overdue.
        late_id = box.create_workcard(order_external_id=external_id, merchant_sku=case.sku, service_code=INSTALL_CODE,
                                      city="上海市", district="浦东新区", notify=False,
                                      created_at=datetime.now(UTC) - timedelta(hours=5))
        case.hub.send("poll_service_orders", case.channel.shop)
        late = await _service_order_of_card(case, late_id)
        late_so = int(late["id"])
        def scanned(detail: dict[str, Any]) -> bool:
            # As the leader's scheduler would, every minute (faster here): a scan skips an order
            # another transaction holds (its automatic assignment) and takes it the next time.
            case.hub.send("service_order_sla_scan")
            return bool(detail["sla_state"] == "overdue")

        flagged = await _detail_when(case, late_so, scanned, "the overdue flag", every_s=0.5)
        assert any(e["kind"] == "reported" and e["cause"] == "poll" for e in flagged["history"])
        assert any(e["kind"] == "sla" and e["detail"].get("level") == "overdue" for e in flagged["history"])
        overdue = (await case.client.get("/api/v1/service-orders", params={"overdue": "true"})).json()
        assert [i["id"] for i in overdue["service_orders"]] == [late_so]

        # The platform's own alert raises the card's alert level.
        box.raise_service_alert(late_id, level=3)
        await _detail_when(case, late_so, lambda d: d["alert_level"] == 3, "the platform's alert")


async def _async(value: Any) -> Any:
    return value
