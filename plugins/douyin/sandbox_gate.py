"""The Douyin sandbox's gate: what the real gateway checks before a call reaches a method —
``method`` against the path, ``app_key``, ``timestamp``, ``sign_method`` and the signature.

As strict as the platform and no stricter, so a hub that passes here also passes there and a
third-party SDK that works there also works here:

- ``timestamp`` is Unix seconds (Go/Python SDKs), Unix milliseconds (the official Java SDK sends
  ``currentTimeMillis``) or ``YYYY-MM-DD HH:MM:SS`` (legacy docs, PHP and community Python SDKs),
  read as Beijing time ([U]: the zone is not documented; SDKs format the server's local time).
  One further than ``TIMESTAMP_WINDOW_S`` from the platform's clock is ``isv.timestamp-invalid``
  ([U]: the real window is unpublished); anything else ``isv.timestamp-format-error``.
- The signature is checked over ``param_json`` exactly as received (the body bytes), so a client
  that escapes non-ASCII as ``\\uXXXX`` (Python's ``json.dumps`` default) or orders keys its own
  way is fine as long as it signed what it sent. [U] Because the official Java SDK signs the
  key-sorted JSON but sends it unsorted, the gateway is taken to also accept a signature over the
  canonical (sorted, unescaped) form of the same JSON.
- The JSON is then parsed normally; it must be an object.

Not for tokens (``sandbox_tokens``) or business checks (``sandbox_api``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from hub.plugin_api import constant_time_equals
from plugins.douyin.client import canonical_json, path_method, sign
from plugins.douyin.sandbox_shop import ApiFailure

TIMESTAMP_WINDOW_S = 600
BEIJING = timezone(timedelta(hours=8))
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
#: Above this a numeric timestamp is milliseconds (10^11 s is the year 5138).
_MILLISECONDS_FROM = 10**11


def timestamp_seconds(text: str) -> float:
    """Unix seconds of a ``timestamp`` parameter in any of the forms SDKs send."""
    if text.isascii() and text.isdigit():
        value = int(text)
        return value / 1000 if value >= _MILLISECONDS_FROM else float(value)
    if _DATETIME.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp()
        except ValueError:
            pass  # 2024-02-30 and the like
    raise ApiFailure(40003, "isv.timestamp-format-error", "timestamp格式错误",
                     "timestamp must be Unix seconds or yyyy-MM-dd HH:mm:ss")


def check_request(path: str, query: Mapping[str, str], raw: bytes, *, app_key: str, app_secret: str,
                  now: float) -> tuple[str, dict[str, Any]]:
    """(method, params) of a well-formed, correctly signed request; ``ApiFailure`` otherwise."""
    method = query.get("method") or ""
    if not method:
        raise ApiFailure(40001, "isv.method-missing", "缺少method参数")
    if method != path_method(path):
        raise ApiFailure(40003, "isv.method-invalid", "method与路径不一致", f"{method} vs /{path}")
    if query.get("app_key") != app_key:
        raise ApiFailure(40003, "isv.app-id-invalid", "app_key不合法")
    ts = query.get("timestamp") or ""
    if abs(now - timestamp_seconds(ts)) > TIMESTAMP_WINDOW_S:
        raise ApiFailure(40003, "isv.timestamp-invalid", "timestamp已过期")
    given = query.get("sign")
    if not given:
        raise ApiFailure(40001, "isv.signature-missing", "缺少签名")
    sign_method = query.get("sign_method") or "md5"  # [U] absent ⇒ md5 (Python/Java SDKs send none)
    if sign_method not in ("md5", "hmac-sha256"):
        raise ApiFailure(40003, "isv.signature-invalid", "sign_method不支持")
    try:
        param_json = raw.decode("utf-8")
        params = json.loads(param_json or "{}")
    except (UnicodeDecodeError, ValueError):
        raise ApiFailure(40004, "isv.parameter-invalid", "param_json不是JSON") from None
    if not isinstance(params, dict):
        raise ApiFailure(40004, "isv.parameter-invalid", "param_json必须是对象")
    signed_forms = (param_json, canonical_json(params))
    if not any(constant_time_equals(sign(app_key, app_secret, method, form, ts, sign_method), given,
                                    case_insensitive=False) for form in signed_forms):
        raise ApiFailure(40003, "isv.signature-invalid", "签名无效")
    return method, params
