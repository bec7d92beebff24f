"""The console's words for search (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "search.box": "Search orders",
}

ZH: dict[str, str] = {
    "search.box": "搜索订单",
}
