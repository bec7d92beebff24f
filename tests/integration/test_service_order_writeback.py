"""Writing service-order steps back, on SQLite and PostgreSQL: a timeout leaves the step pending
and the retry sends the same key once (an answer lost on the way is applied once); a refusal is
failed with the platform's reason while the step stays taken; a later step waits for an earlier
one still pending (the platform gets them in order) and goes as soon as that one settles; a step
on a hub-created order, or one the platform has no API for, is recorded only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus
from hub.db.tables import utcnow
from hub.services.service_orders import lifecycle, writeback
from hub.services.service_orders.lifecycle import StepRequest
from tests.integration.service_order_steps_support import events, order_row, world, writes

ASSIGN = StepRequest(ServiceOrderAction.ASSIGN, technician_code="T01")
START, END = datetime(2026, 12, 8, 9, 0, tzinfo=UTC), datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


async def test_a_timeout_is_retried_later_with_the_same_key_and_applied_once(database_url: str) -> None:
    with world(database_url) as w:
        await w.technician("T01")
        order_id, card = await w.order()
        w.platform().timeouts = writeback.INLINE_ATTEMPTS
        outcome = await lifecycle.take_step(w.hub, order_id, ASSIGN, actor="user:ann", cause="api")
        assert (outcome.status, outcome.write_state) == (ServiceOrderStatus.ASSIGNED, "pending")
        assert "tried again later" in (outcome.note or "")
        assert w.platform().taken == []
        [pending] = await writes(w.hub, order_id)
        assert (pending.state, pending.attempts) == ("pending", 1)

        # A later step waits for it: the platform gets the steps in the order they were taken.
        booked = await lifecycle.take_step(w.hub, order_id, StepRequest(
            ServiceOrderAction.BOOK, appointment_start=START, appointment_end=END), actor="user:ann", cause="api")
        assert (booked.status, booked.write_state) == (ServiceOrderStatus.BOOKED, "pending")
        assert "waits for the write-back of assign" in (booked.note or "")

        assert await writeback.retry_pending(w.hub) == 0  # not due yet
        w.platform().lost_answers = 1  # taken, but the answer is lost: the same key again is the same step
        # The retry sends the assign; the book that waited for it goes right after it settles.
        assert await writeback.retry_pending(w.hub, now=utcnow() + timedelta(hours=1)) == 1
        assert w.platform().taken == [(card, "assign"), (card, "book")]
        done = await writes(w.hub, order_id)
        assert [(d.state, d.attempts) for d in done] == [("done", 2), ("done", 1)]
        assert done[0].key == pending.key
        assert await writeback.send(w.hub, done[0].id) == "done"  # settled: left alone
        assert len(w.platform().taken) == 2
        kinds = [e.kind for e in await events(w.hub, order_id) if e.kind in ("step", "written_back")]
        assert kinds == ["step", "step", "written_back", "written_back"]


async def test_a_refusal_fails_the_write_back_and_keeps_the_step(database_url: str) -> None:
    with world(database_url) as w:
        await w.technician("T01")
        order_id, _ = await w.order()
        w.platform().refusals = 1
        outcome = await lifecycle.take_step(w.hub, order_id, ASSIGN, actor="user:ann", cause="api")
        assert outcome.write_state == "failed" and "may not write work cards" in (outcome.note or "")
        row = await order_row(w.hub, order_id)
        assert (row.status, row.version, outcome.version) == ("assigned", 2, 2)
        failed = [e for e in await events(w.hub, order_id) if e.kind == "write_failed"]
        assert len(failed) == 1 and "may not write" in failed[0].detail["reason"]
        assert w.platform().taken == []


async def test_steps_the_platform_does_not_take_are_recorded_only(database_url: str) -> None:
    with world(database_url) as w:
        manual_id, _ = await w.order(origin="manual")
        hub_made = await lifecycle.take_step(w.hub, manual_id, StepRequest(ServiceOrderAction.CANCEL, reason="dup"),
                                             actor="user:ann", cause="api")
        assert (hub_made.status, hub_made.write_state) == (ServiceOrderStatus.CANCELLED, "recorded")
        assert "created in the hub" in (hub_made.note or "")

        fail_id, _ = await w.order(shop=w.no_fail_shop)
        no_api = await lifecycle.take_step(w.hub, fail_id, StepRequest(ServiceOrderAction.FAIL, reason="no access"),
                                           actor="user:ann", cause="api")
        assert (no_api.status, no_api.write_state) == (ServiceOrderStatus.FAILED, "recorded")
        assert "no API for fail" in (no_api.note or "")
        for order_id in (manual_id, fail_id):
            assert await writes(w.hub, order_id) == []
            recorded = [e for e in await events(w.hub, order_id) if e.kind == "recorded_only"]
            assert len(recorded) == 1 and recorded[0].actor == "user:ann"
        assert w.platform(w.no_fail_shop).taken == []
        row = await order_row(w.hub, fail_id)
        assert (row.reason, row.closed_at is not None, row.due_at) == ("no access", True, None)
