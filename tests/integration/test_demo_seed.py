"""``hub run --demo``'s seeding, on SQLite and PostgreSQL: started twice over the same database it
keeps one admin key, one demo user and one shared saved view of held orders, which every console
user sees on the orders screen."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from hub.db.tables import SavedViewRow
from hub.demo import DEMO_VIEW_NAME, DemoEnvironment, seed_demo
from hub.services import saved_views
from tests.integration.inventory_support import close_hub, make_hub


async def test_seeding_twice_keeps_one_shared_view_of_held_orders(database_url: str, tmp_path: Path) -> None:
    hub = make_hub(database_url, shops={}, warehouses=("main",))
    try:
        first = await seed_demo(hub, DemoEnvironment(hub, tmp_path))
        again = DemoEnvironment(hub, tmp_path)
        again.secrets = {"HUB_DEMO_ADMIN_KEY": first}
        assert await seed_demo(hub, again) == first
        async with hub.database().session() as session:
            views = await saved_views.views_for(session, saved_views.owner_key("user", "someone.else"))
            count = await session.scalar(select(func.count()).select_from(SavedViewRow))
    finally:
        await close_hub(hub)
    assert count == 1
    assert [(v.name, v.filters, v.shared, v.owner_name) for v in views] == [
        (DEMO_VIEW_NAME, {"held": "1"}, True, "demo.operator")]


async def test_the_demo_configures_fulfilment_stocks_both_warehouses_and_writes_a_config_that_loads(
    database_url: str, tmp_path: Path
) -> None:
    """``start_demo``'s fulfilment part: the own warehouse and the 3PL (stocked once, however often
    the demo is seeded), the couriers and the fulfilment sections — all written to hub-demo.toml
    with the secrets by variable name, and the file loads."""
    from hub.config import HubConfig, load_config
    from hub.context import Hub
    from hub.db.tables import StockRow
    from hub.demo import DEMO_SKUS, _split_secrets
    from hub.demo_fulfilment import DEMO_3PL, DEMO_3PL_STOCK, DEMO_OWN, K100_LABEL, K100_TRACK, configure
    from hub.plugins import build_plugin_manager

    hub = Hub(HubConfig(hub={"database_url": database_url}), build_plugin_manager())
    env = DemoEnvironment(hub, tmp_path)
    api = "http://127.0.0.1:8000"
    try:
        env.fulfilment = configure(hub, env, api, lambda account, settings, model: _split_secrets(
            env, account, settings, model))
        hub.config._secrets = dict(env.secrets)
        assert env.fulfilment is not None
        await seed_demo(hub, env)
        again = DemoEnvironment(hub, tmp_path)
        again.secrets = dict(env.secrets)
        await seed_demo(hub, again)
        async with hub.database().session() as session:
            stock = {(row.warehouse, row.merchant_sku): row.on_hand
                     for row in (await session.execute(select(StockRow))).scalars()}
    finally:
        env.stop()
        await close_hub(hub)
    assert stock == {**{(DEMO_OWN, sku): n for sku, n in DEMO_SKUS.items()},
                     **{(DEMO_3PL, sku): n for sku, n in DEMO_3PL_STOCK.items()}}
    written = load_config(env.config_path)
    assert written.warehouses[DEMO_OWN].address and written.warehouses[DEMO_OWN].regions
    assert written.warehouses[DEMO_3PL].platform == "qimen"
    assert written.warehouses[DEMO_3PL].credentials == {"app_secret": "HUB_DEMO_WMS_3PL_APP_SECRET"}
    assert {K100_LABEL, K100_TRACK} <= set(written.couriers)
    assert written.fulfilment.tracking.courier == K100_TRACK and written.fulfilment.tracking.callback_base_url == api
    assert written.fulfilment.review.hold_on_buyer_remark
    assert [rule.courier for rule in written.fulfilment.couriers.rules] == [K100_LABEL]  # no channel sandbox here
    text = env.config_path.read_text()
    assert not [value for name, value in env.secrets.items() if value in text]
