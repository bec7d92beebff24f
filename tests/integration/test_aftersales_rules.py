"""The after-sales rules on SQLite and PostgreSQL: a small refund before shipment is approved by
the rule (the call to ``decisions.decide`` is recorded here), and not at or above the threshold,
nor once anything shipped; a refund before shipment gives back exactly the refunded line's
reserved units, once, and waits for a live delivery to be stopped; a deadline alert is raised once
per deadline, with its history row, metric and ``aftersale_due`` hook."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contracts import OrderStatus
from hub import metrics
from hub.context import Hub
from hub.db.tables import (
    AfterSaleEventRow,
    AfterSaleLineRow,
    AfterSaleRow,
    DeliveryOrderRow,
    OrderLineRow,
    OrderRow,
    StockLedgerRow,
)
from hub.plugin_api import hookimpl
from hub.services import order_flow
from hub.services.aftersales import decisions, refund_release, rules
from hub.services.aftersales.decisions import DecisionIn, DecisionOutcome
from hub.testing.merging_factories import delivery_order
from tests.integration.inventory_support import make_hub, place_order, seed, stock_row

_ids = itertools.count(1)


@dataclass
class DecideRecorder:
    """Stands in for ``decisions.decide`` (built by another step): records each call and answers
    ``done``, or ``repeated`` for a key seen before, as the real one does."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def decide(self, hub: Hub, case_id: int, decision: DecisionIn, *, actor: str, key: str | None = None,
                     cause: str = "api") -> DecisionOutcome:
        repeated = any(c["key"] == key for c in self.calls)
        self.calls.append({"case_id": case_id, "decision": decision, "actor": actor, "key": key, "cause": cause})
        return DecisionOutcome(case_id=case_id, action_id=1, action=decision.action, state="done", written_back=True,
                               status="approved", repeated=repeated)


@pytest.fixture
def decide(monkeypatch: pytest.MonkeyPatch) -> DecideRecorder:
    recorder = DecideRecorder()
    monkeypatch.setattr(decisions, "decide", recorder.decide)
    return recorder


def _hub(database_url: str, *, plugins: tuple[Any, ...] = (), **aftersales: Any) -> Hub:
    return make_hub(database_url, {"shop-a": {}}, plugins=plugins,
                    aftersales={"auto_approve_refund_below": "50", **aftersales})


async def _paid_order(hub: Hub, lines: list[tuple[str, int]]) -> int:
    """A paid order whose lines are reserved (as the order flow does after payment)."""
    order_id = await place_order(hub, lines)
    await order_flow.after_orders_change(hub, [[order_id, None, "paid", "test"]])
    return order_id


async def _case(hub: Hub, order_id: int, *, type: str = "refund_only", status: str = "requested",
                amount: str = "19.90", lines: list[tuple[str, int]] | None = None, version: str | None = "v1",
                deadline: datetime | None = None) -> int:
    """A case as intake stores it; ``lines`` are (SKU, units) matched to the order's lines."""
    async with hub.database().transaction() as session:
        order = await session.get(OrderRow, order_id)
        assert order is not None
        n = next(_ids)
        row = AfterSaleRow(platform=order.platform, shop=order.shop, external_id=f"RF-{n}", order_id=order_id,
                           order_external_id=order.external_id, type=type, status=status,
                           raw_status=status.upper(), channel_updated_at=datetime.now(UTC), data={},
                           applied_at=datetime.now(UTC), refund_amount=Decimal(amount), currency="CNY",
                           version=version, deadline=deadline, reason="不想要了")
        session.add(row)
        await session.flush()
        order_lines = {ol.merchant_sku: ol for ol in (await session.execute(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id))).scalars()}
        for position, (sku, units) in enumerate(lines or []):
            ol = order_lines[sku]
            session.add(AfterSaleLineRow(aftersale_id=row.id, position=position, order_line_id=ol.id,
                                         line_external_id=ol.external_id, merchant_sku=sku, quantity=units))
        return row.id


async def _set_status(hub: Hub, case_id: int, status: str) -> None:
    async with hub.database().transaction() as session:
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == case_id).values(status=status))


async def _events(hub: Hub, case_id: int, kind: str) -> list[AfterSaleEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(AfterSaleEventRow).where(
            AfterSaleEventRow.aftersale_id == case_id, AfterSaleEventRow.kind == kind)
            .order_by(AfterSaleEventRow.id))).scalars())


# --------------------------------------------------------------------------- auto-approve


