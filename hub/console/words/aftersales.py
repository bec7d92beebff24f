"""The console's words for the after-sales screens: the cases list, a case page and its decision
forms, the figures, the order page's after-sales panel, and the case statuses, types and actions."""

from __future__ import annotations

EN: dict[str, str] = {
    "aftersales.nav": "After-sales",
}

ZH: dict[str, str] = {
    "aftersales.nav": "售后",
}
