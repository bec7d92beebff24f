"""The console's words for access (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "access.all_shops": "All shops",
}

ZH: dict[str, str] = {
    "access.all_shops": "全部店铺",
}