async def test_small_refund_before_shipment_is_approved_by_the_rule_once(database_url: str,
                                                                         decide: DecideRecorder) -> None:
    hub = _hub(database_url)
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("MUG", 1)])
    case_id = await _case(hub, order_id, amount="19.90", lines=[("MUG", 1)])
    await rules.after_change(hub, case_id, "requested", "push")
    await rules.after_change(hub, case_id, "requested", "push")  # the same change delivered again
    assert [(c["case_id"], c["decision"], c["actor"], c["key"], c["cause"]) for c in decide.calls] == [
        (case_id, DecisionIn(action="approve_refund", refund_amount=Decimal("19.90")), "rule:auto_approve",
         f"rule:auto_approve:{case_id}:v1", "rule")] * 2
    [event] = await _events(hub, case_id, "rule")
    assert event.actor == "rule:auto_approve" and event.cause == "rule"
    assert event.detail["threshold"] == "50" and event.detail["amount"] == "19.90"
    assert event.detail["outcome"] == "done" and event.new_status == "approved"


async def test_refund_at_the_threshold_or_of_another_kind_waits_for_a_person(database_url: str,
                                                                             decide: DecideRecorder) -> None:
    hub = _hub(database_url)
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("MUG", 3)])
    at_threshold = await _case(hub, order_id, amount="50.00")
    a_return = await _case(hub, order_id, amount="5", type="return_and_refund")
    approved = await _case(hub, order_id, amount="5", status="approved")
    for case_id in (at_threshold, a_return, approved):
        await rules.after_change(hub, case_id, "requested", "push")
    assert decide.calls == []
    assert await _events(hub, at_threshold, "rule") == []


async def test_no_threshold_configured_means_no_auto_approval(database_url: str, decide: DecideRecorder) -> None:
    hub = make_hub(database_url, {"shop-a": {}})
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("MUG", 1)])
    await rules.after_change(hub, await _case(hub, order_id, amount="1"), "requested", "push")
    assert decide.calls == []


@pytest.mark.parametrize("shipped", ["packed", "shipped", "order_shipped"])
async def test_refund_once_goods_left_is_not_auto_approved(database_url: str, decide: DecideRecorder,
                                                           shipped: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("MUG", 1)])
    async with hub.database().transaction() as session:
        if shipped == "order_shipped":
            await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(
                status=OrderStatus.SHIPPED.value))
        else:
            await delivery_order(session, [order_id], status=shipped)
    case_id = await _case(hub, order_id, amount="9.90")
    assert not await _nothing_shipped(hub, order_id)
    await rules.after_change(hub, case_id, "requested", "push")
    assert decide.calls == []


async def _nothing_shipped(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        return await rules.nothing_shipped(session, order_id)


async def test_a_delivery_sent_but_not_packed_still_counts_as_nothing_shipped(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("MUG", 1)])
    async with hub.database().transaction() as session:
        await delivery_order(session, [order_id], status="sent")
    assert await _nothing_shipped(hub, order_id)
    assert not await _nothing_shipped(hub, order_id + 1000)  # an unknown order never qualifies


def test_a_long_platform_version_still_makes_a_key_that_fits() -> None:
    key = rules.decision_key(7, "2026-11-12 10:00:00.123456+08:00" * 5)
    assert len(key) <= 100 and key == rules.decision_key(7, "2026-11-12 10:00:00.123456+08:00" * 5)
    assert rules.decision_key(7, None) == "rule:auto_approve:7:-"


# --------------------------------------------------------------------------- stock given back


async def _ledger_rows(hub: Hub, sku: str) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(StockLedgerRow).where(
            StockLedgerRow.merchant_sku == sku, StockLedgerRow.actor == "rule:release_on_refund")) or 0)


async def test_refund_before_shipment_gives_back_only_the_refunded_line_once(database_url: str,
                                                                              decide: DecideRecorder) -> None:
    hub = _hub(database_url)
    await seed(hub, "MUG", 10)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("MUG", 2), ("CUP", 3)])
    assert await stock_row(hub, "MUG") == (10, 2) and await stock_row(hub, "CUP") == (10, 3)
    case_id = await _case(hub, order_id, amount="59.70", lines=[("CUP", 3)])
    await rules.after_change(hub, case_id, "requested", "push")  # requested: nothing to give back yet
    assert await stock_row(hub, "CUP") == (10, 3)
    await _set_status(hub, case_id, "approved")
    for _ in range(2):  # delivered twice
        await rules.after_change(hub, case_id, "approved", "rule")
    assert await stock_row(hub, "CUP") == (10, 0) and await stock_row(hub, "MUG") == (10, 2)
    await _set_status(hub, case_id, "refunded")
    await rules.after_change(hub, case_id, "refunded", "push")  # approved, then refunded: still once
    assert await stock_row(hub, "CUP") == (10, 0) and await _ledger_rows(hub, "CUP") == 1
    [event] = await _events(hub, case_id, "rule")
    assert event.actor == "rule:release_on_refund"
    assert [(x["sku"], x["units"], x["whole_line"]) for x in event.detail["released"]] == [("CUP", 3, True)]
    # The order cancelled later gives back what is still held, and never the refunded line again.
    await order_flow.after_orders_change(hub, [[order_id, "paid", "cancelled", "test"]])
    assert await stock_row(hub, "CUP") == (10, 0) and await stock_row(hub, "MUG") == (10, 0)


