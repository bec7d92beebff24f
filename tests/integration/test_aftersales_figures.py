"""After-sales figures on SQLite and PostgreSQL over a small hand-counted data set: rates per SKU
and per shop, reasons ranked with shares; the API (defaults, 422s naming the field, read access)
and ``hub aftersales figures`` (table, JSON, bad input)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts import OrderStatus
from hub.cli import app
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import AfterSaleLineRow, AfterSaleRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.aftersales import figures
from hub.testing.api import api_client, bearer, new_key
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_order
from hub.testing.hub import hub_config

__all__ = ["clean_environment"]

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    shop: str
    order: str
    type: str
    status: str
    applied: datetime
    reason: str | None
    lines: list[tuple[str, int, str | None]]  # (SKU, units, line amount)
    amount: str


#: Orders: (name, shop, paid, lines). O3 was paid before the period.
ORDERS = [
    ("O1", "shop-a", _at(11, 10), [("MUG", 2), ("CUP", 1)]),
    ("O2", "shop-a", _at(11, 15), [("MUG", 3)]),
    ("O3", "shop-a", _at(10, 20), [("MUG", 5)]),
    ("O4", "shop-b", _at(11, 20), [("CUP", 4)]),
]
CASES = [
    Case("shop-a", "O1", "refund_only", "refunded", _at(11, 12), "不想要了", [("MUG", 1, "19.90")], "19.90"),
    Case("shop-a", "O2", "return_and_refund", "awaiting_return", _at(11, 16), "质量问题", [("MUG", 2, None)], "39.80"),
    Case("shop-a", "O3", "refund_only", "closed", _at(11, 13), "不想要了", [("MUG", 1, None)], "19.90"),  # withdrawn
    Case("shop-b", "O4", "exchange", "requested", _at(11, 21), None, [("CUP", 1, None)], "0"),
    Case("shop-b", "O4", "refund_only", "refunded", _at(11, 22), "不想要了", [("CUP", 2, None)], "30.00"),
    Case("shop-a", "O1", "refund_only", "refunded", _at(10, 25), "不想要了", [("MUG", 1, "19.90")], "19.90"),  # before
]


async def seed_figures(hub: Hub) -> None:
    ids: dict[str, int] = {}
    for name, shop, paid, lines in ORDERS:
        order = make_order(shop=shop, status=OrderStatus.PAID, lines=lines, created_at=paid, paid_at=paid,
                           updated_at=paid)
        async with hub.database().transaction() as session:
            ids[name] = (await orders.apply_order(session, order, cause="test")).order_id
    async with hub.database().transaction() as session:
        for n, c in enumerate(CASES):
            row = AfterSaleRow(platform="taobao", shop=c.shop, external_id=f"AS-{n}", order_id=ids[c.order],
                               order_external_id=c.order, type=c.type, status=c.status, raw_status=c.status,
                               channel_updated_at=c.applied, data={}, applied_at=c.applied,
                               refund_amount=Decimal(c.amount), currency="CNY", reason=c.reason)
            session.add(row)
            await session.flush()
            for position, (sku, units, amount) in enumerate(c.lines):
                session.add(AfterSaleLineRow(aftersale_id=row.id, position=position, merchant_sku=sku,
                                             quantity=units, refund_amount=Decimal(amount) if amount else None))


def _hub(database_url: str) -> Hub:
    return Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))


def _rows(rows: list[figures.RateRow]) -> list[tuple[Any, ...]]:
    return [(r.key, r.sold, r.refunds, r.returns, r.exchanges, r.refund_rate, r.return_rate, r.refunded)
            for r in rows]


async def test_rates_per_sku_and_per_shop_match_the_hand_count(database_url: str) -> None:
    hub = _hub(database_url)
    await seed_figures(hub)
    async with hub.database().session() as session:
        by_sku = await figures.rates(session, by="sku", since=SINCE, until=UNTIL)
        by_shop = await figures.rates(session, by="shop", since=SINCE, until=UNTIL)
        shop_b = await figures.rates(session, by="sku", since=SINCE, until=UNTIL, shop="shop-b")
        empty = await figures.rates(session, by="sku", since=datetime(2025, 1, 1, tzinfo=UTC),
                                    until=datetime(2025, 2, 1, tzinfo=UTC))
    # MUG: 2 + 3 units sold in the period (O3 before it); 1 unit refunded (19.90), 2 in a return.
    # CUP: 1 + 4 sold; 2 units refunded (the case's 30.00: its only line has no amount), 1 exchanged.
    assert _rows(by_sku) == [
        ("MUG", 5, 1, 2, 0, 0.6, 0.4, {"CNY": Decimal("19.90")}),
        ("CUP", 5, 2, 0, 1, 0.4, 0.0, {"CNY": Decimal("30.00")}),
    ]
    # shop-a: O1, O2 paid; one refund, one return. shop-b: O4; one refund, one exchange.
    assert _rows(by_shop) == [
        ("shop-a", 2, 1, 1, 0, 1.0, 0.5, {"CNY": Decimal("19.90")}),
        ("shop-b", 1, 1, 0, 1, 1.0, 0.0, {"CNY": Decimal("30.00")}),
    ]
    assert _rows(shop_b) == [("CUP", 4, 2, 0, 1, 0.5, 0.0, {"CNY": Decimal("30.00")})]
    assert empty == []


async def test_reasons_are_ranked_with_their_shares(database_url: str) -> None:
    hub = _hub(database_url)
    await seed_figures(hub)
    async with hub.database().session() as session:
        ranked = await figures.reasons(session, since=SINCE, until=UNTIL)
        top = await figures.reasons(session, since=SINCE, until=UNTIL, limit=1)
        none = await figures.reasons(session, since=SINCE, until=UNTIL, shop="shop-c")
    assert (ranked[0].reason, ranked[0].cases, ranked[0].share) == ("不想要了", 2, 0.5)
    assert {(r.reason, r.cases, r.share) for r in ranked[1:]} == {("质量问题", 1, 0.25), ("(none given)", 1, 0.25)}
    assert [(r.reason, r.share) for r in top] == [("不想要了", 0.5)] and none == []


async def test_figures_over_the_api(database_url: str) -> None:
    hub = _hub(database_url)
    await seed_figures(hub)
    key = await new_key(hub, "warehouse")  # any role that reads orders
    period = {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    async with api_client(hub) as client:
        got = await client.get("/api/v1/aftersales/figures", params={**period, "by": "shop"}, headers=bearer(key))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["by"] == "shop" and [r["key"] for r in body["rows"]] == ["shop-a", "shop-b"]
        assert body["rows"][0]["refund_rate"] == 1.0
        assert body["rows"][0]["refunded"] == [{"amount": "19.90", "currency": "CNY"}]
        sku = (await client.get("/api/v1/aftersales/figures", params=period, headers=bearer(key))).json()
        assert [(r["key"], r["sold"]) for r in sku["rows"]] == [("MUG", 5), ("CUP", 5)]
        reasons = await client.get("/api/v1/aftersales/figures/reasons", params={**period, "shop": "shop-b"},
                                   headers=bearer(key))
        assert reasons.status_code == 200 and reasons.json()["total"] == 2
        assert {r["reason"] for r in reasons.json()["rows"]} == {"不想要了", "(none given)"}
        default = (await client.get("/api/v1/aftersales/figures/reasons", headers=bearer(key))).json()
        since, until = (datetime.fromisoformat(default["period"][k]) for k in ("since", "until"))
        assert (until - since).days == 30
        for path in ("/api/v1/aftersales/figures", "/api/v1/aftersales/figures/reasons"):
            bad = await client.get(path, params={"since": "2026-12-02", "until": "2026-12-01"}, headers=bearer(key))
            assert bad.status_code == 422 and bad.json()["field"] == "query.since", bad.text
            assert bad.json()["detail"][0]["field"] == "query.since"
        wrong_by = await client.get("/api/v1/aftersales/figures", params={"by": "colour"}, headers=bearer(key))
        assert wrong_by.status_code == 422 and wrong_by.json()["detail"][0]["field"] == "query.by"
        assert (await client.get("/api/v1/aftersales/figures")).status_code == 401


def test_figures_command_prints_a_table_and_json(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> None:
        try:
            await seed_figures(_hub(url))
        finally:
            await dispose_all_for_loop()

    run_in_fresh_loop(stored)

    def figures_(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(config), "aftersales", "figures", "--since", "2026-11-01",
                                   "--until", "2026-12-01", *args])

    table = figures_()
    assert table.exit_code == 0, table.output
    mug = next(line for line in table.stdout.splitlines() if "MUG" in line)
    assert [cell.strip() for cell in mug.strip("│ \n").split("│")] == ["MUG", "5", "1", "2", "0", "60.0%", "40.0%",
                                                                     "19.90 CNY"]
    assert "不想要了" in table.stdout and "50.0%" in table.stdout
    shops = figures_("--by", "shop")
    assert shops.exit_code == 0 and "shop-a" in shops.stdout and "100.0%" in shops.stdout
    as_json = json.loads(figures_("--json").stdout)
    assert as_json["rows"][0] == {"key": "MUG", "sold": 5, "refunds": 1, "returns": 2, "exchanges": 0,
                                  "refund_rate": 0.6, "return_rate": 0.4, "refunded": {"CNY": "19.90"}}
    assert as_json["reasons"][0] == {"reason": "不想要了", "cases": 2, "share": 0.5}
    bad = runner.invoke(app, ["--config", str(config), "aftersales", "figures", "--since", "2026-12-02",
                              "--until", "2026-12-01"])
    assert bad.exit_code == 2 and "--since" in bad.output
    wrong = figures_("--by", "colour")
    assert wrong.exit_code == 2 and "--by" in wrong.output
    garbled = runner.invoke(app, ["--config", str(config), "aftersales", "figures", "--since", "yesterday"])
    assert garbled.exit_code == 2 and "not a date" in garbled.output
