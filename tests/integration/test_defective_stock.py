"""Defective stock on SQLite and PostgreSQL: what a merchant sees of the damaged units returns put
apart, and what scrapping, returning to the supplier and repairing them does to the defective
location, to sellable on hand, to the ledger and to the shops — over the service and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from hub.api import create_app
from hub.context import Hub
from hub.db import api_keys
from hub.db.tables import ChannelStockRow, DefectiveStockRow, StockLedgerRow
from hub.errors import BadInputError
from hub.services.stock import defective, push
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    seed,
    stock_row,
)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, warehouses=("wh1", "wh2"))
    yield h
    await close_hub(h)


async def put_defective(hub: Hub, sku: str, quantity: int, location: str = "defective") -> None:
    """What ``returns.receive_goods`` leaves for damaged units: the row and its ledger row."""
    async with hub.database().transaction() as session:
        session.add(DefectiveStockRow(location=location, merchant_sku=sku, quantity=quantity,
                                      updated_at=datetime.now(UTC)))
        session.add(StockLedgerRow(warehouse=location, merchant_sku=sku, on_hand_delta=quantity, cause="return",
                                   reference="aftersale:1", actor="t", note="came back damaged"))


async def held(hub: Hub, sku: str, location: str = "defective") -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(DefectiveStockRow.quantity).where(
            DefectiveStockRow.location == location, DefectiveStockRow.merchant_sku == sku)) or 0)


async def ledger(hub: Hub, sku: str) -> list[tuple[str | None, int, str, str | None, str | None]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(StockLedgerRow).where(StockLedgerRow.merchant_sku == sku)
                                      .order_by(StockLedgerRow.id))).scalars()
        return [(r.warehouse, r.on_hand_delta, r.cause, r.reference, r.note) for r in rows]


async def client(hub: Hub, role: str) -> httpx.AsyncClient:
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name=f"test-{role}", role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub",
                             headers={"Authorization": f"Bearer {key}"})


async def test_the_list_shows_each_location_and_sku_with_totals(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5, name="Kettle")
    await seed(hub, "SKU-2", 0)
    await put_defective(hub, "SKU-1", 3)
    await put_defective(hub, "SKU-2", 2)
    await put_defective(hub, "SKU-1", 1, location="defective-south")
    await put_defective(hub, "SKU-3", 0)  # emptied: not shown
    async with hub.database().session() as session:
        found = await defective.list_defective(session)
        only_south = await defective.list_defective(session, location="defective-south")
    assert [(x.location, x.merchant_sku, x.name, x.quantity) for x in found.lines] == [
        ("defective", "SKU-1", "Kettle", 3), ("defective", "SKU-2", "", 2), ("defective-south", "SKU-1", "Kettle", 1)]
    assert found.per_location == {"defective": 5, "defective-south": 1}
    assert found.per_sku == {"SKU-1": 4, "SKU-2": 2} and found.total == 6
    assert only_south.total == 1
    async with await client(hub, "viewer") as c:
        response = await c.get("/api/v1/inventory/defective")
        filtered = await c.get("/api/v1/inventory/defective", params={"merchant_sku": "SKU-2"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 6 and body["per_sku"] == {"SKU-1": 4, "SKU-2": 2}
    assert [(i["location"], i["merchant_sku"], i["quantity"]) for i in body["items"]] == [
        ("defective", "SKU-1", 3), ("defective", "SKU-2", 2), ("defective-south", "SKU-1", 1)]
    assert filtered.json()["total"] == 2


@pytest.mark.parametrize("action", ["scrap", "return_to_supplier"])
async def test_scrap_and_return_to_supplier_take_units_out_and_leave_on_hand_alone(hub: Hub, action: str) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 3)
    done = await defective.dispose(hub, "defective", "SKU-1", 2, action=action, note="cracked lid", actor="ann",
                                   idempotency_key=None)
    assert (done.remaining, done.warehouse, done.shops) == (1, None, set())
    assert await held(hub, "SKU-1") == 1
    assert await stock_row(hub, "SKU-1") == (5, 0)
    assert (await ledger(hub, "SKU-1"))[-1] == ("defective", -2, "defective_disposal", f"defective:{action}",
                                                  "cracked lid")


async def test_repaired_units_go_back_on_hand_in_the_named_warehouse_and_the_shops_are_pushed(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 3)
    for shop in ("shop-a", "shop-b"):
        await push.push_shop(hub, shop)
    assert hub.fakes["shop-a"].shows == {"SKU-1": 5}  # type: ignore[attr-defined]  # defective units never sold
    done = await defective.dispose(hub, "defective", "SKU-1", 3, action="repaired", note="new lid", actor="ann",
                                   idempotency_key=None, warehouse="wh2")
    assert done.remaining == 0 and done.shops == {"shop-a", "shop-b"}
    assert await held(hub, "SKU-1") == 0
    assert await stock_row(hub, "SKU-1", "wh2") == (3, 0) and await stock_row(hub, "SKU-1") == (5, 0)
    assert (await ledger(hub, "SKU-1"))[-2:] == [("defective", -3, "adjustment", "defective:repaired", "new lid"),
                                                 ("wh2", 3, "adjustment", "defective:repaired", "new lid")]
    async with hub.database().session() as session:
        dirty = (await session.execute(select(ChannelStockRow.shop, ChannelStockRow.dirty)
                                       .where(ChannelStockRow.merchant_sku == "SKU-1"))).all()
    assert dirty and all(flag for _, flag in dirty)
    for shop in ("shop-a", "shop-b"):
        await push.push_shop(hub, shop)
    assert hub.fakes["shop-b"].shows == {"SKU-1": 8}  # type: ignore[attr-defined]  # the repaired units sell


async def test_more_than_the_location_holds_is_refused_naming_quantity_and_changes_nothing(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 2)
    with pytest.raises(BadInputError) as refused:
        await defective.dispose(hub, "defective", "SKU-1", 3, action="repaired", note=None, actor="ann",
                                idempotency_key="k1", warehouse="wh1")
    assert refused.value.field == "quantity" and "holds 2" in str(refused.value)
    assert await held(hub, "SKU-1") == 2 and await stock_row(hub, "SKU-1") == (5, 0)
    assert len(await ledger(hub, "SKU-1")) == 2  # the seed's and the return's only
    # The refused call left its key free: the corrected call with it acts.
    done = await defective.dispose(hub, "defective", "SKU-1", 2, action="scrap", note=None, actor="ann",
                                   idempotency_key="k1")
    assert not done.repeated and await held(hub, "SKU-1") == 0


async def test_the_same_key_disposes_once(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 4)
    first = await defective.dispose(hub, "defective", "SKU-1", 1, action="repaired", note=None, actor="ann",
                                    idempotency_key="form-1", warehouse="wh1")
    again = await defective.dispose(hub, "defective", "SKU-1", 1, action="repaired", note=None, actor="ann",
                                    idempotency_key="form-1", warehouse="wh1")
    assert not first.repeated and again.repeated
    assert (again.remaining, again.warehouse, again.action) == (3, "wh1", defective.DefectiveAction.REPAIRED)
    assert await held(hub, "SKU-1") == 3 and await stock_row(hub, "SKU-1") == (6, 0)


async def test_bad_dispositions_name_their_field(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 4)
    cases = [({"action": "melt"}, "action"), ({"action": "repaired"}, "warehouse"),
             ({"action": "repaired", "warehouse": "nowhere"}, "warehouse"),
             ({"action": "scrap", "warehouse": "wh1"}, "warehouse"), ({"action": "scrap", "quantity": 0}, "quantity")]
    for fields, named in cases:
        quantity = int(fields.pop("quantity", 1))
        with pytest.raises(BadInputError) as refused:
            await defective.dispose(hub, "defective", "SKU-1", quantity, note=None, actor="t", idempotency_key=None,
                                    **fields)  # type: ignore[arg-type]
        assert refused.value.field == named, (fields, refused.value)
    assert await held(hub, "SKU-1") == 4


async def test_the_api_disposes_once_per_key_and_refuses_with_4xx(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    await put_defective(hub, "SKU-1", 3)
    body = {"location": "defective", "merchant_sku": "SKU-1", "quantity": 2, "action": "repaired",
            "warehouse": "wh1", "note": "fixed"}
    async with await client(hub, "warehouse") as c:
        first = await c.post("/api/v1/inventory/defective/dispositions", json=body, headers={"Idempotency-Key": "a"})
        again = await c.post("/api/v1/inventory/defective/dispositions", json=body, headers={"Idempotency-Key": "a"})
        too_many = await c.post("/api/v1/inventory/defective/dispositions",
                                json={**body, "quantity": 5, "action": "scrap", "warehouse": None})
        unknown = await c.post("/api/v1/inventory/defective/dispositions", json={**body, "action": "burn"})
        no_warehouse = await c.post("/api/v1/inventory/defective/dispositions", json={**body, "warehouse": None})
    async with await client(hub, "viewer") as c:
        forbidden = await c.post("/api/v1/inventory/defective/dispositions", json=body)
    assert first.status_code == 201, first.text
    assert (first.json()["remaining"], first.json()["warehouse"], first.json()["action"]) == (1, "wh1", "repaired")
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert too_many.status_code == 422 and too_many.json()["field"] == "quantity", too_many.text
    assert unknown.status_code == 422
    assert no_warehouse.status_code == 422 and no_warehouse.json()["field"] == "warehouse"
    assert forbidden.status_code == 403
    assert await held(hub, "SKU-1") == 1 and await stock_row(hub, "SKU-1") == (7, 0)


async def test_a_damaged_return_is_listed_and_repaired_back_on_hand(database_url: str) -> None:  # noqa: F811
    """From the after-sale decision to sellable again: the units ``confirm_return`` puts apart are
    the ones the list shows and a repair takes back."""
    from contracts import AfterSaleStatus, AfterSaleType
    from hub.services.aftersales import decisions
    from hub.services.aftersales.decisions import DecisionIn, LineQuality
    from tests.integration.aftersales_decisions_support import DEFECTIVE, MAIN, on_hand, stock_in, world

    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 1)
        _, order = await w.order([("MUG", 2)])
        case_id, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND, status=AfterSaleStatus.AWAITING_RETURN)
        await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return", quality=(
            LineQuality(position=1, good=0, damaged=2),)), actor="a")
        async with w.hub.database().session() as session:
            found = await defective.list_defective(session)
        assert [(x.location, x.merchant_sku, x.quantity) for x in found.lines] == [(DEFECTIVE, "MUG", 2)]
        before = await on_hand(w.hub, "MUG", MAIN)
        done = await defective.dispose(w.hub, DEFECTIVE, "MUG", 2, action="repaired", note="glued", actor="b",
                                       idempotency_key=None, warehouse=MAIN)
        assert done.remaining == 0
        assert await on_hand(w.hub, "MUG", MAIN) == before + 2
        assert await held(w.hub, "MUG", DEFECTIVE) == 0
