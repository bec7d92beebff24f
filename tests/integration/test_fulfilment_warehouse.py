"""The warehouse step on SQLite and PostgreSQL: a Qimen WMS's signed callbacks over real HTTP
from its sandbox (a confirmation records parcels and one shipment and queues the channel's
confirmation; a repeat, a bad signature or an unknown delivery order stores nothing more; a stock
report goes through the ledger once), and the own warehouse's pick → pack → ship through the API
(a parcel without a waybill cannot ship; shipping twice makes one shipment)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

import plugins.warehouse.plugin as warehouse_plugin
from hub.api import create_app
from hub.asgi_server import BackgroundServer, serve_in_thread
from hub.context import Hub
from hub.db.tables import DeliveryOrderRow, OutboxRow, ParcelRow, ShipmentRow, StockLedgerRow, StockRow
from hub.services.fulfilment import shipments, wms_callbacks
from hub.services.fulfilment.waybills import ISSUE_ACTOR
from hub.services.stock import adjustments, skus
from hub.testing import fulfilment_factories as ff
from hub.testing.api import api_client, bearer, new_key
from hub.testing.hub import hub_config, running_hub
from plugins.warehouse.mapping import (
    DeliveredPackage,
    DeliveryOrderConfirmation,
    PackageItem,
    WarehouseOrderStatus,
)
from plugins.warehouse.sandbox import QimenWmsSandbox
from tests.integration.test_fulfilment_flow import Channel, Plugin, _reset

__all__ = ["_reset"]

WMS = "wms-hz"


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    sandbox = QimenWmsSandbox()
    sandbox.set_stock("SKU-1", 10)
    with serve_in_thread(sandbox.app) as base_url:
        yield sandbox, base_url


def _config(database_url: str, sandbox: QimenWmsSandbox, base_url: str) -> Any:
    shop = f"wh-{secrets.token_hex(3)}"
    return hub_config(database_url, shops={shop: {"platform": "shipshop"}},
                      warehouses={"main": {"platform": "manual"},
                                  WMS: {"platform": "qimen", "settings": sandbox.warehouse_settings(base_url)}})


@contextmanager
def _hub(database_url: str, wms: tuple[QimenWmsSandbox, str]) -> Iterator[tuple[Hub, QimenWmsSandbox]]:
    """A hub (no workers, no relay) with a shop, the own warehouse and the served WMS; and the WMS."""
    sandbox, base_url = wms
    with running_hub(_config(database_url, sandbox, base_url), extra_plugins=[Plugin(), warehouse_plugin],
                     load_entry_points=False, start_workers=False, relay=False) as hub:
        yield hub, sandbox


async def _count(hub: Hub, model: Any, *where: Any) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _delivery(hub: Hub, code: str, lines: list[tuple[str, int]], **where: Any) -> tuple[int, Any, int]:
    """A paid order in the hub's shop and its delivery order ``code`` (``where``: warehouse, kind)."""
    shop = next(iter(hub.config.shops))
    order_id, order = await ff.paid_order(hub, platform="shipshop", shop=shop, lines=lines)
    delivery_id = await ff.delivery_order(hub, order_id, order, code=code, **where)
    return order_id, order, delivery_id


async def _wms_order(hub: Hub, code: str, lines: list[tuple[str, int]] | None = None) -> tuple[int, int]:
    """A paid order, its delivery order to the WMS, created in the sandbox too."""
    order_id, order, delivery_id = await _delivery(hub, code, lines or [("SKU-1", 2)], warehouse=WMS, kind="wms")
    await hub.accounts().warehouse(WMS).create_delivery_order(order, [line.external_id for line in order.lines], code)
    return order_id, delivery_id


