"""``hub warehouse`` against real databases: the pick list shows what to pick with its waybills,
pick → pack → ship records one shipment however often ``ship`` runs, and a step the state does
not allow exits 1 naming the state."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.cli import app
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import ShipmentRow
from hub.testing import fulfilment_factories as ff
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop
from tests.integration.test_api_support import make_hub

__all__ = ["clean_environment"]


async def _delivery(url: str) -> int:
    hub = make_hub(url)
    try:
        order_id, order = await ff.paid_order(hub, platform="fake", shop="cli-shop", lines=[("SKU-CLI", 3)])
        delivery_id = await ff.delivery_order(hub, order_id, order, code="CLI-1", warehouse="default")
        await ff.parcel(hub, delivery_id, order_id, waybill_number="SFCLI0001")
        return delivery_id
    finally:
        await hub.close_loop_resources()
        await dispose_all_for_loop()


async def _shipments(url: str) -> int:
    hub = make_hub(url)
    try:
        async with hub.database().session() as session:
            return int(await session.scalar(select(func.count()).select_from(ShipmentRow)) or 0)
    finally:
        await hub.close_loop_resources()
        await dispose_all_for_loop()


def test_pick_pack_ship_from_the_command_line(database_url: str) -> None:
    delivery_id = run_in_fresh_loop(lambda: _delivery(database_url))
    env = {"HUB_DATABASE_URL": database_url}

    listed = runner.invoke(app, ["warehouse", "pick-list", "--warehouse", "default"], env=env)
    as_csv = runner.invoke(app, ["warehouse", "pick-list", "--csv"], env=env)
    early = runner.invoke(app, ["warehouse", "ship", str(delivery_id)], env=env)
    picked = runner.invoke(app, ["warehouse", "pick", str(delivery_id)], env=env)
    packed = runner.invoke(app, ["warehouse", "pack", str(delivery_id), "--weight", "850"], env=env)
    shipped = runner.invoke(app, ["warehouse", "ship", str(delivery_id)], env=env)
    again = runner.invoke(app, ["warehouse", "ship", str(delivery_id)], env=env)
    missing = runner.invoke(app, ["warehouse", "pick", "999999"], env=env)

    assert listed.exit_code == 0, listed.output
    assert "CLI-1" in listed.stdout and "SFCLI0001" in listed.stdout and "SKU-CLI x3" in listed.stdout
    assert as_csv.exit_code == 0 and as_csv.stdout.startswith("delivery_order_id,code,")
    assert early.exit_code == 1 and "is sent" in early.output and "Traceback" not in early.output
    assert picked.exit_code == 0, picked.output
    assert packed.exit_code == 0 and "SFCLI0001" in packed.stdout, packed.output
    assert shipped.exit_code == 0 and "shipped" in shipped.stdout, shipped.output
    assert again.exit_code == 0 and "already shipped" in again.stdout
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert run_in_fresh_loop(lambda: _shipments(database_url)) == 1
