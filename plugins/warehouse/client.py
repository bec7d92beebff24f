"""The Qimen ERP↔WMS HTTP client: system params, the TOP-style signature over params *and* the
raw XML body, the ``<response><flag/>`` envelope, and error classification.

No business logic: callers build the ``<request>`` element (``mapping``) and read the
``<response>`` element this returns. Facts: §10 of ``docs/platforms/couriers-and-warehouses.md``
([QM] DefaultQimenClient.cs, Constants.cs, TopUtils.cs, QimenResponse.cs).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from hub.plugin_api import (
    BadInputError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
    retry_after_seconds,
)
from plugins.taobao.signing import sign_top

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: ⚠️ Some WMS see method names without this prefix (§10): both are accepted on callbacks, and the
#: prefix used on requests is a setting.
METHOD_PREFIX = "taobao.qimen."
CONTENT_TYPE = "text/xml;charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'

# A WMS never needs a DTD; refusing one rules out entity-expansion tricks before the parser runs
# (expat ≥ 2.4 also limits amplification, but we do not rely on the linked version).
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def china_time(moment: datetime | None = None) -> str:
    """A Qimen timestamp: ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return (moment or datetime.now(UTC)).astimezone(CHINA_TZ).strftime(TIME_FORMAT)


def parse_china_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=CHINA_TZ)


def short_method(method: str) -> str:
    """``taobao.qimen.deliveryorder.confirm`` and ``deliveryorder.confirm`` → ``deliveryorder.confirm``."""
    return method[len(METHOD_PREFIX):] if method.startswith(METHOD_PREFIX) else method


def qimen_sign(params: Mapping[str, Any], body: str, secret: str) -> str:
    """uppercase MD5(secret + Σ sorted k+v + body + secret) (§10 ✅; derived vector 5)."""
    return sign_top(params, secret, "md5", body=body)


def parse_xml(data: bytes | str, what: str) -> ET.Element:
    """Parse a Qimen XML document; ``BadInputError`` when it is not well-formed or has a DTD."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _DTD.search(raw):
        raise BadInputError(f"{what}: XML with a DTD or entity declaration is refused")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise BadInputError(f"{what}: not well-formed XML ({exc})") from exc


def to_xml(root: ET.Element) -> str:
    """The exact text sent (and signed): declaration + compact XML, UTF-8."""
    return XML_DECLARATION + ET.tostring(root, encoding="unicode")


def sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    """Append ``<tag>text</tag>``; ``None`` text leaves the element empty."""
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def text_of(element: ET.Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


class QimenFailure(PermanentError):
    """The WMS answered ``<flag>failure</flag>``; ``code`` and ``partner_message`` say why."""


class QimenClient:
    """Calls one WMS through Qimen (or directly) for one configured warehouse account."""

    def __init__(
        self,
        account: str,
        url: str,
        app_key: str,
        secret: str,
        customer_id: str,
        *,
        session: str | None = None,
        partner_id: str | None = None,
        method_prefix: str = METHOD_PREFIX,
        version: str = "2.0",
        throttle: Callable[[], Awaitable[None]] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.account = account
        self.url = url
        self.app_key = app_key
        self._secret = secret
        self.customer_id = customer_id
        self.session = session
        self.partner_id = partner_id
        self.method_prefix = method_prefix
        self.version = version
        self._throttle = throttle
        self._http = http or build_http_client()

    async def aclose(self) -> None:
        await self._http.aclose()

    def signed_params(self, method: str, body: str, now: datetime | None = None) -> dict[str, str]:
        """The query string of one call: system params and ``sign``."""
        params: dict[str, str] = {
            "method": self.method_prefix + short_method(method),
            "v": self.version,
            "app_key": self.app_key,
            "timestamp": china_time(now),
            "format": "xml",
            "sign_method": "md5",
            "customerId": self.customer_id,
        }
        if self.session:
            params["session"] = self.session
        if self.partner_id:
            params["partner_id"] = self.partner_id
        params["sign"] = qimen_sign(params, body, self._secret)
        return params

    async def _post(self, method: str, body: str) -> ET.Element:
        if self._throttle is not None:
            await self._throttle()
        params = self.signed_params(method, body)
        response = await self._http.post(
            self.url, params=params, content=body.encode("utf-8"), headers={"content-type": CONTENT_TYPE}
        )
        where = f"warehouse {self.account!r}: Qimen {short_method(method)}"
        if response.status_code == 429:  # rate limited: nothing was done, the queue waits it out
            raise ThrottledError(f"{where}: HTTP 429 (rate limited); slowing down", code="http-429",
                                 retry_after=retry_after_seconds(response))
        if response.status_code >= 500:
            raise RetryableError(
                f"{where}: HTTP {response.status_code}; will retry", code=f"http-{response.status_code}"
            )
        if response.status_code >= 400:
            raise PermanentError(f"{where}: HTTP {response.status_code}", code=f"http-{response.status_code}")
        try:
            root = parse_xml(response.content, where)
        except BadInputError as exc:
            raise RetryableError(f"{where}: the answer is not XML; will retry") from exc
        if root.tag != "response":
            raise PermanentError(f"{where}: unexpected answer root <{root.tag}>")
        if text_of(root, "flag").lower() != "success":
            code, message = text_of(root, "code"), text_of(root, "message")
            raise QimenFailure(f"{where} refused: {code} {message}".rstrip(), code=code, partner_message=message)
        return root

    async def call(self, method: str, request: ET.Element) -> ET.Element:
        """Send ``request`` (root ``<request>``) as ``method``; the ``<response>`` element on
        ``flag=success``. ``QimenFailure`` on ``flag=failure``; ``RetryableError`` on HTTP 5xx,
        429 or a garbled answer (retried a few times here first).

        Transport failures are retried too, so only use this for calls that are safe to repeat:
        reads, and writes keyed by the caller's own code (a repeated create is then a duplicate
        the caller resolves by checking).
        """
        body = to_xml(request)
        return await call_with_retries(lambda: self._post(method, body))
