"""The console's words for batch (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "jobs.nav": "Jobs",
}

ZH: dict[str, str] = {
    "jobs.nav": "批量任务",
}
