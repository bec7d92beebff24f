"""After-sale cases through the pipeline: stored once per channel case, linked to their order,
status only forward, and the ``aftersale_changed`` notification delivered to plugins after commit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from contracts import AfterSaleStatus, InboundMessage, MessageKind
from hub.db.tables import AfterSaleRow
from hub.plugin_api import hookimpl
from hub.services.ingest import accept_messages
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config, running_hub


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, str]] = []

    @hookimpl
    def aftersale_changed(self, aftersale_id: int, order_id: int | None, status: str) -> None:
        self.calls.append((aftersale_id, order_id, status))


def _message(message_id: str, case: Any) -> InboundMessage:
    return InboundMessage(message_id=message_id, kind=MessageKind.AFTERSALE, topic="taobao_refund_RefundCreated",
                          external_id=case.ref.external_id, aftersale=case)


async def _until(check: Any, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_refund_case_is_stored_once_moves_forward_and_notifies(database, database_url) -> None:  # type: ignore[no-untyped-def]
    order = make_order(platform="taobao", shop="shop-a")
    requested = make_aftersale(order, status=AfterSaleStatus.REQUESTED)
    refunded = requested.model_copy(update={"status": AfterSaleStatus.REFUNDED, "raw_status": "SUCCESS"})
    recorder = Recorder()
    config = hub_config(database_url, shops={"shop-a": {"platform": "taobao"}})
    with running_hub(config, extra_plugins=[recorder]) as hub:
        for i, case in enumerate([requested, refunded, requested]):  # the last one is stale
            await accept_messages(hub, platform="taobao", shop="shop-a", source="message_channel",
                                  messages=[_message(f"refund-{i}", case)])

        async def settled() -> bool:
            return any(status == "refunded" for _, _, status in recorder.calls)

        await _until(settled)
        hub.runtime.join(60_000)  # type: ignore[union-attr]
    async with database.session() as session:
        rows = (await session.execute(select(AfterSaleRow))).scalars().all()
    assert len(rows) == 1 and rows[0].status == "refunded"
    # Messages are processed concurrently: "requested" may be seen first or found stale, but a
    # notification never goes back from "refunded".
    statuses = [status for _, _, status in recorder.calls]
    assert statuses[-1] == "refunded" and statuses in (["requested", "refunded"], ["refunded"])
