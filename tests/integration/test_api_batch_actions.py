"""The exceptions queue's batch actions over the API, on SQLite and PostgreSQL: one hold code
released on many orders in one call (each release in its order's history under the caller; an
order proceeds only when no other hold is open; a repeat releases nothing more), and every open
dead letter of an actor replayed up to the newest one seen (each in the audit log). Roles and
bad bodies are refused with nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db import api_keys, dead_letters
from hub.db.tables import AuditRow, DeadLetterRow, OrderEventRow, OrderHoldRow, OrderRow
from hub.services.orders import add_hold, apply_order
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from tests.integration.test_api_support import make_hub


class SentMessages:
    """Stands in for the queue: keeps what a replay sends to the actors."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def send(self, actor: str, *args: Any, **kwargs: Any) -> None:
        self.sent.append((actor, args, kwargs))


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url)
    yield h
    await h.close_loop_resources()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(hub) as c:
        yield c


async def _order(hub: Hub, *codes: str) -> int:
    async with hub.database().transaction() as session:
        result = await apply_order(session, make_order(shop="tb-main", created_at=datetime.now(UTC)), cause="poll")
        for code in codes:
            await add_hold(session, result.order_id, Hold(code=code, reason=f"{code}: look"), cause="audit")
    return result.order_id


async def _holds(hub: Hub, order_id: int) -> dict[str, str | None]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(OrderHoldRow.order_id == order_id))).scalars()
        return {h.code: h.released_by for h in rows}


async def _on_hold(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        return bool(await session.scalar(select(OrderRow.on_hold).where(OrderRow.id == order_id)))


async def test_an_operator_releases_one_hold_code_on_many_orders_at_once(hub: Hub, client: httpx.AsyncClient) -> None:
    operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
    lone, both = await _order(hub, "high_value"), await _order(hub, "high_value", "address_check")
    done_before = await _order(hub, "high_value")
    other_code = await _order(hub, "stock_short")
    first = await client.post("/api/v1/orders/holds/high_value/release", headers=bearer(operator),
                              json={"order_ids": [done_before]})
    assert first.status_code == 200 and first.json()["released"] == [done_before]

    refused = await client.post("/api/v1/orders/holds/high_value/release", headers=bearer(viewer),
                                json={"order_ids": [lone]})
    assert refused.status_code == 403 and "orders.write" in refused.json()["detail"]
    assert (await _holds(hub, lone))["high_value"] is None

    ids = [both, lone, done_before, other_code, 987654, lone]
    answer = await client.post("/api/v1/orders/holds/high_value/release", headers=bearer(operator),
                               json={"order_ids": ids})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"code": "high_value", "released": sorted([lone, both]),
                             "not_held": sorted([done_before, other_code]), "unknown": [987654]}
    prefix = api_keys.parse_prefix(operator)
    assert (await _holds(hub, lone))["high_value"] == f"apikey:{prefix}:alice"
    assert not await _on_hold(hub, lone) and await _on_hold(hub, both), "its address_check hold is still open"
    assert await _on_hold(hub, other_code), "another code's hold is not touched"
    async with hub.database().session() as session:
        events = (await session.execute(select(OrderEventRow.order_id, OrderEventRow.actor).where(
            OrderEventRow.kind == "hold_released"))).all()
    assert sorted(events) == sorted([(done_before, f"apikey:{prefix}:alice"), (lone, f"apikey:{prefix}:alice"),
                                     (both, f"apikey:{prefix}:alice")]), "one history entry per release"

    repeat = await client.post("/api/v1/orders/holds/high_value/release", headers=bearer(operator),
                               json={"order_ids": [lone, both]})
    assert repeat.status_code == 200 and repeat.json()["released"] == []
    assert repeat.json()["not_held"] == sorted([lone, both])


