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
