"""The technician registry: who does service work, with their skills, regions, working hours and
daily capacity, and their load (open orders assigned; appointments today).

Codes are unique and never reused for another person; a technician is deactivated, never deleted
(their history stays attributed). Deactivating one queues their open orders for reassignment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import Technician


async def list_technicians(session: AsyncSession, *, active: bool | None = None,
                           now: datetime | None = None) -> list[Technician]:
    """Every technician (``active`` filters), with ``open_load`` and ``today_load``, by code."""
    raise NotImplementedError


async def get(session: AsyncSession, code: str, *, now: datetime | None = None) -> Technician:
    """One technician with their load; ``NotFoundError`` naming the code."""
    raise NotImplementedError


async def id_of(session: AsyncSession, code: str) -> int:
    """The row id of technician ``code``; ``NotFoundError`` naming the code."""
    raise NotImplementedError


async def create(session: AsyncSession, technician: Technician, *, actor: str) -> Technician:
    """Add ``technician``; ``ConflictError`` when the code is taken. Audited."""
    raise NotImplementedError


async def update(session: AsyncSession, code: str, changes: dict[str, Any], *, actor: str) -> Technician:
    """Change the fields in ``changes`` (any of name, mobile, skills, regions, work_days, work_start,
    work_end, daily_capacity, active); ``BadInputError`` naming a field it refuses. Deactivating
    queues the technician's open orders for automatic reassignment. Audited."""
    raise NotImplementedError
