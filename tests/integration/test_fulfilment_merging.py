"""Merge and split before routing, on SQLite and PostgreSQL: which approved orders ``plan_groups``
puts in one delivery (same buyer and address; shops; masked addresses; address ids; orders
already waiting in the database; max_orders), presale lines waiting, propose mode's holds and
proposals, and a person's merge, split and "ship alone" honoured by the next plan."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import FulfilmentPlanRow, OrderEventRow, OrderHoldRow
from hub.plugins import build_plugin_manager
from hub.services.fulfilment import merging
from hub.services.fulfilment.planning import plan_groups
from hub.testing.hub import hub_config
from hub.testing.merging_factories import address, approved_order, delivery_order, line_ids, order_rows


def _hub(database_url: str, **merge: Any) -> Hub:
    return Hub(hub_config(database_url, fulfilment={"merge": merge}), build_plugin_manager(load_entry_points=False))


async def _plan(hub: Hub, order_ids: list[int]) -> tuple[list[Any], list[Any]]:
    async with hub.database().transaction() as session:
        return await plan_groups(hub, session, await order_rows(session, order_ids))


def _sets(groups: list[Any]) -> list[list[int]]:
    return sorted(sorted(g.order_ids) for g in groups)


# (merge settings, orders as (shop, buyer, street, extra fields), expected groups as order indexes)
CASES: list[tuple[str, dict[str, Any], list[tuple[str, str, str]], list[list[int]]]] = [
    ("same buyer and address merge", {"mode": "auto"},
     [("shop-a", "b1", "街1号"), ("shop-a", "b1", "街1号")], [[0, 1]]),
    ("another address does not", {"mode": "auto"},
     [("shop-a", "b1", "街1号"), ("shop-a", "b1", "街2号")], [[0], [1]]),
    ("another buyer does not", {"mode": "auto"},
     [("shop-a", "b1", "街1号"), ("shop-a", "b2", "街1号")], [[0], [1]]),
    ("another shop does not by default", {"mode": "auto"},
     [("shop-a", "b1", "街1号"), ("shop-b", "b1", "街1号")], [[0], [1]]),
    ("across_shops merges shops", {"mode": "auto", "across_shops": True},
     [("shop-a", "b1", "街1号"), ("shop-b", "b1", "街1号")], [[0, 1]]),
    ("mode off never merges", {"mode": "off"},
     [("shop-a", "b1", "街1号"), ("shop-a", "b1", "街1号")], [[0], [1]]),
    ("max_orders caps a group", {"mode": "auto", "max_orders": 2},
     [("shop-a", "b1", "街1号")] * 3, [[0, 1], [2]]),
    ("spacing and case do not matter", {"mode": "auto"},
     [("shop-a", "b1", "Main  St 1"), ("shop-a", "b1", "main st 1 ")], [[0, 1]]),
]


@pytest.mark.parametrize(("name", "settings", "specs", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_plan_groups_table(database_url: str, name: str, settings: dict[str, Any],
                                 specs: list[tuple[str, str, str]], expected: list[list[int]]) -> None:
    hub = _hub(database_url, **settings)
    async with hub.database().transaction() as session:
        ids = [await approved_order(session, shop=shop, buyer=buyer, street=street) for shop, buyer, street in specs]
    groups, holds = await _plan(hub, ids)
    assert holds == []
    assert _sets(groups) == sorted(sorted(ids[i] for i in g) for g in expected)
    merged = [g for g in groups if len(g.order_ids) > 1]
    for group in merged:
        assert group.data["merge"] == "auto" and {line.order_id for line in group.lines} == set(group.order_ids)


async def test_masked_addresses_merge_only_when_allowed_and_address_ids_decide(database_url: str) -> None:
    masked = address("文一西路***", name="张**", phone="138****5678")
    hub = _hub(database_url, mode="auto")
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1", ship_to=masked)
        b = await approved_order(session, buyer="b1", ship_to=masked)
        # Different masks, same TOP oaid: one address.
        c = await approved_order(session, buyer="b2", ship_to=masked, extra={"oaid": "OA-1"})
        d = await approved_order(session, buyer="b2", ship_to=address("其他路**"), extra={"oaid": "OA-1"})
    assert _sets((await _plan(hub, [a, b, c, d]))[0]) == [[a], [b], [c, d]]
    assert _sets((await _plan(_hub(database_url, mode="auto", merge_masked=True), [a, b]))[0]) == [[a, b]]


async def test_orders_waiting_in_the_database_join_but_not_held_or_unapproved_ones(database_url: str) -> None:
    hub = _hub(database_url, mode="auto")
    async with hub.database().transaction() as session:
        waiting = await approved_order(session, buyer="b1")
        unapproved = await approved_order(session, buyer="b1", approved=False)
        held = await approved_order(session, buyer="b1")
        from contracts import Hold
        from hub.services import orders

        await orders.add_hold(session, held, Hold(code="high_value", reason="x"), cause="audit")
        routed = await approved_order(session, buyer="b1")
        await delivery_order(session, [routed])
        new = await approved_order(session, buyer="b1")
    groups, _ = await _plan(hub, [new])
    assert _sets(groups) == [[waiting, new]]
    assert unapproved not in groups[0].order_ids and held not in groups[0].order_ids


@pytest.mark.parametrize(("split", "lines", "expect_lines", "expect_hold"), [
    (False, [("SKU-1", 1), ("PRE-1", 1)], None, True),
    (True, [("SKU-1", 1), ("PRE-1", 1)], ["SKU-1"], False),
    (True, [("PRE-1", 2)], None, True),
    (False, [("SKU-1", 1)], ["SKU-1"], False),
])
async def test_presale_lines_wait(database_url: str, split: bool, lines: list[tuple[str, int]],
                                  expect_lines: list[str] | None, expect_hold: bool) -> None:
    hub = _hub(database_url, mode="auto", presale_skus=["PRE-1"], presale_split=split)
    async with hub.database().transaction() as session:
        oid = await approved_order(session, lines=lines)
    groups, holds = await _plan(hub, [oid])
    assert [h.code for _, h in holds] == (["presale_waiting"] if expect_hold else [])
    if expect_lines is None:
        assert groups == []
    else:
        assert [line.merchant_sku for line in groups[0].lines] == expect_lines
        if len(expect_lines) < len(lines):
            assert groups[0].data["waiting_lines"]


async def test_presale_lines_named_by_the_order_extra_wait_too(database_url: str) -> None:
    hub = _hub(database_url, presale_split=True)
    async with hub.database().transaction() as session:
        oid = await approved_order(session, lines=[("SKU-1", 1), ("SKU-2", 1)], external_id="88001",
                                   extra={"presale_lines": ["880011"]})
    groups, holds = await _plan(hub, [oid])
    assert holds == [] and [line.line_external_id for line in groups[0].lines] == ["880010"]


async def test_propose_mode_holds_partners_lists_them_and_a_person_merges(database_url: str) -> None:
    hub = _hub(database_url, mode="propose")
    settings = hub.config.fulfilment.merge
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        alone = await approved_order(session, buyer="b9")
    groups, holds = await _plan(hub, [a, alone])
    assert _sets(groups) == [[a], [alone]] and holds == []  # no partner yet
    async with hub.database().transaction() as session:
        b = await approved_order(session, buyer="b1")
        c = await approved_order(session, buyer="b1")
    groups, holds = await _plan(hub, [b, c])
    assert groups == [] and sorted((o, h.code) for o, h in holds) == [(b, "merge_proposed"), (c, "merge_proposed")]
    from hub.services.order_holds import add_holds

    async with hub.database().transaction() as session:
        await add_holds(session, holds, cause="system")
        proposals = await merging.proposals(session, settings)
    assert [(p.order_ids, p.held) for p in proposals] == [([a, b, c], [b, c])]
    async with hub.database().transaction() as session:
        merge_id = await merging.merge_orders(session, settings, [b, c], actor="api-key:1:alice")
        open_holds = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id.in_([b, c]), OrderHoldRow.released_at.is_(None)))).scalars().all()
    assert open_holds == []
    groups, holds = await _plan(hub, [b])
    assert _sets(groups) == [[b, c]] and groups[0].data["merge_id"] == merge_id and holds == []
    async with hub.database().transaction() as session:  # a fourth order waits; its partners all went
        d = await approved_order(session, buyer="b1")
        await add_holds(session, await merging.propose_holds(session, [d]), cause="system")
        await delivery_order(session, [a])
        assert [(p.order_ids, p.held) for p in await merging.proposals(session, settings)] == [([d], [d])]
    async with hub.database().session() as session:
        events = (await session.execute(select(OrderEventRow.kind, OrderEventRow.actor).where(
            OrderEventRow.order_id == b, OrderEventRow.kind == "merge_planned"))).all()
        view = await merging.plan_view(session, b)
    assert events == [("merge_planned", "api-key:1:alice")]
    assert view.decision == "merge" and view.merged_with == [c]


async def test_manual_merge_refuses_other_keys_unless_forced_and_routed_orders(database_url: str) -> None:
    hub = _hub(database_url, mode="off")
    settings = hub.config.fulfilment.merge
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1", street="街1号")
        b = await approved_order(session, buyer="b1", street="街2号")
        routed = await approved_order(session, buyer="b1", street="街1号")
        await delivery_order(session, [routed])
    async with hub.database().transaction() as session:
        with pytest.raises(merging.PlanConflict) as other:
            await merging.merge_orders(session, settings, [a, b], actor="x")
        with pytest.raises(merging.PlanConflict) as late:
            await merging.merge_orders(session, settings, [a, routed], actor="x")
        with pytest.raises(merging.PlanConflict) as missing:
            await merging.merge_orders(session, settings, [a, 999_999], actor="x")
    assert (other.value.status, late.value.status, missing.value.status) == (422, 409, 404)
    async with hub.database().transaction() as session:
        merge_id = await merging.merge_orders(session, settings, [a, b], actor="x", force=True)
    groups, _ = await _plan(hub, [a, b])
    assert _sets(groups) == [[a, b]] and groups[0].data["forced"] == "true"
    async with hub.database().transaction() as session:
        assert await merging.undo_merge(session, merge_id, actor="y") == [a, b]
        assert (await session.execute(select(FulfilmentPlanRow))).scalars().all() == []
    assert _sets((await _plan(hub, [a, b]))[0]) == [[a], [b]]


async def test_a_merge_partner_not_ready_makes_the_other_wait_then_both_go(database_url: str) -> None:
    from contracts import Hold
    from hub.services import orders

    hub = _hub(database_url, mode="off")
    settings = hub.config.fulfilment.merge
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        await merging.merge_orders(session, settings, [a, b], actor="x")
        await orders.add_hold(session, b, Hold(code="high_value", reason="check"), cause="audit")
    groups, holds = await _plan(hub, [a])
    assert groups == [] and [(o, h.code) for o, h in holds] == [(a, "merge_waiting")]
    async with hub.database().transaction() as session:
        await orders.add_hold(session, a, holds[0][1], cause="system")
        await orders.release_hold(session, b, "high_value", actor="x")
    groups, holds = await _plan(hub, [b])
    assert _sets(groups) == [[a, b]] and holds == []
    async with hub.database().session() as session:
        still = await session.scalar(select(OrderHoldRow.id).where(
            OrderHoldRow.order_id == a, OrderHoldRow.released_at.is_(None)))
    assert still is None  # merge_waiting lifted as the group formed


async def test_manual_split_is_honoured_and_refused_after_routing(database_url: str) -> None:
    hub = _hub(database_url, mode="auto")
    async with hub.database().transaction() as session:
        oid = await approved_order(session, lines=[("SKU-1", 1), ("SKU-2", 1), ("SKU-3", 1)])
        partner = await approved_order(session)
        ext = await line_ids(session, oid)
    async with hub.database().transaction() as session:
        with pytest.raises(merging.PlanConflict) as bad:
            await merging.split_order(session, oid, [[ext[0]], [ext[1]]], actor="x")
        assert bad.value.status == 422 and "no group" in str(bad.value)
        await merging.split_order(session, oid, [[ext[0], ext[2]], [ext[1]]], actor="x")
    groups, _ = await _plan(hub, [oid, partner])
    by_order = sorted(([line.line_external_id for line in g.lines], g.data.get("split")) for g in groups
                      if g.order_ids == [oid])
    assert by_order == [([ext[0], ext[2]], "1/2"), ([ext[1]], "2/2")]
    assert [partner] in _sets(groups)  # a split order is never merged
    async with hub.database().transaction() as session:
        await delivery_order(session, [oid])
    async with hub.database().transaction() as session:
        with pytest.raises(merging.PlanConflict) as routed:
            await merging.split_order(session, oid, [[e] for e in ext], actor="x")
    assert routed.value.status == 409


async def test_ship_alone_keeps_an_order_out_of_auto_merges(database_url: str) -> None:
    hub = _hub(database_url, mode="auto")
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        assert await merging.ship_alone(session, [a], actor="x") == [a]
    assert _sets((await _plan(hub, [a, b]))[0]) == [[a], [b]]


async def test_an_address_change_breaks_an_unforced_manual_merge(database_url: str) -> None:
    from sqlalchemy import update

    from hub.db.tables import OrderRow

    hub = _hub(database_url, mode="off")
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        await merging.merge_orders(session, hub.config.fulfilment.merge, [a, b], actor="x")
        row = (await order_rows(session, [b]))[0]
        data = dict(row.data)
        data["shipping_address"] = {**data["shipping_address"], "street": "新地址1号"}
        await session.execute(update(OrderRow).where(OrderRow.id == b).values(data=data))
    groups, _ = await _plan(hub, [a, b])
    assert _sets(groups) == [[a], [b]] and all(g.data.get("merge_broken") for g in groups)


async def test_a_merge_member_cancelled_by_its_channel_is_left_out(database_url: str) -> None:
    from datetime import UTC, datetime

    from contracts import OrderStatus
    from hub.db.tables import OrderRow
    from hub.services import orders
    from hub.testing.factories import make_order

    hub = _hub(database_url, mode="off")
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        c = await approved_order(session, buyer="b1")
        await merging.merge_orders(session, hub.config.fulfilment.merge, [a, b, c], actor="x")
        external = (await session.get(OrderRow, c)).external_id  # type: ignore[union-attr]
        await orders.apply_order(session, make_order(shop="shop-a", external_id=external, status=OrderStatus.CLOSED,
                                                     updated_at=datetime(2026, 11, 20, tzinfo=UTC)), cause="push")
    groups, holds = await _plan(hub, [a, b])
    assert _sets(groups) == [[a, b]] and holds == []
