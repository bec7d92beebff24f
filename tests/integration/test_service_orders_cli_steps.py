"""``hub service-orders`` steps against a real (SQLite) database, for a shop whose connector writes
no service orders (so the hub records the steps): an assignment is taken and attributed to
``cli:<user>``; a booking that ends before it starts is exit code 2 naming the field."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlalchemy import select

from hub.cli import app
from hub.db.engine import Database
from hub.db.tables import ServiceOrderEventRow, ServiceOrderRow
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.service_orders import make_technician, store_service_order, store_technician

__all__ = ["clean_environment"]


def test_cli_steps_are_taken_attributed_and_checked(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[shops.shop-a]\nplatform = "fake"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> int:
        db = Database.connect(url)
        try:
            async with db.transaction() as session:
                await store_technician(session, make_technician("T01"))
                return await store_service_order(session, shop="shop-a", platform="fake")
        finally:
            await db.dispose()

    order_id = run_in_fresh_loop(stored)
    base = ["--config", str(config), "service-orders"]
    assigned = runner.invoke(app, [*base, "assign", str(order_id), "T01", "--if-version", "1"])
    assert assigned.exit_code == 0, assigned.output
    assert "assign taken; status assigned, version 2; write-back recorded" in assigned.output
    bad = runner.invoke(app, [*base, "book", str(order_id), "--start", "2026-12-08T11:00+08:00",
                              "--end", "2026-12-08T09:00+08:00"])
    assert bad.exit_code == 2 and "end" in bad.output

    async def read() -> tuple[str, int, list[str | None]]:
        db = Database.connect(url)
        try:
            async with db.session() as session:
                row = (await session.execute(select(ServiceOrderRow).where(
                    ServiceOrderRow.id == order_id))).scalar_one()
                actors = list((await session.execute(select(ServiceOrderEventRow.actor).where(
                    ServiceOrderEventRow.service_order_id == order_id, ServiceOrderEventRow.kind == "step"))).scalars())
                return row.status, row.version, actors
        finally:
            await db.dispose()

    assert run_in_fresh_loop(read) == ("assigned", 2, [f"cli:{getpass.getuser()}"])
