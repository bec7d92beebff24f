"""The AliExpress HTTP client: IOP and TOP-style signing, envelopes, error classification and the
daily call quota. No business logic: ``call`` returns the API's body (wrapper removed) as parsed.

Facts: ``docs/platforms/taobao-tmall.md`` §1 (TOP protocol, error codes, flow
control) and ``docs/platforms/aliexpress.md`` §7 (IOP gateway, signing, error envelope). Two gateways, chosen per shop:

- **IOP** (``protocol = "iop"``): ``<iop_url>/sync?method=<api>`` for dotted business APIs and
  ``<iop_url>/rest<path>`` for system APIs; HMAC-SHA256 keyed with the app secret over the sorted
  ``k1v1…`` text, prefixed with the API path only for ``/…`` APIs (vectors V3, V5).
- **TOP-style** (``protocol = "top"``): ``aliexpress.*`` methods over ``/router/rest`` through the
  shared ``plugins.taobao.client.TopClient`` (TOP signer, GMT+8 timestamps, TOP error classes); this
  client adds the daily quota and turns TOP's app-quota ban into ``QuotaBanError``. TMC always goes
  this way (§6).

Whether IOP ``/sync`` wraps bodies like TOP (``<method>_response`` / ``error_response``) is [U] in
the platform notes; public ERP code calling ``/sync`` with ``Protocol.TOP`` reads
``aliexpress_issue_detail_get_response`` and ``error_response{code:"ApiCallLimit"}``, while the IOP
SDK documents a top-level ``code``/``type``/``message``. ``unwrap_response`` accepts all three shapes.
Not for mapping (``mapping.py``) nor for deciding what to call (``connector.py``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from hub.plugin_api import (
    AuthorizationError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
    hmac_hex,
)
from plugins.taobao.client import TopClient
from plugins.taobao.signing import signable

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_IOP_URL = "https://api-sg.aliexpress.com"
DEFAULT_TOP_URL = "https://api.taobao.com/router/rest"

#: TOP codes (§1 ERR table) and the hub policy of §1.
TOP_THROTTLE = "7"
TOP_RETRYABLE = frozenset({"10", "15"})
TOP_AUTH = frozenset({"27"})
#: §1 flow control: the app's daily quota is used up; the ban lasts until Beijing midnight.
QUOTA_SUB_CODE = "accesscontrol.limited-by-app-access-count"
#: IOP codes meaning "slow down". ``ApiCallLimit`` is seen in public ERP code calling ``/sync``
#: (treated there as retry-later); ``AppCallLimit`` is its per-app sibling in IOP docs [U].
IOP_THROTTLE = frozenset({"ApiCallLimit", "AppCallLimit"})
#: IOP codes meaning the seller token is invalid or expired. ``IllegalAccessToken`` is the IOP
#: (Lazada, same platform) code [U for AliExpress]; ``InvalidSession`` mirrors TOP 27 [U].
IOP_AUTH = frozenset({"IllegalAccessToken", "InvalidSession", "SessionExpired", "IllegalRefreshToken"})
#: A file a call uploads: (filename, content, content type).
UploadFile = tuple[str, bytes, str]
_BAN_SECONDS = re.compile(r"ban will last for (\d+) more seconds", re.IGNORECASE)


# -- signing --------------------------------------------------------------------------------------


def iop_string_to_sign(api: str, params: Mapping[str, Any]) -> str:
    """Sorted ``k1v1…`` over the sent params; the API path in front only for ``/…`` APIs (§7)."""
    items = signable(params)
    text = "".join(f"{k}{items[k]}" for k in sorted(items, key=lambda k: k.encode("utf-8")))
    return api + text if api.startswith("/") else text


def iop_sign(api: str, params: Mapping[str, Any], secret: str) -> str:
    """IOP ``sign``: uppercase hex HMAC-SHA256 keyed with the app secret (vector V3)."""
    return hmac_hex(secret, iop_string_to_sign(api, params), "sha256", upper=True)


def response_key(method: str) -> str:
    """The TOP wrapper key: dots → underscores, a leading ``taobao.`` dropped, ``_response`` added."""
    name = method[len("taobao."):] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def seconds_until_beijing_midnight(now: datetime) -> float:
    local = now.astimezone(BEIJING)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - local).total_seconds())


# -- envelopes and classification -----------------------------------------------------------------


def _ban_seconds(message: str) -> float | None:
    found = _BAN_SECONDS.search(message or "")
    return float(found.group(1)) + 1.0 if found else None


def classify_top_error(where: str, error: Mapping[str, Any], *, now: datetime | None = None) -> Exception:
    """Turn a TOP ``error_response`` into a hub error (§1 codes and hub policy)."""
    code = str(error.get("code", ""))
    sub = str(error.get("sub_code") or "")
    message = str(error.get("sub_msg") or error.get("msg") or "")
    detail = f"{code}{'/' + sub if sub else ''} {message}".strip()
    if code == TOP_THROTTLE and sub == QUOTA_SUB_CODE:
        wait = seconds_until_beijing_midnight(now or datetime.now(BEIJING))
        return QuotaBanError(f"{where}: the app's daily call quota is used up ({detail}); calls resume after "
                             "midnight Beijing time", code=code, partner_message=message, retry_after=wait)
    if code == TOP_THROTTLE or code in IOP_THROTTLE:
        return ThrottledError(f"{where}: throttled by the platform ({detail}); will retry",
                              code=code, partner_message=message, retry_after=_ban_seconds(message) or 1.0)
    if code in TOP_AUTH or "invalid-sessionkey" in sub or code in IOP_AUTH:
        return AuthorizationError(f"{where}: session invalid ({detail}); re-authorise the shop",
                                  code=code, partner_message=message)
    if sub == "isv.logistics-offline-service-error:B150":  # §4: "retry later"
        return RetryableError(f"{where}: platform busy ({detail}); will retry", code=code, partner_message=message)
    if sub.startswith("isv."):  # §1 hub policy: never retry isv.*, whatever the code
        return PermanentError(f"{where}: refused ({detail})", code=code or sub, partner_message=message)
    if code in TOP_RETRYABLE or sub.startswith("isp."):
        return RetryableError(f"{where}: platform error ({detail}); will retry", code=code, partner_message=message)
    return PermanentError(f"{where}: refused ({detail})", code=code or sub, partner_message=message)


def classify_iop_error(where: str, payload: Mapping[str, Any]) -> Exception:
    """Turn an IOP top-level error (``code`` ≠ "0", ``type`` ISV/ISP/SYSTEM) into a hub error (§7)."""
    code = str(payload.get("code", ""))
    kind = str(payload.get("type") or "").upper()
    message = str(payload.get("message") or payload.get("msg") or "")
    detail = f"{kind or '?'} {code} {message}".strip()
    if code in IOP_THROTTLE:
        return ThrottledError(f"{where}: throttled by the platform ({detail}); will retry",
                              code=code, partner_message=message, retry_after=_ban_seconds(message) or 1.0)
    if code in IOP_AUTH:
        return AuthorizationError(f"{where}: access token invalid or expired ({detail}); re-authorise the shop",
                                  code=code, partner_message=message)
    if kind in ("ISP", "SYSTEM"):
        return RetryableError(f"{where}: platform error ({detail}); will retry", code=code, partner_message=message)
    return PermanentError(f"{where}: refused ({detail})", code=code, partner_message=message)


def unwrap_response(method: str, payload: Any, where: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The body of a response, in any of the three shapes; raises the classified error on failure."""
    if not isinstance(payload, dict):
        raise RetryableError(f"{where}: unexpected answer shape ({type(payload).__name__}); will retry")
    if isinstance(payload.get("error_response"), dict):
        raise classify_top_error(where, payload["error_response"], now=now)
    code = payload.get("code")
    if code is not None and str(code) != "0":
        raise classify_iop_error(where, payload)
    body = payload.get(response_key(method))
    if isinstance(body, dict):
        return body
    return {k: v for k, v in payload.items() if k not in ("code", "type", "message")}


