"""The console's words for parcel tracking, its timeline and stuck-parcel exceptions."""

from __future__ import annotations

EN: dict[str, str] = {
}

ZH: dict[str, str] = {
}
