"""The console's words for courier choice, electronic waybills and printable labels."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
