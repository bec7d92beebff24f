"""The Kuaidi100 HTTP client: request signing, the two calls (query, subscribe) and the
classification of Kuaidi100's ``returnCode`` failures into the hub's errors.

No business logic and no mapping: ``query`` returns Kuaidi100's JSON object as parsed (ids kept as
strings), ``subscribe`` says whether Kuaidi100 was already tracking the waybill.
Facts: §7 of ``docs/platforms/couriers-and-warehouses.md`` (sources [K] java-demo / python-demo).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from hub.plugin_api import (
    AuthorizationError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
    md5_hex,
    retry_after_seconds,
)

DEFAULT_BASE_URL = "https://poll.kuaidi100.com"
QUERY_PATH = "/poll/query.do"
SUBSCRIBE_PATH = "/poll"

#: returnCode values of the real-time query (§7 ✅, Kuaidi100 docs). 408 is seen in the wild but
#: its meaning is not confirmed (⚠️): it is treated as permanent like any unknown code.
QUERY_NO_RESULT = "500"
QUERY_RETRYABLE = frozenset({"501", "502"})  # server error, server busy
QUERY_AUTH = frozenset({"601"})  # key expired

#: returnCode values of the subscription call (§7 ✅).
SUBSCRIBE_ALREADY = "501"  # already tracking this waybill: the subscription exists, which is what we want
SUBSCRIBE_RETRYABLE = frozenset({"500"})  # server error (⚠️ retryability inferred)
SUBSCRIBE_AUTH = frozenset({"600", "601"})  # bad key, key expired


def param_text(param: dict[str, Any]) -> str:
    """The exact ``param`` string sent (compact JSON, UTF-8 kept); the signature covers it."""
    return json.dumps(param, ensure_ascii=False, separators=(",", ":"))


def query_sign(param: str, key: str, customer: str) -> str:
    """``sign`` of a real-time query: uppercase MD5(param + key + customer) (§7 ✅, vector 3)."""
    return md5_hex(param + key + customer, upper=True)


def callback_sign(param: str, salt: str) -> str:
    """``sign`` of a subscription callback: uppercase MD5(param + salt) (§7 ✅, vector 3)."""
    return md5_hex(param + salt, upper=True)


def loads_exact(text: str | bytes) -> Any:
    """Parse Kuaidi100 JSON keeping every number as its text: ids must never pass through a float."""
    return json.loads(text, parse_int=str, parse_float=str)


def _failure(payload: dict[str, Any]) -> tuple[str, str] | None:
    """``(returnCode, message)`` when the payload is Kuaidi100's failure shape, else None."""
    if "returnCode" not in payload:
        return None
    code = str(payload.get("returnCode"))
    if payload.get("result") is True or code == "200":
        return None
    return code, str(payload.get("message") or "")


async def post_form(http: httpx.AsyncClient, path: str, form: dict[str, str], where: str, *,
                    throttle: Callable[[], Awaitable[None]] | None = None) -> dict[str, Any]:
    """POST one form to Kuaidi100 (both its query and its label API take forms) and return the
    answer's JSON object, numbers kept as text. HTTP 429 → ``ThrottledError`` (nothing was done,
    the queue waits it out); 5xx or an answer that is not JSON → ``RetryableError``; any other 4xx
    or an answer that is not an object → ``PermanentError``. ``where`` opens each message."""
    if throttle is not None:
        await throttle()
    response = await http.post(path, data=form)
    if response.status_code == 429:
        raise ThrottledError(f"{where}: HTTP 429 (rate limited); slowing down", code="http-429",
                             retry_after=retry_after_seconds(response))
    if response.status_code >= 500:
        raise RetryableError(f"{where}: HTTP {response.status_code}; will retry", code=f"http-{response.status_code}")
    if response.status_code >= 400:
        raise PermanentError(f"{where}: HTTP {response.status_code}", code=f"http-{response.status_code}")
    try:
        payload = loads_exact(response.content)
    except ValueError as exc:
        raise RetryableError(f"{where}: the answer is not JSON; will retry", code="bad-json") from exc
    if not isinstance(payload, dict):
        raise PermanentError(f"{where}: unexpected answer shape")
    return payload


class Kuaidi100Client:
    """Calls Kuaidi100 for one account (``customer`` + ``key``)."""

    def __init__(
        self,
        account: str,
        customer: str,
        key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        throttle: Callable[[], Awaitable[None]] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.account = account
        self.customer = customer
        self._key = key
        self._throttle = throttle
        self._http = http or build_http_client(base_url.rstrip("/"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post_form(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        return await post_form(self._http, path, form, f"courier {self.account!r}: Kuaidi100 {path}",
                               throttle=self._throttle)

    async def query(self, param: dict[str, Any]) -> dict[str, Any] | None:
        """Real-time query; the result object, or None when Kuaidi100 has no result (code 500).

        Busy and server errors (502, 501) are retried a few times here, then raised as
        ``RetryableError`` for the queue to retry later."""
        text = param_text(param)
        form = {"customer": self.customer, "param": text, "sign": query_sign(text, self._key, self.customer)}
        where = f"courier {self.account!r}: Kuaidi100 query for {param.get('com')}/{param.get('num')}"

        async def call() -> dict[str, Any] | None:
            payload = await self._post_form(QUERY_PATH, form)
            failure = _failure(payload)
            if failure is None:
                return payload
            code, message = failure
            if code == QUERY_NO_RESULT:
                return None
            raise _query_error(where, code, message)

        return await call_with_retries(call)  # a read: safe to repeat

    async def subscribe(self, param: dict[str, Any]) -> bool:
        """Subscribe a waybill (``param`` without the key: it is added here, inside ``param`` as
        Kuaidi100 wants, and there is no ``sign``). True when newly subscribed, False when
        Kuaidi100 was already tracking it (501), which is success too."""
        text = param_text({**param, "key": self._key})
        form = {"schema": "json", "param": text}
        where = f"courier {self.account!r}: Kuaidi100 subscription for {param.get('company')}/{param.get('number')}"

        async def call() -> bool:
            payload = await self._post_form(SUBSCRIBE_PATH, form)
            failure = _failure(payload)
            if failure is None:
                return True
            code, message = failure
            if code == SUBSCRIBE_ALREADY:
                return False
            raise _subscribe_error(where, code, message)

        # Subscribing twice is harmless (the second answers 501), so retrying is safe.
        return await call_with_retries(call)


def _query_error(where: str, code: str, message: str) -> Exception:
    if code in QUERY_RETRYABLE:
        return RetryableError(f"{where} failed ({code} {message}); will retry", code=code, partner_message=message)
    if code in QUERY_AUTH:
        return AuthorizationError(
            f"{where}: key expired ({code}); renew the Kuaidi100 key", code=code, partner_message=message
        )
    if code == "503":
        return PermanentError(
            f"{where}: bad signature (503); check the configured customer and key", code=code, partner_message=message
        )
    if code == "400":
        return PermanentError(
            f"{where}: request incomplete or account not authorised (400); check the courier code and the account",
            code=code,
            partner_message=message,
        )
    return PermanentError(f"{where} failed ({code} {message})", code=code, partner_message=message)


def _subscribe_error(where: str, code: str, message: str) -> Exception:
    if code in SUBSCRIBE_RETRYABLE:
        return RetryableError(f"{where} failed ({code} {message}); will retry", code=code, partner_message=message)
    if code in SUBSCRIBE_AUTH:
        return AuthorizationError(
            f"{where}: key refused or expired ({code}); check the Kuaidi100 key", code=code, partner_message=message
        )
    return PermanentError(f"{where} refused ({code} {message})", code=code, partner_message=message)
