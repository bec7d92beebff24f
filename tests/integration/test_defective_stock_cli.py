"""``hub stock defective`` and ``hub stock dispose`` on SQLite and PostgreSQL: the defective units
as a table and as JSON; a disposition changes the defective location and on hand, once per
``--key``; asking for more than the location holds is one line naming ``quantity``, exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hub.cli import app
from hub.db.engine import Database, dispose_all_for_loop
from hub.db.tables import DefectiveStockRow, StockRow
from hub.services.stock import skus
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop

__all__ = ["clean_environment"]


def _setup(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[warehouses.wh1]\n', encoding="utf-8")

    async def stored() -> None:
        db = Database.connect(url)
        try:
            async with db.transaction() as session:
                await skus.define_sku(session, "SKU-1", name="Kettle")
                session.add(DefectiveStockRow(location="defective", merchant_sku="SKU-1", quantity=4,
                                              updated_at=datetime.now(UTC)))
        finally:
            await db.dispose()
            await dispose_all_for_loop()

    run_in_fresh_loop(stored)
    return config


def _levels(url: str) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        db = Database.connect(url)
        try:
            async with db.session() as session:
                held = await session.scalar(select(DefectiveStockRow.quantity))
                on_hand = await session.scalar(select(StockRow.on_hand).where(StockRow.warehouse == "wh1"))
            return int(held or 0), int(on_hand or 0)
        finally:
            await db.dispose()
            await dispose_all_for_loop()

    return run_in_fresh_loop(read)


def test_defective_stock_is_listed_and_disposed_of_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    config = _setup(tmp_path, database_url)
    base = ["--config", str(config), "stock"]
    table = runner.invoke(app, [*base, "defective"])
    assert table.exit_code == 0, table.output
    assert "Kettle" in table.output and "4 defective unit(s): defective 4" in table.output
    listed = json.loads(runner.invoke(app, [*base, "defective", "--json"]).output)
    assert listed["total"] == 4 and listed["items"][0]["merchant_sku"] == "SKU-1"

    repaired = runner.invoke(app, [*base, "dispose", "defective", "SKU-1", "3", "--action", "repaired",
                                   "--warehouse", "wh1", "--note", "new lid", "--key", "k1"])
    assert repaired.exit_code == 0, repaired.output
    assert "back on hand in wh1; 1 defective left there" in repaired.output
    again = runner.invoke(app, [*base, "dispose", "defective", "SKU-1", "3", "--action", "repaired",
                                "--warehouse", "wh1", "--key", "k1"])
    assert again.exit_code == 0 and "already done" in again.output
    assert _levels(database_url) == (1, 3)

    too_many = runner.invoke(app, [*base, "dispose", "defective", "SKU-1", "2", "--action", "scrap"])
    assert too_many.exit_code == 2 and "quantity:" in too_many.output and "holds 1" in too_many.output
    scrapped = runner.invoke(app, [*base, "dispose", "defective", "SKU-1", "1", "--action", "scrap",
                                   "--note", "beyond repair"])
    assert scrapped.exit_code == 0, scrapped.output
    assert _levels(database_url) == (0, 3)
    assert "no defective stock" in runner.invoke(app, [*base, "defective"]).output
