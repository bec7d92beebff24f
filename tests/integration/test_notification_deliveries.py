"""Notifications on SQLite and PostgreSQL, as a merchant sees them: a held order reaches the
webhook once with a signature the receiver verifies, a failing endpoint is retried and recorded,
a DingTalk robot accepts the hub's 加签, an e-mail arrives, the daily summary goes once a day,
unpaid orders are listed for reminding, and no buyer's personal data leaves in a notification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

import plugins.notifiers.plugin
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import NotificationDeliveryRow, OrderHoldRow, OrderRow
from hub.errors import NotFoundError
from hub.plugins import build_plugin_manager
from hub.services.notifications import channels, deliveries, reminders, scan, summary
from hub.testing.hub import hub_config
from hub.testing.smtp_sink import smtp_sink
from plugins.notifiers.sandbox import NotifierSandbox
from plugins.notifiers.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BUYER = "张三 13800138000 北京市朝阳区某某路1号"


def _config(database_url: str, sink_port: int = 25, **extra: Any) -> Any:
    sandbox = NotifierSandbox()
    notifications = {
        "channels": {
            "ops-hook": {"kind": "webhook",
                         "settings": {"url": "http://sandbox/webhook", "secret": sandbox.webhook_secret}},
            "ding": {"kind": "dingtalk", "settings": {"url": "http://sandbox/robot/send",
                                                      "access_token": sandbox.dingtalk_token},
                     "credentials": {"secret": "NOTIFY_TEST_DING_SECRET"}},
            "wecom": {"kind": "wecom",
                      "settings": {"url": "http://sandbox/cgi-bin/webhook/send", "key": sandbox.wecom_key}},
            "mail": {"kind": "email", "settings": {"host": "127.0.0.1", "port": sink_port, "sender": "hub@example.com",
                                                   "recipients": ["ops@example.com"], "starttls": False}},
        },
        "rules": [{"event": "order_held", "channels": ["ops-hook", "ding", "wecom", "mail"]}],
        "daily_summary": {"channels": ["ops-hook"], "at": "09:00"},
        **extra,
    }
    return hub_config(database_url, notifications=notifications), sandbox


@pytest.fixture
async def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("NOTIFY_TEST_DING_SECRET", NotifierSandbox().dingtalk_secret)

    def build(port: int = 25, **extra: Any) -> tuple[Hub, NotifierSandbox]:
        config, sandbox = _config(database_url, port, **extra)
        plugins = build_plugin_manager(load_entry_points=False, extra=[plugins_module])
        return Hub(config, plugins), sandbox

    plugins_module = plugins.notifiers.plugin
    yield build
    await dispose_all_for_loop()


async def _held_order(hub: Hub, *, shop: str = "tb1", status: str = "paid", created: datetime = NOW) -> int:
    async with hub.database().transaction() as session:
        order_id = (await session.execute(insert(OrderRow).values(
            platform="taobao", shop=shop, external_id=f"E{created.timestamp():.0f}{status}", status=status,
            raw_status="X", channel_created_at=created, channel_updated_at=created, total_amount=Decimal("88.00"),
            currency="CNY", buyer_nick=BUYER, data={"recipient": BUYER}).returning(OrderRow.id))).scalar_one()
        if status == "paid":
            await session.execute(insert(OrderHoldRow).values(order_id=order_id, code="address_check",
                                                              reason=f"check {BUYER}", created_at=created))
    return order_id


async def _statuses(hub: Hub) -> dict[str, str]:
    async with hub.database().session() as session:
        rows = await session.execute(select(NotificationDeliveryRow.channel, NotificationDeliveryRow.status))
        return dict(rows.all())


async def test_held_order_reaches_each_channel_once_signed_and_without_personal_data(world: Any) -> None:
    async with smtp_sink() as sink:
        hub, sandbox = world(sink.port)
        await _held_order(hub)
        with channels.use_transport(httpx.ASGITransport(app=sandbox.app())):
            assert await scan.scan(hub, NOW) == 4
            assert await deliveries.send_due(hub, NOW) == {"sent": 4}
            # A second scan finds the same hold: nothing new is recorded or sent.
            assert await scan.scan(hub, NOW + timedelta(minutes=1)) == 0
            assert await deliveries.send_due(hub, NOW + timedelta(minutes=1)) == {}

    by = {r.receiver: r for r in sandbox.received}
    assert sorted(by) == ["dingtalk", "webhook", "wecom"]
    hook = by["webhook"]
    body = json.dumps(hook.body, ensure_ascii=False, sort_keys=True).encode()
    assert hook.headers[SIGNATURE_HEADER.lower()] == webhook_signature(
        sandbox.webhook_secret, hook.headers[TIMESTAMP_HEADER.lower()], body)
    assert hook.body["kind"] == "order_held" and hook.body["facts"]["hold"] == "address_check"
    assert "sign" in by["dingtalk"].query and by["dingtalk"].body["msgtype"] == "markdown"
    assert len(sink.messages) == 1 and "held" in sink.messages[0]["Subject"]
    everything = json.dumps([r.body for r in sandbox.received], ensure_ascii=False) + sink.messages[0].as_string()
    for personal in ("张三", "13800138000", "朝阳区"):
        assert personal not in everything
    assert set((await _statuses(hub)).values()) == {"sent"}


async def test_a_scan_after_an_outage_longer_than_the_lookback_finds_what_happened_during_it(world: Any) -> None:
    hub, _ = world()
    assert await scan.scan(hub, NOW) == 0  # nothing held yet; this scan is the watermark
    await _held_order(hub, created=NOW + timedelta(hours=1))
    # The hub was down for 30 hours: the hold is older than the 24-hour lookback, but newer than
    # the last completed scan, so it is still found (once).
    assert await scan.scan(hub, NOW + timedelta(hours=30)) == 4
    assert await scan.scan(hub, NOW + timedelta(hours=30, minutes=1)) == 0


async def test_a_failing_endpoint_is_retried_recorded_and_then_succeeds(world: Any) -> None:
    hub, sandbox = world(rules=[{"event": "order_held", "channels": ["ops-hook", "wecom"]}])
    await _held_order(hub)
    sandbox.fail_next(2)  # the webhook's first try and its inline retry both get 503
    with channels.use_transport(httpx.ASGITransport(app=sandbox.app())):
        await scan.scan(hub, NOW)
        counts = await deliveries.send_due(hub, NOW)
        assert counts == {"failed": 1, "sent": 1}  # the robot is not held up by the webhook
        statuses = await _statuses(hub)
        assert statuses == {"ops-hook": "failed", "wecom": "sent"}
        views = await deliveries.listing(hub, status="failed")
        assert views[0].attempts == 1 and "503" in (views[0].last_error or "")
        # Not due before its backoff; due after it.
        assert await deliveries.send_due(hub, NOW + timedelta(seconds=5)) == {}
        assert await deliveries.send_due(hub, NOW + timedelta(minutes=2)) == {"sent": 1}
    assert [r.receiver for r in sandbox.received] == ["wecom", "webhook"]


async def test_a_bad_dingtalk_sign_is_refused_and_recorded_dead(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TEST_DING_SECRET", "SECwrong")
    hub, sandbox = world(rules=[{"event": "order_held", "channels": ["ding"]}])
    await _held_order(hub)
    with channels.use_transport(httpx.ASGITransport(app=sandbox.app())):
        await scan.scan(hub, NOW)
        assert await deliveries.send_due(hub, NOW) == {"dead": 1}
    [view] = await deliveries.listing(hub)
    assert "310000" in (view.last_error or "") and sandbox.received == []
    await deliveries.resend(hub, view.id, "tester")
    assert (await deliveries.listing(hub))[0].status == "pending"


async def test_the_daily_summary_is_recorded_once_a_day(world: Any) -> None:
    hub, sandbox = world(rules=[])
    morning = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: not yet
    assert await summary.run(hub, morning) == 0
    assert await summary.run(hub, morning + timedelta(hours=1)) == 1
    assert await summary.run(hub, morning + timedelta(hours=2)) == 0  # another worker, later: same day
    with channels.use_transport(httpx.ASGITransport(app=sandbox.app())):
        assert await deliveries.send_due(hub, morning + timedelta(hours=2)) == {"sent": 1}
    assert sandbox.received[0].body["kind"] == "daily_summary"
    assert sandbox.received[0].body["dedup_key"] == "daily_summary:2026-12-02"


async def test_unpaid_orders_are_listed_until_someone_reminds_the_buyer(world: Any) -> None:
    hub, _ = world(rules=[], unpaid_reminder_after_minutes=30)
    now = datetime.now(UTC)
    fresh = await _held_order(hub, status="pending_payment", created=now - timedelta(minutes=5))
    due = await _held_order(hub, status="pending_payment", created=now - timedelta(hours=2))
    other_shop = await _held_order(hub, shop="dy1", status="pending_payment", created=now - timedelta(hours=3))
    closed = await _held_order(hub, status="pending_payment", created=now - timedelta(days=3))
    listed = [r.order_id for r in await reminders.due(hub, now)]
    assert listed == [other_shop, due] and fresh not in listed and closed not in listed

    class OnlyTb1:
        shops = frozenset({"tb1"})

    assert [r.order_id for r in await reminders.due(hub, now, OnlyTb1())] == [due]
    with pytest.raises(NotFoundError):
        await reminders.mark_done(hub, other_shop, "tb1-staff", OnlyTb1())
    await reminders.mark_done(hub, due, "tb1-staff", OnlyTb1())
    assert [r.order_id for r in await reminders.due(hub, now)] == [other_shop]
    csv_text = reminders.to_csv(await reminders.due(hub, now))
    assert csv_text.splitlines()[0].startswith("order_id,shop") and BUYER not in csv_text


async def test_api_and_console_show_the_log_hide_secrets_and_resend(world: Any) -> None:
    from hub.testing.api import api_client, bearer, new_key
    from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

    hub, sandbox = world(rules=[{"event": "order_held", "channels": ["ops-hook"]}])
    await _held_order(hub, created=datetime.now(UTC))
    admin, operator = await new_key(hub, "admin"), await new_key(hub, "operator")
    with channels.use_transport(httpx.ASGITransport(app=sandbox.app())):
        await scan.scan(hub)
        async with api_client(hub) as client:
            listed = (await client.get("/api/v1/notifications/channels", headers=bearer(operator))).json()
            assert {c["name"] for c in listed} == {"ops-hook", "ding", "wecom", "mail"}
            assert sandbox.webhook_secret not in json.dumps(listed) and sandbox.wecom_key not in json.dumps(listed)
            log = (await client.get("/api/v1/notifications/deliveries?status=pending", headers=bearer(operator))).json()
            assert [d["channel"] for d in log] == ["ops-hook"]
            bad = await client.get("/api/v1/notifications/deliveries?status=nope", headers=bearer(operator))
            assert bad.status_code == 422 and "status" in bad.text
            resend = f"/api/v1/notifications/deliveries/{log[0]['id']}/resend"
            refused = await client.post(resend, headers=bearer(operator))
            assert refused.status_code == 403
            sent = await client.post(resend, headers=bearer(admin))
            assert sent.json()["status"] == "sent"
            tested = await client.post("/api/v1/notifications/channels/wecom/test", headers=bearer(admin))
            assert tested.status_code == 200 and sandbox.received[-1].receiver == "wecom"
            missing = await client.post("/api/v1/notifications/channels/nope/test", headers=bearer(admin))
            assert missing.status_code == 404
        async with _app(hub) as console:
            assert (await _sign_in_with_key(console, admin)).status_code == 303
            page = await console.get("/console/notifications")
            assert page.status_code == 200 and 'data-testid="deliveries"' in page.text and "ops-hook" in page.text
            tested_page = await console.post("/console/notifications/channels/ops-hook/test",
                                             data={"csrf_token": _csrf(page.text)})
            assert tested_page.status_code == 303 and "done=tested" in tested_page.headers["location"]
            reminders_page = await console.get("/console/reminders")
            assert reminders_page.status_code == 200


async def test_every_event_kind_is_found_once_and_filtered_by_shop(world: Any) -> None:
    from hub.db.tables import (
        AfterSaleRow,
        DeadLetterRow,
        FulfilmentExceptionRow,
        ServiceOrderRow,
        Shop,
        SkuRow,
        StockRow,
    )
    from hub.services.notifications import events

    hub, _ = world(rules=[
        {"event": event, "channels": ["ops-hook"], "shops": ["tb1"]}
        for event in ("order_held", "refund_requested", "low_stock", "deadline_lapsing", "parcel_stuck",
                      "sync_failing", "shop_paused")])
    order_id = await _held_order(hub)
    await _held_order(hub, shop="dy1", created=NOW + timedelta(seconds=1))  # another shop: filtered out
    base = {"platform": "taobao", "shop": "tb1", "raw_status": "X", "channel_updated_at": NOW, "data": {}}
    async with hub.database().transaction() as session:
        await session.execute(insert(SkuRow).values(merchant_sku="SKU-LOW", low_stock_threshold=5, safety_stock=1))
        await session.execute(insert(StockRow).values(warehouse="main", merchant_sku="SKU-LOW", on_hand=6, reserved=1))
        await session.execute(insert(SkuRow).values(merchant_sku="SKU-OK", low_stock_threshold=5))
        await session.execute(insert(StockRow).values(warehouse="main", merchant_sku="SKU-OK", on_hand=50, reserved=0))
        await session.execute(insert(AfterSaleRow).values(
            **base, external_id="AS1", order_external_id="E1", type="refund_only", status="requested",
            deadline=NOW + timedelta(hours=3), refund_amount=Decimal("12.50"), currency="CNY", created_at=NOW))
        await session.execute(insert(ServiceOrderRow).values(
            **base, external_id="SO1", type="installation", status="new", due_at=NOW + timedelta(hours=2),
            created_at=NOW))
        await session.execute(insert(FulfilmentExceptionRow).values(
            order_id=order_id, kind="stalled", subject="parcel:1", reason="no scan for 3 days", raised_at=NOW))
        await session.execute(insert(DeadLetterRow).values(actor="poll_orders", queue="default", reason="boom",
                                                           error_class="X", created_at=NOW))
        await session.execute(insert(Shop).values(name="tb1", platform="taobao", status="paused", updated_at=NOW))
    assert await scan.scan(hub, NOW + timedelta(minutes=1)) == 8  # two deadlines: a case and a service order
    assert await scan.scan(hub, NOW + timedelta(minutes=2)) == 0
    kinds = sorted(v.kind for v in await deliveries.listing(hub))
    assert set(kinds) == {"deadline_lapsing", "low_stock", "order_held", "parcel_stuck", "refund_requested",
                          "shop_paused", "sync_failing"}
    async with hub.database().session() as session:
        low = await events.low_stock(session, NOW, NOW, None)
    assert [n.facts["sku"] for n in low] == ["SKU-LOW"] and low[0].facts["available"] == 4


def test_a_rule_naming_an_unknown_channel_is_a_config_error_naming_the_field() -> None:
    from pydantic import ValidationError

    from hub.services.notifications.settings import NotificationsSection

    with pytest.raises(ValidationError, match=r"notifications.rules.0.channels.0: no channel 'pager'"):
        NotificationsSection.model_validate({"channels": {"hook": {"kind": "webhook"}},
                                             "rules": [{"event": "order_held", "channels": ["pager"]}]})
    with pytest.raises(ValidationError, match="event"):
        NotificationsSection.model_validate({"channels": {"hook": {"kind": "webhook"}},
                                             "rules": [{"event": "order_eaten", "channels": ["hook"]}]})


def test_the_scheduler_runs_the_scan_and_the_sender_only_when_channels_are_configured(database_url: str) -> None:
    from hub.pipeline.notifications import SCAN_ACTOR, SEND_ACTOR, jobs

    config, _ = _config(database_url)
    with_channels = Hub(config, build_plugin_manager(load_entry_points=False))
    assert [job[2] for job in jobs(with_channels)] == [SCAN_ACTOR, SEND_ACTOR]
    assert jobs(Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))) == []
