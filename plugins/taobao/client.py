"""The TOP (Taobao Open Platform) HTTP client: system params, signing, envelopes, error classes.

``TopClient.call(method, params)`` posts one form-urlencoded request to the TOP gateway and
returns the inner ``<method>_response`` object, or raises one of the hub's error classes; a
``TopFile`` param (TOP ``byte[]``) makes the request multipart, unsigned for that part. Shared
by the Taobao, Tmall and AliExpress (TOP-style ``aliexpress.*``) plugins. No business logic here:
what to ask and how to read the answer lives in ``connector.py`` and ``mapping.py``.

Facts: ``docs/platforms/taobao-tmall.md`` §1 (system params, signing, envelope,
error codes, flow control). Answers are read as TOP sends them: a list the answer leaves out is
empty (TOP omits empty lists and null fields), lists come wrapped (``trades.trade[]``) or bare,
and with ``simplify=True`` the client asks for ``simplify=true`` and reads answers without the
``<method>_response`` wrapper [U: the exact simplified shape]. The classification policy
(``classify_error``):

- code 27 (invalid session) → ``AuthorizationError`` naming the shop: it must be re-authorised;
- code 7 (call limited) → ``ThrottledError``, ``retry_after`` = N + 1 from "This ban will last
  for N more seconds" (flow-control FAQ);
- a ``sub_code`` decides next when present: ``isp.*`` → retryable, ``isv.*`` → permanent, except
  ``isv.logistics-offline-service-error:B150`` ("retry later", §4) → retryable. TOP often sends
  business (``isv.*``) errors under code 15, so the sub_code must win over the code;
- codes 10 and 15 without a decisive sub_code → retryable;
- everything else (25 bad signature, 29, 31, 40, 41, 50…) → ``PermanentError``.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from hub.plugin_api import (
    AuthorizationError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
)
from plugins.taobao.signing import SIGN_METHODS, TopFile, sign_top, signable

GMT8 = timezone(timedelta(hours=8), "GMT+8")
TOP_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_GATEWAY = "https://eco.taobao.com/router/rest"

_BAN_SECONDS = re.compile(r"ban will last for (\d+) more seconds", re.IGNORECASE)
#: Largest integer a JSON reader in another language (JS doubles) keeps exactly.
_EXACT_INT_LIMIT = 2**53


def _exact_int(text: str) -> int | str:
    """``json`` ``parse_int`` hook: small integers as ``int``; ids beyond 2^53 kept as strings so
    they survive any later trip through a double (TOP tid/oid, TMC ids)."""
    value = int(text)
    return value if -_EXACT_INT_LIMIT <= value <= _EXACT_INT_LIMIT else text


def loads_exact(text: str | bytes) -> Any:
    """Parse TOP JSON without losing big numbers (see ``_exact_int``)."""
    return json.loads(text, parse_int=_exact_int)


def top_timestamp(now: datetime | None = None) -> str:
    """The ``timestamp`` system param: ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return (now or datetime.now(UTC)).astimezone(GMT8).strftime(TOP_TIME_FORMAT)


def response_key(method: str) -> str:
    """``taobao.trade.fullinfo.get`` → ``trade_fullinfo_get_response``; ``tmall.``/``aliexpress.``
    prefixes are kept (§1 "Response envelope")."""
    name = method[len("taobao."):] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def ban_seconds(*texts: str | None) -> float | None:
    """N from "This ban will last for N more seconds" in any of ``texts``."""
    for text in texts:
        match = _BAN_SECONDS.search(text or "")
        if match:
            return float(match.group(1))
    return None


def classify_error(error: dict[str, Any], *, label: str = "", method: str = "") -> Exception:
    """The hub error for one TOP ``error_response`` (policy in the module docstring)."""
    raw_code = error.get("code")
    code = str(raw_code) if raw_code is not None else ""
    sub_code = str(error.get("sub_code") or "")
    msg = str(error.get("msg") or "")
    sub_msg = str(error.get("sub_msg") or "")
    partner = "; ".join(part for part in (msg, sub_code, sub_msg) if part)
    shop = f"shop '{label}'" if label else "TOP shop"
    what = f"{shop}: {method} failed (TOP code {code}{', ' + sub_code if sub_code else ''}): {sub_msg or msg}"
    detail: dict[str, Any] = {"code": code, "partner_message": partner}
    if code == "27" or sub_code.endswith("invalid-sessionkey"):
        return AuthorizationError(f"{shop}: session invalid (TOP code 27); re-authorise the shop", **detail)
    if code == "7":
        wait = ban_seconds(msg, sub_msg)
        retry_after = wait + 1 if wait is not None else 1.0
        return ThrottledError(f"{shop}: {method} throttled (TOP code 7, {sub_code or msg}); retry in "
                              f"{retry_after:g} s", retry_after=retry_after, **detail)
    if sub_code.startswith("isv.logistics-offline-service-error") and sub_code.endswith("B150"):
        return RetryableError(what + "; retry later", **detail)
    if sub_code.startswith("isp."):
        return RetryableError(what + "; TOP asks to retry later", **detail)
    if sub_code.startswith("isv."):
        return PermanentError(what, **detail)
    if code in ("10", "15"):
        return RetryableError(what + "; retry later", **detail)
    return PermanentError(what, **detail)