class QuotaBanError(ThrottledError):
    """The app's daily quota is spent (ours, or the platform said so): no call until Beijing midnight."""


# -- the daily quota ------------------------------------------------------------------------------


class DailyQuota:
    """Counts calls per app per Beijing day and refuses the call that would cross the quota.

    The count lives under a per-day key in the shop's persistent state (``aliexpress:quota:<app>:<day>``)
    so it survives restarts and resets itself at midnight. Calls are counted in blocks: the
    stored count is raised by ``BLOCK`` calls at once (never past ``limit − margin``) and this
    process makes that many calls before it reads and writes the state again, so a burst of
    calls costs the database one read and one write per block instead of three round trips per
    call. The stored count therefore runs ahead of the calls made by at most ``BLOCK − 1`` per
    process (a restart leaves its unused part counted: the quota errs on the side of stopping
    early, never late). A ban recorded by another process is seen when this one next takes a
    block. Limitation: ``ShopState`` has no atomic increment, so processes sharing one app
    read-modify-write the same key and may lose a few increments under concurrency;
    ``quota_margin`` is the allowance for that. Shops that share one app key each count only
    their own calls: give each a share of the app's quota.
    """

    #: Calls counted in the state at a time (see the class docstring).
    BLOCK = 20

    def __init__(self, state: Any, app_key: str, limit: int, margin: int = 0,
                 now: Callable[[], datetime] | None = None) -> None:
        self.state = state
        self.app_key = app_key
        self.limit = limit
        self.margin = margin
        self.now = now or (lambda: datetime.now(BEIJING))
        self._day: str | None = None
        self._used = 0  # calls this process has counted today (stored count when it took its block)
        self._reserved = 0  # the end of this process's block: the count it stored
        self._banned: str | None = None  # the day this process knows the app is banned for

    def _key(self, day: str) -> str:
        return f"aliexpress:quota:{self.app_key}:{day}"

    def _ban_key(self) -> str:
        return f"aliexpress:quota-ban:{self.app_key}"

    def _today(self, now: datetime) -> str:
        day = now.astimezone(BEIJING).date().isoformat()
        if self._day != day:
            self._day, self._used, self._reserved = day, 0, 0
        return day

    async def used_today(self) -> int:
        """Calls counted today: the stored count (blocks taken, by every process) or this
        process's own count, whichever is higher."""
        day = self._today(self.now())
        stored = int(await self.state.get(self._key(day)) or 0)
        return max(stored, self._used)

    async def take(self) -> None:
        """Count one call, or raise ``QuotaBanError`` without counting when the quota is reached."""
        now = self.now()
        day = self._today(now)
        if self._banned == day:
            raise self._refusal(now, "the platform banned the app for today")
        if self._used < self._reserved:  # inside this process's block
            self._used += 1
            return
        if await self.state.get(self._ban_key()) == day:
            self._banned = day
            raise self._refusal(now, "the platform banned the app for today")
        if self.limit <= 0:  # not counting: the stored ban is looked at once a block
            self._used += 1
            self._reserved = self._used + self.BLOCK - 1
            return
        allowed = self.limit - self.margin
        count = max(self._used, int(await self.state.get(self._key(day)) or 0))
        if count >= allowed:
            raise self._refusal(now, f"{count} calls made today, quota {self.limit} minus margin {self.margin}")
        self._used, self._reserved = count + 1, min(allowed, count + self.BLOCK)
        await self.state.set(self._key(day), str(self._reserved))

    async def record_ban(self) -> None:
        """The platform said the quota is spent: refuse calls until Beijing midnight."""
        self._banned = self._today(self.now())
        await self.state.set(self._ban_key(), self._banned)

    def _refusal(self, now: datetime, why: str) -> QuotaBanError:
        return QuotaBanError(
            f"AliExpress app {self.app_key}: daily call quota reached ({why}); not calling the platform "
            "until midnight Beijing time, when the quota resets",
            code="daily-quota", retry_after=seconds_until_beijing_midnight(now))


