"""``hub orders edit / cancel / approvals / approve / reject`` against a real (SQLite) database: a
note is applied (local-only for a platform without an edit API), a price change waits in the
queue, the CLI user cannot approve their own, a bad LINE=AMOUNT is exit 2 naming the field, and a
shipped order's cancellation is exit 1 naming its status."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.orders import OrderStatus
from hub.cli import app
from hub.db.engine import dispose_all_for_loop
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_order
from tests.integration.inventory_support import make_hub

__all__ = ["clean_environment"]


def _setup(tmp_path: Path) -> tuple[Path, int, int, str]:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[shops.shop-a]\nplatform = "fake"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    unpaid = make_order(platform="fake", shop="shop-a", status=OrderStatus.PENDING_PAYMENT)
    shipped = make_order(platform="fake", shop="shop-a", status=OrderStatus.SHIPPED)

    async def stored() -> tuple[int, int]:
        hub = make_hub(url)
        try:
            from hub.services import orders

            async with hub.database().transaction() as session:
                first = await orders.apply_order(session, unpaid, cause="test")
                second = await orders.apply_order(session, shipped, cause="test")
            return int(first.order_id), int(second.order_id)
        finally:
            await dispose_all_for_loop()

    unpaid_id, shipped_id = run_in_fresh_loop(stored)
    return config, unpaid_id, shipped_id, unpaid.lines[0].external_id


def test_cli_edits_wait_for_approval_and_refuse_what_the_order_does_not_allow(tmp_path: Path) -> None:
    config, unpaid, shipped, line = _setup(tmp_path)
    base = ["--config", str(config), "orders"]
    note = runner.invoke(app, [*base, "edit", str(unpaid), "--seller-note", "gift wrap", "--reason", "asked"])
    assert note.exit_code == 0, note.output
    assert "(seller_note): applied; write-back local_only" in note.output
    bad = runner.invoke(app, [*base, "edit", str(unpaid), "--price", f"{line}:9"])
    assert bad.exit_code == 2 and "price" in bad.output
    price = runner.invoke(app, [*base, "edit", str(unpaid), "--price", f"{line}=9.50", "--reason", "promo"])
    assert price.exit_code == 0 and "pending_approval" in price.output
    queue = runner.invoke(app, [*base, "approvals"])
    assert "19.90 → 9.50" in queue.output and "promo" in queue.output
    [edit_id] = re.findall(r"^(\d+)\s+order", queue.output, flags=re.MULTILINE)
    own = runner.invoke(app, [*base, "approve", edit_id])
    assert own.exit_code == 1, own.output
    assert "someone else approves it" in own.output
    rejected = runner.invoke(app, [*base, "reject", edit_id, "--note", "not this week"])
    assert rejected.exit_code == 0 and "rejected" in rejected.output
    assert "no edits pending_approval" in runner.invoke(app, [*base, "approvals"]).output
    late = runner.invoke(app, [*base, "cancel", str(shipped), "--reason", "too late"])
    assert late.exit_code == 1 and "is shipped" in late.output
