"""The console's words for edits (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "approvals.nav": "Approvals",
}

ZH: dict[str, str] = {
    "approvals.nav": "审批",
}
