"""The console's words for routing and delivery orders: to a WMS or the own warehouse."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