async def test_partial_refund_of_a_line_lowers_its_reservation_and_shipping_takes_the_rest(
        database_url: str) -> None:
    hub = _hub(database_url, auto_approve_refund_below=None)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 3)])
    case_id = await _case(hub, order_id, status="approved", lines=[("CUP", 1)])
    await rules.after_change(hub, case_id, "approved", "push")
    await rules.after_change(hub, case_id, "approved", "push")
    assert await stock_row(hub, "CUP") == (10, 2)
    await order_flow.after_orders_change(hub, [[order_id, "paid", "shipped", "test"]])
    assert await stock_row(hub, "CUP") == (8, 0)  # two units left the warehouse, one stayed


async def test_a_line_in_a_live_delivery_waits_for_the_interception(database_url: str) -> None:
    hub = _hub(database_url, auto_approve_refund_below=None)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 2)])
    async with hub.database().transaction() as session:
        do_id = await delivery_order(session, [order_id], status="sent")
    case_id = await _case(hub, order_id, status="approved", lines=[("CUP", 2)])
    await rules.after_change(hub, case_id, "approved", "push")
    assert await stock_row(hub, "CUP") == (10, 2)  # the warehouse may still ship it
    async with hub.database().transaction() as session:
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id).values(status="cancelled"))
    released = await refund_release.release_for_order(hub, order_id)  # what the interception calls
    assert [r.case_id for r in released] == [case_id] and await stock_row(hub, "CUP") == (10, 0)


async def test_a_case_without_lines_frees_the_order_only_when_it_refunds_all_of_it(database_url: str) -> None:
    hub = _hub(database_url, auto_approve_refund_below=None)
    await seed(hub, "MUG", 10)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("MUG", 1), ("CUP", 2)])  # 3 × 19.90 = 59.70
    part = await _case(hub, order_id, status="approved", amount="19.90")
    await rules.after_change(hub, part, "approved", "push")
    assert await stock_row(hub, "MUG") == (10, 1) and await stock_row(hub, "CUP") == (10, 2)  # which line?
    whole = await _case(hub, order_id, status="refunded", amount="59.70")
    await rules.after_change(hub, whole, "refunded", "push")
    assert await stock_row(hub, "MUG") == (10, 0) and await stock_row(hub, "CUP") == (10, 0)


async def test_cancelled_order_and_switched_off_rule_give_nothing_back_here(database_url: str) -> None:
    hub = _hub(database_url, auto_approve_refund_below=None, release_on_refund=False)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 2)])
    case_id = await _case(hub, order_id, status="refunded", lines=[("CUP", 2)])
    await rules.after_change(hub, case_id, "refunded", "push")
    assert await stock_row(hub, "CUP") == (10, 2)  # release_on_refund = false
    hub = _hub(database_url, auto_approve_refund_below=None)
    async with hub.database().transaction() as session:
        await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(status="cancelled"))
    await rules.after_change(hub, case_id, "refunded", "push")
    assert await stock_row(hub, "CUP") == (10, 2)  # the order flow releases a cancelled order, not the rule
    assert await _events(hub, case_id, "rule") == []


# --------------------------------------------------------------------------- deadline alerts


class DueRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, str, datetime, str]] = []

    @hookimpl
    def aftersale_due(self, aftersale_id: int, order_id: int | None, shop: str, deadline: datetime,
                      status: str) -> None:
        self.calls.append((aftersale_id, order_id, shop, deadline, status))


def _alerts_counted(platform: str) -> float:
    return float(metrics.AFTERSALE_DEADLINE_ALERTS.labels(platform)._value.get())


