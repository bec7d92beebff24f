"""Signatures for outgoing notifications: the hub's webhook header and DingTalk's 加签.

Pure functions, no I/O; the notifiers sign with them and ``plugins.notifiers.sandbox`` checks with
them, so a test that passes through the sandbox proves the signature a receiver would compute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

#: The header carrying ``sha256=<hex HMAC-SHA256 of timestamp + "." + body>`` on outgoing webhooks.
SIGNATURE_HEADER = "X-Hub-Signature"
#: The header carrying the Unix time (seconds) the body was signed at.
TIMESTAMP_HEADER = "X-Hub-Timestamp"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``timestamp`` + ``.`` + body).

    The timestamp is inside the signed bytes so a captured request cannot be replayed later with
    a fresh timestamp header.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook(secret: str, timestamp: str, body: bytes, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(webhook_signature(secret, timestamp, body), given)


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk robot 加签: base64(HMAC-SHA256(secret, ``timestamp + "\\n" + secret``)), not yet
    URL-encoded (httpx encodes query parameters once)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()


def dingtalk_sign_quoted(secret: str, timestamp_ms: str) -> str:
    """The sign as it appears in the URL (``urllib.parse.quote_plus`` of the base64)."""
    return quote_plus(dingtalk_sign(secret, timestamp_ms))