class TopClient:
    """One TOP app + seller session. ``await client.call("taobao.trade.fullinfo.get", {...})``.

    ``throttle`` is awaited before every HTTP request (the hub's per-shop token bucket);
    ``label`` (the shop name) goes into error messages. The httpx client is created on first use
    in the running loop (and again if the loop changes): one loop, one set of async resources.
    """

    def __init__(
        self,
        gateway_url: str,
        app_key: str,
        app_secret: str,
        session: str | None = None,
        sign_method: str = "hmac-sha256",
        *,
        throttle: Any = None,
        label: str = "",
        partner_id: str | None = None,
        timeout: float = 15.0,
        simplify: bool = False,
    ) -> None:
        if sign_method not in SIGN_METHODS:
            raise ValueError(f"sign_method must be one of {', '.join(SIGN_METHODS)}, got {sign_method!r}")
        self.gateway_url = gateway_url
        self.app_key = app_key
        self._secret = app_secret
        self.session = session
        self.sign_method = sign_method
        self.throttle = throttle
        self.label = label
        self.partner_id = partner_id
        self.timeout = timeout
        self.simplify = simplify
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = build_http_client(timeout=self.timeout)
            self._loop = loop
        return self._http

    def request_params(self, method: str, params: dict[str, Any], *, now: datetime | None = None) -> dict[str, str]:
        """The signed form a call sends (system + app params, empties dropped, ``sign`` added)."""
        system: dict[str, Any] = {
            "method": method,
            "app_key": self.app_key,
            "session": self.session,
            "timestamp": top_timestamp(now),
            "v": "2.0",
            "format": "json",
            "sign_method": self.sign_method,
            "partner_id": self.partner_id,
            "simplify": "true" if self.simplify else None,
        }
        form = signable({**params, **system})
        form["sign"] = sign_top(form, self._secret, self.sign_method)
        return form

    async def call(self, method: str, params: dict[str, Any], *, retry: bool = True) -> dict[str, Any]:
        """Call ``method`` and return its inner response object.

        ``retry=False`` for calls that are not safe to repeat blindly (shipment confirmation):
        the caller checks the platform first instead.
        """
        if retry:
            return await call_with_retries(lambda: self._call_once(method, params))
        return await self._call_once(method, params)

    async def _call_once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.throttle is not None:
            await self.throttle()
        form = self.request_params(method, params)
        files = {name: (value.filename, value.content, value.content_type)
                 for name, value in params.items() if isinstance(value, TopFile)}
        if files:
            # A byte[] param makes the request multipart/form-data; the signature covers the text
            # params only (file params are left out of it, §1 "Signing").
            response = await self._client().post(self.gateway_url, data=form, files=files)
        else:
            response = await self._client().post(self.gateway_url, data=form)
        return self.parse_response(method, response.status_code, response.content)

    def parse_response(self, method: str, status: int, body: bytes) -> dict[str, Any]:
        """Unwrap a gateway answer; ``error_response`` is checked even on HTTP 200."""
        shop = f"shop '{self.label}'" if self.label else "TOP shop"
        try:
            data = loads_exact(body) if body else None
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error_response"), dict):
            raise classify_error(data["error_response"], label=self.label, method=method)
        if status >= 500 or status == 429:
            raise RetryableError(f"{shop}: {method} got HTTP {status} from the TOP gateway; retry later",
                                 code=str(status))
        if status >= 400:
            raise PermanentError(f"{shop}: {method} got HTTP {status} from the TOP gateway", code=str(status))
        if not isinstance(data, dict):
            raise RetryableError(f"{shop}: {method} answered with a body that is not TOP JSON; retry later")
        key = response_key(method)
        if isinstance(data.get(key), dict):
            return dict(data[key])
        wrappers = [v for k, v in data.items() if k.endswith("_response") and isinstance(v, dict)]
        if len(wrappers) == 1:
            return dict(wrappers[0])
        if self.simplify and not wrappers:
            return dict(data)  # simplify=true: the inner object itself
        raise PermanentError(f"{shop}: {method} answered without {key!r}: keys {sorted(data)}")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def unwrap_list(value: Any) -> list[Any]:
    """A TOP list: bare, or wrapped in an object with one singular key (``orders.order[]``);
    missing (``None``: TOP leaves empty lists out) or an emptied wrapper → ``[]``."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        if not value:
            return []
    raise ValueError(f"not a TOP list: {type(value).__name__}")
