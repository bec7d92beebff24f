"""What routing sees of the stock: per warehouse, on hand − reserved, the routed orders' own
reservations given back to them, bundles as their scarcest component. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert, update

from hub.db.engine import Database
from hub.db.tables import ReservationRow, StockRow, utcnow
from hub.services.fulfilment.routing import warehouse_stock
from hub.services.stock import skus


async def test_warehouse_stock_counts_reserved_units_bundles_and_the_orders_own_reservations(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await skus.define_sku(session, "CUP")
        await skus.define_sku(session, "LID")
        await skus.define_sku(session, "SET", components={"CUP": 2, "LID": 1})
        now = utcnow()
        await session.execute(insert(StockRow), [
            {"warehouse": "north", "merchant_sku": "CUP", "on_hand": 10, "reserved": 4, "updated_at": now},
            {"warehouse": "north", "merchant_sku": "LID", "on_hand": 1, "reserved": 0, "updated_at": now},
            {"warehouse": "south", "merchant_sku": "CUP", "on_hand": 3, "reserved": 3, "updated_at": now},
        ])
        await session.execute(insert(ReservationRow), [
            {"order_id": 7, "line_external_id": "L1", "merchant_sku": "CUP", "warehouse": "south", "quantity": 3,
             "state": "active", "created_at": now, "updated_at": now},
            {"order_id": 8, "line_external_id": "L1", "merchant_sku": "CUP", "warehouse": "north", "quantity": 4,
             "state": "released", "created_at": now, "updated_at": now},
        ])
    async with database.session() as session:
        seen = await warehouse_stock(session, ["CUP", "SET", "NOPE"], ["north", "south", "west"], [7])
        others = await warehouse_stock(session, ["CUP"], ["north", "south"])
    assert seen == {"north": {"CUP": 6, "SET": 1, "NOPE": 0},
                    "south": {"CUP": 3, "SET": 0, "NOPE": 0},  # order 7's own 3 units are its to ship
                    "west": {"CUP": 0, "SET": 0, "NOPE": 0}}
    assert others == {"north": {"CUP": 6}, "south": {"CUP": 0}}
    async with database.transaction() as session:  # an oversold row never shows below 0
        await session.execute(update(StockRow).where(StockRow.warehouse == "south").values(reserved=5))
    async with database.session() as session:
        assert (await warehouse_stock(session, ["CUP"], ["south"]))["south"]["CUP"] == 0
