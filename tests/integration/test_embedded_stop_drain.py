"""Stopping an embedded hub (``hub run``, Ctrl-C) finishes the work it had accepted: jobs in the
in-process queue run, and so do the follow-ups they commit to the outbox — none is left for the next
start, when (for the demo) the partner sandboxes that knew those orders are gone. The wait is
bounded, so a stuck job cannot keep the hub from stopping."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from hub.context import current_hub
from hub.db import outbox
from hub.queue.actors import hub_actor
from hub.runner import BackgroundLoop, drain
from hub.testing.hub import hub_config, running_hub

_seen: dict[str, list[str]] = {}
_guard = threading.Lock()


def _remember(token: str, what: str) -> None:
    with _guard:
        _seen.setdefault(token, []).append(what)


@hub_actor(queue="ingest", max_retries=0, name="drain_test_accept")
async def drain_test_accept(token: str) -> None:
    """Like taking an order in: some work, then its follow-up committed to the outbox."""
    await asyncio.sleep(0.3)
    async with current_hub().database().transaction() as session:
        outbox.add(session, "drain_test_follow_up", token)
        # Remembered before the commit: the commit wakes the relay at once, and the follow-up may run
        # on another worker thread before this coroutine resumes after the block.
        _remember(token, "accepted")


@hub_actor(queue="default", max_retries=0, name="drain_test_follow_up")
async def drain_test_follow_up(token: str) -> None:
    _remember(token, "followed up")


@hub_actor(queue="bulk", max_retries=0, name="drain_test_stuck")
async def drain_test_stuck(token: str) -> None:
    await asyncio.sleep(2)
    _remember(token, "done")


async def _unpublished(hub) -> int:  # type: ignore[no-untyped-def]
    async with hub.database().session() as session:
        return await outbox.count_unpublished(session)


def test_a_stopping_hub_finishes_queued_jobs_and_their_outbox_follow_ups(database_url: str) -> None:
    tokens = [uuid.uuid4().hex for _ in range(3)]
    with running_hub(hub_config(database_url), relay=False) as hub:
        background = BackgroundLoop(hub, schedule=False).start()
        for token in tokens:
            hub.send("drain_test_accept", token)

        assert drain(background, hub.runtime) is True  # what run_all does after Ctrl-C
        background.stop()
        hub.runtime.stop()

        assert {token: _seen.get(token) for token in tokens} == {
            token: ["accepted", "followed up"] for token in tokens}
        assert asyncio.run(_unpublished(hub)) == 0


def test_the_wait_for_accepted_work_is_bounded(database_url: str) -> None:
    token = uuid.uuid4().hex
    with running_hub(hub_config(database_url), relay=False) as hub:
        background = BackgroundLoop(hub, schedule=False).start()
        hub.send("drain_test_stuck", token)

        started = time.monotonic()
        assert drain(background, hub.runtime, timeout_s=0.3) is False
        assert time.monotonic() - started < 1.5  # well before the job's 2 s are up
        background.stop()
