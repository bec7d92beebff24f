"""The exceptions queue in a real browser (Debian's Chromium driven by Playwright) against a real hub
(PostgreSQL and Redis) with a Taobao sandbox shop: an order above the high-value rule is held by
the audit rules, and a trade whose TMC messages arrive before TOP can read it (replication lag)
is given up as two dead letters. The operator follows the overview's link, finds the held order
under its reason and releases it, opens a dead letter, replays it once the trade is readable and
sees the order stored and the message done, then replays the other one with "replay all of this
actor". Also on a phone. Screenshots: ``console-exceptions``, ``console-exceptions-phone`` and
``console-dead-letter``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import DeadLetterRow, InboxRow, OrderHoldRow
from tests.e2e.console_browser_support import fits_a_phone, shot, signed_in_console, taobao_console_hub
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    dead_letters,
    eventually,
    orders_for,
    pumping,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

SKU = "E2E-EXC-TEE"  # ¥38 in the sandbox: one is below the ¥50 rule, two are above it


async def _open_holds(hub: Hub, order_id: int) -> list[str]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderHoldRow.code).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars())


async def _letters_for(hub: Hub, shop: str) -> list[DeadLetterRow]:
    async with hub.database().session() as session:
        inbox_ids = set((await session.execute(select(InboxRow.id).where(InboxRow.shop == shop))).scalars())
    return sorted((d for d in await dead_letters(hub) if d.inbox_id in inbox_ids), key=lambda d: d.id)


async def _inbox_status(hub: Hub, inbox_ids: list[int]) -> set[str]:
    async with hub.database().session() as session:
        return set((await session.execute(select(InboxRow.status).where(InboxRow.id.in_(inbox_ids)))).scalars())


async def test_operator_releases_a_held_order_and_replays_dead_letters_in_the_browser(backend: Backend) -> None:
    async with taobao_console_hub(backend, rules={"high_value_hold_amount": 50}) as (hub, taobao):
        await _scenario(hub, taobao.shop, taobao.sandbox)


async def _scenario(hub: Hub, shop: str, box: Any) -> None:
    await stock_a_sku(hub, SKU, 50)
    big = box.create_order(shop, SKU, 2, paid=True)  # ¥76: the audit rule holds it
    lagging = box.create_order(shop, SKU, 1, paid=True)
    with box.lock:  # its messages are out, but TOP cannot read the trade yet
        trade = box.shop(shop).trades.pop(lagging)
    async with pumping(hub, consume=[shop]):  # no polling: only a replay can bring the lagging trade in
        big_id = (await eventually(lambda: orders_for(hub, shop, big), what="the big order stored"))[0].id
        await eventually(lambda: _open_holds(hub, big_id), what="the big order held")

        async def both_dead() -> list[DeadLetterRow]:
            letters = await _letters_for(hub, shop)
            return letters if len(letters) == 2 else []

        letters = await eventually(both_dead, what="both messages of the unreadable trade dead-lettered")
    assert all("trade-not-exist" in d.reason for d in letters), [d.reason for d in letters]
    with box.lock:  # TOP caught up
        box.shop(shop).trades[lagging] = trade
    older, newer = letters

    async with signed_in_console(hub, name="e2e-exceptions") as console:
        page = console.page
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))

        # The overview's held figure leads to the queue; the order is under its reason.
        await page.click("[data-testid=held-link]")
        await page.wait_for_url("**/console/exceptions#holds")
        group = page.locator("[data-testid=group-high_value]")
        row = group.locator(f"[data-testid=held-{big_id}]")
        assert big in await row.inner_text() and shop in await row.inner_text()
        assert "¥76.00" in await row.inner_text()
        assert await page.locator("[data-testid=reason-high_value] strong").inner_text() == "1"
        letter_list = page.locator("[data-testid=letters]")
        for letter in letters:
            assert "process_inbox_batch" in await letter_list.locator(f"[data-testid=letter-{letter.id}]").inner_text()
        await shot(page, "console-exceptions")

        # A phone: nothing wider than the screen, the held order and its release still there.
        await fits_a_phone(page, "the exceptions screen", ready=row.locator(f"[data-testid=release-{big_id}]"),
                           screenshot="console-exceptions-phone")

        # Release: the page says so, the reason's group is gone, the hub names who did it.
        await page.click(f"[data-testid=release-{big_id}]")
        notice = page.locator("[data-testid=notice]")
        assert f"Hold high_value on order {big_id} released." in await notice.inner_text()
        assert await page.locator("[data-testid=group-high_value]").count() == 0
        assert await _open_holds(hub, big_id) == []
        async with hub.database().session() as session:
            released_by = await session.scalar(select(OrderHoldRow.released_by).where(OrderHoldRow.order_id == big_id))
        assert released_by is not None and released_by.endswith(":e2e-exceptions")

        # One dead letter: why, its input, Replay; the trade is readable now, so the order lands.
        await page.click(f"[data-testid=open-letter-{newer.id}]")
        await page.wait_for_url(f"**/console/exceptions/dead-letters/{newer.id}")
        assert "trade-not-exist" in await page.locator("[data-testid=reason]").inner_text()
        assert f"[\n    [\n      {newer.inbox_id}\n    ]\n  ]" in await page.locator("[data-testid=input]").inner_text()
        assert await page.locator("[data-testid=source-status]").inner_text() == "given up"
        await page.click("[data-testid=replay]")
        await page.locator("[data-testid=replayed]").wait_for()
        assert "e2e-exceptions" in await page.locator("[data-testid=replays]").inner_text()
        stored = await eventually(lambda: orders_for(hub, shop, lagging), what="the replayed trade stored as an order")
        assert stored[0].status == "paid"

        async def shown_done() -> bool:
            await page.reload()
            return await page.locator("[data-testid=source-status]").inner_text() == "done"

        await eventually(shown_done, every_s=0.5, what="the letter's message shown done after the replay")
        await shot(page, "console-dead-letter")

        # The other one: filter by its actor and replay all of it; nothing is left waiting.
        await page.click("text=Back to exceptions")
        await page.click(f"[data-testid=actor-{older.id}]")
        await page.click("[data-testid=replay-all]")
        assert "Dead letters of process_inbox_batch sent again: 1." in await notice.inner_text()
        await page.locator("[data-testid=no-letters]").wait_for()
        inbox_ids = [d.inbox_id for d in letters if d.inbox_id is not None]
        await eventually(lambda: _done_only(hub, inbox_ids), what="both messages done after the replays")
    assert len(await orders_for(hub, shop, lagging)) == 1, "two replays of one trade make one order"
    assert all(d.replayed_at is not None for d in await _letters_for(hub, shop))


async def _done_only(hub: Hub, inbox_ids: list[int]) -> bool:
    return await _inbox_status(hub, inbox_ids) == {"done"}
