"""Deciding after-sale cases, on SQLite and PostgreSQL, against the fake after-sales channel: each
decision written back once and the case moved by the platform's report; a repeated key does
nothing again; a timeout leaves the decision pending and the retry (same key) takes it once; a
platform that moved on answers a conflict with its current case and nothing changes in the hub;
an amount above what was paid is refused naming the field; a decision the platform has no API
for is recorded in the hub only; and the checks (allowed now, reason, return address)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from contracts import AfterSaleStatus, AfterSaleType
from hub.db.tables import utcnow
from hub.errors import BadInputError, NotFoundError
from hub.services.aftersales import decisions
from hub.services.aftersales.decisions import CaseConflictError, DecisionIn
from tests.integration.aftersales_decisions_support import actions, case_row, events, fast_retries, world


async def test_approving_a_refund_writes_it_back_once_and_the_case_follows_the_platform(database_url: str) -> None:
    with world(database_url) as w:
        _order_id, order = await w.order([("SKU-1", 2)])
        case_id, case = await w.case(order)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="alice")
        assert (outcome.state, outcome.written_back, outcome.status) == ("done", True, "refunding")
        platform = w.platform(w.shop)
        assert platform.taken(case.ref.external_id) == ["approve_refund"]
        sent = platform.decisions[0]
        assert sent.refund_amount == order.total and sent.version == "1"
        row = await case_row(w.hub, case_id)
        assert row.status == "refunding" and row.decided_by == "alice"
        [action] = await actions(w.hub, case_id)
        assert (action.state, action.actor, action.attempts) == ("done", "alice", 1)
        kinds = [(e.kind, e.actor) for e in await events(w.hub, case_id)]
        assert ("decided", "alice") in kinds and ("written_back", "alice") in kinds


async def test_the_same_key_twice_decides_once(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, _case = await w.case(order)
        first = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="alice", key="k-1")
        again = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="bob", key="k-1")
        assert again.repeated and again.action_id == first.action_id and again.state == "done"
        assert len(w.platform(w.shop).calls) == 1
        assert len(await actions(w.hub, case_id)) == 1
        # Without a key, the same decision again after the case moved is not allowed any more.
        case2_id, case2 = await w.case(order)
        await decisions.decide(w.hub, case2_id, DecisionIn(action="refuse", reason_id="R2"), actor="alice")
        with pytest.raises(BadInputError) as again_refused:
            await decisions.decide(w.hub, case2_id, DecisionIn(action="refuse", reason_id="R2"), actor="alice")
        assert again_refused.value.field == "action"
        assert w.platform(w.shop).taken(case2.ref.external_id) == ["refuse"]


async def test_a_timeout_leaves_the_decision_pending_and_the_retry_takes_it_once(database_url: str) -> None:
    with world(database_url) as w, fast_retries():
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order)
        platform = w.platform(w.shop)
        platform.lost_answers = 1  # the platform applies it, the answer is lost...
        platform.timeouts = 2  # ...and the two inline retries time out
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="alice")
        assert outcome.state == "pending" and outcome.status == "requested"
        [pending] = await actions(w.hub, case_id)
        assert pending.state == "pending" and pending.attempts == 1 and pending.next_attempt_at is not None
        assert await decisions.retry_pending(w.hub) == 0  # not due yet
        with pytest.raises(CaseConflictError) as busy:  # one decision at a time
            await decisions.decide(w.hub, case_id, DecisionIn(action="refuse", reason_id="R1"), actor="bob")
        assert "still being written back" in str(busy.value)
        assert await decisions.retry_pending(w.hub, at=utcnow() + timedelta(hours=2)) == 1
        [done] = await actions(w.hub, case_id)
        assert done.state == "done" and done.attempts == 2
        keys = {key for _, _, key in platform.calls}
        assert keys == {pending.key}  # the same key on every attempt
        assert platform.taken(case.ref.external_id) == ["approve_refund"]  # applied once
        assert (await case_row(w.hub, case_id)).status == "refunding"


async def test_retries_give_up_after_the_configured_attempts(database_url: str) -> None:
    with world(database_url) as w, fast_retries():
        w.hub.config.aftersales.writeback_max_attempts = 2
        _, order = await w.order([("SKU-1", 1)])
        case_id, _ = await w.case(order)
        w.platform(w.shop).timeouts = 6
        assert (await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="a")).state == \
            "pending"
        await decisions.retry_pending(w.hub, at=utcnow() + timedelta(hours=2))
        [action] = await actions(w.hub, case_id)
        assert action.state == "failed" and "gave up after 2 attempts" in (action.error or "")
        assert "writeback_failed" in [e.kind for e in await events(w.hub, case_id)]


async def test_a_case_the_platform_moved_on_is_a_conflict_and_nothing_changes(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order)
        w.platform(w.shop).move(case.ref.external_id, AfterSaleStatus.CLOSED)  # the buyer withdrew
        before = await case_row(w.hub, case_id)
        with pytest.raises(CaseConflictError) as raised:
            await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="alice")
        assert raised.value.current is not None and raised.value.current["status"] == "closed"
        after = await case_row(w.hub, case_id)
        assert (after.status, after.data) == (before.status, before.data)
        [action] = await actions(w.hub, case_id)
        assert action.state == "failed"
        assert w.platform(w.shop).taken(case.ref.external_id) == []


async def test_an_amount_above_what_was_paid_is_refused_naming_refund_amount(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 2)])  # 2 × 19.90
        case_id, _ = await w.case(order)
        with pytest.raises(BadInputError) as raised:
            await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund",
                                                              refund_amount=Decimal("39.81")), actor="alice")
        assert raised.value.field == "refund_amount" and "39.80" in str(raised.value)
        assert await actions(w.hub, case_id) == []
        partial = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund",
                                                                    refund_amount=Decimal("10")), actor="alice")
        assert partial.state == "done"
        assert w.platform(w.shop).decisions[0].refund_amount.amount == Decimal("10")  # type: ignore[union-attr]


async def test_decisions_are_checked_before_anything_is_stored(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, _ = await w.case(order)
        with pytest.raises(BadInputError) as not_now:
            await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return"), actor="a")
        assert not_now.value.field == "action" and "approve_refund, refuse" in str(not_now.value)
        with pytest.raises(BadInputError) as unknown:
            await decisions.decide(w.hub, case_id, DecisionIn(action="make_tea"), actor="a")
        assert unknown.value.field == "action"
        with pytest.raises(BadInputError) as no_reason:
            await decisions.decide(w.hub, case_id, DecisionIn(action="refuse", reason_text="  "), actor="a")
        assert no_reason.value.field == "reason_id"
        with pytest.raises(NotFoundError):
            await decisions.decide(w.hub, 987654, DecisionIn(action="refuse", reason_id="R1"), actor="a")
        assert await actions(w.hub, case_id) == []
        w.hub.config.aftersales.default_return_address = None
        return_case, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND)
        with pytest.raises(BadInputError) as no_address:
            await decisions.decide(w.hub, return_case, DecisionIn(action="agree_return"), actor="a")
        assert no_address.value.field == f"aftersales.return_addresses.{w.shop}"


async def test_a_refusal_the_platform_refuses_fails_with_its_words(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order, max_refund=None)
        # The hub's bound is what the buyer asked; the platform's is lower (it says so).
        w.platform(w.shop).cases[case.ref.external_id] = case.model_copy(update={
            "version": "1", "max_refund": order.total.model_copy(update={"amount": Decimal("5")})})
        with pytest.raises(BadInputError) as raised:
            await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund", refund_amount=Decimal("6")),
                                   actor="a")
        assert raised.value.field == "refund_amount" and "the platform refused" in str(raised.value)
        [action] = await actions(w.hub, case_id)
        assert action.state == "failed"
        # The derived key is freed: a corrected decision goes through.
        ok = await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund", refund_amount=Decimal("5")),
                                    actor="a")
        assert ok.state == "done"


async def test_a_decision_without_an_api_is_recorded_in_the_hub_only(database_url: str) -> None:
    with world(database_url) as w:
        _, plain_order = await w.order([("SKU-1", 1)], shop=w.plain_shop)
        plain_case, _ = await w.case(plain_order)
        outcome = await decisions.decide(w.hub, plain_case, DecisionIn(action="approve_refund"), actor="alice")
        assert (outcome.state, outcome.written_back, outcome.status) == ("recorded", False, "refunding")
        assert "cannot write after-sale decisions back" in (outcome.note or "")
        _, order = await w.order([("SKU-1", 1)], shop=w.partial_shop)
        return_case, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND)
        agreed = await decisions.decide(w.hub, return_case, DecisionIn(action="agree_return"), actor="alice")
        assert agreed.state == "recorded" and "has no API for agree_return" in (agreed.note or "")
        assert agreed.status == "awaiting_return"
        assert w.platform(w.partial_shop).calls == []
        _, local_order = await w.order([("SKU-1", 1)])
        local_case, _ = await w.case(local_order, local=True)
        local = await decisions.decide(w.hub, local_case, DecisionIn(action="refuse", reason_text="no"), actor="a")
        assert local.state == "recorded" and local.status == "rejected" and "made in the hub" in (local.note or "")
        assert w.platform(w.shop).calls == []
        kinds = [e.kind for e in await events(w.hub, local_case)]
        assert kinds[-2:] == ["decided", "recorded_only"]


async def test_refuse_reasons_come_from_the_platform(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, _ = await w.case(order)
        reasons = await decisions.refuse_reasons(w.hub, case_id)
        assert [r.id for r in reasons] == ["R1", "R2"] and reasons[0].proof_required
        _, plain_order = await w.order([("SKU-1", 1)], shop=w.plain_shop)
        plain_case, _ = await w.case(plain_order)
        assert await decisions.refuse_reasons(w.hub, plain_case) == []


async def test_a_repeated_key_after_a_conflict_answers_the_conflict_again(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order)
        w.platform(w.shop).move(case.ref.external_id, AfterSaleStatus.CLOSED)
        for _ in range(2):
            with pytest.raises(CaseConflictError) as raised:
                await decisions.decide(w.hub, case_id, DecisionIn(action="approve_refund"), actor="a", key="k-9")
            assert raised.value.current is not None and raised.value.current["status"] == "closed"
        assert len(w.platform(w.shop).calls) == 1 and len(await actions(w.hub, case_id)) == 1


async def test_refusing_goods_that_came_back_is_written_back_with_its_reason(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND,
                                     status=AfterSaleStatus.AWAITING_RETURN)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(
            action="refuse_return", reason_id="R2", remark="the parcel was empty"), actor="carol")
        assert (outcome.state, outcome.status) == ("done", "rejected")
        sent = w.platform(w.shop).decisions[-1]
        assert (sent.action.value, sent.reason_id, sent.remark) == ("refuse_return", "R2", "the parcel was empty")
        assert not (await case_row(w.hub, case_id)).received  # refused goods are not put back into stock
        assert w.platform(w.shop).taken(case.ref.external_id) == ["refuse_return"]
