"""Delivery orders over the API and the CLI: route an order (attributed), list with filters and
cursor pages, one with lines, parcels and history, cancel; refusals name why. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.asgi_server import serve_in_thread
from hub.cli import app as cli_app
from hub.db.tables import OrderEventRow, OrderRow
from hub.services.fulfilment import delivery_orders
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.fulfilment_delivery import COURIERS, approved_order, stock, warehouses_config
from hub.testing.hub import hub_config, running_hub
from plugins.warehouse.sandbox import QimenWmsSandbox


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    sandbox = QimenWmsSandbox()
    with serve_in_thread(sandbox.app) as base_url:
        yield sandbox, base_url


def _order(province: str, lines: list[tuple[str, int]]) -> Any:
    base = make_order(lines=lines)
    assert base.shipping_address is not None
    return base.model_copy(update={"shipping_address": base.shipping_address.model_copy(
        update={"province": province})})


async def test_route_list_show_and_cancel_over_the_api(database_url: str, wms: tuple[QimenWmsSandbox, str]) -> None:
    sandbox, base_url = wms
    config = hub_config(database_url, couriers=COURIERS, warehouses=warehouses_config(
        sandbox.warehouse_settings(base_url), wms_regions=["浙江"]))
    with running_hub(config, start_workers=False, relay=False) as hub:
        async with api_client(hub) as client:
            await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-1"): 10})
            writer, reader = bearer(await new_key(hub, "warehouse")), bearer(await new_key(hub, "viewer"))
            own_id = await approved_order(hub, _order("北京", [("SKU-1", 1)]))
            wms_id = await approved_order(hub, _order("浙江省", [("SKU-1", 2)]))
            unapproved = await approved_order(hub, _order("浙江省", [("SKU-1", 1)]))
            async with hub.database().transaction() as session:
                await session.execute(update(OrderRow).where(OrderRow.id == unapproved).values(review_status=None))

            denied = await client.post(f"/api/v1/orders/{own_id}/route", headers=reader)
            assert denied.status_code == 403
            routed = await client.post(f"/api/v1/orders/{own_id}/route", headers=writer)
            assert routed.status_code == 200, routed.text
            body = routed.json()
            assert body["outcome"] == "routed" and body["hold"] is None
            [own_do] = body["delivery_orders"]
            assert (own_do["warehouse"], own_do["kind"], own_do["status"]) == ("own", "own", "sent")
            assert own_do["created_by"].startswith("apikey:")
            again = await client.post(f"/api/v1/orders/{own_id}/route", headers=writer)
            assert again.status_code == 409 and "open delivery order" in again.json()["detail"]
            refused = await client.post(f"/api/v1/orders/{unapproved}/route", headers=writer)
            assert refused.status_code == 409 and "not approved" in refused.json()["detail"]
            missing = await client.post("/api/v1/orders/999999/route", headers=writer)
            assert missing.status_code == 404
            wms_do = (await client.post(f"/api/v1/orders/{wms_id}/route", headers=writer)).json()["delivery_orders"][0]
            assert (wms_do["kind"], wms_do["status"]) == ("wms", "pending")

            listed = (await client.get("/api/v1/delivery-orders", headers=reader)).json()
            assert [d["id"] for d in listed["items"]] == [wms_do["id"], own_do["id"]]
            first = (await client.get("/api/v1/delivery-orders?limit=1", headers=reader)).json()
            rest = (await client.get(f"/api/v1/delivery-orders?limit=1&cursor={first['next_cursor']}",
                                     headers=reader)).json()
            assert [d["id"] for d in first["items"] + rest["items"]] == [wms_do["id"], own_do["id"]]
            assert rest["next_cursor"] is None
            for query, expected in [("kind=own", [own_do["id"]]), ("warehouse=wms-hz", [wms_do["id"]]),
                                    ("status=pending", [wms_do["id"]]), (f"order_id={own_id}", [own_do["id"]]),
                                    ("status=sent&status=pending", [wms_do["id"], own_do["id"]])]:
                found = (await client.get(f"/api/v1/delivery-orders?{query}", headers=reader)).json()
                assert [d["id"] for d in found["items"]] == expected, query
            bad = await client.get("/api/v1/delivery-orders?status=lost", headers=reader)
            assert bad.status_code == 422
            bad_cursor = await client.get("/api/v1/delivery-orders?cursor=zzz", headers=reader)
            assert bad_cursor.status_code == 400 and bad_cursor.json()["field"] == "query.cursor"

            detail = (await client.get(f"/api/v1/delivery-orders/{own_do['id']}", headers=reader)).json()
            assert [(line["order_id"], line["quantity"]) for line in detail["lines"]] == [(own_id, 1)]
            assert [(p["key"], p["status"], p["courier_code"]) for p in detail["parcels"]] == [
                (f"P{own_do['id']}-1", "pending", "sf")]
            assert [h["event"] for h in detail["history"]] == ["created"]
            assert (await client.get("/api/v1/delivery-orders/999999", headers=reader)).status_code == 404

            await delivery_orders.send_delivery_orders(hub, [wms_do["id"]])
            cancelled = await client.post(f"/api/v1/delivery-orders/{wms_do['id']}/cancel", headers=writer,
                                          json={"reason": "buyer changed their mind"})
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"
            assert [h["event"] for h in cancelled.json()["history"]] == ["created", "sent", "cancelled"]
            assert sandbox.orders[wms_do["code"]].status == "CANCELED"
            repeat = await client.post(f"/api/v1/delivery-orders/{wms_do['id']}/cancel", headers=writer)
            assert repeat.status_code == 200
            async with hub.database().session() as session:
                actors = (await session.execute(select(OrderEventRow.actor).where(
                    OrderEventRow.order_id == wms_id, OrderEventRow.kind == "delivery_order_cancelled"))).scalars()
                assert [a for a in actors if a and a.startswith("apikey:")]
        await hub.close_loop_resources()


def test_the_cli_routes_lists_shows_and_cancels(database_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.testing.db import run_in_fresh_loop

    config_file = tmp_path / "hub.toml"
    config_file.write_text(
        f'[hub]\ndatabase_url = "{database_url}"\n\n'
        '[warehouses.own]\nplatform = "manual"\n\n'
        '[couriers.sf]\nplatform = "kuaidi100_label"\ncourier_code = "SF"\n', encoding="utf-8")
    config = hub_config(database_url, couriers=COURIERS, warehouses=warehouses_config(None))
    with running_hub(config, start_workers=False, relay=False) as hub:
        async def prepare() -> int:
            await stock(hub, {("own", "SKU-1"): 10})
            order_id = await approved_order(hub, _order("北京", [("SKU-1", 1)]))
            await hub.close_loop_resources()
            return order_id

        order_id = run_in_fresh_loop(prepare)
    runner = CliRunner()

    def hub_cli(*args: str) -> Any:
        return runner.invoke(cli_app, ["--config", str(config_file), "delivery", *args])

    routed = hub_cli("route", str(order_id))
    assert routed.exit_code == 0, routed.output
    assert f"order {order_id} routed" in routed.output
    assert hub_cli("route", str(order_id)).exit_code == 1
    listed = hub_cli("list", "--kind", "own")
    assert listed.exit_code == 0 and f"DO{order_id}-1" in listed.output
    assert hub_cli("list", "--status", "lost").exit_code == 2
    do_id = int(listed.output.split(f"DO{order_id}-1")[0].split("│")[-2].strip())
    shown = hub_cli("show", str(do_id))
    assert shown.exit_code == 0 and "P" in shown.output and "created" in shown.output
    assert hub_cli("show", "999999").exit_code == 2  # not found: bad input
    cancelled = hub_cli("cancel", str(do_id), "--reason", "test")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    assert "cancelled" in hub_cli("show", str(do_id)).output