async def test_a_wms_confirmation_over_http_records_one_shipment_however_often_it_comes(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        order_id, delivery_id = await _wms_order(hub, "DO-W-1")
        server = BackgroundServer(create_app(hub)).start()
        try:
            url = f"{server.base_url}/webhooks/warehouse/{WMS}"
            confirm = sandbox.ship("DO-W-1", "SF1400000000001", "SF", weight_kg="1.25")
            first = await sandbox.send_callback(url, confirm)
            again = await sandbox.send_callback(url, confirm)
        finally:
            server.stop()

        assert first.status_code == 200 and "<flag>success</flag>" in first.text
        assert again.status_code == 200 and "<flag>success</flag>" in again.text
        async with hub.database().session() as session:
            shipment = (await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id))
                        ).scalars().one()
            parcel = (await session.execute(select(ParcelRow).where(ParcelRow.delivery_order_id == delivery_id))
                      ).scalars().one()
            delivery = await session.get(DeliveryOrderRow, delivery_id)
            confirms = int(await session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.actor == shipments.CONFIRM_ACTOR)) or 0)
        assert shipment.created_by == f"wms:{WMS}" and shipment.warehouse == WMS
        assert [p["tracking_number"] for p in shipment.data["parcels"]] == ["SF1400000000001"]
        assert shipment.data["parcels"][0]["items"][0]["quantity"] == 2
        assert (parcel.courier_code, parcel.waybill_number, parcel.status) == ("sf", "SF1400000000001", "shipped")
        assert parcel.shipment_id == shipment.id and parcel.weight_grams == 1250
        assert delivery is not None and delivery.status == "shipped" and delivery.shipped_at is not None
        assert confirms == 1, "the channel confirmation is queued once"
        await hub.close_loop_resources()


async def test_an_order_shipped_in_two_confirmations_ships_each_package_once(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        order_id, delivery_id = await _wms_order(hub, "DO-W-P", lines=[("SKU-1", 2), ("SKU-2", 1)])

        def confirmation(biz: str, final: bool, packages: list[DeliveredPackage]) -> DeliveryOrderConfirmation:
            return DeliveryOrderConfirmation(
                delivery_order_code="DO-W-P", delivery_order_id="880001", warehouse_code="WH-HZ-01",
                order_type="JYCK", status=WarehouseOrderStatus.SHIPPED if final else
                WarehouseOrderStatus.PARTIALLY_SHIPPED, raw_status="DELIVERED" if final else "PARTDELIVERED",
                out_biz_code=biz, final=final, confirmed_at=None, packages=tuple(packages))

        first = confirmation("B-1", False, [DeliveredPackage("ZTO", "ZT001", None, (PackageItem("SKU-1", 2),))])
        second = confirmation("B-2", True, [DeliveredPackage("ZTO", "ZT002", None, (PackageItem("SKU-2", 1),))])
        part = await wms_callbacks.apply_confirmation(hub, WMS, first)
        repeat = await wms_callbacks.apply_confirmation(hub, WMS, first)
        done = await wms_callbacks.apply_confirmation(hub, WMS, second)

        assert part.status == "picking" and len(part.shipment_ids) == 1
        assert repeat.repeated and repeat.shipment_ids == []
        assert done.status == "shipped" and len(done.shipment_ids) == 1
        async with hub.database().session() as session:
            rows = list((await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id)
                                               .order_by(ShipmentRow.id))).scalars())
            parcels = list((await session.execute(select(ParcelRow).where(ParcelRow.delivery_order_id == delivery_id)
                                                  .order_by(ParcelRow.seq))).scalars())
        assert [[p["tracking_number"] for p in r.data["parcels"]] for r in rows] == [["ZT001"], ["ZT002"]]
        assert [r.data["partial"] for r in rows] == [True, False]
        assert [(p.seq, p.courier_code, p.waybill_number, p.status) for p in parcels] == [
            (1, "zto", "ZT001", "shipped"), (2, "zto", "ZT002", "shipped")]
        await hub.close_loop_resources()


