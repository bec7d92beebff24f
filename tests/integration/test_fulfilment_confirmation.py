"""The channel confirmation step by step, without workers racing the test: a confirmation in
flight on another worker is waited for (not repeated), one left behind by a crash is taken
over, retries run out into a visible failure, a replay after a failure tries again; and two
warehouse clerks posting at once cannot ship the same units twice. Both backends."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts import OrderStatus
from contracts.shipments import Parcel
from hub.context import Hub
from hub.db import idempotency
from hub.db.tables import OrderEventRow, OrderRow, ShipmentRow
from hub.errors import LockBusyError, PermanentError
from hub.services import orders
from hub.services.fulfilment import shipments as fulfilment
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_fulfilment_flow import Channel, Hang, Plugin, _reset, mode

__all__ = ["_reset", "mode"]


def _config(database_url: str, redis_url: str | None) -> Any:
    # A shop name of its own: breaker and rate-limit keys in Redis are per shop, and shared.
    shop = f"conf-{secrets.token_hex(3)}"
    return hub_config(database_url, redis_url=redis_url, shops={shop: {"platform": "shipshop"}},
                      warehouses={"main": {"platform": "manual"}})


async def _paid_order(hub: Hub, quantity: int = 1) -> tuple[int, str]:
    """A paid order stored directly (no workers: nothing reserves or holds it); its id and line."""
    shop = next(iter(hub.config.shops))
    order = make_order(platform="shipshop", shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", quantity)])
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="test")
    return result.order_id, order.lines[0].external_id


async def _recorded_shipment(hub: Hub, tracking: str = "SF-1") -> tuple[int, int]:
    """A paid order and a shipment recorded for it (its outbox rows not relayed)."""
    order_id, _ = await _paid_order(hub)
    recorded = await fulfilment.record_shipment(
        hub, order_id, [Parcel(courier_code="SF", tracking_number=tracking)], actor="test")
    return order_id, recorded.shipment.id


async def _row(hub: Hub, shipment_id: int) -> ShipmentRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one()


async def test_a_confirmation_in_flight_is_waited_for_and_one_left_by_a_crash_is_taken_over(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        _, shipment_id = await _recorded_shipment(hub)
        key = f"confirm_shipment:{shipment_id}"
        async with hub.database().transaction() as session:
            await idempotency.claim(session, key)
            await idempotency.remember(session, key, {"state": "calling", "since": datetime.now(UTC).isoformat()})
        with pytest.raises(LockBusyError):
            await fulfilment.confirm_to_channel(hub, shipment_id)
        assert Channel.calls == [] and (await _row(hub, shipment_id)).status == "pending"

        crashed = datetime.now(UTC) - hub.config.fulfilment.confirm_in_flight - timedelta(seconds=1)
        async with hub.database().transaction() as session:
            await idempotency.remember(session, key, {"state": "calling", "since": crashed.isoformat()})
        await fulfilment.confirm_to_channel(hub, shipment_id)
        await fulfilment.confirm_to_channel(hub, shipment_id)  # settled: nothing more happens
        row = await _row(hub, shipment_id)
        assert row.status == "confirmed" and row.confirmed_to_channel_at is not None
        assert len(Channel.calls) == 1
        async with hub.database().session() as session:
            assert (await idempotency.recall(session, key) or {}).get("state") == "done"
        await hub.close_loop_resources()


async def test_a_confirmation_the_channel_never_answers_is_abandoned_after_its_time_limit_and_sent_again(
    database_url: str, mode: str | None
) -> None:
    config = _config(database_url, mode)
    config.fulfilment.confirm_timeout_s = 1
    with running_hub(config, extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        _, shipment_id = await _recorded_shipment(hub)
        Channel.faults.append(Hang())
        with pytest.raises(TimeoutError):
            await fulfilment.confirm_to_channel(hub, shipment_id)
        row = await _row(hub, shipment_id)
        assert row.status == "pending" and row.last_error is not None and "attempt 1" in row.last_error
        async with hub.database().session() as session:
            claim = await idempotency.recall(session, f"confirm_shipment:{shipment_id}") or {}
        assert claim.get("state") == "retry" and claim.get("outcome_unknown") is True, claim

        await fulfilment.confirm_to_channel(hub, shipment_id)  # the retry: not waiting for the abandoned one
        row = await _row(hub, shipment_id)
        assert row.status == "confirmed" and len(Channel.calls) == 2
        await hub.close_loop_resources()


async def test_retries_run_out_into_a_visible_failure_and_a_replay_tries_again(
    database_url: str, mode: str | None
) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        order_id, shipment_id = await _recorded_shipment(hub)
        # Unclassified connection failures: retried like transient faults (and, unlike a partner's
        # RetryableError, not counted by the shop's circuit breaker, which would pause the shop).
        Channel.faults.extend(httpx.ConnectError("connection refused")
                              for _ in range(fulfilment.CONFIRM_MAX_RETRIES + 1))
        for attempt in range(1, fulfilment.CONFIRM_MAX_RETRIES + 1):
            with pytest.raises(httpx.ConnectError):
                await fulfilment.confirm_to_channel(hub, shipment_id)
            row = await _row(hub, shipment_id)
            assert (row.status, row.attempts) == ("pending", attempt)
            assert row.last_error and row.last_error.startswith(f"attempt {attempt}:")
        with pytest.raises(PermanentError, match="gave up after 7 attempts"):
            await fulfilment.confirm_to_channel(hub, shipment_id)
        row = await _row(hub, shipment_id)
        assert row.status == "failed" and "gave up after 7 attempts" in (row.last_error or "")

        # An operator replays the dead letter once the channel is back: a fresh budget, confirmed.
        await fulfilment.confirm_to_channel(hub, shipment_id)
        row = await _row(hub, shipment_id)
        assert (row.status, row.attempts, row.last_error) == ("confirmed", 1, None)
        assert len(Channel.calls) == fulfilment.CONFIRM_MAX_RETRIES + 2
        async with hub.database().session() as session:
            kinds = list((await session.execute(select(OrderEventRow.kind).where(
                OrderEventRow.order_id == order_id).order_by(OrderEventRow.id))).scalars())
        assert kinds[-2:] == ["shipment_confirm_failed", "shipment_confirmed"]
        await hub.close_loop_resources()


async def test_two_clerks_posting_at_once_cannot_ship_the_same_units_twice(database_url: str, mode: str | None) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        order_id, line = await _paid_order(hub, quantity=2)
        async with api_client(hub) as client:
            auth = bearer(await new_key(hub, "warehouse"))

            def post(tracking: str) -> Any:
                return client.post(f"/api/v1/orders/{order_id}/shipments", headers=auth, json={"parcels": [
                    {"courier_code": "SF", "tracking_number": tracking,
                     "items": [{"line_external_id": line, "quantity": 2}]}]})

            # Someone else holds the order (a row lock on PostgreSQL, the write lock on SQLite):
            # both requests must wait for it rather than check what remains against a stale view.
            async with hub.database().transaction() as session:
                await session.execute(select(OrderRow).where(OrderRow.id == order_id).with_for_update())
                racing = [asyncio.ensure_future(post(t)) for t in ("A-1", "B-1")]
                await asyncio.sleep(0.5)
                assert not any(task.done() for task in racing), "a shipment was checked without the order lock"
            answers = await asyncio.gather(*racing)
            assert sorted(r.status_code for r in answers) == [201, 400]
            refused = next(r for r in answers if r.status_code == 400).json()
            assert refused["field"] == "body.parcels.0.items.0.quantity" and "only 0 remain" in refused["detail"]
            async with hub.database().session() as session:
                rows = (await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id))).scalars()
                assert len(list(rows)) == 1
        await hub.close_loop_resources()


async def test_the_same_shipment_posted_at_once_is_recorded_once(database_url: str, mode: str | None) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        order_id, _ = await _paid_order(hub)
        async with api_client(hub) as client:
            auth = bearer(await new_key(hub, "warehouse"))
            body = {"parcels": [{"courier_code": "SF", "tracking_number": "SAME-1"}]}
            answers = await asyncio.gather(*(client.post(f"/api/v1/orders/{order_id}/shipments", json=body,
                                                         headers=auth) for _ in range(3)))
            assert sorted(r.status_code for r in answers) == [200, 200, 201]
            assert len({r.json()["id"] for r in answers}) == 1
        async with hub.database().session() as session:
            fulfilment_status = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
            kinds = list((await session.execute(select(OrderEventRow.kind).where(
                OrderEventRow.order_id == order_id))).scalars())
        assert fulfilment_status == "shipped" and kinds.count("shipment_recorded") == 1
        await hub.close_loop_resources()
