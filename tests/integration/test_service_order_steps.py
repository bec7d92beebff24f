"""A person's steps on a service order over the API, on SQLite and PostgreSQL: the whole lifecycle
(assign → book → check in → complete) reaches the platform once per step and the history names
who took each; a step on an old page (stale version) or one not allowed now is 409 and changes
nothing; a bad value is 422 naming the field; the write-backs are listed with their states."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.testing.api import api_client, bearer, new_key
from tests.integration.service_order_steps_support import events, order_row, world

STEP_KINDS = ("step", "written_back", "recorded_only", "write_failed")
START, END = datetime(2026, 12, 8, 9, 0, tzinfo=UTC), datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


async def test_the_whole_lifecycle_is_written_back_once_per_step(database_url: str) -> None:
    with world(database_url) as w:
        await w.technician("T01")
        order_id, card = await w.order()
        key = bearer(await new_key(w.hub, "service"))
        base = f"/api/v1/service-orders/{order_id}"
        steps: list[tuple[str, dict[str, object], str]] = [
            ("assign", {"technician": "T01"}, "assigned"),
            ("book", {"start": START.isoformat(), "end": END.isoformat()}, "booked"),
            ("check-in", {}, "on_site"),
            ("complete", {"note": "installed", "rating": 5}, "completed")]
        version = 1
        async with api_client(w.hub) as client:
            for path, body, status in steps:
                answer = await client.post(f"{base}/{path}", json={**body, "version": version}, headers=key)
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == status and answer.json()["write_state"] == "done"
                assert answer.json()["version"] > version
                version = answer.json()["version"]
            listed = await client.get(f"{base}/writes", headers=key)
            assert listed.status_code == 200
            assert [(x["action"], x["state"]) for x in listed.json()] == \
                [("assign", "done"), ("book", "done"), ("check_in", "done"), ("complete", "done")]
            assert (await client.get("/api/v1/service-orders/987654/writes", headers=key)).status_code == 404
        assert w.platform().taken == [(card, "assign"), (card, "book"), (card, "check_in"), (card, "complete")]
        row = await order_row(w.hub, order_id)
        assert (row.status, row.rating, row.completion_note, row.appointment_start) == \
            ("completed", 5, "installed", START)
        assert None not in (row.assigned_at, row.booked_at, row.on_site_at, row.closed_at)
        assert row.sla_state in ("met", "missed") and row.due_at is None
        taken = [e for e in await events(w.hub, order_id) if e.kind == "step"]
        assert [e.detail["action"] for e in taken] == ["assign", "book", "check_in", "complete"]
        assert all(e.actor and e.actor.startswith("apikey:") and e.cause == "api" for e in taken)
        assert taken[0].detail["technician"] == "T01"


async def test_stale_not_allowed_and_bad_values_are_refused_and_change_nothing(database_url: str) -> None:
    with world(database_url) as w:
        await w.technician("T01")
        await w.technician("T02", active=False)
        order_id, _ = await w.order()
        key = bearer(await new_key(w.hub, "operator"))
        base = f"/api/v1/service-orders/{order_id}"
        async with api_client(w.hub) as client:
            first = await client.post(f"{base}/assign", json={"technician": "T01", "version": 1}, headers=key)
            assert first.status_code == 200 and first.json()["version"] > 1
            stale = await client.post(f"{base}/cancel", json={"reason": "dup", "version": 1}, headers=key)
            assert stale.status_code == 409 and "changed since you loaded it" in stale.json()["detail"]
            not_now = await client.post(f"{base}/check-in", headers=key)
            assert not_now.status_code == 409 and "assigned" in not_now.json()["detail"]
            for path, body, field in [
                ("book", {"start": END.isoformat(), "end": START.isoformat()}, "end"),
                ("assign", {"technician": "NOBODY", "reason": "ill"}, "technician"),
                ("assign", {"technician": "T02", "reason": "ill"}, "technician"),
                ("assign", {"technician": "T01"}, "technician"),
            ]:
                bad = await client.post(f"{base}/{path}", json=body, headers=key)
                assert (bad.status_code, bad.json()["field"]) == (422, field), bad.text
            await w.technician("T03")
            no_reason = await client.post(f"{base}/assign", json={"technician": "T03"}, headers=key)
            assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
            naive = await client.post(f"{base}/book", json={"start": "2026-12-08T09:00:00",
                                                            "end": END.isoformat()}, headers=key)
            assert naive.status_code == 422 and naive.json()["detail"][0]["field"] == "body.start"
            assert (await client.post("/api/v1/service-orders/987654/cancel", json={"reason": "x"},
                                      headers=key)).status_code == 404
            viewer = bearer(await new_key(w.hub, "viewer"))
            assert (await client.post(f"{base}/cancel", json={"reason": "x"}, headers=viewer)).status_code == 403
        row = await order_row(w.hub, order_id)
        assert (row.status, row.version, row.appointment_start) == ("assigned", first.json()["version"], None)
        assert [e.kind for e in await events(w.hub, order_id) if e.kind in STEP_KINDS] == ["step", "written_back"]
        assert w.platform().taken == [(w.platform().taken[0][0], "assign")]
