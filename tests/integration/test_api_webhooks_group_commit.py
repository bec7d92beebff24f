"""Concurrent pushes share the inbox's transactions (group commit) without weakening what a 200
means: each push is answered only once its messages are committed, a group that fails to commit
answers every push in it with a 5xx (nothing acknowledged that is not stored), too much waiting
is a 503 with Retry-After, and a push during a broker outage is stored, answered, and processed
once the broker is back (its ``process_push_batch`` waits in the outbox, not in the request)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from contracts import Capability, Order
from hub.context import Hub
from hub.db.tables import InboxRow, OrderRow, OutboxRow
from hub.plugin_api import hookimpl
from hub.services import intake
from hub.services.backlog import PUSH_PROCESS_ACTOR
from hub.testing.factories import make_order
from tests.integration.test_api_support import FakePushChannel, api, make_hub, push_shop, sign

PUSHES = 20


@pytest.fixture
def hub(database_url: str) -> Hub:
    return make_hub(database_url, **{"fp-main": push_shop(), "fp-other": push_shop()})


def _push(*events: tuple[str, str]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"events": [{"id": mid, "order": oid} for mid, oid in events]}).encode()
    return body, {"X-Sign": sign(body)}


async def _stored(hub: Hub) -> list[str]:
    async with hub.database().session() as session:
        return sorted((await session.execute(select(InboxRow.message_id))).scalars())


async def test_concurrent_pushes_are_answered_after_their_commit_and_share_commits(hub: Hub) -> None:
    # The group transactions committed (on PostgreSQL they run on the driver's connection, which
    # SQLAlchemy's commit events do not see).
    committer = intake.group_commit(hub.database())
    before = committer.commits
    seen_at_answer: dict[str, bool] = {}

    async def one(client: Any, n: int) -> int:
        body, headers = _push((f"m-{n}", str(n)))
        response = await client.post(f"/webhooks/fakepush/{'fp-main' if n % 2 else 'fp-other'}", content=body,
                                     headers=headers)
        # Read back on a session of its own: only committed rows are visible to it.
        async with hub.database().session() as session:
            found = await session.scalar(select(func.count()).select_from(InboxRow)
                                         .where(InboxRow.message_id == f"m-{n}"))
        seen_at_answer[f"m-{n}"] = found == 1
        return response.status_code

    async with api(hub) as client:
        statuses = await asyncio.gather(*(one(client, n) for n in range(PUSHES)))
    assert statuses == [200] * PUSHES
    assert all(seen_at_answer.values()), f"answered before its row was committed: {seen_at_answer}"
    assert await _stored(hub) == sorted(f"m-{n}" for n in range(PUSHES))
    commits = committer.commits - before
    assert 0 < commits < PUSHES, f"{commits} commits for {PUSHES} concurrent pushes"
    async with hub.database().session() as session:
        owed = (await session.execute(select(OutboxRow).where(OutboxRow.actor == PUSH_PROCESS_ACTOR))).scalars()
        owed_ids = sorted(i for row in owed for i in row.args[0])
        inbox_ids = sorted((await session.execute(select(InboxRow.id))).scalars())
    assert owed_ids == inbox_ids, "every stored row is owed to process_push_batch exactly once"


async def test_a_group_that_fails_to_commit_answers_every_push_in_it_with_a_5xx(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.db import inbox

    groups: list[int] = []
    # The group's INSERT: through a session (SQLite), or one statement on the driver's connection
    # (PostgreSQL), which commits as it returns: there the failure comes before its reply.
    real = {name: getattr(inbox, name) for name in ("record_many", "record_many_driver")}

    def failing_as(name: str) -> Any:
        async def failing(connection: Any, batch: list[Any], **kwargs: Any) -> list[Any]:
            groups.append(len(batch))
            if name == "record_many":
                await real[name](connection, batch, **kwargs)  # the rows are written, then the transaction fails
            raise ConnectionError("the database went away mid-transaction")
        return failing

    for name in real:
        monkeypatch.setattr(inbox, name, failing_as(name))
    async with api(hub) as client:
        responses = await asyncio.gather(*(
            client.post("/webhooks/fakepush/fp-main", content=body, headers=headers)
            for body, headers in (_push((f"f-{n}", str(n))) for n in range(PUSHES))))
    assert [r.status_code for r in responses] == [500] * PUSHES
    assert not any("success" in r.text for r in responses), "the platform must push again"
    assert max(groups) > 1, f"the pushes were not grouped: {groups}"
    assert await _stored(hub) == [], "a failed group stores none of its pushes"

    for name, function in real.items():
        monkeypatch.setattr(inbox, name, function)
    async with api(hub) as client:  # the platform pushes again: now all of it lands
        again = await asyncio.gather(*(
            client.post("/webhooks/fakepush/fp-main", content=body, headers=headers)
            for body, headers in (_push((f"f-{n}", str(n))) for n in range(PUSHES))))
    assert [r.status_code for r in again] == [200] * PUSHES
    assert await _stored(hub) == sorted(f"f-{n}" for n in range(PUSHES))


async def test_too_many_waiting_messages_get_503_with_retry_after_and_store_nothing_of_the_refused(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "MAX_QUEUED_MESSAGES", 2)
    async with api(hub) as client:
        responses = await asyncio.gather(*(
            client.post("/webhooks/fakepush/fp-main", content=body, headers=headers)
            for body, headers in (_push((f"b-{n}-1", "1"), (f"b-{n}-2", "2")) for n in range(6))))
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 503}, statuses
    for n, response in enumerate(responses):
        if response.status_code == 503:
            assert response.headers["Retry-After"].isdigit() and response.json()["error"] == "unavailable"
            assert not {f"b-{n}-1", f"b-{n}-2"} & set(await _stored(hub))
    accepted = sorted(f"b-{n}-{i}" for n, r in enumerate(responses) if r.status_code == 200 for i in (1, 2))
    assert await _stored(hub) == accepted


# --------------------------------------------------------------------------- a broker outage


class FetchingPushChannel(FakePushChannel):
    """The fake push channel, able to fetch the orders its pushes name (so the worker can process them)."""

    platform: ClassVar[str] = "fakepush"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.RECEIVE_PUSH, Capability.GET_ORDER})
    orders: ClassVar[dict[str, Order]] = {}

    async def get_order(self, external_id: str) -> Order:
        return self.orders[external_id]


class FetchingPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [FetchingPushChannel]


async def _wait_for(hub: Hub, predicate: Any, what: str, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        async with hub.database().session() as session:
            if await predicate(session):
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {limit_s:g} s: {what}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_push_while_the_broker_is_down_is_stored_answered_and_processed_once_it_is_back(
    database_url: str,
) -> None:
    from hub.testing.faults import PrivateRedis
    from hub.testing.hub import hub_config, running_hub

    order = make_order(platform="fakepush", shop="fp-main", external_id="9007199254740993001")
    FetchingPushChannel.orders[order.ref.external_id] = order
    config = hub_config(database_url, shops={"fp-main": push_shop()})
    with PrivateRedis() as broker:
        config = config.model_copy(update={"hub": config.hub.model_copy(update={"redis_url": broker.url})})
        with running_hub(config, extra_plugins=[FetchingPlugin()], load_entry_points=False) as hub:
            broker.kill()
            body, headers = _push(("down-1", order.ref.external_id))
            async with api(hub) as client:
                response = await client.post("/webhooks/fakepush/fp-main", content=body, headers=headers)
            assert response.status_code == 200 and response.json() == {"code": 0, "msg": "success"}, response.text
            async with hub.database().session() as session:
                row = (await session.execute(select(InboxRow))).scalar_one()
                assert (row.message_id, row.status) == ("down-1", "pending")
            broker.start()  # back, and empty: only the outbox still knows the batch is owed

            async def processed(session: Any) -> bool:
                status = await session.scalar(select(InboxRow.status))
                return status == "done" and bool(await session.scalar(select(func.count()).select_from(OrderRow)))

            await _wait_for(hub, processed, "the pushed order stored once the broker was back")
            await hub.close_loop_resources()
    FetchingPushChannel.orders.clear()


async def test_an_unstorable_message_from_a_message_channel_is_refused_alone_and_spoils_no_ones_group(
    hub: Hub,
) -> None:
    # A message channel's batch (TMC) and a poll reach the inbox without the push route's checks:
    # one id the inbox cannot hold must neither fail its own batch (never confirmed, so delivered
    # again forever) nor the pushes that share its group transaction.
    from contracts import InboundMessage, MessageKind

    def message(mid: str) -> InboundMessage:
        return InboundMessage(message_id=mid, kind=MessageKind.ORDER, topic="trade", external_id="1")

    channel_batch = [message("tmc-1"), message("x" * 201), message("tmc-\x00"), message("tmc-2")]
    body, headers = _push(("push-1", "1"))
    async with api(hub) as client:
        stored, pushed = await asyncio.gather(
            intake.accept_messages(hub, platform="fakepush", shop="fp-other", source="message_channel",
                                   messages=channel_batch),
            client.post("/webhooks/fakepush/fp-main", content=body, headers=headers))
    assert pushed.status_code == 200, pushed.text
    assert len(stored) == 2
    assert await _stored(hub) == ["push-1", "tmc-1", "tmc-2"]
