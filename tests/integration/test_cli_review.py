"""``hub review`` against a real (SQLite) database: list the queue with every reason, hold with a
reason, release, approve, review again; attributed to ``cli:<user>``; a bad order id or a blank
reason is a one-line error and exit code 2, an order that cannot be reviewed exit code 1."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlalchemy import select

from contracts import OrderStatus
from hub.cli import app
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import OrderHoldRow, OrderRow
from hub.services import order_flow
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from tests.integration.inventory_support import make_hub, place_order, seed

__all__ = ["clean_environment"]


def _setup(tmp_path: Path) -> tuple[Path, str, list[int]]:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[fulfilment.review]\namount_above = 50\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> list[int]:
        hub = make_hub(url, fulfilment={"review": {"amount_above": "50"}})
        try:
            await seed(hub, "MUG", 100)
            ids = [await place_order(hub, [("MUG", qty)]) for qty in (3, 1)]
            ids.append(await place_order(hub, [("MUG", 1)], status=OrderStatus.CANCELLED))
            await order_flow.after_orders_change(hub, [[i, None, "paid", "test"] for i in ids[:2]])
            return ids
        finally:
            await dispose_all_for_loop()

    return config, url, run_in_fresh_loop(stored)


def _facts(url: str, order_id: int) -> tuple[str | None, dict[str, str | None]]:
    async def read() -> tuple[str | None, dict[str, str | None]]:
        from hub.db.engine import Database

        db = Database.connect(url)
        try:
            async with db.session() as session:
                status = await session.scalar(select(OrderRow.review_status).where(OrderRow.id == order_id))
                holds = dict((await session.execute(select(OrderHoldRow.code, OrderHoldRow.released_by).where(
                    OrderHoldRow.order_id == order_id))).all())
                return status, holds
        finally:
            await db.dispose()

    return run_in_fresh_loop(read)


def test_review_commands(tmp_path: Path) -> None:
    config, url, (big, small, cancelled) = _setup(tmp_path)
    me = f"cli:{getpass.getuser()}"

    def hub_(*args: str) -> object:
        return runner.invoke(app, ["--config", str(config), "review", *args])

    listed = hub_("list")
    assert listed.exit_code == 0, listed.output
    assert str(big) in listed.stdout and "review_amount" in listed.stdout and f"\n│ {small} " not in listed.stdout
    held = hub_("hold", str(small), "--reason", "buyer called")
    assert held.exit_code == 0, held.output
    assert f"order {small} held" in held.stdout and "manual: buyer called" in held.stdout
    assert _facts(url, small) == ("held", {"manual": None})
    released = hub_("release", str(small))
    assert released.exit_code == 0 and "review approved" in released.stdout, released.output
    assert _facts(url, small) == ("approved", {"manual": me})
    approved = hub_("approve", str(big))
    assert approved.exit_code == 0 and "released: review_amount" in approved.stdout, approved.output
    assert _facts(url, big) == ("approved", {"review_amount": me})
    again = hub_("run", str(big), str(cancelled), "999999")
    assert again.exit_code == 0, again.output
    assert f"order {big}: approved" in again.stdout and f"order {cancelled}: not reviewable" in again.stdout
    assert "order 999999: does not exist" in again.stdout
    assert "no order waits for review" in hub_("list").stdout

    missing = hub_("approve", "999999")
    assert missing.exit_code == 2 and "order 999999 does not exist" in missing.output
    blank = hub_("hold", str(big), "--reason", "  ")
    assert blank.exit_code == 2 and "body.reason" in blank.output
    refused = hub_("approve", str(cancelled))
    assert refused.exit_code == 1 and "cancelled" in refused.output and "Traceback" not in refused.output
