"""The HTTP client of Kuaidi100's electronic waybill (电子面单 V2) API: ``POST /label/order`` with
form fields ``key``, ``method``, ``t``, ``param``, ``sign``; the signature; the answer's two
shapes; the classification of failures into the hub's errors.

No business logic: ``call`` returns the answer's ``data`` (or the whole answer when it has none).
Facts: §7b of ``docs/platforms/couriers-and-warehouses.md`` ([K] python ``eorder_*.py``,
``elec_cancel.py``; java ``LabelV2``, ``OrderReq``, ``OrderResult``; Kuaidi100's API documentation).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from hub.plugin_api import (
    AuthorizationError,
    PermanentError,
    RetryableError,
    build_http_client,
    call_with_retries,
    md5_hex,
)
from plugins.logistics.kuaidi100.client import param_text, post_form

DEFAULT_LABEL_BASE_URL = "https://api.kuaidi100.com"
LABEL_PATH = "/label/order"

#: The V2 answer's ``code`` values. Only 200 (success) is in the order method's own description;
#: the others are the table Kuaidi100 publishes for ``printOld`` on the same endpoint and are
#: assumed to hold for ``order`` and ``cancel`` too ⚠️ [U].
OK = "200"
V2_RETRYABLE = frozenset({"-1"})  # server error
V2_BAD_SIGN = "30002"
V2_AUTH = frozenset({"30003"})  # key or account wrong
V2_QUOTA = "30004"  # the account has no waybills left
#: The legacy ``{result, returnCode, message}`` shape (``PrintBaseResp``, which the official Java
#: demo parses cancel answers with ⚠️ [U]): its codes as in the query API.
LEGACY_RETRYABLE = frozenset({"500", "501", "502"})
LEGACY_AUTH = frozenset({"600", "601"})


def label_sign(param: str, t: str, key: str, secret: str) -> str:
    """``sign`` = uppercase MD5(param + t + key + secret), over the exact ``param`` sent."""
    return md5_hex(param + t + key + secret, upper=True)


def outcome(payload: dict[str, Any]) -> tuple[bool, str, str]:
    """``(ok, code, message)`` of either answer shape: V2 ``{code, message, data}`` or legacy
    ``{result, returnCode, message}``."""
    message = str(payload.get("message") or "")
    if "code" in payload:
        code = str(payload.get("code"))
        return code == OK, code, message
    if "returnCode" in payload or "result" in payload:
        code = str(payload.get("returnCode") or "")
        return payload.get("result") is True or code == OK, code, message
    return False, "", message or "the answer has neither code nor returnCode"


def classify(where: str, code: str, message: str) -> Exception:
    said = f"{code} {message}".strip()
    if code in V2_RETRYABLE or code in LEGACY_RETRYABLE:
        return RetryableError(f"{where} failed ({said}); will retry", code=code, partner_message=message)
    if code in V2_AUTH or code in LEGACY_AUTH:
        return AuthorizationError(f"{where}: Kuaidi100 refused the account ({said}); check the key and secret",
                                  code=code, partner_message=message)
    if code in (V2_BAD_SIGN, "503"):
        return PermanentError(f"{where}: bad signature ({said}); check the configured key and secret",
                              code=code, partner_message=message)
    if code == V2_QUOTA:
        return PermanentError(f"{where}: the Kuaidi100 account has no waybills left ({said}); top it up",
                              code=code, partner_message=message)
    return PermanentError(f"{where} refused ({said})", code=code or None, partner_message=message)


class Kuaidi100LabelClient:
    """Calls the label API for one account (``key`` + ``secret``)."""

    def __init__(self, account: str, key: str, secret: str, base_url: str = DEFAULT_LABEL_BASE_URL, *,
                 throttle: Callable[[], Awaitable[None]] | None = None, timeout_s: float = 15.0,
                 clock: Callable[[], float] = time.time, http: httpx.AsyncClient | None = None) -> None:
        self.account = account
        self._key = key
        self._secret = secret
        self._throttle = throttle
        self._clock = clock
        self._http = http or build_http_client(base_url.rstrip("/"), timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    def form(self, method: str, param: dict[str, Any]) -> dict[str, str]:
        """The signed form of one call; ``t`` is Unix milliseconds."""
        text = param_text(param)
        t = str(int(self._clock() * 1000))
        return {"key": self._key, "method": method, "t": t, "param": text,
                "sign": label_sign(text, t, self._key, self._secret)}

    async def _post(self, form: dict[str, str], where: str) -> dict[str, Any]:
        return await post_form(self._http, LABEL_PATH, form, where, throttle=self._throttle)

    async def call(self, method: str, param: dict[str, Any], where: str, *, retry: bool = True) -> Any:
        """One call; the answer's ``data`` on success, else the classified error. Each attempt is
        signed afresh (a new ``t``). ``retry`` repeats transient faults a few times here: only for
        calls that are safe to repeat (``order`` with ``orderId`` and ``reorder=false``, ``cancel``)."""

        async def attempt() -> Any:
            payload = await self._post(self.form(method, param), where)
            ok, code, message = outcome(payload)
            if not ok:
                raise classify(where, code, message)
            return payload.get("data", payload)

        return await call_with_retries(attempt) if retry else await attempt()
