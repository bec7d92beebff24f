"""Order edits through the API, on SQLite and PostgreSQL, with a Taobao sandbox shop over real
HTTP: an address edit is written back and the platform's trade shows it on the next fetch; a
memo and a flag too; a price change waits for approval (an operator cannot approve, the requester
cannot approve their own, finance can); a stale version and a shipped order's cancellation are
409s naming why; a price or quantity change still waiting when the buyer pays is withdrawn by the
hub (one statement for all, in the order's history, out of the queue); an AliExpress edit stays
local-only; another shop's order is a 404. A Douyin sandbox shop: an address edit within the
order's region is written back and the next fetch shows it; a new region is refused (the hub has
no Douyin region ids for it) and the edit stays in the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts.order_edits import OrderEditKind, OrderEditValues
from contracts.orders import Order, OrderStatus
from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, build_hub
from hub.db.tables import OrderEventRow, OrderRow
from hub.errors import NotFoundError
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.order_edits import approvals
from hub.services.order_edits.request import EditAsk, request_edit
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from plugins.aliexpress.sandbox import AliExpressSandbox
from plugins.douyin.sandbox import DouyinSandbox, running
from plugins.douyin.sandbox_shop import decipher
from plugins.taobao.sandbox import TaobaoSandbox, serve_in_thread

TB, AE, DY = "tb-edits", "ae-edits", "dy-edits"
NEW_ADDRESS = {"name": "李四", "phone": "13900001111", "province": "浙江省", "city": "杭州市", "district": "西湖区",
               "street": "文三路90号", "postcode": "310012"}


@dataclass
class World:
    hub: Hub
    box: Any  # the TaobaoSandbox (the Douyin test has its own DouyinSandbox)
    client: httpx.AsyncClient
    keys: dict[str, str]

    async def ingest(self, order: Order) -> int:
        async with self.hub.database().transaction() as session:
            result = await orders.apply_order(session, order, cause="poll")
        return int(result.order_id)

    async def taobao_order(self, *, paid: bool = True) -> tuple[str, int]:
        tid = self.box.create_order(TB, "TEE-M", 1, paid=paid)
        order = await self.hub.accounts().channel(TB).get_order(tid)
        return tid, await self.ingest(order)

    async def row(self, order_id: int) -> OrderRow:
        async with self.hub.database().session() as session:
            return (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one()

    async def post(self, role: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=bearer(self.keys[role]))

    async def get(self, role: str, path: str) -> httpx.Response:
        return await self.client.get(path, headers=bearer(self.keys[role]))


@pytest.fixture
def served() -> Iterator[tuple[TaobaoSandbox, str]]:
    box = TaobaoSandbox()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
async def world(database_url: str, served: tuple[TaobaoSandbox, str]) -> AsyncIterator[World]:
    box, base_url = served
    shops = {TB: ShopConfig(platform="taobao", settings=box.shop_settings(TB, base_url)),
             AE: ShopConfig(platform="aliexpress", settings=AliExpressSandbox().shop_settings(AE, base_url))}
    hub = build_hub(HubConfig(hub=HubSection(database_url=database_url), shops=shops),
                    plugins=build_plugin_manager(load_entry_points=True))
    keys = {role: await new_key(hub, role, f"{role}-1") for role in ("admin", "operator", "finance", "viewer")}
    keys["admin2"] = await new_key(hub, "admin", "admin-2")
    try:
        async with api_client(hub) as client:
            yield World(hub, box, client, keys)
    finally:
        await hub.close_loop_resources()


async def test_an_address_edit_is_written_back_and_the_platform_shows_it(world: World) -> None:
    tid, order_id = await world.taobao_order()
    version = (await world.row(order_id)).version
    answer = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
        "kind": "address", "version": version, "reason": "buyer called", "address": NEW_ADDRESS})
    assert answer.status_code == 201, answer.text
    edit = answer.json()
    assert (edit["status"], edit["writeback"], edit["attempts"]) == ("applied", "sent", 1)
    assert edit["after"]["address"]["name"] != "李四"  # masked for an operator
    trade = world.box.shop(TB).trades[tid]
    assert (trade["receiver_name"], trade["receiver_mobile"], trade["receiver_address"]) == (
        "李四", "13900001111", "文三路90号")
    fetched = await world.hub.accounts().channel(TB).get_order(tid)
    assert fetched.shipping_address is not None and fetched.shipping_address.street == "文三路90号"
    row = await world.row(order_id)
    assert row.version == version + 1 and row.data["shipping_address"]["name"] == "李四"
    async with world.hub.database().session() as session:
        kinds = [e.kind for e in (await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == order_id))).scalars()]
    assert "edited" in kinds and "edit_sent" in kinds
    history = await world.get("admin", f"/api/v1/orders/{order_id}/edits")
    assert [e["after"]["address"]["name"] for e in history.json()] == ["李四"]  # admin reads PII

    # The same version again is stale now: 409.
    stale = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
        "kind": "seller_note", "version": version, "note": "x"})
    assert stale.status_code == 409 and "changed since version" in stale.text


async def test_memo_and_flag_reach_the_trade_and_a_too_long_address_is_refused_by_name(world: World) -> None:
    tid, order_id = await world.taobao_order()
    version = (await world.row(order_id)).version
    memo = await world.post("operator", f"/api/v1/orders/{order_id}/edits",
                            {"kind": "seller_note", "version": version, "note": "加急 ship today"})
    flag = await world.post("operator", f"/api/v1/orders/{order_id}/edits",
                            {"kind": "flag", "version": version + 1, "flag": "pink"})
    assert (memo.json()["writeback"], flag.json()["writeback"]) == ("sent", "sent")
    trade = world.box.shop(TB).trades[tid]
    assert (trade["seller_memo"], trade["seller_flag"]) == ("加急 ship today", 5)  # TOP's 5 is pink
    assert (await world.row(order_id)).seller_flag == 6  # the hub's pink
    # 26 Chinese characters are 52 GBK bytes: TOP takes 50 for the name. The hub keeps the edit.
    long_name = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
        "kind": "address", "version": version + 2, "address": {**NEW_ADDRESS, "name": "李" * 26}})
    assert long_name.status_code == 201
    assert long_name.json()["writeback"] == "failed"
    assert "address.name: 52 bytes in GBK" in long_name.json()["writeback_error"]


async def test_a_price_change_waits_for_an_approver_who_did_not_ask_for_it(world: World) -> None:
    _, order_id = await world.taobao_order(paid=False)
    row = await world.row(order_id)
    line = row.data["lines"][0]["external_id"]
    asked = await world.post("admin", f"/api/v1/orders/{order_id}/edits", {
        "kind": "price", "version": row.version, "reason": "loyal buyer",
        "lines": [{"line": line, "unit_price": "30.00"}]})
    assert asked.status_code == 201 and asked.json()["status"] == "pending_approval"
    edit_id = asked.json()["id"]
    assert (await world.row(order_id)).total_amount == row.total_amount  # nothing changed yet
    queue = await world.get("finance", "/api/v1/order-edits?status=pending_approval")
    assert [e["id"] for e in queue.json()] == [edit_id]

    assert (await world.post("operator", f"/api/v1/order-edits/{edit_id}/approve")).status_code == 403
    own = await world.post("admin", f"/api/v1/order-edits/{edit_id}/approve")
    assert own.status_code == 409 and "someone else approves it" in own.text
    approved = await world.post("finance", f"/api/v1/order-edits/{edit_id}/approve", {"note": "ok"})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["writeback"]) == ("approved", "local_only")
    after = await world.row(order_id)
    assert after.total_amount == Decimal("30") and after.version == row.version + 1
    again = await world.post("admin2", f"/api/v1/order-edits/{edit_id}/reject", {"note": "no"})
    assert again.status_code == 409 and "approved" in again.text

    # Paid orders take no price change at all.
    _, paid_id = await world.taobao_order()
    paid = await world.row(paid_id)
    refused = await world.post("admin", f"/api/v1/orders/{paid_id}/edits", {
        "kind": "quantity", "version": paid.version, "lines": [{"line": paid.data["lines"][0]["external_id"],
                                                                "quantity": 2}]})
    assert refused.status_code == 409 and "is paid" in refused.text


async def test_a_price_change_still_waiting_when_the_buyer_pays_is_withdrawn_by_the_hub(world: World) -> None:
    from sqlalchemy import event

    from hub.services.order_edits import stale

    waiting = []
    for kind, value in (("price", "30.00"), ("quantity", 2), ("price", "25.00")):
        tid, order_id = await world.taobao_order(paid=False)
        row = await world.row(order_id)
        line = {"line": row.data["lines"][0]["external_id"], ("unit_price" if kind == "price" else kind): value}
        asked = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
            "kind": kind, "version": row.version, "reason": "loyal buyer", "lines": [line]})
        assert asked.status_code == 201 and asked.json()["status"] == "pending_approval", asked.text
        waiting.append((tid, order_id, asked.json()["id"]))
    # The buyers of the first two orders pay before anyone approved; the third still waits for payment.
    for tid, _, _ in waiting[:2]:
        world.box.advance_order(TB, tid)
        await world.ingest(await world.hub.accounts().channel(TB).get_order(tid))
    paid_edits, unpaid_edit = [edit_id for _, _, edit_id in waiting[:2]], waiting[2][2]

    statements: list[str] = []
    engine = world.hub.database().engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        async with world.hub.database().transaction() as session:
            assert await stale.withdraw_stale(session) == paid_edits
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # One UPDATE for every stale edit and one INSERT for their history, not a round trip per edit.
    assert [s.split()[0].upper() for s in statements if s.split()[0].upper() != "BEGIN"] == ["UPDATE", "INSERT"]

    queue = (await world.get("finance", "/api/v1/order-edits?status=pending_approval")).json()
    assert [e["id"] for e in queue] == [unpaid_edit]
    withdrawn = (await world.get("operator", "/api/v1/order-edits?status=cancelled")).json()
    assert [(e["id"], e["decided_by"]) for e in withdrawn] == [(paid_edits[0], "system"), (paid_edits[1], "system")]
    assert all("the order was paid before approval" in e["decision_note"] for e in withdrawn)
    async with world.hub.database().session() as session:
        history = [(e.order_id, e.kind, e.detail.get("edit_id")) for e in (await session.execute(
            select(OrderEventRow).where(OrderEventRow.kind == "edit_withdrawn"))).scalars()]
    assert sorted(history) == sorted((order_id, "edit_withdrawn", edit_id) for _, order_id, edit_id in waiting[:2])

    # Running again changes nothing more; approving a withdrawn edit says what became of it.
    assert await stale.withdraw_stale_edits(world.hub) == 0
    async with world.hub.database().session() as session:
        assert len((await session.execute(select(OrderEventRow).where(
            OrderEventRow.kind == "edit_withdrawn"))).scalars().all()) == 2
    late = await world.post("finance", f"/api/v1/order-edits/{paid_edits[0]}/approve")
    assert late.status_code == 409 and "is cancelled, not waiting for approval" in late.text
    # The one still waiting for payment can still be approved.
    approved = await world.post("finance", f"/api/v1/order-edits/{unpaid_edit}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"


async def test_cancel_an_unshipped_order_but_not_a_shipped_one(world: World) -> None:
    _, order_id = await world.taobao_order()
    version = (await world.row(order_id)).version
    assert (await world.post("operator", f"/api/v1/orders/{order_id}/cancel", {"version": version})).status_code == 422
    done = await world.post("operator", f"/api/v1/orders/{order_id}/cancel",
                            {"version": version, "reason": "buyer asked by phone"})
    assert done.status_code == 201 and done.json()["writeback"] == "local_only"  # TOP has no seller cancel
    assert (await world.row(order_id)).status == OrderStatus.CANCELLED.value

    tid, shipped_id = await world.taobao_order()
    world.box.advance_order(TB, tid)
    await world.ingest(await world.hub.accounts().channel(TB).get_order(tid))
    shipped = await world.row(shipped_id)
    refused = await world.post("operator", f"/api/v1/orders/{shipped_id}/cancel",
                               {"version": shipped.version, "reason": "too late"})
    assert refused.status_code == 409 and "is shipped" in refused.text


async def test_an_aliexpress_edit_stays_local_and_other_shops_orders_are_not_found(world: World) -> None:
    order_id = await world.ingest(make_order(platform="aliexpress", shop=AE))
    version = (await world.row(order_id)).version
    edit = await world.post("operator", f"/api/v1/orders/{order_id}/edits",
                            {"kind": "seller_note", "version": version, "note": "gift wrap"})
    assert (edit.status_code, edit.json()["writeback"]) == (201, "local_only")
    assert (await world.row(order_id)).data["seller_note"] == "gift wrap"
    # A caller limited to the Taobao shop (``Principal.shops``) is told the order does not exist.
    tb_only = SimpleNamespace(shops=frozenset({TB}))
    ask = EditAsk(kind=OrderEditKind.SELLER_NOTE, values=OrderEditValues(note="y"), reason="", version=version + 1)
    with pytest.raises(NotFoundError):
        await request_edit(world.hub, order_id, ask, actor="user:tb", principal=tb_only)
    async with world.hub.database().session() as session:
        assert await approvals.queue(session, tb_only) == []
    viewer = await world.post("viewer", f"/api/v1/orders/{order_id}/edits",
                              {"kind": "seller_note", "version": version + 1, "note": "y"})
    assert viewer.status_code == 403


async def test_a_merchant_cancellation_gives_the_reserved_stock_back(database_url: str) -> None:
    from hub.services.stock import effects
    from tests.integration.inventory_support import close_hub, place_order, seed, stock_row
    from tests.integration.inventory_support import make_hub as inventory_hub

    hub = inventory_hub(database_url)
    try:
        await seed(hub, "MUG", 5)
        order_id = await place_order(hub, [("MUG", 2)])
        await effects.reserve_order(hub, order_id)
        assert await stock_row(hub, "MUG") == (5, 2)
        async with hub.database().session() as session:
            version = (await session.execute(select(OrderRow.version).where(OrderRow.id == order_id))).scalar_one()
        ask = EditAsk(kind=OrderEditKind.CANCEL, values=OrderEditValues(reason="buyer asked"), reason="buyer asked",
                      version=version)
        edit = await request_edit(hub, order_id, ask, actor="user:olga", principal=None)
        assert (edit.status, edit.writeback) == ("applied", "local_only")
        assert await stock_row(hub, "MUG") == (5, 0)
    finally:
        await close_hub(hub)


async def test_a_write_back_without_an_answer_is_sent_again_later_with_the_same_key(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tenacity import wait_none

    from hub import http
    from hub.db.tables import utcnow
    from hub.services import shop_health
    from hub.services.order_edits import writeback

    monkeypatch.setattr(shop_health, "BRIEF_WAIT_S", 0.0)
    monkeypatch.setattr(http, "_wait", wait_none())  # the TOP client's own retries, without their waits
    tid, order_id = await world.taobao_order()
    version = (await world.row(order_id)).version
    world.box.gateway.inject_fault("unavailable", 50)
    answer = await world.post("operator", f"/api/v1/orders/{order_id}/edits",
                              {"kind": "seller_note", "version": version, "note": "call first"})
    assert (answer.json()["writeback"], answer.json()["status"]) == ("pending", "applied")
    assert world.box.shop(TB).trades[tid].get("seller_memo") is None
    with world.box.lock:
        world.box.gateway.faults.clear()
    assert await writeback.retry_pending(world.hub) == 0  # not due yet
    assert await writeback.retry_pending(world.hub, now=utcnow() + timedelta(hours=2)) == 1
    [edit] = (await world.get("operator", f"/api/v1/orders/{order_id}/edits")).json()
    assert (edit["writeback"], edit["attempts"]) == ("sent", 2)
    assert world.box.shop(TB).trades[tid]["seller_memo"] == "call first"


async def test_the_batch_actions_decide_each_edit_on_its_own(world: World) -> None:
    from hub.api.auth import Principal
    from hub.services.batch.registry import load_actions, parse_params

    actions = load_actions()
    assert actions["approve_edits"].item == actions["reject_edits"].item == "edit"
    ids = []
    for _ in range(2):
        _, order_id = await world.taobao_order(paid=False)
        row = await world.row(order_id)
        asked = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
            "kind": "quantity", "version": row.version, "lines": [{"line": row.data["lines"][0]["external_id"],
                                                                   "quantity": 3}]})
        ids.append(asked.json()["id"])
    finance = Principal(key_id=0, name="fei", prefix="f", role="finance")
    action = actions["approve_edits"]
    async with world.hub.database().transaction() as session:
        outcomes = await action.handler(session, world.hub, [ids[0], 999_999], parse_params(action, {}), finance)
    assert outcomes[ids[0]].ok and not outcomes[999_999].ok and "does not exist" in outcomes[999_999].message
    queue = (await world.get("finance", "/api/v1/order-edits?status=pending_approval")).json()
    assert [e["id"] for e in queue] == [ids[1]]


async def test_a_douyin_address_edit_is_written_back_within_its_region(database_url: str) -> None:
    box = DouyinSandbox(auto_deliver=False, seed=5)
    with running(box) as base_url:
        shops = {DY: ShopConfig(platform="douyin", settings=box.shop_settings(DY, base_url))}
        hub = build_hub(HubConfig(hub=HubSection(database_url=database_url), shops=shops),
                        plugins=build_plugin_manager(load_entry_points=True))
        try:
            async with api_client(hub) as client:
                world = World(hub, box, client, {"operator": await new_key(hub, "operator", "operator-dy")})
                external_id = box.create_order(DY, "TEE-M", 1)
                channel = hub.accounts().channel(DY)
                order_id = await world.ingest(await channel.get_order(external_id))
                version = (await world.row(order_id)).version
                answer = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
                    "kind": "address", "version": version, "reason": "buyer called", "address": NEW_ADDRESS})
                assert answer.status_code == 201, answer.text
                assert (answer.json()["writeback"], answer.json()["writeback_error"]) == ("sent", None)
                shown = box.book.render_order(box.book.shop(DY), box.book.shop(DY).orders[external_id])
                assert {level: shown["post_addr"][level]["id"] for level in ("province", "city", "town", "street")} == {
                    "province": "33", "city": "3301", "town": "330106", "street": "330106001"}  # same region
                revealed = await channel.reveal_address(await channel.get_order(external_id))
                assert (revealed.name, revealed.phone, revealed.district, revealed.street) == (
                    "李四", "13900001111", "西湖区", "文三路90号")

                # Another city: Douyin needs its region ids, which the hub does not have. Kept in the hub.
                moved = await world.post("operator", f"/api/v1/orders/{order_id}/edits", {
                    "kind": "address", "version": version + 1, "address": {**NEW_ADDRESS, "city": "宁波市"}})
                assert moved.status_code == 201 and moved.json()["writeback"] == "failed"
                assert "Douyin seller centre" in moved.json()["writeback_error"]
                shown = box.book.render_order(box.book.shop(DY), box.book.shop(DY).orders[external_id])
                assert shown["post_addr"]["city"]["name"] == "杭州市"
                assert decipher(shown["encrypt_post_receiver"]) == "李四"
                assert (await world.row(order_id)).data["shipping_address"]["city"] == "宁波市"
        finally:
            await hub.close_loop_resources()
