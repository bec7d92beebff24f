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


def _job_state(config: Path, job_id: int) -> tuple[str, int] | None:
    from hub.services.stock import import_jobs as stock_import

    async def read() -> tuple[str, int] | None:
        hub = build_hub(load_config(config))
        try:
            job = await stock_import.get_job(hub, job_id)
            return (job.state, job.done_rows) if job else None
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


def test_import_as_a_job_takes_the_console_and_api_path_and_never_applies_a_file_twice(
        cli_hub: Path, tmp_path: Path) -> None:
    counts = tmp_path / "count.csv"
    counts.write_text("warehouse,merchant_sku,on_hand,delta\nwh1,SKU-1,40,\nwh1,SKU-1,,-5\n")
    code, output = _invoke("import", str(counts), "--job", "--reference", "INV-9")
    assert code == 0, output
    assert "count.csv queued as import 1 (2 row(s))" in output and "/api/v1/inventory/imports/1" in output
    assert _job_state(cli_hub, 1) == ("queued", 0), "submitted only: a worker (or --wait) applies it"

    code, output = _invoke("import", str(counts), "--wait")  # the same file: its queued job, run here
    assert code == 0, output
    assert "count.csv is being imported now: import 1" in output
    assert "import 1 done: 2 row(s) applied to 1 SKU(s), net on-hand change +35" in output
    assert _on_hand(cli_hub) == (35, 0) and _job_state(cli_hub, 1) == ("done", 2)

    code, output = _invoke("import", str(counts), "--job")
    assert code == 2 and "was imported before (import 1 by cli:" in output and "--again" in output
    code, output = _invoke("import", str(counts), "--wait", "--again")
    assert code == 0 and "queued as import 2" in output and "import 2 done" in output, output
    assert _on_hand(cli_hub) == (35, 0), "the count set again, then the same delta"

    code, output = _invoke("import", str(counts), "--job", "--dry-run")
    assert code == 2 and "--dry-run checks the file without a job" in output
    bad = tmp_path / "bad.csv"
    bad.write_text("warehouse,merchant_sku,on_hand\nwh1,SKU-1,40\nwh2,SKU-1,3\n")
    code, output = _invoke("import", str(bad), "--job")
    assert code == 2 and "row 3, warehouse: unknown warehouse 'wh2'" in output
