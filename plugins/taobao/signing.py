"""TOP request signing (Taobao Open Platform), shared by Taobao, Tmall and AliExpress' TOP gateway.

Implements ``docs/platforms/taobao-tmall.md`` §1 "Signing": every param except
``sign`` and file params, empty values dropped, names sorted by byte order, ``k1v1k2v2…`` over raw
(not URL-encoded) values, then ``md5`` = MD5(secret + s + secret), ``hmac`` = HMAC-MD5(secret, s)
or ``hmac-sha256`` = HMAC-SHA256(secret, s), uppercase hex. Test vectors V1, V2 and V4 of §9 are
checked in ``tests/unit/test_top_signing.py``. Not for IOP signing (AliExpress ``/sync``), which
has its own path rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.plugin_api import hmac_hex, md5_hex

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


@dataclass(frozen=True)
class TopFile:
    """A file param (TOP types it ``byte[]``, e.g. ``refuse_proof``): sent as a multipart part and,
    like every file param, left out of the signature (§1 "Signing")."""

    filename: str
    content_type: str
    content: bytes


def param_text(value: Any) -> str:
    """The text a param contributes to the signature (and is sent as)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def signable(params: Mapping[str, Any]) -> dict[str, str]:
    """Params as sent: ``sign``, ``None`` and empty values dropped (the Java SDK drops them and
    the server then does not see them), files (``TopFile`` or bytes) left out, values as text."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if key == "sign" or value is None or isinstance(value, bytes | bytearray | TopFile):
            continue
        text = param_text(value)
        if text == "":
            continue
        out[key] = text
    return out


def string_to_sign(params: Mapping[str, Any], body: str | None = None) -> str:
    """``k1v1k2v2…`` over the signable params sorted by byte order; ``body`` appended (Qimen)."""
    items = signable(params)
    joined = "".join(f"{k}{items[k]}" for k in sorted(items, key=lambda k: k.encode("utf-8")))
    return joined + (body or "")


def sign_top(params: Mapping[str, Any], secret: str, sign_method: str | None = None, body: str | None = None) -> str:
    """The uppercase-hex TOP signature of ``params`` with ``secret``.

    ``sign_method`` defaults to the ``sign_method`` param (``md5`` if absent).
    """
    method = (sign_method or str(params.get("sign_method") or "md5")).lower()
    text = string_to_sign(params, body)
    if method == "md5":
        return md5_hex(secret + text + secret, upper=True)
    if method == "hmac":
        return hmac_hex(secret, text, "md5", upper=True)
    if method == "hmac-sha256":
        return hmac_hex(secret, text, "sha256", upper=True)
    raise ValueError(f"unknown TOP sign_method {method!r}; expected one of {', '.join(SIGN_METHODS)}")