async def test_a_bad_signature_or_an_unknown_delivery_order_is_refused_and_stores_nothing(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        _, delivery_id = await _wms_order(hub, "DO-W-2")
        async with api_client(hub) as client:
            url = f"/webhooks/warehouse/{WMS}"
            sandbox.inject_fault("bad_sign")
            params, body = sandbox.ship("DO-W-2", "SF1400000000002")
            bad = await client.post(url, params=params, content=body)
            _, foreign = await _wms_order(hub, "DO-W-3")
            async with hub.database().transaction() as session:  # a delivery order this WMS does not know
                row = await session.get(DeliveryOrderRow, foreign)
                assert row is not None
                row.code = "DO-W-3-renamed"
            params, body = sandbox.ship("DO-W-3", "SF1400000000003")
            unknown = await client.post(url, params=params, content=body)
            unknown_warehouse = await client.post("/webhooks/warehouse/nowhere", params=params, content=body)

        assert bad.status_code == 401 and "<flag>failure</flag>" in bad.text
        assert unknown.status_code == 404 and "<flag>failure</flag>" in unknown.text
        assert "DO-W-3" in unknown.text
        assert unknown_warehouse.status_code == 404 and "<flag>failure</flag>" in unknown_warehouse.text
        assert await _count(hub, ShipmentRow) == 0
        assert await _count(hub, ParcelRow) == 0
        async with hub.database().session() as session:
            delivery = await session.get(DeliveryOrderRow, delivery_id)
        assert delivery is not None and delivery.status == "sent"
        await hub.close_loop_resources()


async def test_a_stock_report_changes_on_hand_through_the_ledger_once(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, sandbox):
        async with hub.database().transaction() as session:
            await skus.define_sku(session, "SKU-1")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse=WMS, merchant_sku="SKU-1", on_hand=10)],
                                       actor="test")
        server = BackgroundServer(create_app(hub)).start()
        try:
            url = f"{server.base_url}/webhooks/warehouse/{WMS}"
            report = sandbox.stock_change("SKU-1", 5, order_code="PD-1", order_type="PYRK")
            first = await sandbox.send_callback(url, report)
            again = await sandbox.send_callback(url, report)
            unknown_sku = await sandbox.send_callback(url, sandbox.stock_change("SKU-404", 1))
        finally:
            server.stop()

        assert first.status_code == 200 and again.status_code == 200
        assert unknown_sku.status_code == 400 and "SKU-404" in unknown_sku.text
        async with hub.database().session() as session:
            on_hand = await session.scalar(select(StockRow.on_hand).where(
                StockRow.warehouse == WMS, StockRow.merchant_sku == "SKU-1"))
            ledger = list((await session.execute(select(StockLedgerRow).where(
                StockLedgerRow.cause == "warehouse_report"))).scalars())
        assert on_hand == 15
        assert [(r.warehouse, r.on_hand_delta, r.actor) for r in ledger] == [(WMS, 5, f"wms:{WMS}")]
        assert ledger[0].reference and ledger[0].reference.startswith("SC-")
        await hub.close_loop_resources()


async def test_own_warehouse_pick_pack_ship_records_one_shipment_and_refuses_a_parcel_without_waybill(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        order_id, order, delivery_id = await _delivery(hub, "OWN-1", [("SKU-1", 2), ("SKU-2", 1)], warehouse="main")
        first_parcel = await ff.parcel(hub, delivery_id, order_id, waybill_number="SF900001")
        line_a, line_b = (line.external_id for line in order.lines)
        key = await new_key(hub, "warehouse")
        async with api_client(hub) as client:
            listed = (await client.get("/api/v1/warehouse/pick-list", headers=bearer(key))).json()
            csv_text = (await client.get("/api/v1/warehouse/pick-list?format=csv", headers=bearer(key))).text
            early = await client.post(f"/api/v1/delivery-orders/{delivery_id}/ship", headers=bearer(key))
            picked = await client.post("/api/v1/warehouse/pick", headers=bearer(key),
                                       json={"delivery_order_ids": [delivery_id]})
            packed = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(key), json={
                "parcels": [{"weight_grams": 1200, "items": [{"line_external_id": line_a, "quantity": 2}]},
                            {"weight_grams": 300, "items": [{"line_external_id": line_b, "quantity": 1}]}]})
            no_waybill = await client.post(f"/api/v1/delivery-orders/{delivery_id}/ship", headers=bearer(key))
            new_parcel = packed.json()["parcels"][1]["id"]
            await ff.issue_waybill(hub, new_parcel, "SF900002")  # what issue_waybills does
            shipped = await client.post(f"/api/v1/delivery-orders/{delivery_id}/ship", headers=bearer(key))
            again = await client.post(f"/api/v1/delivery-orders/{delivery_id}/ship", headers=bearer(key))
            after = (await client.get("/api/v1/warehouse/pick-list", headers=bearer(key))).json()

        assert [d["id"] for d in listed["delivery_orders"]] == [delivery_id]
        assert listed["sku_totals"] == {"SKU-1": 2, "SKU-2": 1}
        assert listed["delivery_orders"][0]["parcels"][0]["waybill_number"] == "SF900001"
        assert "OWN-1" in csv_text and "SF900001" in csv_text
        assert early.status_code == 409 and "sent" in early.json()["detail"]
        assert picked.status_code == 200 and picked.json()["changed"] == [delivery_id]
        assert packed.status_code == 200 and packed.json()["status"] == "packed"
        weights = [(p["id"], p["weight_grams"], p["status"]) for p in packed.json()["parcels"]]
        assert weights == [(first_parcel, 1200, "issued"), (new_parcel, 300, "pending")]
        assert no_waybill.status_code == 409 and "without a waybill" in no_waybill.json()["detail"]
        assert shipped.status_code == 200 and len(shipped.json()["shipment_ids"]) == 1
        assert again.status_code == 200 and again.json()["repeated"] is True
        assert again.json()["shipment_ids"] == shipped.json()["shipment_ids"]
        assert after["delivery_orders"] == []
        async with hub.database().session() as session:
            shipment = (await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id))
                        ).scalars().one()
            parcels = list((await session.execute(select(ParcelRow).where(
                ParcelRow.delivery_order_id == delivery_id).order_by(ParcelRow.seq))).scalars())
            issue = list((await session.execute(select(OutboxRow).where(OutboxRow.actor == ISSUE_ACTOR))).scalars())
        assert shipment.created_by is not None and shipment.created_by.startswith("apikey:")
        assert sorted(p["tracking_number"] for p in shipment.data["parcels"]) == ["SF900001", "SF900002"]
        assert [(p.status, p.shipment_id) for p in parcels] == [("shipped", shipment.id)] * 2
        assert [row.args for row in issue] == [[[new_parcel]]]
        assert Channel.calls == []  # no workers here: the confirmation waits in the outbox
        await hub.close_loop_resources()


