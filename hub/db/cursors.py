"""Opaque cursors for keyset pages over rows with increasing ids: the last id of a page, tagged with
what it pages over (so an orders cursor is not taken for an audit cursor) and base64-encoded.

Not for building the page queries themselves: each list keeps its own filters and order.
"""

from __future__ import annotations

import base64
import binascii

from hub.errors import BadInputError


def encode_id_cursor(prefix: str, last_id: int) -> str:
    """The cursor for the page after the row ``last_id``."""
    return base64.urlsafe_b64encode(f"{prefix}{last_id}".encode()).decode().rstrip("=")


def decode_id_cursor(prefix: str, cursor: str) -> int:
    """The last id a cursor stands for; ``BadInputError`` naming ``query.cursor`` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(prefix):
            raise ValueError(raw)
        value = int(raw[len(prefix):])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadInputError("cursor is not one this API returned; start again without it",
                            field="query.cursor") from exc
    if value < 1:
        raise BadInputError("cursor is out of range; start again without it", field="query.cursor")
    return value
