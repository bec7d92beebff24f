"""Reports on SQLite and PostgreSQL over a small hand-counted data set: orders, sales, AOV, status
shares, cancellation/refund/return rates and gross profit per local day and shop (Shanghai time:
an order at 16:30 UTC belongs to the next day), per SKU, new and repeat buyers and tiers; a caller
limited to one shop sees only it; the API leaves profit out for an operator and names bad params;
costs set and imported."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts import Address, Buyer, OrderStatus
from hub.cli import app
from hub.config import HubConfig
from hub.console.routes import ops_reports
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import AfterSaleLineRow, AfterSaleRow, ParcelRow, SkuRow
from hub.errors import BadInputError, NotFoundError
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.reports import costs, report
from hub.services.reports.settings import ReportsSection
from hub.testing.api import api_client, bearer, new_key
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_order
from hub.testing.hub import hub_config
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

__all__ = ["clean_environment"]

D1, D2 = date(2026, 11, 10), date(2026, 11, 11)
REPORTS = ReportsSection.model_validate({
    "default_freight": "4", "freight_rates": [{"courier": "SF", "amount": "3"},
                                              {"courier": "SF", "province": "浙江省", "amount": "5"}],
    "buyer_tiers": [{"name": "low", "min_spend": "0"}, {"name": "mid", "min_spend": "50"},
                    {"name": "high", "min_spend": "100"}]})


def _utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


#: name, shop, platform, created (UTC), status, buyer, province, lines, unit price, fee,
#: parcels (courier, status, freight recorded), cases (type, status, SKU)
ORDERS: list[tuple[Any, ...]] = [
    ("A0", "shop-a", "taobao", _utc(10, 1, 4), OrderStatus.COMPLETED, "b2", "广东省", [("MUG", 1)], "10", None,
     [], []),
    ("A1", "shop-a", "taobao", _utc(11, 9, 16, 30), OrderStatus.SHIPPED, "b1", "浙江省", [("MUG", 2)], "10", "1.00",
     [("SF", "shipped", None)], []),
    ("A2", "shop-a", "taobao", _utc(11, 10, 15, 59), OrderStatus.COMPLETED, "b2", "广东省", [("MUG", 1), ("CUP", 1)],
     "30", None, [("YTO", "shipped", "7.50")], []),
    ("A3", "shop-a", "taobao", _utc(11, 10, 16), OrderStatus.CANCELLED, "b1", "浙江省", [("CUP", 1)], "30", None,
     [], []),
    ("A4", "shop-a", "taobao", _utc(11, 11, 2), OrderStatus.CLOSED, "b3", "浙江省", [("MUG", 1)], "10", None,
     [], [("refund_only", "refunded", "MUG")]),
    ("B1", "shop-b", "douyin", _utc(11, 10, 4), OrderStatus.PAID, "b1", "浙江省", [("CUP", 2)], "30", "3.00",
     [("ZTO", "shipped", None)], [("return_and_refund", "awaiting_return", "CUP")]),
    ("B2", "shop-b", "douyin", _utc(11, 11, 5), OrderStatus.DELIVERED, "b1", None, [("MUG", 1)], "10", None,
     [("ZTO", "cancelled", None)], [("refund_only", "closed", "MUG")]),
]


def _hub(database_url: str) -> Hub:
    config: HubConfig = hub_config(database_url, reports=REPORTS)
    return Hub(config, build_plugin_manager(load_entry_points=False))


async def seed(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        session.add_all([SkuRow(merchant_sku="MUG", name="Mug"), SkuRow(merchant_sku="CUP", name="Cup")])
    async with hub.database().transaction() as session:
        await costs.set_cost(session, "MUG", Decimal("4"), actor="test")
    for name, shop, platform, created, status, buyer, province, lines, price, fee, parcels, cases in ORDERS:
        address = Address(name="张三", phone="13812345678", province=province or "", city="杭州市", district="余杭区",
                          street="文一西路969号", postcode="311121")
        order = make_order(platform=platform, shop=shop, external_id=name, status=status, lines=lines,
                           unit_price=price, created_at=created, updated_at=created,
                           paid_at=None if status is OrderStatus.CANCELLED else created,
                           buyer=Buyer(nick=buyer), shipping_address=address,
                           extra={"platform_fee": fee} if fee else {})
        async with hub.database().transaction() as session:
            order_id = (await orders.apply_order(session, order, cause="test")).order_id
            for n, (courier, parcel_status, freight) in enumerate(parcels):
                session.add(ParcelRow(key=f"{name}-{n}", order_id=order_id, courier_code=courier,
                                      waybill_number=f"{name}{n}", status=parcel_status,
                                      freight=Decimal(freight) if freight else None))
            for n, (kind, case_status, sku) in enumerate(cases):
                row = AfterSaleRow(platform=platform, shop=shop, external_id=f"{name}-AS{n}", order_id=order_id,
                                   order_external_id=name, type=kind, status=case_status, raw_status=case_status,
                                   channel_updated_at=created, data={}, applied_at=created)
                session.add(row)
                await session.flush()
                session.add(AfterSaleLineRow(aftersale_id=row.id, position=0, merchant_sku=sku, quantity=1))


def _row(r: Any) -> tuple[Any, ...]:
    return (r.bucket, r.key, r.orders, r.paid_orders, r.sales_orders, r.sales, r.aov, r.cancellation_rate,
            r.refund_rate, r.return_rate, r.gross_profit)


async def _sales(hub: Hub, **kw: Any) -> report.SalesReport:
    args: dict[str, Any] = {"period": "day", "dimension": "shop", "first": D1, "last": D2, "with_profit": True}
    args.update(kw)
    async with hub.database().session() as session:
        return await report.sales_report(session, settings=REPORTS, time_zone="Asia/Shanghai", **args)


async def test_sales_per_local_day_and_shop_match_the_hand_count(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    got = await _sales(hub)
    D = Decimal
    # D1 shop-a: A1 (16:30 UTC the day before is 00:30 in Shanghai) and A2 (23:59 local): 80.00 of sales;
    # cost MUG 3 × 4 (CUP has no cost), freight SF to 浙江省 5 + YTO's own 7.50, fee 1 → 54.50.
    # D1 shop-b: B1, refunded and returned; cost 0, default freight 4, fee 3 → 53.00.
    # D2 shop-a: A3 cancelled (00:00 local), A4 closed before shipping (paid, refunded): no sales.
    # D2 shop-b: B2 (its parcel cancelled: no freight; its case withdrawn) → 10 − 4 = 6.
    assert [_row(r) for r in got.rows] == [
        (D1, "shop-a", 2, 2, 2, D("80.00"), D("40.00"), 0.0, 0.0, 0.0, D("54.50")),
        (D1, "shop-b", 1, 1, 1, D("60.00"), D("60.00"), 0.0, 1.0, 1.0, D("53.00")),
        (D2, "shop-a", 2, 1, 0, D("0.00"), D("0.00"), 1.0, 1.0, 0.0, D("0.00")),
        (D2, "shop-b", 1, 1, 1, D("10.00"), D("10.00"), 0.0, 0.0, 0.0, D("6.00")),
    ]
    assert got.rows[0].status_shares == {"shipped": 0.5, "completed": 0.5}
    assert got.rows[0].profit is not None and got.rows[0].profit.lines_without_cost == 1
    assert got.rows[2].status_shares == {"cancelled": 0.5, "closed": 0.5}
    t = got.totals
    assert (t.orders, t.paid_orders, t.sales_orders, t.sales, t.aov) == (6, 5, 4, D("150.00"), D("37.50"))
    assert (t.cancellation_rate, t.refund_rate, t.return_rate, t.gross_profit) == (0.3333, 0.4, 0.2, D("113.50"))
    assert got.fees_reported
    week = await _sales(hub, period="week", dimension="none")
    assert [(r.bucket, r.orders, r.sales) for r in week.rows] == [(date(2026, 11, 9), 6, D("150.00"))]
    month = await _sales(hub, period="month", dimension="province", with_profit=False)
    assert [(r.bucket, r.key, r.orders) for r in month.rows] == [
        (date(2026, 11, 1), "", 1), (date(2026, 11, 1), "广东省", 1), (date(2026, 11, 1), "浙江省", 4)]
    assert month.rows[0].gross_profit is None and not month.with_profit


async def test_per_sku_and_the_limited_caller(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    got = await _sales(hub, dimension="sku", last=D1)
    # CUP on D1: A2 (1 × 30) and B1 (2 × 30, returned); MUG: A1 (2 × 10), A2 (1 × 30) at cost 4.
    assert [(r.key, r.orders, r.units, r.sales, r.refund_rate, r.return_rate, r.gross_profit) for r in got.rows] == [
        ("CUP", 2, 3, Decimal("90.00"), 0.5, 0.5, Decimal("90.00")),
        ("MUG", 2, 3, Decimal("50.00"), 0.0, 0.0, Decimal("38.00")),
    ]
    assert got.totals.orders == 3  # A2 has both SKUs: counted once
    limited = await _sales(hub, dimension="channel", principal=_Limited(frozenset({"shop-b"})))
    assert [(r.bucket, r.key, r.orders) for r in limited.rows] == [(D1, "douyin", 1), (D2, "douyin", 1)]
    asked = await _sales(hub, dimension="none", shops=["shop-a"], principal=_Limited(frozenset({"shop-b"})))
    assert asked.rows == []
    with pytest.raises(BadInputError) as late:
        await _sales(hub, first=D2, last=D1)
    assert late.value.field == "from"
    with pytest.raises(BadInputError) as long:
        await _sales(hub, first=date(2025, 1, 1))
    assert long.value.field == "to"


async def test_a_page_of_skus_ranked_by_sales_with_the_whole_in_the_totals(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    # Over both days CUP sold 90.00 (A2 30, B1 60) and MUG 60.00 (A1 20, A2 30, B2 10): CUP ranks first.
    first = await _sales(hub, dimension="sku", period="month", limit=1)
    assert [(r.key, r.sales) for r in first.rows] == [("CUP", Decimal("90.00"))]
    assert (first.keys_total, first.totals.orders, first.totals.sales) == (2, 6, Decimal("150.00"))
    second = await _sales(hub, dimension="sku", period="month", limit=1, offset=1)
    assert [(r.key, r.sales) for r in second.rows] == [("MUG", Decimal("60.00"))]
    assert second.totals.sales == Decimal("150.00")
    past = await _sales(hub, dimension="sku", period="month", limit=1, offset=2)
    assert (past.rows, past.keys_total) == ([], 2)
    shop = await _sales(hub, dimension="shop", limit=1)  # shop-a 80.00 against shop-b 70.00
    assert {r.key for r in shop.rows} == {"shop-a"} and shop.totals.orders == 6 and shop.keys_total == 2
    for bad, field in (({"limit": 0}, "limit"), ({"offset": -1, "limit": 1}, "offset"), ({"offset": 1}, "offset")):
        with pytest.raises(BadInputError) as refused:
            await _sales(hub, dimension="sku", **bad)
        assert refused.value.field == field


class _Limited:
    def __init__(self, shops: frozenset[str] | None) -> None:
        self.shops = shops


async def test_new_and_repeat_buyers_and_tiers(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    async with hub.database().session() as session:
        _, got = await report.buyers_report(session, period="day", first=D1, last=D2, settings=REPORTS,
                                            time_zone="Asia/Shanghai")
        _, limited = await report.buyers_report(session, period="day", first=D1, last=D2, settings=REPORTS,
                                                time_zone="Asia/Shanghai", principal=_Limited(frozenset({"shop-b"})))
    # D1: taobao b1 (first order), taobao b2 (bought in October: repeat), douyin b1 (first): 2 new, 1 repeat.
    # D2: douyin b1 again (A3 cancelled and A4 closed are not sales).
    assert [(b.bucket, b.buyers, b.new, b.repeat) for b in got.buckets] == [(D1, 3, 2, 1), (D2, 1, 0, 1)]
    assert (got.buyers, got.new) == (3, 2)
    # Spend in the range: taobao b1 20 (low), taobao b2 60 and douyin b1 70 (mid).
    assert [(t.tier, t.buyers, t.spend) for t in got.tiers] == [
        ("low", 1, Decimal("20.00")), ("mid", 2, Decimal("130.00")), ("high", 0, Decimal("0.00"))]
    assert [(b.bucket, b.buyers, b.new) for b in limited.buckets] == [(D1, 1, 1), (D2, 1, 0)]


async def test_costs_set_and_imported(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    async with hub.database().transaction() as session:
        done = await costs.import_costs(session, costs.parse_costs_csv("merchant_sku,cost_price\nCUP,12.5\nMUG,\n"),
                                        actor="test")
    assert done.updated == 2
    got = await _sales(hub, dimension="sku", last=D1)
    assert [(r.key, r.gross_profit) for r in got.rows] == [("CUP", Decimal("52.50")), ("MUG", Decimal("50.00"))]
    with pytest.raises(NotFoundError):
        async with hub.database().transaction() as session:
            await costs.import_costs(session, {"CUP": Decimal(1), "NOPE": Decimal(1)}, actor="test")
    with pytest.raises(BadInputError) as bad:
        costs.parse_costs_csv("merchant_sku,cost_price\nCUP,-1\n")
    assert bad.value.field == "cost_price" and "line 2" in str(bad.value)


async def test_reports_over_the_api(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    finance, operator = await new_key(hub, "finance"), await new_key(hub, "operator")
    params = {"period": "day", "dimension": "shop", "from": "2026-11-10", "to": "2026-11-11"}
    async with api_client(hub) as client:
        got = await client.get("/api/v1/reports/sales", params=params, headers=bearer(finance))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["profit_included"] and body["fees_reported"] and body["from"] == "2026-11-10"
        assert body["totals"]["profit"]["gross_profit"] == "113.50" and body["totals"]["sales"] == "150.00"
        assert [(r["bucket"], r["key"], r["orders"]) for r in body["rows"]][:2] == [
            ("2026-11-10", "shop-a", 2), ("2026-11-10", "shop-b", 1)]
        plain = (await client.get("/api/v1/reports/sales", params=params, headers=bearer(operator))).json()
        assert not plain["profit_included"] and plain["totals"]["profit"] is None
        assert plain["totals"]["aov"] == "37.50"
        buyers = (await client.get("/api/v1/reports/buyers", params=params, headers=bearer(operator))).json()
        assert (buyers["buyers"], buyers["new"], buyers["repeat"]) == (3, 2, 1)
        assert [t["buyers"] for t in buyers["tiers"]] == [1, 2, 0]
        page = (await client.get("/api/v1/reports/sales", params={**params, "dimension": "sku", "limit": 1,
                                                                  "offset": 1}, headers=bearer(finance))).json()
        assert ({r["key"] for r in page["rows"]}, page["keys_total"], page["limit"], page["offset"]) == (
            {"MUG"}, 2, 1, 1)
        assert page["totals"]["sales"] == "150.00"
        for bad, field in (({"from": "2026-11-12", "to": "2026-11-11"}, "query.from"),
                           ({"from": "2025-01-01", "to": "2026-11-11"}, "query.to"),
                           ({"dimension": "colour"}, "query.dimension"), ({"limit": 0}, "query.limit"),
                           ({"limit": 1001}, "query.limit"), ({"offset": -1}, "query.offset")):
            refused = await client.get("/api/v1/reports/sales", params=bad, headers=bearer(finance))
            assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == field, refused.text
        cost = await client.put("/api/v1/skus/CUP/cost", json={"cost_price": "10"}, headers=bearer(finance))
        assert cost.status_code == 204, cost.text
        assert (await client.put("/api/v1/skus/CUP/cost", json={"cost_price": "1"},
                                 headers=bearer(operator))).status_code == 403
        assert (await client.put("/api/v1/skus/NOPE/cost", json={"cost_price": "1"},
                                 headers=bearer(finance))).status_code == 404
        negative = await client.put("/api/v1/skus/CUP/cost", json={"cost_price": "-1"}, headers=bearer(finance))
        assert negative.status_code == 422 and negative.json()["field"] == "body.cost_price"
        after = (await client.get("/api/v1/reports/sales", params=params, headers=bearer(finance))).json()
        assert after["totals"]["profit"]["gross_profit"] == "83.50"  # CUP: 1 + 2 units sold at cost 10


def test_reports_and_costs_commands(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[reports]\ndefault_freight = "4"\n'
                      '[[reports.freight_rates]]\ncourier = "SF"\namount = "3"\n'
                      '[[reports.freight_rates]]\ncourier = "SF"\nprovince = "浙江省"\namount = "5"\n'
                      '[[reports.buyer_tiers]]\nname = "low"\nmin_spend = "0"\n'
                      '[[reports.buyer_tiers]]\nname = "mid"\nmin_spend = "50"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> None:
        try:
            await seed(_hub(url))
        finally:
            await dispose_all_for_loop()

    run_in_fresh_loop(stored)

    def hub_(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(config), *args])

    out = tmp_path / "sales.csv"
    table = hub_("reports", "sales", "--by", "shop", "--from", "2026-11-10", "--to", "2026-11-11", "--csv", str(out))
    assert table.exit_code == 0, table.output
    total = next(line for line in table.stdout.splitlines() if "total" in line)
    assert "150.00" in total and "113.50" in total and "37.50" in total
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["bucket"], r["key"], r["gross_profit"]) for r in rows][-1] == ("total", "", "113.50")
    rebuilt = hub_("reports", "rebuild")
    assert rebuilt.exit_code == 0 and "report rollups rebuilt" in rebuilt.stdout, rebuilt.output
    assert "report rollups refreshed" in hub_("reports", "refresh").stdout
    buyers = hub_("reports", "buyers", "--from", "2026-11-10", "--to", "2026-11-11")
    assert buyers.exit_code == 0 and "3 buyers, 2 new" in buyers.stdout, buyers.output
    assert hub_("costs", "set", "CUP", "10").exit_code == 0
    file = tmp_path / "costs.csv"
    file.write_text("merchant_sku,cost_price\nMUG,5\n", encoding="utf-8")
    imported = hub_("costs", "import", str(file))
    assert imported.exit_code == 0 and "1 cost prices set" in imported.stdout
    after = hub_("reports", "sales", "--from", "2026-11-10", "--to", "2026-11-11")
    # CUP 3 units × 10 and MUG 4 units × 5 instead of MUG 4 × 4: 113.50 − 30 − 4.
    assert "79.50" in next(line for line in after.stdout.splitlines() if "total" in line), after.output
    bad = hub_("reports", "sales", "--by", "colour")
    assert bad.exit_code == 2 and "--by" in bad.output
    top = hub_("reports", "sales", "--by", "sku", "--from", "2026-11-10", "--to", "2026-11-11", "--limit", "1")
    assert top.exit_code == 0 and "CUP" in top.stdout and "MUG" not in top.stdout, top.output
    assert "keys 1–1 of 2 by sales (--offset 1 for the next)" in top.stdout
    late = hub_("reports", "sales", "--from", "2026-11-12", "--to", "2026-11-11")
    assert late.exit_code == 2 and "--from" in late.output
    assert hub_("costs", "set", "NOPE", "1").exit_code == 2
    negative = hub_("costs", "set", "CUP", "--", "-1")
    assert negative.exit_code == 2 and "AMOUNT" in negative.output


async def test_console_reports_page(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _hub(database_url)
    await seed(hub)
    monkeypatch.setattr(ops_reports, "PAGE_KEYS", 1)
    query = "/console/reports?period=day&dimension=shop&from=2026-11-10&to=2026-11-11"
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "finance", "fay"))).status_code == 303
        page = await client.get(query)
        assert page.status_code == 200, page.text
        assert 'data-testid="chart-time"' in page.text and 'data-testid="chart-keys"' in page.text
        assert 'data-testid="total-profit">113.50<' in page.text and "150.00" in page.text
        saved = await client.post("/console/reports/cost", data={"csrf_token": _csrf(page.text),
                                                                 "merchant_sku": "CUP", "cost_price": "10"})
        assert saved.status_code == 303
        assert 'data-testid="total-profit">83.50<' in (await client.get(query)).text
        skus = await client.get(query.replace("dimension=shop", "dimension=sku"))
        assert "1–1 of 2, by sales" in skus.text and 'data-testid="reports-next"' in skus.text
        assert "<td>CUP</td>" in skus.text and "<td>MUG</td>" not in skus.text
        following = await client.get(query.replace("dimension=shop", "dimension=sku") + "&offset=1")
        assert "<td>MUG</td>" in following.text and 'data-testid="reports-previous"' in following.text
        assert 'data-testid="total-profit">83.50<' in following.text  # the totals are the whole range's
        late = await client.get("/console/reports?from=2026-11-12&to=2026-11-11")
        assert late.status_code == 422 and "must not be after" in late.text
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "operator", "olga"))).status_code == 303
        plain = await client.get(query)
        assert plain.status_code == 200 and "total-profit" not in plain.text and "cost-form" not in plain.text
        assert "finance and admin only" in plain.text


async def test_days_follow_daylight_saving(database_url: str) -> None:
    hub = _hub(database_url)
    # New York leaves summer time at 06:00 UTC on 1 November 2026.
    for at in (_utc(11, 1, 3, 30), _utc(11, 1, 5, 30), _utc(11, 2, 4, 30), _utc(11, 2, 5, 30)):
        async with hub.database().transaction() as session:
            await orders.apply_order(session, make_order(created_at=at, updated_at=at, paid_at=at), cause="test")
    async with hub.database().session() as session:
        got = await report.sales_report(session, period="day", dimension="none", first=date(2026, 10, 31),
                                        last=date(2026, 11, 2), settings=REPORTS, time_zone="America/New_York")
    assert [(r.bucket, r.orders) for r in got.rows] == [
        (date(2026, 10, 31), 1), (date(2026, 11, 1), 2), (date(2026, 11, 2), 1)]
