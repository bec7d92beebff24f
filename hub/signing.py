"""Hash and comparison helpers for partner signatures. Algorithms live in each plugin's client;
this module only offers the primitives so every plugin compares in constant time."""

from __future__ import annotations

import hashlib
import hmac


def md5_hex(data: str | bytes, *, upper: bool = False) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    digest = hashlib.md5(raw).hexdigest()
    return digest.upper() if upper else digest


def hmac_hex(key: str | bytes, data: str | bytes, algorithm: str = "sha256", *, upper: bool = False) -> str:
    """HMAC with ``algorithm`` ('md5' or 'sha256'), hex encoded."""
    k = key.encode("utf-8") if isinstance(key, str) else key
    d = data.encode("utf-8") if isinstance(data, str) else data
    digest = hmac.new(k, d, getattr(hashlib, algorithm)).hexdigest()
    return digest.upper() if upper else digest


def constant_time_equals(expected: str, given: str | None, *, case_insensitive: bool = True) -> bool:
    """Compare a computed signature with a received one without leaking timing."""
    if given is None:
        return False
    a, b = (expected.lower(), given.lower()) if case_insensitive else (expected, given)
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
