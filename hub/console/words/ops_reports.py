"""The console's words for reports (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "reports.nav": "Reports",
}

ZH: dict[str, str] = {
    "reports.nav": "报表",
}
