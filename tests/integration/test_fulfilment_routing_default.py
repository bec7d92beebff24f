"""What the automatic flow does by default (``[fulfilment.routing] auto`` unset): it routes only
when the hub has something to automate — a WMS warehouse or a courier account. A merchant with
only their own (manual) warehouse and no courier, upgrading with no ``[fulfilment]`` section, keeps
shipping by hand: approved orders stay unrouted and unheld. On SQLite and PostgreSQL; the flow's
service function is called directly, so every step is deterministic."""

from __future__ import annotations

from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import OrderRow
from hub.services.fulfilment import flow, review
from hub.testing.factories import make_order
from hub.testing.fulfilment_delivery import COURIERS, approved_order, delivery_orders_of, stock, warehouses_config
from hub.testing.hub import hub_config, running_hub


async def _order_state(hub: Hub, order_id: int) -> tuple[str, bool]:
    async with hub.database().session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one()
        return row.fulfilment_status, row.on_hold


async def test_a_hub_with_only_its_own_warehouse_and_no_courier_leaves_approved_orders_for_a_person(
    database_url: str,
) -> None:
    config = hub_config(database_url, warehouses=warehouses_config(None))
    with running_hub(config, start_workers=False, relay=False) as hub:
        assert not flow.automatic(hub)
        await stock(hub, {("own", "SKU-1"): 10})
        order_id = await approved_order(hub, make_order(lines=[("SKU-1", 1)]))

        result = await flow.fulfil_orders(hub, [order_id])

        assert result.skipped == [order_id] and not result.held
        assert await delivery_orders_of(hub, order_id) == []
        assert await _order_state(hub, order_id) == ("unfulfilled", False)
        assert (await flow.sweep(hub)).orders == []  # nothing owed: the sweep does not chase it
        # A person may still route it on demand (it is then held: no courier can take it).
        assert (await flow.fulfil_orders(hub, [order_id], manual=True)).held == {order_id: "no_courier"}
        await hub.close_loop_resources()


async def test_a_courier_account_or_auto_true_turns_the_automatic_flow_on(database_url: str) -> None:
    with_courier = hub_config(database_url, warehouses=warehouses_config(None), couriers=COURIERS)
    with running_hub(with_courier, start_workers=False, relay=False) as hub:
        assert flow.automatic(hub)
        await stock(hub, {("own", "SKU-1"): 10})
        order_id = await approved_order(hub, make_order(lines=[("SKU-1", 1)]))
        result = await flow.fulfil_orders(hub, [order_id])
        assert list(result.routed) == [order_id]
        assert await _order_state(hub, order_id) == ("sent_to_warehouse", False)
        await hub.close_loop_resources()
    forced = hub_config(database_url, warehouses=warehouses_config(None),
                        fulfilment={"routing": {"auto": True}})
    with running_hub(forced, start_workers=False, relay=False) as hub:
        assert flow.automatic(hub)
        # ... and with it the review's address check (left unset: on where the hub routes).
        assert [h.code for h in review.strategy_holds(hub.config.fulfilment.review,
                                                      make_order(shipping_address=None),
                                                      routed_by_hub=flow.automatic(hub))] == ["review_address"]
        await hub.close_loop_resources()
