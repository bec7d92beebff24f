"""Masking of buyers' personal data for logs, lists and roles that may not see it.

Pure string functions, used by ``Address.masked()`` and ``Buyer.masked()`` and by the hub's log
processors. Not a crypto module: encrypted platform fields stay as the platform sent them.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits of a phone number: ``138****5678``."""
    if not phone:
        return phone
    digits = _DIGITS.findall(phone)
    if len(digits) < 7:
        return "*" * len(phone)
    return "".join(digits[:3]) + "****" + "".join(digits[-4:])


def mask_name(name: str | None) -> str | None:
    """Keep the first character of a name: ``张**``; ``J***``."""
    if not name:
        return name
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


def mask_text(text: str | None, keep: int = 0) -> str | None:
    """Replace a free-text field (street address, email) with stars, keeping ``keep`` characters."""
    if not text:
        return text
    return text[:keep] + "****"
