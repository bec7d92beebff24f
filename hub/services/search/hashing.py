"""Keyed hashes of the personal data people search orders by: the recipient's name, the full
phone and its last four digits, as HMAC-SHA256 under one key per install.

The hub never stores another clear copy of a name or phone for search: the orders table keeps
these hashes (``recipient_hash``, ``phone_hash``, ``phone_last4_hash``), a search hashes what a
person typed with the same key and compares. Values are normalised first so that the way a
person types a name or a phone does not matter. Encrypted addresses (``Address.encrypted``) are
not hashed (the ciphertext is not what a person would type).

The key: the secret named by ``[search] key_secret`` (environment variable, ``<NAME>_FILE`` or the
``[hub] secrets_file``); absent that, one derived from ``[console] session_secret``; absent that,
one derived from ``[hub] database_url`` — stable for an install and the same in every process
that shares its configuration, but no stronger than that URL's secrecy (set a real key).
Not for passwords or API keys (``hub.api.keys``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.orders import Address, Order

if TYPE_CHECKING:
    from hub.config import HubConfig

_NON_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")
#: Where each part of the key came from (logged once, never the key).
KEY_SOURCES = ("secret", "console_session_secret", "database_url")
_cache: dict[str, bytes] = {}


def normalise_name(value: str) -> str:
    """Trimmed, casefolded, with every inner space removed (``" Zhang  San "`` → ``"zhangsan"``)."""
    return _SPACES.sub("", value.strip().casefold())


def normalise_phone(value: str) -> str:
    """Digits only, without a leading ``86`` country code on a 13-digit number (``+86 138-0013-8000``
    → ``"13800138000"``)."""
    digits = _NON_DIGITS.sub("", value)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """The hex HMAC-SHA256 of an already-normalised ``value``; ``kind`` (``name``/``phone``/``last4``)
    is part of the message so equal strings of different kinds never share a hash."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def name_hash(key: bytes, value: str) -> str | None:
    normal = normalise_name(value)
    return keyed_hash(key, "name", normal) if normal else None


def phone_hash(key: bytes, value: str) -> str | None:
    normal = normalise_phone(value)
    return keyed_hash(key, "phone", normal) if len(normal) >= 5 else None


def last4_hash(key: bytes, value: str) -> str | None:
    normal = normalise_phone(value)
    return keyed_hash(key, "last4", normal[-4:]) if len(normal) >= 4 else None


def _secret(config: HubConfig, name: str) -> str | None:
    """The environment wins over the secrets file, as for every other secret."""
    value = os.environ.get(name) or config.secrets.get(name)
    if value:
        return value
    file = os.environ.get(f"{name}_FILE") or config.secrets.get(f"{name}_FILE")
    return (Path(file).read_text().strip() or None) if file else None


def key_for(config: HubConfig) -> tuple[bytes, str]:
    """The search key for ``config`` and where it came from (one of ``KEY_SOURCES``)."""
    secret = _secret(config, config.search.key_secret)
    source = "secret"
    if secret is None and config.console.session_secret:
        secret, source = config.console.session_secret, "console_session_secret"
    if secret is None:
        secret, source = config.hub.database_url, "database_url"
    cached = _cache.get(secret)
    if cached is None:
        cached = _cache[secret] = hmac.new(secret.encode(), b"hub-search-key-v1", hashlib.sha256).digest()
    return cached, source


_built: list[HubConfig] = []


def remember_config(config: HubConfig) -> None:
    """Called when a ``Hub`` is built and when one is made the process's current hub: the latest
    one's key hashes the orders this process stores (one hub per process outside tests)."""
    _built[:] = [config]


def active_key() -> bytes | None:
    """The search key of this process's hub (the one made current or built last); None when no
    hub was built (the hashes are then left empty and ``hub orders reindex-search`` fills them)."""
    return key_for(_built[0])[0] if _built else None


def address_hashes(key: bytes, address: Address | None) -> dict[str, str | None]:
    """The three hash columns for a shipping address (None where there is nothing to hash)."""
    if address is None or address.encrypted:
        return {"recipient_hash": None, "phone_hash": None, "phone_last4_hash": None}
    phone = address.phone or ""
    return {
        "recipient_hash": name_hash(key, address.name) if address.name else None,
        # A phone the channel masked (``138****8000``) is no full number: only its last four count.
        "phone_hash": phone_hash(key, phone) if phone and "*" not in phone else None,
        "phone_last4_hash": last4_hash(key, phone) if phone[-4:].isdigit() else None,
    }


def order_hashes(order: Order, key: bytes | None = None) -> dict[str, Any]:
    """The three hash columns of a stored order, under ``key`` or the running hub's."""
    key = key if key is not None else active_key()
    if key is None:
        return {"recipient_hash": None, "phone_hash": None, "phone_last4_hash": None}
    return address_hashes(key, order.shipping_address)
