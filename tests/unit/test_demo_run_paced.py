"""The loop every demo driver runs (``hub.demo_fulfilment.run_paced``): it starts once the database
answers, a step that fails is logged and the other steps still run every tick, and it ends when told."""

from __future__ import annotations

import asyncio

from hub.demo_fulfilment import run_paced


def test_a_driver_starts_once_the_database_answers_and_a_failing_step_does_not_stop_the_others() -> None:
    starts: list[str] = []
    moves: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()

        async def start() -> None:
            starts.append("asked")
            if len(starts) == 1:
                raise ConnectionError("the database is starting")

        async def breaks() -> None:
            moves.append("breaks")
            raise RuntimeError("the sandbox refused")

        async def moves_on() -> None:
            moves.append("moves")
            if moves.count("moves") == 2:
                stop.set()

        await run_paced(stop, name="test", pace_s=0.2, start=start, steps=(("a", breaks), ("b", moves_on)))

    asyncio.run(scenario())
    assert starts == ["asked", "asked"]
    assert moves == ["breaks", "moves", "breaks", "moves"]


def test_a_stopped_driver_neither_starts_nor_moves() -> None:
    called: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        stop.set()

        async def record() -> None:
            called.append("called")

        await run_paced(stop, name="test", pace_s=0.2, start=record, steps=(("a", record),))

    asyncio.run(scenario())
    assert called == []
