"""The console's tracking screens through the app in-process, on SQLite and PostgreSQL: the order
panel shows each parcel's scans oldest first with its state in words (English and Chinese); the
fulfilment exceptions queue lists stuck parcels by kind, a viewer is offered no resolve, an
operator resolves one with a note (attributed, in the order's history) and sees it among the
resolved; a stale form changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from contracts.shipments import TrackingEvent, TrackingState
from hub.db.tables import FulfilmentExceptionRow, OrderEventRow
from hub.services.fulfilment import tracking
from hub.testing.api import new_key
from hub.testing.hub import running_hub
from hub.testing.tracking import shipped_order, tracking_config
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

T = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def _scan(number: str, state: TrackingState, hours: int, text: str) -> TrackingEvent:
    return TrackingEvent(tracking_number=number, courier_code="zto", state=state,
                         occurred_at=T + timedelta(hours=hours), description=text)


async def test_panel_and_exceptions_queue(database_url: str) -> None:
    config = tracking_config(database_url, sandbox_settings={"customer": "C", "key": "k"}, callback_base_url=None)
    with running_hub(config, start_workers=False, relay=False) as hub:
        moving = await shipped_order(hub, ["ZTCON1"])
        quiet = await shipped_order(hub, ["ZTCON2"])
        await tracking.record(hub, tracking.PushIn("ZTCON1", "zto", [
            _scan("ZTCON1", TrackingState.IN_TRANSIT, 5, "已到达 上海转运中心"),
            _scan("ZTCON1", TrackingState.COLLECTED, 1, "杭州余杭区公司 已揽收")]))
        await tracking.check_parcels(hub, now=datetime.now(UTC) + timedelta(days=30))
        async with hub.database().session() as session:
            rows = {r.kind: r for r in (await session.execute(select(FulfilmentExceptionRow))).scalars()}
        assert set(rows) == {"stalled", "not_collected"}

        async with _app(hub) as client:
            assert (await _sign_in_with_key(client, await new_key(hub, "viewer"))).status_code == 303
            panel = (await client.get(f"/console/orders/{moving.order_id}/panel/tracking")).text
            assert panel.index("已揽收") < panel.index("已到达 上海转运中心"), "oldest scan first"
            assert "Parcel ZTCON1 (zto)" in panel and "In transit" in panel
            assert "1 open exception(s) for this order" in panel
            assert "track-now" not in panel, "a viewer may not ask the courier"
            zh = (await client.get(f"/console/orders/{moving.order_id}/panel/tracking",
                                   headers={"accept-language": "zh-CN"})).text
            assert "包裹 ZTCON1（zto）" in zh and "运输中" in zh
            empty = (await client.get("/console/orders/999999/panel/tracking")).text
            assert "No parcel of this order has shipped yet." in empty

            page = await client.get("/console/fulfilment/exceptions")
            assert page.status_code == 200
            assert f'data-testid="fexc-{rows["stalled"].id}"' in page.text
            assert f'data-testid="fexc-{rows["not_collected"].id}"' in page.text
            assert "ZTCON2 (zto)" in page.text and "Not moving" in page.text
            assert "/resolve" not in page.text, "a viewer is offered no resolve"
            only = (await client.get("/console/fulfilment/exceptions?kind=stalled")).text
            assert f'fexc-{rows["not_collected"].id}"' not in only
            by_order = (await client.get(f"/console/fulfilment/exceptions?order_id={quiet.order_id}")).text
            assert f'fexc-{rows["stalled"].id}"' not in by_order
            bad = await client.get("/console/fulfilment/exceptions?cursor=junk")
            assert bad.status_code == 200 and "no longer valid" in bad.text

        async with _app(hub) as client:
            assert (await _sign_in_with_key(client, await new_key(hub, "operator", "olga"))).status_code == 303
            page = (await client.get("/console/fulfilment/exceptions?kind=stalled")).text
            target = rows["stalled"].id
            assert f'data-testid="resolve-{target}"' in page
            stale = await client.post(f"/console/fulfilment/exceptions/{target}/resolve",
                                      data={"csrf_token": "forged", "note": "x"})
            assert stale.status_code in (400, 403)
            done = await client.post(f"/console/fulfilment/exceptions/{target}/resolve", data={
                "csrf_token": _csrf(page), "note": "courier found it",
                "next": "/console/fulfilment/exceptions?kind=stalled"})
            assert done.status_code == 303
            assert done.headers["location"] == f"/console/fulfilment/exceptions?kind=stalled&resolved={target}"
            after = (await client.get(done.headers["location"])).text
            assert f"Exception {target} resolved." in after and f'fexc-{target}"' not in after
            resolved = (await client.get("/console/fulfilment/exceptions?state=resolved")).text
            assert f'fexc-{target}"' in resolved and "olga" in resolved
            again = await client.post(f"/console/fulfilment/exceptions/{target}/resolve",
                                      data={"csrf_token": _csrf(page)})
            assert again.status_code == 409
        async with hub.database().session() as session:
            event = (await session.execute(select(OrderEventRow).where(
                OrderEventRow.kind == "fulfilment_exception_resolved"))).scalar_one()
        assert event.order_id == moving.order_id and event.detail["note"] == "courier found it"
        assert event.actor is not None and "olga" in event.actor
        await hub.close_loop_resources()
