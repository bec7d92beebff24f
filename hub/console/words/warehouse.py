"""The console's words for pick list, pack and ship; WMS confirmations and stock reports."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
