"""The console's words for tags (operations)."""

from __future__ import annotations

EN: dict[str, str] = {
    "tags.nav": "Tags",
}

ZH: dict[str, str] = {
    "tags.nav": "标签",
}
