"""``hub aftersales list``, ``show`` and ``open`` against a real (SQLite) database: the list the
soonest deadline first with its filters, as a table and as JSON; one case in full; a case opened
for an order, attributed to ``cli:<user>``; a bad line or an unknown case is a one-line error
and exit code 2."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from contracts import AfterSaleStatus, AfterSaleType
from hub.cli import app
from hub.db.engine import Database, dispose_all_for_loop
from hub.db.tables import AfterSaleEventRow, OrderLineRow
from hub.services import orders
from hub.services.aftersales import intake
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_aftersale, make_order

__all__ = ["clean_environment"]

T0 = datetime(2026, 11, 12, tzinfo=UTC)


def _setup(tmp_path: Path) -> tuple[Path, str, dict[str, int]]:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[shops.shop-a]\nplatform = "taobao"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> dict[str, int]:
        db = Database.connect(url)
        try:
            order = make_order(shop="shop-a", lines=[("SKU-A", 2)])
            async with db.transaction() as session:
                order_id = (await orders.apply_order(session, order, cause="test")).order_id
                soon = make_aftersale(order, external_id="RF-SOON", type=AfterSaleType.RETURN_AND_REFUND)
                late = make_aftersale(order, external_id="RF-LATE", status=AfterSaleStatus.CLOSED)
                soon_id, _ = await intake.apply_aftersale(
                    session, soon.model_copy(update={"deadline": T0 + timedelta(hours=6), "reason": "too small"}),
                    cause="push")
                late_id, _ = await intake.apply_aftersale(
                    session, late.model_copy(update={"deadline": T0 + timedelta(days=3)}), cause="poll")
                line_id = await session.scalar(select(OrderLineRow.id).where(OrderLineRow.order_id == order_id))
            return {"order": order_id, "soon": soon_id, "late": late_id, "line": int(line_id or 0)}
        finally:
            await db.dispose()
            await dispose_all_for_loop()

    return config, url, run_in_fresh_loop(stored)


def test_list_and_show_cases(tmp_path: Path) -> None:
    config, _, ids = _setup(tmp_path)
    base = ["--config", str(config), "aftersales"]
    table = runner.invoke(app, [*base, "list"])
    assert table.exit_code == 0, table.output
    assert table.output.index("RF-SOON") < table.output.index("RF-LATE") and "too small" in table.output
    as_json = runner.invoke(app, [*base, "list", "--json", "--status", "closed"])
    assert as_json.exit_code == 0, as_json.output
    assert [c["id"] for c in json.loads(as_json.output)["items"]] == [ids["late"]]
    due = json.loads(runner.invoke(app, [*base, "list", "--json", "--due-before", "2026-11-13T00:00"]).output)
    assert [c["id"] for c in due["items"]] == [ids["soon"]]
    shown = runner.invoke(app, [*base, "show", str(ids["soon"])])
    assert shown.exit_code == 0, shown.output
    assert "return_and_refund: requested" in shown.output and "may be decided now: agree_return, refuse" in shown.output
    detail = json.loads(runner.invoke(app, [*base, "show", str(ids["soon"]), "--json"]).output)
    assert detail["summary"]["reason"] == "too small" and detail["history"][0]["kind"] == "reported"
    unknown = runner.invoke(app, [*base, "show", "999999"])
    assert unknown.exit_code == 2 and "999999" in unknown.output
    bad_status = runner.invoke(app, [*base, "list", "--status", "lost"])
    assert bad_status.exit_code == 2 and "lost" in bad_status.output


def test_open_a_case_for_an_order(tmp_path: Path) -> None:
    config, url, ids = _setup(tmp_path)
    base = ["--config", str(config), "aftersales"]
    opened = runner.invoke(app, [*base, "open", str(ids["order"]), "--type", "reissue",
                                 "--line", f"{ids['line']}:1", "--reason", "lost in transit, agreed by chat"])
    assert opened.exit_code == 0, opened.output
    case_id = int(opened.output.split()[1])
    too_many = runner.invoke(app, [*base, "open", str(ids["order"]), "--type", "reissue", "--line", f"{ids['line']}:5"])
    assert too_many.exit_code == 2 and "lines[0].quantity" in too_many.output

    async def actor() -> str | None:
        db = Database.connect(url)
        try:
            async with db.session() as session:
                return await session.scalar(select(AfterSaleEventRow.actor)
                                            .where(AfterSaleEventRow.aftersale_id == case_id))
        finally:
            await db.dispose()

    assert run_in_fresh_loop(actor) == f"cli:{getpass.getuser()}"
    shown = runner.invoke(app, [*base, "show", str(case_id)])
    assert "opened in the hub" in shown.output and "reissue: requested" in shown.output