async def test_own_warehouse_steps_refuse_bad_states_and_input_with_reasons(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    with _hub(database_url, wms) as (hub, _):
        _, order, delivery_id = await _delivery(hub, "OWN-2", [("SKU-1", 2)], warehouse="main")
        _, wms_delivery = await _wms_order(hub, "DO-W-4")
        viewer, clerk = await new_key(hub, "viewer"), await new_key(hub, "warehouse")
        async with api_client(hub) as client:
            forbidden = await client.post("/api/v1/warehouse/pick", headers=bearer(viewer),
                                          json={"delivery_order_ids": [delivery_id]})
            pack_early = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk),
                                           json={"parcels": [{"weight_grams": 100}]})
            not_ours = await client.post("/api/v1/warehouse/pick", headers=bearer(clerk),
                                         json={"delivery_order_ids": [wms_delivery]})
            missing = await client.post("/api/v1/warehouse/pick", headers=bearer(clerk),
                                        json={"delivery_order_ids": [10**9]})
            await client.post("/api/v1/warehouse/pick", headers=bearer(clerk),
                              json={"delivery_order_ids": [delivery_id]})
            bad_line = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk), json={
                "parcels": [{"weight_grams": 100, "items": [{"line_external_id": "nope", "quantity": 1}]}]})
            two_without_items = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk),
                                                  json={"parcels": [{"weight_grams": 1}, {"weight_grams": 2}]})
            line = order.lines[0].external_id
            unit = [{"line_external_id": line, "quantity": 1}]
            two = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk), json={
                "parcels": [{"weight_grams": 1, "items": unit}, {"weight_grams": 2, "items": []}]})
            too_many = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk), json={
                "parcels": [{"weight_grams": 1, "items": unit}, {"weight_grams": 2, "items": unit * 2}]})
            split = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk), json={
                "parcels": [{"weight_grams": 1, "items": unit}, {"weight_grams": 2, "items": unit}]})
            repacked = await client.post(f"/api/v1/delivery-orders/{delivery_id}/pack", headers=bearer(clerk),
                                         json={"parcels": [{"weight_grams": 700}]})

        assert forbidden.status_code == 403
        assert pack_early.status_code == 409 and "sent" in pack_early.json()["detail"]
        assert not_ours.status_code == 409 and "WMS" in not_ours.json()["detail"]
        assert missing.status_code == 404
        assert bad_line.status_code == 400 and bad_line.json()["field"] == "body.parcels.0.items.0.line_external_id"
        assert two_without_items.status_code == 400 and two_without_items.json()["field"] == "body.parcels.0.items"
        assert two.status_code == 400 and two.json()["field"] == "body.parcels.1.items"
        assert too_many.status_code == 400 and too_many.json()["field"] == "body.parcels.1.items.1.quantity"
        assert split.status_code == 200 and [p["status"] for p in split.json()["parcels"]] == ["pending"] * 2
        async with hub.database().session() as session:
            issue = list(await session.scalars(select(OutboxRow.args).where(OutboxRow.actor == ISSUE_ACTOR)))
        assert issue == [[[p["id"] for p in split.json()["parcels"]]]], "the new parcels' waybills are asked for"
        assert repacked.status_code == 200 and [p["weight_grams"] for p in repacked.json()["parcels"]] == [700]
        await hub.close_loop_resources()