async def test_deadline_alert_fires_once_per_deadline_and_calls_the_hook(database_url: str) -> None:
    recorder = DueRecorder()
    hub = _hub(database_url, plugins=(recorder,), auto_approve_refund_below=None, deadline_alert_hours=12)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 1)])
    now = datetime.now(UTC)
    near = await _case(hub, order_id, deadline=now + timedelta(hours=2))
    await _case(hub, order_id, deadline=now + timedelta(hours=20))  # not yet
    await _case(hub, order_id, deadline=now - timedelta(hours=1))  # lapsed: the platform decided
    await _case(hub, order_id, status="refunded", deadline=now + timedelta(hours=1))  # done
    await _case(hub, order_id, deadline=None)
    before = _alerts_counted("fake")
    assert await rules.deadline_alerts(hub) == 1
    assert await rules.deadline_alerts(hub) == 0  # the same deadline: once
    assert [(c[0], c[1], c[2], c[4]) for c in recorder.calls] == [(near, order_id, "shop-a", "requested")]
    assert abs((recorder.calls[0][3] - (now + timedelta(hours=2))).total_seconds()) < 1
    assert recorder.calls[0][3].tzinfo is not None
    assert _alerts_counted("fake") == before + 1
    [event] = await _events(hub, near, "alert")
    assert event.actor == "rule:deadline_alert" and event.detail["status"] == "requested"
    # The platform extended the deadline: the old alert (long before this deadline's window) does
    # not cover the new one.
    async with hub.database().transaction() as session:
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == near).values(
            alerted_at=now - timedelta(hours=20), deadline=now + timedelta(hours=3)))
    assert await rules.deadline_alerts(hub) == 1
    assert await rules.deadline_alerts(hub) == 0
    assert len(recorder.calls) == 2 and len(await _events(hub, near, "alert")) == 2


async def test_a_failing_hook_does_not_undo_the_alert_and_zero_hours_switches_alerts_off(
        database_url: str) -> None:
    class Broken:
        @hookimpl
        def aftersale_due(self, aftersale_id: int, order_id: int | None, shop: str, deadline: datetime,
                          status: str) -> None:
            raise RuntimeError("pager down")

    off = _hub(database_url, auto_approve_refund_below=None, deadline_alert_hours=0)
    await seed(off, "CUP", 10)
    order_id = await _paid_order(off, [("CUP", 1)])
    case_id = await _case(off, order_id, deadline=datetime.now(UTC) + timedelta(minutes=30))
    assert await rules.deadline_alerts(off) == 0
    hub = _hub(database_url, plugins=(Broken(),), auto_approve_refund_below=None)
    assert await rules.deadline_alerts(hub) == 1
    async with hub.database().session() as session:
        assert (await session.get(AfterSaleRow, case_id)).alerted_at is not None  # type: ignore[union-attr]
    assert await rules.deadline_alerts(hub) == 0


def test_the_deadline_job_runs_every_minute() -> None:
    from hub.pipeline import aftersales_rules

    assert aftersales_rules.jobs(None) == [("aftersale_deadlines", 60.0, "aftersale_deadlines", ())]


async def test_the_interception_that_cancels_the_delivery_gives_the_refunded_line_back(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from contracts.fulfilment import Hold
    from hub.services import orders
    from hub.services.fulfilment import delivery_orders, interception
    from hub.services.fulfilment.delivery_orders import CancelOutcome

    hub = _hub(database_url, auto_approve_refund_below=None)
    await seed(hub, "MUG", 10)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("MUG", 1), ("CUP", 2)])
    async with hub.database().transaction() as session:
        do_id = await delivery_order(session, [order_id], status="sent")
        await orders.add_hold(session, order_id, Hold(code=interception.REFUND_HOLD, reason="refund"),
                              cause="aftersale", actor=None)
    case_id = await _case(hub, order_id, status="approved", lines=[("CUP", 2)])
    await rules.after_change(hub, case_id, "approved", "push")
    assert await stock_row(hub, "CUP") == (10, 2)

    async def cancel_for_order(hub: Hub, order_id: int, *, reason: str, actor: str | None) -> CancelOutcome:
        async with hub.database().transaction() as session:
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id)
                                  .values(status="cancelled"))
        return CancelOutcome(cancelled=[do_id], too_late=[])

    monkeypatch.setattr(delivery_orders, "cancel_for_order", cancel_for_order)
    await interception.intercept_orders(hub, [order_id])
    await interception.intercept_orders(hub, [order_id])
    assert await stock_row(hub, "CUP") == (10, 0) and await stock_row(hub, "MUG") == (10, 1)
    assert len(await _events(hub, case_id, "rule")) == 1
