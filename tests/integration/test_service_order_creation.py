"""Service orders the hub creates, on SQLite and PostgreSQL: a person creates one for a Douyin-like
order through the API (201, linked to the order line, the region of the shipping address — plain
even where the street is encrypted —, its deadlines, history and the assignment follow-up; asking
again returns the same one), bad input is refused naming the field and an unknown order is 404;
the rules create one per matching order line (shipped or paid, shops, SKU patterns), once however
often they run; the CLI creates one too, attributed to the OS user."""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from contracts import Address, OrderStatus
from hub.cli import app
from hub.context import Hub
from hub.db.engine import Database, dispose_all_for_loop
from hub.db.tables import OrderLineRow, OrderRow, OutboxRow, ServiceOrderEventRow, ServiceOrderRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.service_orders import creation
from hub.testing.api import api_client, bearer, new_key
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_order
from hub.testing.hub import hub_config

__all__ = ["clean_environment"]  # autouse: no HUB_* variable of the machine reaches the CLI

URL = "/api/v1/service-orders"
RULE = {"shops": ["dy-main"], "skus": ["AC-*"], "type": "installation", "when": "shipped"}
SHENZHEN = {"province": "广东省", "city": "深圳市", "district": "南山区"}


@pytest.fixture
async def make_hub(database_url: str) -> AsyncIterator[Any]:
    def build(*rules: dict[str, Any]) -> Hub:
        config = hub_config(database_url, service_orders={"rules": list(rules)})
        return Hub(config, build_plugin_manager(load_entry_points=False))

    yield build
    await dispose_all_for_loop()


async def _order(hub: Hub, skus: list[str], *, shop: str = "dy-main",
                 status: OrderStatus = OrderStatus.SHIPPED) -> tuple[int, dict[str, int]]:
    """A Douyin-like order as intake stores it (the buyer's name, phone and street encrypted);
    returns its id and its line ids by SKU."""
    address = Address(name="#enc-name#", phone="#enc-phone#", street="#enc-street#", encrypted=True, **SHENZHEN)
    order = make_order(platform="douyin", shop=shop, status=status, lines=[(sku, 1) for sku in skus],
                       shipping_address=address)
    async with hub.database().transaction() as session:
        order_id = (await orders.apply_order(session, order, cause="test")).order_id
        lines = (await session.execute(select(OrderLineRow.merchant_sku, OrderLineRow.id)
                                       .where(OrderLineRow.order_id == order_id))).all()
    return order_id, {str(sku): int(line_id) for sku, line_id in lines}


def _field(response: httpx.Response) -> str | None:
    body = response.json()
    return body.get("field") or body["detail"][0]["field"]


async def _service_orders(hub: Hub) -> list[ServiceOrderRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(ServiceOrderRow).order_by(ServiceOrderRow.id))).scalars())


async def _created_events_and_follow_ups(hub: Hub) -> tuple[list[tuple[int, str, str | None]], list[list[Any]]]:
    async with hub.database().session() as session:
        events = (await session.execute(select(ServiceOrderEventRow).where(ServiceOrderEventRow.kind == "created")
                                        .order_by(ServiceOrderEventRow.id))).scalars().all()
        outbox = (await session.execute(select(OutboxRow.args).where(OutboxRow.actor == "service_order_changed")
                                        .order_by(OutboxRow.id))).scalars().all()
    return [(e.service_order_id, e.cause, e.actor) for e in events], [list(a) for a in outbox]


async def test_a_person_creates_a_service_order_for_a_douyin_order_through_the_api(make_hub: Any) -> None:
    hub = make_hub()
    order_id, lines = await _order(hub, ["AC-100", "CABLE-1"])
    _, other_lines = await _order(hub, ["AC-300"])
    operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
    body = {"order_id": order_id, "type": "installation", "expected_at": "2026-12-03T10:00:00+08:00",
            "note": "call before coming"}
    async with api_client(hub) as client:
        created = await client.post(URL, json=body, headers=bearer(operator))
        again = await client.post(URL, json=body, headers=bearer(operator))
        repair = await client.post(URL, json={"order_id": order_id, "type": "repair",
                                              "order_line_id": lines["CABLE-1"]}, headers=bearer(operator))
        refused = await client.post(URL, json=body, headers=bearer(viewer))
        bad_type = await client.post(URL, json={**body, "type": "swap"}, headers=bearer(operator))
        naive = await client.post(URL, json={**body, "expected_at": "2026-12-03T10:00:00"}, headers=bearer(operator))
        foreign = await client.post(URL, json={**body, "order_line_id": other_lines["AC-300"]},
                                    headers=bearer(operator))
        no_order = await client.post(URL, json={**body, "order_id": 987654}, headers=bearer(operator))
        no_line = await client.post(URL, json={**body, "order_line_id": 987654}, headers=bearer(operator))

    assert created.status_code == 201, created.text
    made = created.json()
    assert made["created"] is True and (made["platform"], made["shop"]) == ("douyin", "dy-main")
    assert made["external_id"] == f"SO-{order_id}-{lines['AC-100']}-installation"  # the first line with goods
    assert (made["order_id"], made["order_line_id"], made["merchant_sku"]) == (order_id, lines["AC-100"], "AC-100")
    assert (made["origin"], made["status"], made["type"], made["quantity"]) == ("manual", "new", "installation", 1)
    assert made["region"] == SHENZHEN
    assert datetime.fromisoformat(made["expected_at"]) == datetime(2026, 12, 3, 2, tzinfo=UTC)
    created_at = datetime.fromisoformat(made["created_at"])
    assert datetime.fromisoformat(made["due_at"]) == created_at + timedelta(hours=24)  # installation: 24/48/72 h
    assert datetime.fromisoformat(made["complete_due_at"]) == created_at + timedelta(hours=72)
    assert (made["due_milestone"], made["sla_state"]) == ("contact", "ok")
    assert made["created_by"].endswith(":alice")
    assert again.status_code == 201 and again.json()["id"] == made["id"] and again.json()["created"] is False
    assert repair.status_code == 201 and repair.json()["order_line_id"] == lines["CABLE-1"]
    assert refused.status_code == 403
    assert bad_type.status_code == 422 and _field(bad_type) == "body.type"
    assert naive.status_code == 422 and _field(naive) == "body.expected_at"
    assert foreign.status_code == 422 and _field(foreign) == "body.order_line_id"
    assert no_order.status_code == 404 and "987654" in no_order.json()["detail"]
    assert no_line.status_code == 404

    events, follow_ups = await _created_events_and_follow_ups(hub)
    ids = [made["id"], repair.json()["id"]]
    assert [(i, cause) for i, cause, _ in events] == [(i, "api") for i in ids]
    assert follow_ups == [[i, "new", "api"] for i in ids]  # so each is assigned automatically
    stored = (await _service_orders(hub))[0]
    assert stored.data["description"] == "call before coming" and "#enc" not in str(stored.data)


