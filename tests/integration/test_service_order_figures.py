"""Service figures on SQLite and PostgreSQL over a small hand-counted set: counts, service level
met (%), median hours to complete, ratings and overdue ones per type, product and technician over
a period, and all together; the API (``/figures`` is not taken for an id; 422 naming ``by``) and
``hub service-orders figures``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub.cli import app
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.plugins import build_plugin_manager
from hub.services.service_orders import figures
from hub.testing.api import api_client, bearer, new_key
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.hub import hub_config
from hub.testing.service_orders import make_technician, store_service_order, store_technician

__all__ = ["clean_environment"]

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE, UNTIL = NOW - timedelta(days=30), NOW
T = NOW - timedelta(days=10)
S = ServiceOrderStatus
INSTALL, REPAIR = ServiceOrderType.INSTALLATION, ServiceOrderType.REPAIR

#: (type, status, SKU, technician, hours to close, sla_state, rating, shop, created)
ORDERS: list[tuple[Any, ...]] = [
    (INSTALL, S.COMPLETED, "AC-1", "T01", 10, "met", 5, "tm", T),
    (INSTALL, S.COMPLETED, "AC-1", "T01", 20, "missed", 3, "tm", T),
    (INSTALL, S.COMPLETED, "AC-1", "T01", 30, "met", None, "tm", T),
    (INSTALL, S.NEW, "AC-1", None, None, "overdue", None, "tm", T),
    (REPAIR, S.CANCELLED, "FRIDGE-9", "T02", 2, "missed", None, "tm", T),
    (REPAIR, S.FAILED, "FRIDGE-9", "T02", 3, "ok", None, "tm", T),
    (REPAIR, S.COMPLETED, "FRIDGE-9", "T02", 4, "met", 4, "tm", T),
    (INSTALL, S.COMPLETED, "AC-1", "T01", 1, "met", 1, "tm", NOW - timedelta(days=40)),  # before the period
    (INSTALL, S.BOOKED, None, None, None, "ok", None, "jd", T),
]
TITLES = {"AC-1": "空调挂机", "FRIDGE-9": "冰箱"}


async def seed(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        techs = {"T01": await store_technician(session, make_technician("T01", name="王师傅")),
                 "T02": await store_technician(session, make_technician("T02", name="李师傅"))}
        for kind, status, sku, tech, hours, sla, rating, shop, created in ORDERS:
            await store_service_order(
                session, kind=kind, status=status, merchant_sku=sku, product_title=TITLES.get(sku or ""),
                technician_id=techs[tech] if tech else None, sla_state=sla, rating=rating, shop=shop,
                created_at=created, closed_at=created + timedelta(hours=hours) if hours else None)


def _hub(database_url: str) -> Hub:
    return Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))


def _row(r: figures.ServiceFigures) -> tuple[Any, ...]:
    return (r.key, r.label, r.count, r.completed, r.cancelled, r.failed, r.sla_met, r.sla_closed, r.sla_met_pct,
            r.median_hours_to_complete, r.rating_avg, r.rating_count, r.overdue_open)


async def test_figures_per_type_product_and_technician_match_the_hand_count(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    async with hub.database().session() as session:
        by_type = await figures.figures(session, "type", since=SINCE, until=UNTIL)
        by_product = await figures.figures(session, "product", since=SINCE, until=UNTIL)
        by_tech = await figures.figures(session, "technician", since=SINCE, until=UNTIL)
        total = await figures.totals(session, since=SINCE, until=UNTIL)
        jd = await figures.figures(session, "type", since=SINCE, until=UNTIL, shop="jd")
        empty = await figures.totals(session, since=NOW, until=NOW + timedelta(days=1))
    # installation: three completed in 10, 20, 30 h (met, missed, met), one new overdue, jd's booked one.
    # repair: completed in 4 h (met), cancelled (missed), failed (no verdict).
    assert [_row(r) for r in by_type] == [
        ("installation", "installation", 5, 3, 0, 0, 2, 3, 66.7, 20.0, 4.0, 2, 1),
        ("repair", "repair", 3, 1, 1, 1, 1, 2, 50.0, 4.0, 4.0, 1, 0),
    ]
    assert [(r.key, r.label, r.count, r.median_hours_to_complete) for r in by_product] == [
        ("AC-1", "空调挂机", 4, 20.0), ("FRIDGE-9", "冰箱", 3, 4.0), ("", "no SKU", 1, None)]
    assert [(r.key, r.label, r.count, r.sla_met_pct, r.rating_avg, r.overdue_open) for r in by_tech] == [
        ("T01", "王师傅", 3, 66.7, 4.0, 0), ("T02", "李师傅", 3, 50.0, 4.0, 0), ("", "unassigned", 2, None, None, 1)]
    # All eight of the period: medians of 4, 10, 20, 30 h → 15 h; ratings 5, 3, 4.
    assert _row(total) == ("all", "all", 8, 4, 1, 1, 3, 5, 60.0, 15.0, 4.0, 3, 1)
    assert [(r.key, r.count) for r in jd] == [("installation", 1)]
    assert (empty.count, empty.sla_met_pct, empty.median_hours_to_complete) == (0, None, None)


async def test_figures_over_the_api(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    key = await new_key(hub, "warehouse")  # any role that reads orders
    url = "/api/v1/service-orders/figures"
    async with api_client(hub) as client:
        got = await client.get(url, params={"by": "technician"}, headers=bearer(key))
        assert got.status_code == 200, got.text
        body = got.json()
        assert [(r["key"], r["count"]) for r in body["rows"]] == [("T01", 3), ("T02", 3), ("", 2)]
        assert body["total"]["count"] == 8 and body["total"]["median_hours_to_complete"] == 15.0
        short = (await client.get(url, params={"days": 5, "shop": "tm"}, headers=bearer(key))).json()
        assert short["rows"] == [] and short["total"]["count"] == 0
        wrong = await client.get(url, params={"by": "colour"}, headers=bearer(key))
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "query.by"
        assert (await client.get(url)).status_code == 401


def test_figures_command_prints_a_table_and_json(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> None:
        try:
            await seed(_hub(url))
        finally:
            await dispose_all_for_loop()

    run_in_fresh_loop(stored)
    base = ["--config", str(config), "service-orders", "figures"]
    table = runner.invoke(app, [*base, "--by", "product"])
    assert table.exit_code == 0, table.output
    ac = next(line for line in table.stdout.splitlines() if "空调挂机" in line)
    assert [cell.strip() for cell in ac.strip("│ \n").split("│")] == [
        "空调挂机", "4", "3", "0", "0", "66.7% (2/3)", "20.0", "4.00 (2)", "1"]
    assert "no SKU" in table.stdout
    as_json = json.loads(runner.invoke(app, [*base, "--json", "--shop", "jd"]).stdout)
    assert [(r["key"], r["count"]) for r in as_json["rows"]] == [("installation", 1)]
    wrong = runner.invoke(app, [*base, "--by", "colour"])
    assert wrong.exit_code == 2 and "--by" in wrong.output
