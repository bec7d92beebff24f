"""The console's words for notifications (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "notifications.nav": "Notifications",
}

ZH: dict[str, str] = {
    "notifications.nav": "通知",
}