@pytest.mark.parametrize(("body", "field"), [
    ({"order_ids": []}, "body.order_ids"),
    ({"order_ids": list(range(1, 502))}, "body.order_ids"),
    ({"order_ids": [0]}, "body.order_ids.0"),
    ({"order_ids": [2**63]}, "body.order_ids.0"),
    ({"order_ids": ["one"]}, "body.order_ids.0"),
    ({}, "body.order_ids"),
])
async def test_a_bad_list_of_orders_is_422_naming_it(hub: Hub, client: httpx.AsyncClient, body: dict[str, Any],
                                                     field: str) -> None:
    held = await _order(hub, "high_value")
    answer = await client.post("/api/v1/orders/holds/high_value/release", headers=bearer(await new_key(hub, "admin")),
                               json=body)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"
    assert field in [p["field"] for p in answer.json()["detail"]]
    assert (await _holds(hub, held))["high_value"] is None


async def _letter(hub: Hub, actor: str, arg: int) -> int:
    async with hub.database().transaction() as session:
        return await dead_letters.record(session, actor=actor, queue="ingest", args=[[arg]], kwargs={"force": True},
                                         reason="PermanentError: gone", error_class="PermanentError", attempts=1)


async def test_an_admin_replays_every_open_letter_of_an_actor_up_to_the_newest_seen(
        hub: Hub, client: httpx.AsyncClient) -> None:
    admin, operator = await new_key(hub, "admin", "desk"), await new_key(hub, "operator")
    older = await _letter(hub, "process_inbox_batch", 1)
    other = await _letter(hub, "push_stock", 2)
    newer = await _letter(hub, "process_inbox_batch", 3)
    seen = await _letter(hub, "process_inbox_batch", 4)
    after = await _letter(hub, "process_inbox_batch", 5)  # died after the caller looked
    body = {"actor": "process_inbox_batch", "up_to_id": seen}

    no_queue = await client.post("/api/v1/dead-letters/replay", headers=bearer(admin), json=body)
    assert no_queue.status_code == 503 and "hub dlq replay --actor" in no_queue.json()["detail"]
    queue = SentMessages()
    hub.runtime = queue  # type: ignore[assignment]
    refused = await client.post("/api/v1/dead-letters/replay", headers=bearer(operator), json=body)
    assert refused.status_code == 403 and queue.sent == []

    answer = await client.post("/api/v1/dead-letters/replay", headers=bearer(admin), json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"actor": "process_inbox_batch", "replayed": [older, newer, seen], "remaining": 0}
    assert queue.sent == [("process_inbox_batch", ([n],), {"force": True}) for n in (1, 3, 4)]
    async with hub.database().session() as session:
        replayed = dict((await session.execute(select(DeadLetterRow.id, DeadLetterRow.replayed_by))).all())
        audited = (await session.execute(select(AuditRow.actor, AuditRow.subject).where(
            AuditRow.action == "dead_letter.replayed").order_by(AuditRow.subject))).all()
    by = f"apikey:{api_keys.parse_prefix(admin)}:desk"
    assert replayed == {older: by, other: None, newer: by, seen: by, after: None}
    assert sorted(audited) == sorted((by, f"dead_letter:{i}") for i in (older, newer, seen))

    again = await client.post("/api/v1/dead-letters/replay", headers=bearer(admin), json=body)
    assert again.status_code == 200 and again.json()["replayed"] == [] and len(queue.sent) == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"actor": "", "up_to_id": 5}, "body.actor"),
    ({"actor": "x" * 101, "up_to_id": 5}, "body.actor"),
    ({"actor": "   ", "up_to_id": 5}, "body.actor"),
    ({"actor": "push_stock", "up_to_id": 0}, "body.up_to_id"),
    ({"actor": "push_stock"}, "body.up_to_id"),
])
async def test_a_bad_replay_request_is_422_naming_the_field(hub: Hub, client: httpx.AsyncClient,
                                                             body: dict[str, Any], field: str) -> None:
    queue = SentMessages()
    hub.runtime = queue  # type: ignore[assignment]
    await _letter(hub, "push_stock", 1)
    answer = await client.post("/api/v1/dead-letters/replay", headers=bearer(await new_key(hub, "admin")), json=body)
    assert answer.status_code == 422 and queue.sent == []
    assert field in [p["field"] for p in answer.json()["detail"]] or answer.json().get("field") == field
