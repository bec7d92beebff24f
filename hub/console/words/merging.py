"""The console's words for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
