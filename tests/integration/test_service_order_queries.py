"""Service-order lists, detail and board on SQLite and PostgreSQL, over a small stored world: each
filter keeps what it says, open orders come most urgent first (overdue ones on top, closed ones
last), one order carries its history, write-backs, alerts and the steps allowed now; over the API,
an unknown id is a 404, a bad status a 422 naming the parameter, and the board shows the open
statuses as columns; ``hub service-orders list`` prints the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub.cli import app
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import ServiceAlertRow, ServiceOrderWriteRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.service_orders import queries, records
from hub.testing.api import api_client, bearer, new_key
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from hub.testing.factories import make_order
from hub.testing.hub import hub_config
from hub.testing.service_orders import make_technician, store_service_order, store_technician

__all__ = ["clean_environment"]

NOW = datetime.now(UTC).replace(microsecond=0)
S = ServiceOrderStatus
URL = "/api/v1/service-orders"


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    yield Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    await dispose_all_for_loop()


async def seed(hub: Hub) -> dict[str, int]:
    """Seven orders: new a (overdue, for sales order T9001) and g; b assigned to T01 in 宁波 for shop
    jd (a repair of FRIDGE-9); c booked with T01; d on site with T02 (no deadline); e completed, f
    cancelled."""
    async with hub.database().transaction() as session:
        order_id = (await orders.apply_order(session, make_order(platform="tmall", shop="tm", external_id="T9001"),
                                             cause="test")).order_id
        t01 = await store_technician(session, make_technician("T01", name="王师傅"))
        t02 = await store_technician(session, make_technician("T02"))
        hour = timedelta(hours=1)
        return {
            "a": await store_service_order(session, external_id="WC-A", order_id=order_id, due_at=NOW - hour,
                                           due_milestone="contact", sla_state="overdue", created_at=NOW - 48 * hour),
            "b": await store_service_order(session, external_id="WC-B", shop="jd", platform="jd", status=S.ASSIGNED,
                                           kind=ServiceOrderType.REPAIR, technician_id=t01, due_at=NOW + 2 * hour,
                                           merchant_sku="FRIDGE-9", region_city="宁波市", region_district="鄞州区",
                                           created_at=NOW - 24 * hour),
            "g": await store_service_order(session, external_id="WC-G", due_at=NOW + 5 * hour,
                                           created_at=NOW - hour / 2),
            "c": await store_service_order(session, external_id="WC-C", status=S.BOOKED, technician_id=t01,
                                           due_at=NOW + 24 * hour, appointment_start=NOW + 20 * hour,
                                           appointment_end=NOW + 22 * hour, created_at=NOW - 3 * hour),
            "d": await store_service_order(session, external_id="WC-D", status=S.ON_SITE, technician_id=t02,
                                           created_at=NOW - 4 * hour),
            "e": await store_service_order(session, external_id="WC-E", status=S.COMPLETED, technician_id=t02,
                                           sla_state="met", closed_at=NOW - 100 * hour, created_at=NOW - 120 * hour),
            "f": await store_service_order(session, external_id="WC-F", status=S.CANCELLED, created_at=NOW - hour),
        }


FILTERS: list[tuple[dict[str, Any], str]] = [
    ({}, "abgcdfe"),  # overdue first, then by deadline, no deadline last; closed after, newest first
    ({"status": ("completed", "cancelled")}, "fe"),
    ({"type": "repair"}, "b"),
    ({"technician": "T01"}, "bc"),
    ({"technician": "none"}, "agf"),
    ({"region": "鄞州区"}, "b"),
    ({"region": "浙江省"}, "abgcdfe"),
    ({"shop": "jd"}, "b"),
    ({"due_before": NOW + timedelta(hours=3)}, "ab"),
    ({"overdue": True}, "a"),
    ({"q": "t9001"}, "a"),
    ({"q": "fridge"}, "b"),
    ({"q": "wc-c"}, "c"),
    ({"q": "%"}, ""),
    ({"status": ("new",), "technician": "none", "limit": 1, "offset": 1}, "g"),
]


async def test_each_filter_keeps_what_it_says_most_urgent_first(hub: Hub) -> None:
    ids = await seed(hub)
    names = {v: k for k, v in ids.items()}
    async with hub.database().session() as session:
        for given, expected in FILTERS:
            found, total = await queries.list_service_orders(session, queries.ServiceFilter(**given), now=NOW)
            assert "".join(names[s.id] for s in found) == expected, given
            assert total == (2 if "offset" in given else len(expected)), given
        found, _ = await queries.list_service_orders(session, queries.ServiceFilter(type="repair"), now=NOW)
    b = found[0]
    assert (b.region, b.technician_code, b.technician_name, b.seconds_left) == ("宁波市 鄞州区", "T01", "王师傅", 7200)


async def test_detail_board_and_errors_over_the_api(hub: Hub) -> None:
    ids = await seed(hub)
    async with hub.database().transaction() as session:
        await records.add_event(session, ids["a"], "assigned", cause="auto", old_status="new", new_status="assigned",
                                at=NOW - timedelta(hours=2))
        await records.add_event(session, ids["a"], "reported", cause="push", new_status="new",
                                at=NOW - timedelta(hours=47))
        await session.execute(insert(ServiceOrderWriteRow).values(
            service_order_id=ids["a"], key="k-1", action="assign", params={"technician": "T01"}, actor="api:x",
            state="failed", attempts=3, result={}, error="platform refused"))
        await session.execute(insert(ServiceAlertRow).values(
            platform="tmall", shop="tm", alert_id="AL-1", external_id="WC-A", service_order_id=ids["a"], level=2,
            content="未按时联系", raised_at=NOW - timedelta(minutes=30)))
    viewer = await new_key(hub, "viewer")
    async with api_client(hub) as client:
        got = await client.get(f"{URL}/{ids['a']}", headers=bearer(viewer))
        assert got.status_code == 200, got.text
        a = got.json()
        assert (a["order_external_id"], a["status"], a["technician"]) == ("T9001", "new", None)
        assert [e["kind"] for e in a["history"]] == ["reported", "assigned"]
        assert [(w["action"], w["state"], w["error"]) for w in a["writes"]] == [("assign", "failed",
                                                                                 "platform refused")]
        assert [(x["alert_id"], x["level"], x["content"]) for x in a["alerts"]] == [("AL-1", 2, "未按时联系")]
        assert a["actions"] == ["assign", "cancel", "fail"] and a["seconds_left"] < 0
        booked = (await client.get(f"{URL}/{ids['c']}", headers=bearer(viewer))).json()
        assert booked["technician"] == {"code": "T01", "name": "王师傅"}
        assert booked["actions"] == ["assign", "book", "check_in", "cancel", "fail"]
        assert (await client.get(f"{URL}/{ids['e']}", headers=bearer(viewer))).json()["actions"] == []

        missing = await client.get(f"{URL}/999999", headers=bearer(viewer))
        assert missing.status_code == 404 and "999999" in missing.text
        bogus = await client.get(URL, params={"status": "bogus"}, headers=bearer(viewer))
        assert bogus.status_code == 422 and bogus.json()["detail"][0]["field"].startswith("query.status"), bogus.text
        assert (await client.get(URL, params={"limit": 201}, headers=bearer(viewer))).status_code == 422
        assert (await client.get(URL)).status_code == 401

        listed = (await client.get(URL, params={"technician": "T01"}, headers=bearer(viewer))).json()
        assert [s["id"] for s in listed["service_orders"]] == [ids["b"], ids["c"]] and listed["total"] == 2

        board = await client.get(f"{URL}/board", headers=bearer(viewer))
        assert board.status_code == 200, board.text
        columns = {k: [s["id"] for s in v] for k, v in board.json()["columns"].items()}
        assert columns == {"new": [ids["a"], ids["g"]], "assigned": [ids["b"]], "booked": [ids["c"]],
                           "on_site": [ids["d"]]}
        narrow = (await client.get(f"{URL}/board", params={"per_status": 1, "shop": "tm"},
                                   headers=bearer(viewer))).json()["columns"]
        assert {k: [s["id"] for s in v] for k, v in narrow.items()} == {
            "new": [ids["a"]], "assigned": [], "booked": [ids["c"]], "on_site": [ids["d"]]}


def test_list_and_show_commands(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n', encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def stored() -> dict[str, int]:
        try:
            return await seed(Hub(hub_config(url), build_plugin_manager(load_entry_points=False)))
        finally:
            await dispose_all_for_loop()

    ids = run_in_fresh_loop(stored)
    base = ["--config", str(config), "service-orders"]
    table = runner.invoke(app, [*base, "list", "--status", "new", "--status", "assigned"])
    assert table.exit_code == 0, table.output
    out = table.output
    assert out.index("WC-A") < out.index("WC-B") < out.index("WC-G") and "WC-C" not in out
    assert "overdue 1h" in out and "王师傅" in out
    one = runner.invoke(app, [*base, "list", "--technician", "T01", "--region", "宁波市"])
    assert "WC-B" in one.output and "WC-C" not in one.output
    shown = runner.invoke(app, [*base, "show", str(ids["c"])])
    assert shown.exit_code == 0, shown.output
    assert "installation: booked" in shown.output and "王师傅 (T01)" in shown.output
    assert "steps allowed now: assign, book, check_in, cancel, fail" in shown.output
    bad = runner.invoke(app, [*base, "list", "--status", "lost"])
    assert bad.exit_code == 2 and "lost" in bad.output