async def test_rules_create_one_service_order_per_matching_order_line_once(make_hub: Any) -> None:
    hub = make_hub(RULE)
    shipped, lines = await _order(hub, ["AC-100", "AC-200", "CABLE-1", "XAC-9"])
    paid, _ = await _order(hub, ["AC-100"], status=OrderStatus.PAID)
    elsewhere, _ = await _order(hub, ["AC-100"], shop="tm-main")
    old, _ = await _order(hub, ["AC-100"])
    async with hub.database().transaction() as session:  # changed last 8 days ago: out of the rules' window
        await session.execute(update(OrderRow).where(OrderRow.id == old)
                              .values(updated_at=datetime.now(UTC) - timedelta(days=8)))

    assert await creation.apply_rules(hub) == 2
    assert await creation.apply_rules(hub) == 0  # running again creates none more
    made = await _service_orders(hub)
    assert sorted((r.order_id, r.order_line_id, r.merchant_sku) for r in made) == [
        (shipped, lines["AC-100"], "AC-100"), (shipped, lines["AC-200"], "AC-200")]
    assert {(r.origin, r.status, r.type, r.created_by, r.region_city, r.due_milestone) for r in made} == {
        ("rule", "new", "installation", "rule:service_orders", "深圳市", "contact")}
    events, follow_ups = await _created_events_and_follow_ups(hub)
    assert sorted(events) == [(r.id, "rule", "rule:service_orders") for r in made]
    assert sorted(follow_ups) == [[r.id, "new", "rule"] for r in made]

    # once paid, every shop: the paid order and the other shop's now; the lines already served not again
    everywhere = make_hub({"skus": ["AC-1*"], "type": "installation", "when": "paid"})
    assert await creation.apply_rules(everywhere) == 2
    assert await creation.apply_rules(everywhere) == 0
    assert sorted(r.order_id or 0 for r in await _service_orders(hub)) == sorted([shipped, shipped, paid, elsewhere])


def test_the_scan_runs_every_minute_and_the_rules_only_when_there_are_some() -> None:
    from hub.pipeline import service_orders_sla

    plain = Hub(hub_config("sqlite+aiosqlite:///:memory:"), build_plugin_manager(load_entry_points=False))
    ruled = Hub(hub_config("sqlite+aiosqlite:///:memory:", service_orders={"rules": [RULE]}),
                build_plugin_manager(load_entry_points=False))
    assert service_orders_sla.jobs(plain) == [("service_order_sla_scan", 60.0, "service_order_sla_scan", ())]
    assert service_orders_sla.jobs(ruled) == [("service_order_sla_scan", 60.0, "service_order_sla_scan", ()),
                                              ("service_order_rules", 60.0, "service_order_rules", ())]


def test_the_cli_creates_one_attributed_to_the_os_user(tmp_path: Any) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> int:
        db = Database.connect(url)
        try:
            async with db.transaction() as session:
                return (await orders.apply_order(session, make_order(platform="douyin", shop="dy-main",
                                                                     lines=[("AC-1", 1)]), cause="test")).order_id
        finally:
            await db.dispose()
            await dispose_all_for_loop()

    order_id = run_in_fresh_loop(stored)
    base = ["--config", str(config), "service-orders", "create", str(order_id)]
    made = runner.invoke(app, [*base, "--type", "installation", "--expected", "2026-12-03T10:00+08:00"])
    again = runner.invoke(app, [*base, "--type", "installation"])
    bad = runner.invoke(app, [*base, "--type", "swap"])
    unknown = runner.invoke(app, ["--config", str(config), "service-orders", "create", "987654", "--type", "repair"])
    assert made.exit_code == 0 and "created for order" in made.output, made.output
    assert again.exit_code == 0 and "already has" in again.output
    assert bad.exit_code == 2 and "--type" in bad.output
    assert unknown.exit_code != 0 and "987654" in unknown.output

    async def created_by() -> list[str | None]:
        db = Database.connect(url)
        try:
            async with db.session() as session:
                return list((await session.execute(select(ServiceOrderRow.created_by))).scalars())
        finally:
            await db.dispose()
            await dispose_all_for_loop()

    assert run_in_fresh_loop(created_by) == [f"cli:{getpass.getuser()}"]
