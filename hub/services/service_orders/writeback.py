"""Writing a step back to the shop's platform, once per key: ``platform_writes`` says which steps a
shop's connector writes (``Capability.WRITE_SERVICE_ORDERS`` and its ``service_order_writes``);
``send`` calls ``write_service_order`` with short bounded retries and sorts the answer (done,
recorded, failed, or pending — tried again later with the same key by ``retry_pending``, backing
off, at most ``[service_orders] writeback_max_attempts``). Each outcome is a history row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.service_orders import ServiceOrderAction


def platform_writes(hub: Any, platform: str, shop: str) -> frozenset[ServiceOrderAction] | None:
    """The steps ``shop``'s connector writes back; None when the shop is not configured or its
    connector cannot write service orders."""
    raise NotImplementedError


async def send(hub: Any, write_id: int) -> str:
    """Send one pending write-back; returns its state afterwards (done | recorded | failed | pending)."""
    raise NotImplementedError


async def retry_pending(hub: Any, *, now: datetime | None = None) -> int:
    """Send the pending write-backs that are due; returns how many were tried."""
    raise NotImplementedError
