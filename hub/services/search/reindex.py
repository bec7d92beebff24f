"""The backfill of the search hashes: every stored order's recipient and phone hashes computed again
under the current key (``hub orders reindex-search``), after the key changed or for orders stored
before search existed.

Batched by id, one transaction per batch: one SELECT of the batch's ids and shipping addresses,
one executemany UPDATE of its hashes. Not for new orders (``hub.services.orders`` hashes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from contracts.orders import Address
from hub.db.engine import Database
from hub.db.tables import OrderRow
from hub.services.search.hashing import address_hashes

_ORDERS: Any = OrderRow.__table__
_UPDATE = (update(_ORDERS).where(_ORDERS.c.id == bindparam("oid"))
           .values(recipient_hash=bindparam("r"), phone_hash=bindparam("p"), phone_last4_hash=bindparam("l")))


@dataclass
class ReindexResult:
    orders: int = 0
    batches: int = 0


async def reindex(database: Database, key: bytes, *, batch: int = 500) -> ReindexResult:
    """Recompute every order's search hashes, ``batch`` orders per transaction."""
    result = ReindexResult()
    last = 0
    while True:
        async with database.transaction() as session:
            rows = (await session.execute(
                select(OrderRow.id, OrderRow.data).where(OrderRow.id > last).order_by(OrderRow.id).limit(batch))).all()
            if not rows:
                return result
            params = []
            for order_id, data in rows:
                address = (data or {}).get("shipping_address")
                h = address_hashes(key, Address.model_validate(address) if address else None)
                params.append({"oid": order_id, "r": h["recipient_hash"], "p": h["phone_hash"],
                               "l": h["phone_last4_hash"]})
            await (await session.connection()).execute(_UPDATE, params)
        last = int(rows[-1][0])
        result.orders += len(rows)
        result.batches += 1
