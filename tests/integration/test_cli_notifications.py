"""``hub notifications`` and ``hub reminders`` against a real database: the channels without their
secrets, a bad status named, the unpaid list written as CSV, an order marked reminded leaving it,
and an unknown order refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from hub.cli import app
from hub.db.engine import database_for_loop, dispose_all_for_loop
from hub.db.tables import OrderRow
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop

#: The CLI calls the notification services tested on both databases in test_notification_deliveries.py:
#: SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

__all__ = ["clean_environment"]


def _config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f'''
[hub]
database_url = "{database_url}"

[notifications.channels.erp-hook]
kind = "webhook"
settings = {{ url = "https://erp.example.com/hook" }}
credentials = {{ secret = "ERP_HOOK_SECRET" }}

[[notifications.rules]]
event = "order_held"
channels = ["erp-hook"]
''', encoding="utf-8")
    return path


async def _unpaid_order(url: str) -> int:
    created = datetime.now(UTC) - timedelta(hours=1)
    try:
        async with database_for_loop(url).transaction() as session:
            return (await session.execute(insert(OrderRow).values(
                platform="taobao", shop="tb1", external_id="U1", status="pending_payment", raw_status="WAIT",
                channel_created_at=created, channel_updated_at=created, total_amount=Decimal("19.90"),
                currency="CNY", buyer_nick="someone", data={}).returning(OrderRow.id))).scalar_one()
    finally:
        await dispose_all_for_loop()


def test_channels_rules_deliveries_and_the_unpaid_list(database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    env = {"HUB_CONFIG": str(config), "ERP_HOOK_SECRET": "never-shown-0123"}
    shown = runner.invoke(app, ["notifications", "channels"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "erp-hook" in shown.stdout and "never-shown" not in shown.stdout
    bad = runner.invoke(app, ["notifications", "deliveries", "--status", "lost"], env=env)
    assert bad.exit_code != 0 and "--status" in bad.output
    order_id = run_in_fresh_loop(lambda: _unpaid_order(database_url))
    csv_file = tmp_path / "unpaid.csv"
    listed = runner.invoke(app, ["reminders", "unpaid", "--csv", str(csv_file)], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"{order_id},tb1,taobao,U1" in csv_file.read_text(encoding="utf-8")
    assert runner.invoke(app, ["reminders", "done", str(order_id)], env=env).exit_code == 0
    runner.invoke(app, ["reminders", "unpaid", "--csv", str(csv_file)], env=env)
    assert "U1" not in csv_file.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["reminders", "done", "999999"], env=env)
    assert missing.exit_code != 0 and "999999" in missing.output