# -- the client -----------------------------------------------------------------------------------


def loads(content: bytes) -> Any:
    """JSON as sent. Python ints are exact, so 16-digit order ids survive; mapping stringifies them."""
    return json.loads(content)


class AliExpressClient:
    """Signed calls for one shop, over IOP or the TOP-style gateway, with quota and throttle."""

    def __init__(self, *, protocol: str, app_key: str, app_secret: str, session: str | None,
                 iop_url: str = DEFAULT_IOP_URL, top_url: str = DEFAULT_TOP_URL, top_sign_method: str = "hmac",
                 partner_id: str | None = None, quota: DailyQuota | None = None,
                 throttle: Callable[[], Awaitable[None]] | None = None, label: str = "aliexpress",
                 http: httpx.AsyncClient | None = None) -> None:
        if protocol not in ("iop", "top"):
            raise ValueError(f"protocol must be 'iop' or 'top', got {protocol!r}")
        self.protocol = protocol
        self.app_key = app_key
        self._secret = app_secret
        self._session = session
        self.iop_url = iop_url.rstrip("/")
        self.top_url = top_url
        self.top_sign_method = top_sign_method
        self.partner_id = partner_id
        self.quota = quota
        self._throttle = throttle
        self.label = label
        self._http = http or build_http_client()
        self._top_client = TopClient(top_url, app_key, app_secret, session, top_sign_method, label=label,
                                     partner_id=partner_id)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._top_client.aclose()

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *, retry: bool = True,
                   protocol: str | None = None, files: Mapping[str, UploadFile] | None = None) -> dict[str, Any]:
        """Call ``method`` (dotted, or a ``/path`` system API on IOP) and return its body.

        ``retry=False`` for writes that must not be repeated blindly (the caller checks first).
        ``protocol="top"`` forces the TOP gateway (TMC is only there). ``files`` (param name →
        ``(filename, content, content type)``) makes the call multipart; files are not signed
        (the IOP and TOP SDKs leave file params out of the signature)."""
        use = protocol or self.protocol
        where = f"shop {self.label!r}: AliExpress {method}"

        async def once() -> dict[str, Any]:
            if self.quota is not None:
                await self.quota.take()
            if self._throttle is not None:
                await self._throttle()
            try:
                if use == "top" and files:
                    return await self._top_upload(method, params or {}, files)
                if use == "top":
                    return await self._top(method, params or {})
                return unwrap_response(method, await self._iop(method, params or {}, files), where)
            except QuotaBanError:
                if self.quota is not None:
                    await self.quota.record_ban()
                raise

        return await call_with_retries(once) if retry else await once()

    async def _iop(self, api: str, params: Mapping[str, Any], files: Mapping[str, UploadFile] | None = None) -> Any:
        sys_params: dict[str, Any] = {"app_key": self.app_key, "timestamp": str(int(time.time() * 1000)),
                                      "sign_method": "sha256", "session": self._session,
                                      "partner_id": self.partner_id}
        if api.startswith("/"):
            url = f"{self.iop_url}/rest{api}"
        else:
            url = f"{self.iop_url}/sync"
            sys_params.update({"method": api, "format": "json", "simplify": False})
        form = signable({**params, **sys_params})
        form["sign"] = iop_sign(api, form, self._secret)
        return await self._post(url, form, api, files)

    async def _top(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One TOP-style call through the shared ``TopClient`` (its own retries and throttle off:
        this client counts the quota and paces every HTTP request itself)."""
        try:
            return await self._top_client.call(method, dict(params), retry=False)
        except ThrottledError as exc:
            if QUOTA_SUB_CODE not in (exc.partner_message or ""):
                raise
            raise QuotaBanError(f"shop {self.label!r}: AliExpress {method}: the app's daily call quota is used up "
                                f"({exc.partner_message}); calls resume after midnight Beijing time",
                                code=exc.code, partner_message=exc.partner_message,
                                retry_after=seconds_until_beijing_midnight(datetime.now(BEIJING))) from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"shop {self.label!r}: AliExpress {method}: {type(exc).__name__} talking to the "
                                 "TOP gateway; will retry", code="transport") from exc

    async def _top_upload(self, method: str, params: Mapping[str, Any],
                          files: Mapping[str, UploadFile]) -> dict[str, Any]:
        """A multipart TOP-style call: signed by the shared ``TopClient`` (files left out), sent
        here because ``TopClient.call`` posts forms only, read back by its parser."""
        form = self._top_client.request_params(method, dict(params))
        try:
            response = await self._http.post(self.top_url, data=form, files=dict(files))
        except httpx.TransportError as exc:
            raise RetryableError(f"shop {self.label!r}: AliExpress {method}: {type(exc).__name__} talking to the "
                                 "TOP gateway; will retry", code="transport") from exc
        return self._top_client.parse_response(method, response.status_code, response.content)

    async def _post(self, url: str, form: dict[str, str], api: str,
                    files: Mapping[str, UploadFile] | None = None) -> Any:
        where = f"shop {self.label!r}: AliExpress {api}"
        try:
            response = await self._http.post(url, data=form, files=dict(files)) if files else \
                await self._http.post(url, data=form)
        except httpx.TransportError as exc:
            # Includes read timeouts: the caller of a non-idempotent write checks the platform before
            # trying again, so retrying later is safe.
            raise RetryableError(f"{where}: {type(exc).__name__} talking to the gateway; will retry",
                                 code="transport") from exc
        if response.status_code == 429:
            raise ThrottledError(f"{where}: HTTP 429; will retry", code="http-429",
                                 retry_after=float(response.headers.get("retry-after") or 1))
        try:
            payload = loads(response.content)
        except ValueError:
            payload = None
        if response.status_code >= 500 and not isinstance(payload, dict):
            raise RetryableError(f"{where}: HTTP {response.status_code}; will retry",
                                 code=f"http-{response.status_code}")
        if payload is None:
            if response.status_code >= 400:
                raise PermanentError(f"{where}: HTTP {response.status_code}", code=f"http-{response.status_code}")
            raise RetryableError(f"{where}: answer is not JSON; will retry")
        return payload
