"""The console's words for the review queue: orders held by review strategies, approve, hold and release."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
