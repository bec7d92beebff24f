"""``hub stock import``: a file with a bad row is refused naming row and field and applies nothing;
a good file is applied whole with a summary."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hub.config import load_config
from hub.context import build_hub
from hub.db.migrate import upgrade
from hub.services.stock import skus
from hub.stock_cli import stock_app
from tests.integration.inventory_support import close_hub, stock_row


@pytest.fixture
def cli_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[warehouses.wh1]\n')
    monkeypatch.setenv("HUB_CONFIG", str(config))
    upgrade(url)

    async def catalogue() -> None:
        hub = build_hub(load_config(config))
        async with hub.database().transaction() as session:
            await skus.define_sku(session, "SKU-1")
        await close_hub(hub)

    asyncio.run(catalogue())
    return config


def _invoke(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.add_typer(stock_app, name="stock")
    result = CliRunner().invoke(app, ["stock", *args])
    return result.exit_code, result.output


def _on_hand(config: Path) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        hub = build_hub(load_config(config))
        try:
            return await stock_row(hub, "SKU-1")
        finally:
            await close_hub(hub)

    return asyncio.run(read())


def test_import_with_a_bad_row_names_it_and_applies_nothing(cli_hub: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("warehouse,merchant_sku,on_hand\nwh1,SKU-1,40\nwh1,SKU-1,-3\n")
    code, output = _invoke("import", str(bad))
    assert code == 2 and "row 3, on_hand" in output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("warehouse,merchant_sku,on_hand\nwh1,SKU-1,40\nwh2,SKU-1,3\n")
    code, output = _invoke("import", str(unknown))
    assert code == 2 and "row 3: unknown warehouse 'wh2'" in output


def test_import_applies_every_row_and_says_what_changed(cli_hub: Path, tmp_path: Path) -> None:
    good = tmp_path / "count.csv"
    good.write_text("warehouse,merchant_sku,on_hand,delta\nwh1,SKU-1,40,\nwh1,SKU-1,,-5\n")
    code, output = _invoke("import", str(good))
    assert code == 0, output
    assert "applied 2 row(s) to 1 SKU(s), net on-hand change +35" in output
    assert _on_hand(cli_hub) == (35, 0)
