"""SQL functions the hub adds to SQLite connections where PostgreSQL has a built-in one.

``hub_buyer_key(platform, nick)``: a signed 64-bit hash of ``platform:nick`` (BLAKE2b), the
reports' buyer key on SQLite; PostgreSQL uses ``hashtextextended`` (``hub.services.reports.rollups``).
Each database is consistent with itself; the two never share rollups.
"""

from __future__ import annotations

import hashlib
from typing import Any


def buyer_key(platform: str | None, nick: str | None) -> int | None:
    if platform is None or nick is None:
        return None
    digest = hashlib.blake2b(f"{platform}:{nick}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Add the functions to a (sqlite3 or aiosqlite-adapted) DBAPI connection."""
    dbapi_connection.create_function("hub_buyer_key", 2, buyer_key, deterministic=True)
