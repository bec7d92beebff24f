"""TMC through the whole hub, as on a real TOP shop: the sandboxes deliver a seller's messages only
after ``taobao.tmc.user.permit`` for that seller's session, so orders reach the hub over TMC only
because the hub opens each shop's message channel before consuming it (with polling switched off
here, nothing else would bring them in). ``GET /api/v1/shops`` says the channel is open, since
when and for which topics. Taobao, Tmall and AliExpress (TMC over its TOP gateway); SQLite +
in-process queue and PostgreSQL + the real Redis. Two shops whose TMC message ids collide (two
apps, each numbering its messages from the same first id) both get their orders."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.asgi_server import BackgroundServer
from hub.db.tables import InboxRow
from plugins.aliexpress.connector import AliExpressChannel
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.sandbox import TaobaoSandbox
from plugins.tmall.connector import TmallChannel
from tests.e2e.hub_e2e_support import (
    Backend,
    Served,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    orders_for,
    pumping,
    served_sandboxes,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

PLATFORMS = {"taobao": TaobaoChannel, "tmall": TmallChannel, "aliexpress": AliExpressChannel}


async def _landed(hub: Any, shop: str, external_id: str) -> bool:
    return len(await orders_for(hub, shop, external_id)) == 1


async def test_tmc_orders_arrive_only_because_the_hub_permits_each_shop_first(backend: Backend) -> None:
    with served_sandboxes(list(PLATFORMS)) as served, e2e_hub(e2e_config(backend, served)) as hub:
        try:
            created = {}
            for platform, item in served.items():
                assert item.sandbox.tmc_permitted(item.shop) is None
                created[platform] = item.sandbox.create_order(item.shop, "E2E-TEE", 1)  # before any permit
            shops = [item.shop for item in served.values()]
            async with hub_api(hub) as (client, _), pumping(hub, consume=shops):  # no polling at all
                for platform, item in served.items():
                    await eventually(lambda item=item, platform=platform: _landed(hub, item.shop, created[platform]),
                                     what=f"the {platform} order over TMC")
                # The intake time is recorded when the channel's batch is done, a moment after its
                # orders are stored: wait for it rather than race it.
                async def _shops_with_intake() -> dict[str, Any] | None:
                    shown = {s["name"]: s for s in (await client.get("/api/v1/shops")).json()}
                    ready = all(shown[shop]["message_channel"]["last_intake_at"] for shop in shops)
                    return shown if ready else None

                listed = await eventually(_shops_with_intake, what="every shop's last intake shown")
            for platform, item in served.items():
                wanted = list(PLATFORMS[platform].tmc_topics)
                assert item.sandbox.tmc_permitted(item.shop) == wanted, f"{platform}: permitted the mapped topics"
                shown = listed[item.shop]
                assert shown["status"] == "active" and shown["status_reason"] is None, shown
                channel = shown["message_channel"]
                assert channel["open"] is True and channel["opened_at"] and channel["topics"] == wanted
                assert channel["last_intake_at"], f"{platform}: the last intake is shown"
            async with hub.database().session() as session:
                sources = set((await session.execute(select(InboxRow.source).where(
                    InboxRow.shop.in_(shops)))).scalars())
            assert sources == {"message_channel"}
        finally:
            await close_test_loop(hub)


async def test_two_shops_whose_tmc_message_ids_collide_both_get_their_orders(backend: Backend) -> None:
    # Two Taobao apps (a TMC group is per app) whose queues number from the same first id: the
    # inbox must key messages per shop, or the second shop's order waits for a poll (off here).
    boxes = {shop: TaobaoSandbox() for shop in ("tb-east", "tb-west")}
    servers = {shop: BackgroundServer(box.app).start() for shop, box in boxes.items()}
    try:
        served = {shop: Served("taobao", shop, box, servers[shop]) for shop, box in boxes.items()}
        with e2e_hub(e2e_config(backend, served)) as hub:
            try:
                created = {shop: box.create_order(shop, "E2E-TEE", 1) for shop, box in boxes.items()}
                async with pumping(hub, consume=list(boxes)):  # no polling
                    for shop in boxes:
                        await eventually(lambda shop=shop: _landed(hub, shop, created[shop]),
                                         what=f"{shop}'s order over TMC")
                async with hub.database().session() as session:
                    rows = (await session.execute(select(InboxRow.shop, InboxRow.message_id).where(
                        InboxRow.source == "message_channel"))).all()
                east = {m for s, m in rows if s == "tb-east"}
                west = {m for s, m in rows if s == "tb-west"}
                assert east & west, f"the sandboxes' message ids were meant to collide: {sorted(rows)}"
            finally:
                await close_test_loop(hub)
    finally:
        for server in servers.values():
            server.stop()
