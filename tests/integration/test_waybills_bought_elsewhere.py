"""Labels bought elsewhere: a parcel whose courier account issues no waybills (the built-in
``manual`` courier) waits for a person instead of failing; its tracking number is entered through
the service, the API, the CLI and the console, then it prints and cancels like any parcel. Who may
enter, bad numbers named, the same number twice, another number, another parcel's number, a parcel
whose provider is still issuing or failed it. Both backends, the fake waybill provider beside it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

import plugins.logistics.plugin as logistics
from hub.cli import CliState, app
from hub.config import HubConfig
from hub.context import Hub
from hub.db.tables import OrderEventRow, ParcelRow
from hub.plugins import build_plugin_manager
from hub.services.fulfilment import courier_rules, labels, waybills
from hub.services.fulfilment.settings import CourierRule, CourierRulesSettings
from hub.testing.api import api_client, bearer, new_key
from hub.testing.db import run_in_fresh_loop
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub
from hub.testing.waybill_provider import WAREHOUSE_ADDRESS, FakeWaybillProvider, WaybillProviderPlugin, make_parcels
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key
from tests.integration.test_fulfilment_waybills import MEDIABOX, _reset, events, holds, paid_order, parcel

__all__ = ["_reset"]

POST_OFFICE = "post-office"
runner = CliRunner()


def config(database_url: str, **fulfilment: Any) -> HubConfig:
    """The own warehouse, a fake provider issuing ZTO waybills, and the post office (``manual``)."""
    provider = f"zto-{secrets.token_hex(3)}"  # breaker keys are per courier account
    return hub_config(database_url, warehouses={"main": {"platform": "manual", "address": WAREHOUSE_ADDRESS}},
                      couriers={provider: {"platform": "fakewaybill", "settings": {"courier_code": "zto"}},
                                POST_OFFICE: {"platform": "manual", "courier_code": "ems", "priority": 1}},
                      **({"fulfilment": fulfilment} if fulfilment else {}))


def provider_of(hub: Hub) -> str:
    return next(name for name in hub.config.couriers if name != POST_OFFICE)


PLUGINS = [WaybillProviderPlugin(), logistics]


@contextmanager
def manual_hub(cfg: HubConfig) -> Iterator[Hub]:
    with running_hub(cfg, extra_plugins=PLUGINS, load_entry_points=False, start_workers=False, relay=False) as hub:
        yield hub


def _number() -> str:
    return f"EA{secrets.randbelow(10**9):09d}CN"


async def test_a_parcel_of_an_account_that_issues_no_waybills_waits_for_a_person(database_url: str) -> None:
    with manual_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=POST_OFFICE, courier_code="ems")
        for _ in range(3):  # the actor, a repeated message, a sweep: nothing raised, nothing spent
            await waybills.issue_waybills(hub, [parcel_id])
        row = await parcel(hub, parcel_id)
        assert (row.status, row.waybill_number, row.attempts) == ("pending", None, 0)
        assert row.last_error == waybills.WAITING_REASON
        assert await holds(hub, order_id) == {} and FakeWaybillProvider.requests == []
        assert (await events(hub, order_id)).count("waybill_awaited") == 1
        with pytest.raises(waybills.WaybillRefused, match="label bought elsewhere"):
            await waybills.issue_now(hub, parcel_id, actor="someone")  # nobody to ask

        number = _number()
        outcome = await waybills.enter_waybill(hub, parcel_id, f" {number} ", "EMS", actor="clerk")
        assert (outcome.status, outcome.waybill_number) == ("issued", number)
        row = await parcel(hub, parcel_id)
        assert (row.status, row.courier_code, row.last_error) == ("issued", "ems", None)
        assert waybills.entered_by_hand(row) and row.print_data["print_data"] == {"entered_by": "clerk"}
        pdf = await labels.print_labels(hub, [parcel_id], actor="clerk", reveal=True)
        assert len(MEDIABOX.findall(pdf)) == 1 and f"({number}) Tj".encode() in pdf  # the hub's own label

        # Cancelled without asking anyone (void the label where it was bought).
        assert await waybills.cancel_waybills(hub, [parcel_id], actor="clerk") == [parcel_id]
        assert (await parcel(hub, parcel_id)).status == "cancelled"
        assert "waybill_entered" in await events(hub, order_id)
        await hub.close_loop_resources()


async def test_the_courier_rules_choose_the_manual_account(database_url: str) -> None:
    rules = CourierRulesSettings(rules=[CourierRule(courier=POST_OFFICE, courier_code="ems",
                                                    platforms=["aliexpress"])])
    with manual_hub(config(database_url)) as hub:
        abroad, domestic = make_order(platform="aliexpress"), make_order(platform="taobao")
        # Without rules the first account that issues waybills, although the manual one comes first.
        assert courier_rules.choose(hub, domestic, 1, "main").account == provider_of(hub)  # type: ignore[union-attr]
        hub.config.fulfilment.couriers = rules
        assert courier_rules.choose(hub, abroad, 1, "main") == courier_rules.CourierChoice(
            POST_OFFICE, "ems", "rule 1 is the first that matches")
        assert courier_rules.choose(hub, domestic, 2, "main") is None
        # A hub whose only waybills are bought elsewhere takes the manual account without rules.
        hub.config.fulfilment.couriers = CourierRulesSettings()
        del hub.config.couriers[provider_of(hub)]
        assert courier_rules.choose(hub, domestic, 3, "main") == courier_rules.CourierChoice(
            POST_OFFICE, "ems", "first configured courier")
        await hub.close_loop_resources()


async def test_entering_a_waybill_over_the_api(database_url: str) -> None:
    with manual_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        first, second, third = await make_parcels(hub, order_id, courier_account=POST_OFFICE, courier_code="ems",
                                                  count=3)
        [issuing] = await make_parcels(hub, order_id, courier_account=provider_of(hub))
        await waybills.issue_waybills(hub, [first, second, third])
        clerk, reader = await new_key(hub, "warehouse"), await new_key(hub, "service")
        number = _number()
        async with api_client(hub) as client:
            url = f"/api/v1/parcels/{first}/waybill"
            refused = await client.post(url, json={"waybill_number": number}, headers=bearer(reader))
            assert refused.status_code == 403
            for bad, problem in (("  ", "blank"), ("E" * 101, "longer than 100"), ("EA 12", "only letters")):
                answer = await client.post(url, json={"waybill_number": bad}, headers=bearer(clerk))
                assert answer.status_code == 422, answer.text
                [named] = answer.json()["detail"]
                assert named["field"] == "body.waybill_number" and problem in named["message"], named
            blank_courier = await client.post(url, json={"waybill_number": number, "courier_code": " "},
                                              headers=bearer(clerk))
            assert blank_courier.status_code == 422
            assert blank_courier.json()["detail"][0]["field"] == "body.courier_code"
            no_body = await client.post(url, headers=bearer(clerk))  # "issue now": nobody to ask
            assert no_body.status_code == 409 and "label bought elsewhere" in no_body.json()["detail"]

            for _ in range(2):  # the same number twice: the same answer
                entered = await client.post(url, json={"waybill_number": number, "courier_code": "EMS"},
                                            headers=bearer(clerk))
                assert entered.status_code == 200, entered.text
                body = entered.json()
                assert (body["status"], body["waybill_number"], body["courier_code"]) == ("issued", number, "ems")
            other = await client.post(url, json={"waybill_number": _number()}, headers=bearer(clerk))
            assert other.status_code == 409 and number in other.json()["detail"]
            taken = await client.post(f"/api/v1/parcels/{second}/waybill", json={"waybill_number": number},
                                      headers=bearer(clerk))
            assert taken.status_code == 409 and f"parcel {first}" in taken.json()["detail"], taken.text
            label = await client.get(f"/api/v1/parcels/{first}/label.pdf", headers=bearer(clerk))
            assert label.status_code == 200 and f"({number}) Tj".encode() in label.content

            await waybills.cancel_waybills(hub, [second], actor="test")
            cancelled = await client.post(f"/api/v1/parcels/{second}/waybill", json={"waybill_number": _number()},
                                          headers=bearer(clerk))
            assert cancelled.status_code == 409 and "cancelled" in cancelled.json()["detail"]
            async with hub.database().transaction() as session:
                await session.execute(update(ParcelRow).where(ParcelRow.id == first).values(status="shipped"))
            shipped = await client.post(url, json={"waybill_number": _number()}, headers=bearer(clerk))
            assert shipped.status_code == 409 and "shipped" in shipped.json()["detail"]
            # A parcel whose provider may be issuing its waybill right now: not typed over.
            busy = await client.post(f"/api/v1/parcels/{issuing}/waybill", json={"waybill_number": _number()},
                                     headers=bearer(clerk))
            assert busy.status_code == 409 and "is issuing" in busy.json()["detail"]
            missing = await client.post("/api/v1/parcels/999999/waybill", json={"waybill_number": number},
                                        headers=bearer(clerk))
            assert missing.status_code == 404

        async with hub.database().session() as session:
            actors = list((await session.execute(select(OrderEventRow.actor).where(
                OrderEventRow.order_id == order_id, OrderEventRow.kind == "waybill_entered"))).scalars())
        assert len(actors) == 1 and actors[0].startswith("apikey:")
        assert (await parcel(hub, third)).status == "pending"
        await hub.close_loop_resources()


async def test_a_number_bought_elsewhere_for_a_parcel_its_provider_failed_lifts_the_hold(database_url: str) -> None:
    with manual_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=provider_of(hub))
        FakeWaybillProvider.faults.append("refuse")
        await waybills.issue_waybills(hub, [parcel_id])
        assert (await parcel(hub, parcel_id)).status == "failed" and "waybill_failed" in await holds(hub, order_id)
        number = _number()
        await waybills.enter_waybill(hub, parcel_id, number, "ems", actor="clerk")
        row = await parcel(hub, parcel_id)
        assert (row.status, row.waybill_number, row.courier_code) == ("issued", number, "ems")
        assert await holds(hub, order_id) == {}
        # Its provider did not issue this number: cancelling asks nobody.
        assert await waybills.cancel_waybills(hub, [parcel_id], actor="clerk") == [parcel_id]
        assert FakeWaybillProvider.cancelled == []
        await hub.close_loop_resources()


def test_entering_a_waybill_from_the_command_line(database_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(database_url)

    def make_hub(_: Any = None) -> Hub:
        return Hub(cfg, build_plugin_manager(extra=PLUGINS, load_entry_points=False))

    monkeypatch.setattr(CliState, "config", lambda self: cfg)
    monkeypatch.setattr(CliState, "hub", make_hub)

    def in_loop(work: Any) -> Any:
        async def main() -> Any:
            hub = make_hub()
            try:
                return await work(hub)
            finally:
                await hub.close_loop_resources()

        return run_in_fresh_loop(main)

    async def setup(hub: Hub) -> list[int]:
        order_id = await paid_order(hub)
        return await make_parcels(hub, order_id, courier_account=POST_OFFICE, courier_code="ems", count=2)

    first, second = in_loop(setup)
    waiting = runner.invoke(app, ["parcels", "waybill", str(first)])
    assert waiting.exit_code == 2 and "label bought elsewhere" in waiting.output, waiting.output
    number = _number()
    for _ in range(2):
        done = runner.invoke(app, ["parcels", "waybill", str(first), "--number", number, "--courier", "EMS"])
        assert done.exit_code == 0, done.output
        assert f"waybill {number} (issued)" in done.stdout
    for args, words in ((["--courier", "ems"], "--courier goes with --number"),
                        (["--number", " "], "--number"),
                        (["--number", number], f"parcel {first}")):
        refused = runner.invoke(app, ["parcels", "waybill", str(second), *args])
        assert refused.exit_code == 2 and words in refused.output, (args, refused.output)
    assert runner.invoke(app, ["parcels", "waybill", "999999", "--number", number]).exit_code == 2

    async def read(hub: Hub) -> tuple[Any, ...]:
        async with hub.database().session() as session:
            row = (await session.execute(select(ParcelRow).where(ParcelRow.id == first))).scalar_one()
            actor = await session.scalar(select(OrderEventRow.actor).where(OrderEventRow.kind == "waybill_entered"))
        return row.status, row.waybill_number, actor

    status, stored, actor = in_loop(read)
    assert (status, stored) == ("issued", number) and str(actor).startswith("cli:")


async def test_entering_a_waybill_in_the_console(database_url: str) -> None:
    with manual_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        first, second = await make_parcels(hub, order_id, courier_account=POST_OFFICE, courier_code="ems", count=2)
        await waybills.issue_waybills(hub, [first, second])
        number = _number()
        async with _app(hub) as client:
            assert (await _sign_in_with_key(client, await new_key(hub, "warehouse", "wh-clerk"))).status_code == 303
            page = await client.get("/console/fulfilment/parcels?status=pending")
            assert f'data-testid="enter-number-{first}"' in page.text and waybills.WAITING_REASON in page.text
            token = _csrf(page.text)
            done = await client.post(f"/console/fulfilment/parcels/{first}/waybill",
                                     data={"csrf_token": token, "waybill_number": number, "courier_code": "EMS",
                                           "back": "parcels"})
            assert done.status_code == 303 and "entered=" in done.headers["location"], done.text
            issued = await client.get(done.headers["location"])
            assert number in issued.text and 'data-testid="notice"' in issued.text

            panel = await client.get(f"/console/orders/{order_id}/panel/parcels")
            assert f'data-testid="enter-{second}"' in panel.text and f'data-testid="enter-{first}"' not in panel.text
            bad = await client.post(f"/console/fulfilment/parcels/{second}/waybill",
                                    data={"csrf_token": token, "waybill_number": " ", "back": "order"})
            assert bad.status_code == 400 and "blank" in bad.text
            taken = await client.post(f"/console/fulfilment/parcels/{second}/waybill",
                                      data={"csrf_token": token, "waybill_number": number, "back": "order"})
            assert taken.status_code == 409 and f"parcel {first}" in taken.text
            back = await client.post(f"/console/fulfilment/parcels/{second}/waybill",
                                     data={"csrf_token": token, "waybill_number": _number(), "back": "order"})
            assert back.status_code == 303 and back.headers["location"] == f"/console/orders/{order_id}"
            stale = await client.post(f"/console/fulfilment/parcels/{second}/waybill",
                                      data={"csrf_token": "forged", "waybill_number": _number()})
            assert stale.status_code in (400, 403)
            zh = await client.get("/console/fulfilment/parcels?status=issued&entered=1",
                                  headers={"accept-language": "zh-CN"})
            assert "已录入运单号" in zh.text

        async with _app(hub) as client:  # a viewer sees no form
            await _sign_in_with_key(client, await new_key(hub, "viewer"))
            async with hub.database().transaction() as session:
                await session.execute(update(ParcelRow).where(ParcelRow.id == second).values(
                    status="pending", waybill_number=None))
            page = await client.get("/console/fulfilment/parcels?status=pending")
            assert f'data-testid="parcel-{second}"' in page.text and "enter-number-" not in page.text

        async with hub.database().session() as session:
            actors = set((await session.execute(select(OrderEventRow.actor).where(
                OrderEventRow.kind == "waybill_entered"))).scalars())
        assert len(actors) == 1 and "wh-clerk" in next(iter(actors))
        await hub.close_loop_resources()
