"""The console's words for access (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "access.all_shops": "All shops",
    "access.shops": "Shops",
    "access.shops_hint": "Tick none for every shop",
    "access.problem_shops": "not a configured shop: {shops}",
}

ZH: dict[str, str] = {
    "access.all_shops": "全部店铺",
    "access.shops": "店铺",
    "access.shops_hint": "不勾选即为全部店铺",
    "access.problem_shops": "不是已配置的店铺：{shops}",
}
