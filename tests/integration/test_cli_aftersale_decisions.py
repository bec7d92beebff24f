"""``hub aftersales`` decisions against a real (SQLite) database, for a shop whose platform has no
decision API (so the hub records them): approve, refuse with and without a reason, receive with
the quality per line (stock moved, damaged to the defective location), reasons; attributed to
``cli:<user>``; a decision that does not apply is exit code 2 naming the field."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlalchemy import select

from contracts import AfterSaleStatus, AfterSaleType
from hub.cli import app
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import AfterSaleRow, DefectiveStockRow, StockRow
from hub.services.aftersales import intake
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_aftersale, make_order
from tests.integration.inventory_support import make_hub, seed

__all__ = ["clean_environment"]


def _setup(tmp_path: Path) -> tuple[Path, str, int, int]:
    """A migrated database with a refund-only case and a return awaiting its goods."""
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[shops.shop-a]\nplatform = "fake"\n\n'
                      '[warehouses.wh1]\nplatform = "manual"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> tuple[int, int]:
        hub = make_hub(url)
        try:
            await seed(hub, "MUG", 3)
            order = make_order(platform="fake", shop="shop-a", lines=[("MUG", 2)])
            async with hub.database().transaction() as session:
                from hub.services import orders

                await orders.apply_order(session, order, cause="test")
                refund, _ = await intake.apply_aftersale(session, make_aftersale(order), cause="test")
                back, _ = await intake.apply_aftersale(session, make_aftersale(
                    order, type=AfterSaleType.RETURN_AND_REFUND, status=AfterSaleStatus.AWAITING_RETURN),
                    cause="test")
            return refund, back
        finally:
            await dispose_all_for_loop()

    refund, back = run_in_fresh_loop(stored)
    return config, url, refund, back


def _read(url: str, case_id: int) -> tuple[str, str | None, dict[str, int]]:
    async def read() -> tuple[str, str | None, dict[str, int]]:
        from hub.db.engine import Database

        db = Database.connect(url)
        try:
            async with db.session() as session:
                row = (await session.execute(select(AfterSaleRow).where(AfterSaleRow.id == case_id))).scalar_one()
                stock = dict((await session.execute(select(StockRow.warehouse, StockRow.on_hand).where(
                    StockRow.merchant_sku == "MUG"))).all())
                stock.update(dict((await session.execute(select(  # damaged units are kept apart
                    DefectiveStockRow.location, DefectiveStockRow.quantity).where(
                    DefectiveStockRow.merchant_sku == "MUG"))).all()))
                return row.status, row.decided_by, stock
        finally:
            await db.dispose()

    return run_in_fresh_loop(read)


def test_cli_decisions_are_recorded_attributed_and_checked(tmp_path: Path) -> None:
    config, url, refund, back = _setup(tmp_path)
    base = ["--config", str(config), "aftersales"]
    no_reason = runner.invoke(app, [*base, "refuse", str(refund)])
    assert no_reason.exit_code == 2 and "reason_id" in no_reason.output
    approved = runner.invoke(app, [*base, "approve", str(refund), "--key", "k1"])
    assert approved.exit_code == 0, approved.output
    assert "approve_refund recorded" in approved.output and "recorded in the hub only" in approved.output
    again = runner.invoke(app, [*base, "approve", str(refund), "--key", "k1"])
    assert again.exit_code == 0 and "repeated" in again.output
    status, by, _ = _read(url, refund)
    assert status == "refunding" and by == f"cli:{getpass.getuser()}"
    not_now = runner.invoke(app, [*base, "agree-return", str(refund)])
    assert not_now.exit_code == 2 and "action" in not_now.output
    bad_quality = runner.invoke(app, [*base, "receive", str(back), "--quality", "one"])
    assert bad_quality.exit_code == 2
    received = runner.invoke(app, [*base, "receive", str(back), "--quality", "1:1:1"])
    assert received.exit_code == 0, received.output
    assert "1 × MUG → defective (damaged)" in received.output
    status, _, stock = _read(url, back)
    assert status == "refunding" and stock == {"wh1": 4, "defective": 1}
    reasons = runner.invoke(app, [*base, "reasons", str(back)])
    assert reasons.exit_code == 0 and "in words only" in reasons.output
