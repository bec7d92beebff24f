"""What a person typed into a search, turned into what the orders table can be compared with:
the clear order number and buyer nick, and keyed hashes for a name or a phone.

One box (``q``) tries every kind at once: the platform order number exactly, the buyer's nick
exactly, the recipient's name or full phone by hash, and a four-digit entry also the phone's last
four. Nothing here logs or keeps the terms. Not for building SQL (``hub.api.queries.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import BadInputError
from hub.services.search.hashing import last4_hash, name_hash, normalise_phone, phone_hash


@dataclass(frozen=True)
class QuickSearch:
    """The one box: any of these matching finds the order."""

    text: str
    name_hash: str | None
    phone_hash: str | None
    last4_hash: str | None


@dataclass(frozen=True)
class PhoneSearch:
    """A phone: the full number's hash, or the last four's when four digits were typed."""

    phone_hash: str | None = None
    last4_hash: str | None = None


def quick_search(q: str, key: bytes) -> QuickSearch:
    text = q.strip()
    digits = normalise_phone(text) if text.replace(" ", "").replace("-", "").lstrip("+").isdigit() else ""
    return QuickSearch(
        text=text,
        name_hash=name_hash(key, text),
        phone_hash=phone_hash(key, digits) if len(digits) > 4 else None,
        last4_hash=last4_hash(key, digits) if len(digits) == 4 else None,
    )


def phone_search(phone: str, key: bytes, field: str = "query.phone") -> PhoneSearch:
    """A full phone or its last four digits; ``BadInputError`` naming ``field`` for anything else."""
    digits = normalise_phone(phone)
    if len(digits) == 4:
        return PhoneSearch(last4_hash=last4_hash(key, digits))
    if len(digits) < 5:
        raise BadInputError("phone must be the full number or its last 4 digits", field=field)
    return PhoneSearch(phone_hash=phone_hash(key, digits))


def recipient_search(name: str, key: bytes, field: str = "query.recipient") -> str:
    """The hash a recipient's name is searched by; ``BadInputError`` naming ``field`` when empty."""
    hashed = name_hash(key, name)
    if hashed is None:
        raise BadInputError("recipient must not be empty", field=field)
    return hashed
