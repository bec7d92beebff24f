"""The worker's inbox batches alone: how many orders per second does ``process_inbox_rows`` store?

In this process, on a throw-away PostgreSQL database (``hub_inbox_bench_<hex>``, dropped after):
``--orders`` orders as two trigger messages each (TradeCreate and TradeBuyerPay, as TMC sends
them) recorded in the inbox, a fake channel answering ``get_order`` from memory (no partner, no
HTTP), then ``process_inbox_rows`` over batches of 200 ids, ``--concurrency`` batches at a time
(as that many worker threads would). The follow-up (``orders_changed``) is written to the outbox
but not run. Prints wall time, orders/s and this process's CPU per order. Nothing asserts a speed.
The end-to-end figure (TMC, the Taobao sandbox, a real ``hub worker``) is ``bench/ingest.py``.

    python bench/inbox_batches.py [--orders 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog
from pydantic import BaseModel

from contracts import Capability, InboundMessage, MessageKind, Order
from hub.db import inbox
from hub.db.migrate import upgrade
from hub.plugin_api import hookimpl
from hub.services.ingest import process_inbox_rows
from hub.testing.db import create_postgres_database, drop_postgres_database
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BATCH = 200
ORDERS: dict[str, Order] = {}


class _Settings(BaseModel):
    app_key: str = "k"


class MemoryChannel:
    """A channel whose orders are in memory: the batch's own cost, without a partner's."""

    platform: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def get_order(self, external_id: str) -> Order:
        return ORDERS[external_id]

    async def aclose(self) -> None:
        return None


class MemoryPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [MemoryChannel]


async def run(orders: int, concurrency: int, server: str) -> None:
    url = create_postgres_database(server, "hub_inbox_bench_")
    try:
        await asyncio.to_thread(upgrade, url)
        config = hub_config(url, shops={"mem": {"platform": "memory"}})
        with running_hub(config, extra_plugins=[MemoryPlugin()], load_entry_points=False, start_workers=False,
                         relay=False) as hub:
            made = [make_order(platform="memory", shop="mem", lines=[("SKU-1", 1), ("SKU-2", 2)])
                    for _ in range(orders)]
            ORDERS.update({o.ref.external_id: o for o in made})
            now = datetime.now(UTC)
            messages = [InboundMessage(message_id=f"{o.ref.external_id}-{topic}", kind=MessageKind.ORDER,
                                       topic=topic, external_id=o.ref.external_id, occurred_at=now)
                        for o in made for topic in ("TradeCreate", "TradeBuyerPay")]
            async with hub.database().transaction() as session:
                ids = await inbox.record_messages(session, platform="memory", shop="mem", source="message_channel",
                                                  messages=messages)
            limit = asyncio.Semaphore(concurrency)

            async def batch(chunk: list[int]) -> None:
                async with limit:
                    await process_inbox_rows(hub, chunk)

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(batch(ids[i:i + BATCH]) for i in range(0, len(ids), BATCH)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            await hub.close_loop_resources()
        print(f"{orders:,} orders ({len(ids):,} messages, batches of {BATCH}, {concurrency} at a time): "
              f"{wall:.2f} s = {orders / wall:,.0f} orders/s; "
              f"this process's CPU {1000 * cpu / orders:.2f} ms per order")
    finally:
        drop_postgres_database(server, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4, help="batches at a time (default 4, a worker's threads)")
    parser.add_argument("--server-url", default=SERVER, help="PostgreSQL server to create the throw-away database on")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(run(args.orders, args.concurrency, args.server_url))


if __name__ == "__main__":
    main()
