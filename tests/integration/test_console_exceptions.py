"""The console's exceptions queue through the app in-process: held orders grouped by reason with
their counts, released one by one or all shown at once (attributed, in the order's history, the
order off hold only when no other hold remains); dead letters listed for admins, shown with
their input, replayed one by one or all of an actor up to the newest seen. Roles limit what is
offered and what is done, stale forms change nothing, unknown ids get a clear page.
On SQLite only: the hold releases and replays it calls are tested on both databases
(test_api_batch_actions, test_api_holds)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts.fulfilment import Hold
from hub.console.routes import exceptions as exceptions_routes
from hub.context import Hub
from hub.db import dead_letters
from hub.db.tables import AuditRow, DeadLetterRow, OrderEventRow, OrderHoldRow, OrderRow
from hub.services.orders import add_hold, apply_order
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_api_support import FakeChannelsPlugin, make_hub, new_key
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _order(hub: Hub, *codes: str) -> int:
    order = make_order(shop="tb-main", created_at=datetime.now(UTC), unit_price="1288.00")
    async with hub.database().transaction() as session:
        result = await apply_order(session, order, cause="poll")
        for code in codes:
            await add_hold(session, result.order_id, Hold(code=code, reason=f"{code}: look at it"), cause="audit")
    return result.order_id


async def _letter(hub: Hub, *, actor: str = "process_inbox_batch", reason: str = "PermanentError: gone") -> int:
    async with hub.database().transaction() as session:
        return await dead_letters.record(session, actor=actor, queue="ingest", args=[[41]], kwargs={"force": True},
                                         reason=reason, error_class=reason.split(":")[0], attempts=1)


async def _holds(hub: Hub, order_id: int) -> dict[str, str | None]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(OrderHoldRow.order_id == order_id))).scalars()
        return {h.code: h.released_by for h in rows}


async def _on_hold(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        return bool(await session.scalar(select(OrderRow.on_hold).where(OrderRow.id == order_id)))


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str, name: str | None = None) -> None:
    response = await _sign_in_with_key(client, await new_key(hub, role, name))
    assert response.status_code == 303


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, Any], *, page: str = "/console/exceptions",
                ) -> httpx.Response:
    token = _csrf((await client.get(page)).text)
    return await client.post(path, data={"csrf_token": token, **data})


async def test_held_orders_are_grouped_by_reason_and_a_viewer_is_offered_no_release(database_url: str) -> None:
    hub = make_hub(database_url)
    first = await _order(hub, "high_value")
    second = await _order(hub, "high_value", "address_check")
    released = await _order(hub, "stock_short")
    async with hub.database().transaction() as session:
        from hub.services.orders import release_hold

        await release_hold(session, released, "stock_short", actor="test")
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer")
        page = await client.get("/console/exceptions")
    assert page.status_code == 200
    text = page.text
    chips = re.findall(r'data-testid="reason-([a-z_]+)">([^<]+) <strong>(\d+)</strong>', text)
    assert chips == [("high_value", "High value (high_value)", "2"), ("address_check", "address_check", "1")], \
        "the most held reason first, in words where the console has them (a plugin's code as it is), with its count"
    assert "stock_short" not in text, "a released hold is not an exception any more"
    for order_id in (first, second):
        assert f'href="/console/orders/{order_id}"' in text
    assert "¥1,288.00" in text and "tb-main" in text and "high_value: look at it" in text
    assert "/release" not in text, "a viewer may not release, so no release form is offered"
    assert "Dead letters are shown to roles with the right dead_letters.manage." in text


async def test_an_operator_releases_one_hold_then_all_shown_and_the_history_names_them(database_url: str) -> None:
    hub = make_hub(database_url)
    lone = await _order(hub, "high_value")
    both = await _order(hub, "high_value", "address_check")
    third = await _order(hub, "high_value")
    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "alice")
        page = (await client.get("/console/exceptions")).text
        assert f'data-testid="release-{lone}"' in page and 'data-testid="release-shown-high_value"' in page
        one = await _post(client, f"/console/exceptions/holds/{lone}/high_value/release",
                          {"next": "/console/exceptions?code=high_value#holds"})
        assert one.status_code == 303
        assert one.headers["location"].startswith("/console/exceptions?code=high_value&")
        assert one.headers["location"].endswith("#holds")
        after_one = await client.get(one.headers["location"])
        assert f"Hold high_value on order {lone} released." in after_one.text
        assert f'data-testid="held-{lone}"' not in after_one.text

        shown = await _post(client, "/console/exceptions/holds/high_value/release-shown",
                            {"order_ids": f"{both},{third},{lone}", "next": "/console/exceptions"})
        after_all = await client.get(shown.headers["location"])
    assert shown.status_code == 303 and "Holds high_value released: 2." in after_all.text
    assert 'data-testid="group-high_value"' not in after_all.text
    for order_id in (lone, both, third):
        assert (await _holds(hub, order_id))["high_value"] == f"apikey:{(await _prefix(hub, 'alice'))}:alice"
    assert not await _on_hold(hub, third) and not await _on_hold(hub, lone)
    assert await _on_hold(hub, both), "its address_check hold is still open"
    async with hub.database().session() as session:
        events = (await session.execute(select(OrderEventRow).where(
            OrderEventRow.kind == "hold_released").order_by(OrderEventRow.order_id))).scalars().all()
    assert sorted(e.order_id for e in events) == sorted([lone, both, third]), "one history entry per release"
    assert all(e.actor and e.actor.endswith(":alice") and e.detail == {"code": "high_value"} for e in events)


async def _prefix(hub: Hub, name: str) -> str:
    from hub.db.tables import ApiKeyRow

    async with hub.database().session() as session:
        return str(await session.scalar(select(ApiKeyRow.prefix).where(ApiKeyRow.name == name)))


async def test_a_viewer_posting_a_release_or_a_stale_form_changes_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    held = await _order(hub, "high_value")
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer")
        refused = await _post(client, f"/console/exceptions/holds/{held}/high_value/release", {})
        refused_all = await _post(client, "/console/exceptions/holds/high_value/release-shown",
                                  {"order_ids": str(held)})
        await _signed_in(client, hub, "operator")
        stale = await client.post(f"/console/exceptions/holds/{held}/high_value/release",
                                  data={"csrf_token": "an-old-token"})
        tampered = await _post(client, "/console/exceptions/holds/high_value/release-shown",
                               {"order_ids": "1,two"})
    assert refused.status_code == 403 and refused_all.status_code == 403
    assert "Your role (viewer) may not do this (orders.write). Nothing was changed." in refused.text
    assert stale.status_code == 403 and "This form was out of date" in stale.text
    assert tampered.status_code == 400 and "nothing was changed" in tampered.text
    assert (await _holds(hub, held)) == {"high_value": None} and await _on_hold(hub, held)


async def test_held_orders_under_a_reason_come_in_pages_and_a_bad_cursor_is_named(
    database_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(exceptions_routes, "PAGE_SIZE", 2)
    hub = make_hub(database_url)
    ids = [await _order(hub, "risk_control") for _ in range(3)]
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer")
        first = await client.get("/console/exceptions?code=risk_control")
        next_url = re.search(r'href="([^"]+)#holds" data-testid="holds-next"', first.text)
        assert next_url, "a next-page link"
        second = await client.get(next_url.group(1).replace("&amp;", "&"))
        bad = await client.get("/console/exceptions?code=risk_control&cursor=not-ours")
    assert [f'data-testid="held-{i}"' in first.text for i in ids] == [True, True, False], "the longest held first"
    assert [f'data-testid="held-{i}"' in second.text for i in ids] == [False, False, True]
    assert 'data-testid="holds-next"' not in second.text
    assert bad.status_code == 422 and "<strong>Held orders</strong>" in bad.text
    assert "link is out of date or damaged" in bad.text


async def test_admin_reads_dead_letters_and_others_are_refused_them(database_url: str) -> None:
    hub = make_hub(database_url)
    letter = await _letter(hub, reason="PermanentError: isv.trade-not-exist; url ?access_token=s3cr3t&x=1")
    other = await _letter(hub, actor="confirm_shipment", reason="RetryableError: gave up after 7 attempts")
    async with _app(hub) as admin:
        await _signed_in(admin, hub, "admin")
        listed = await admin.get("/console/exceptions")
        filtered = await admin.get("/console/exceptions?actor=confirm_shipment")
        detail = await admin.get(f"/console/exceptions/dead-letters/{letter}")
        unknown = await admin.get("/console/exceptions/dead-letters/999999")
        not_a_number = await admin.get("/console/exceptions/dead-letters/abc")
    async with _app(hub) as operator:
        await _signed_in(operator, hub, "operator")
        refused_page = await operator.get(f"/console/exceptions/dead-letters/{letter}")
        refused_replay = await _post(operator, f"/console/exceptions/dead-letters/{letter}/replay", {})
        refused_all = await _post(operator, "/console/exceptions/dead-letters/replay-actor",
                                  {"actor": "process_inbox_batch", "up_to_id": str(letter)})
    assert listed.status_code == 200
    assert listed.text.index(f'data-testid="letter-{other}"') < listed.text.index(f'data-testid="letter-{letter}"')
    assert "s3cr3t" not in listed.text and "access_token=***" in listed.text
    assert f'data-testid="letter-{letter}"' not in filtered.text and 'data-testid="replay-all"' in filtered.text
    assert f'name="up_to_id" value="{other}"' in filtered.text
    assert detail.status_code == 200 and "process_inbox_batch" in detail.text
    assert "&#34;force&#34;: true" in detail.text and "s3cr3t" not in detail.text
    assert 'data-testid="replay"' in detail.text
    assert unknown.status_code == 404 and "Not found: dead letter 999999 does not exist" in unknown.text
    assert not_a_number.status_code == 404 and "dead letter &#39;abc&#39; does not exist" in not_a_number.text
    assert refused_page.status_code == 403 and "dead_letters.manage" in refused_page.text
    assert refused_replay.status_code == 403 and refused_all.status_code == 403
    async with hub.database().session() as session:
        assert (await dead_letters.get(session, letter)).replayed_at is None  # type: ignore[union-attr]


async def test_admin_replays_one_dead_letter_then_all_of_an_actor_up_to_the_newest_seen(database_url: str) -> None:
    with running_hub(hub_config(database_url), extra_plugins=[FakeChannelsPlugin()], load_entry_points=False,
                     start_workers=False) as hub:
        single = await _letter(hub)
        batch = [await _letter(hub) for _ in range(2)]
        elsewhere = await _letter(hub, actor="order_changed")
        async with _app(hub) as client:
            await _signed_in(client, hub, "admin", "ops-lead")
            replayed = await _post(client, f"/console/exceptions/dead-letters/{single}/replay", {},
                                   page=f"/console/exceptions/dead-letters/{single}")
            shown = await client.get(replayed.headers["location"])
            page = (await client.get("/console/exceptions?actor=process_inbox_batch")).text
            assert f'name="up_to_id" value="{batch[-1]}"' in page
            late = await _letter(hub)  # dies after the operator loaded the page: left for them to look at
            replay_all = await client.post("/console/exceptions/dead-letters/replay-actor", data={
                "csrf_token": _csrf(page), "actor": "process_inbox_batch", "up_to_id": str(batch[-1])})
            after = await client.get(replay_all.headers["location"].split("#")[0])
        broker = hub.runtime.broker if hub.runtime else None
    assert replayed.status_code == 303 and replayed.headers["location"].endswith(f"/{single}?replayed=1")
    assert "Sent to process_inbox_batch again." in shown.text and "ops-lead" in shown.text
    assert "Replay again" in shown.text
    assert replay_all.status_code == 303
    assert "Dead letters of process_inbox_batch sent again: 2." in after.text
    assert f'data-testid="letter-{late}"' in after.text and f'data-testid="letter-{batch[0]}"' not in after.text
    async with hub.database().session() as session:
        rows = {r.id: r for r in (await session.execute(select(DeadLetterRow))).scalars()}
        audit = (await session.execute(select(AuditRow).where(AuditRow.action == "dead_letter.replayed"))).scalars()
        audited = sorted(int(a.subject.split(":")[1]) for a in audit)
    assert all(rows[i].replayed_by and rows[i].replayed_by.endswith(":ops-lead") for i in [single, *batch])
    assert rows[late].replayed_at is None and rows[elsewhere].replayed_at is None
    assert audited == sorted([single, *batch])
    assert broker is not None and broker.queues["ingest"].qsize() == 3  # type: ignore[attr-defined]
    await hub.close_loop_resources()


async def test_replay_without_a_queue_in_this_process_says_how_and_sends_nothing(database_url: str) -> None:
    hub = make_hub(database_url)
    letter = await _letter(hub)
    async with _app(hub) as client:
        await _signed_in(client, hub, "admin")
        refused = await _post(client, f"/console/exceptions/dead-letters/{letter}/replay", {})
    assert refused.status_code == 503 and f"hub dlq replay {letter}" in refused.text
    async with hub.database().session() as session:
        assert (await dead_letters.get(session, letter)).replayed_at is None  # type: ignore[union-attr]
