"""Electronic waybills: one per parcel, obtained exactly once from the courier account's provider
(``CourierConnector.create_waybill`` with the parcel's key), cancelled when unused.
"""

from __future__ import annotations

from hub.context import Hub

ISSUE_ACTOR = "issue_waybills"


async def issue_waybills(hub: Hub, parcel_ids: list[int]) -> None:
    """Obtain a waybill for every pending parcel of ``parcel_ids`` (not yet built)."""


async def cancel_waybills(hub: Hub, parcel_ids: list[int], *, actor: str | None) -> list[int]:
    """Cancel the issued, unshipped waybills of ``parcel_ids``; returns the ids cancelled (not yet built)."""
    return []
