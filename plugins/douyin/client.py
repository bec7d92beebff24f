"""The Douyin shop (抖店) open-platform HTTP client: canonical ``param_json``, signing, the
``code``/``sub_code`` envelope, error classification into ``hub.errors`` and token refresh.

No business logic: callers pass a method name (``order.orderDetail``) and a params dict and get the
envelope's ``data`` back. Facts: §1 of ``docs/platforms/douyin.md``, from the official doudian SDKs
(Go mirror ``zsmhub/doudian-sdk`` core/doudian_op_api_client.go, utils/sign_util.go, api/token_create;
Python; Java) and the platform's published error tables.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx
import structlog
from pydantic import SecretStr

from contracts.connectors import ConnectorContext, ShopState
from hub.plugin_api import (
    AuthorizationError,
    BadInputError,
    HubError,
    PermanentError,
    RetryableError,
    ThrottledError,
    build_http_client,
    call_with_retries,
    hmac_hex,
    md5_hex,
    retry_after_seconds,
)

log = structlog.get_logger(__name__)

DEFAULT_GATEWAY = "https://openapi-fxg.jinritemai.com"
#: ⚠️ [MB] only; not used by default.
SANDBOX_GATEWAY = "https://openapi-sandbox.jinritemai.com"
API_VERSION = "2"
SUCCESS = 10000
PARTIAL_FAILURE = 10001
SignMethod = Literal["md5", "hmac-sha256"]
#: Methods called without an access token (§1 "Tokens").
TOKEN_METHODS = frozenset({"token.create", "token.refresh"})
#: The two sub codes the official "light" helpers answer with a refresh and one retry (§1).
TOKEN_EXPIRED_SUB_CODES = frozenset({"isv.access-token-expired", "isv.access-token-no-existed"})
IDEMPOTENT_ID_EXISTED = "isv.idempotent-id-existed"
#: Keys in the shop's persistent state (``ConnectorContext.state``).
STATE_ACCESS_TOKEN = "access_token"
STATE_REFRESH_TOKEN = "refresh_token"
STATE_TOKEN_EXPIRES_AT = "access_token_expires_at"


# --------------------------------------------------------------------------- wire format (pure)


def canonical_json(params: Any) -> str:
    """``param_json`` as signed *and* sent: keys sorted at every level (objects inside arrays too),
    compact separators, UTF-8 unescaped, HTML characters not escaped, ``{}`` when empty.
    Python's encoder never escapes ``<>&'``, unlike Gson (§1 caveat)."""
    return json.dumps(params if params else {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _int_or_id(text: str) -> int | str:
    # Douyin ids are 19 digits (order, product, sku, shop ids sent as JSON numbers in places): keep
    # anything longer than 15 digits as its exact text so it can never pass through a float later.
    return text if len(text.lstrip("-")) > 15 else int(text)


def loads_exact(raw: bytes | str) -> Any:
    """Parse Douyin JSON: long integers stay strings, fractions are ``Decimal`` (never float)."""
    return json.loads(raw, parse_int=_int_or_id, parse_float=Decimal)


def method_path(method: str) -> str:
    """``order.orderDetail`` → ``/order/orderDetail`` (case kept; §1 ``urlPathToMethod``)."""
    return "/" + method.strip("/").replace(".", "/")


def path_method(path: str) -> str:
    """``/afterSale/List`` → ``afterSale.List``."""
    return path.strip("/").replace("/", ".")


def string_to_sign(app_key: str, secret: str, method: str, param_json: str, timestamp: str) -> str:
    """``secret + app_key… + method… + param_json… + timestamp… + v2 + secret`` (§1 ✅)."""
    return (
        f"{secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{API_VERSION}{secret}"
    )


def sign(app_key: str, secret: str, method: str, param_json: str, timestamp: str,
         sign_method: str = "md5") -> str:
    """Lowercase hex MD5, or HMAC-SHA256 keyed with the secret, over the secret-wrapped string."""
    text = string_to_sign(app_key, secret, method, param_json, timestamp)
    if sign_method == "md5":
        return md5_hex(text)
    if sign_method == "hmac-sha256":
        return hmac_hex(secret, text, "sha256")
    raise ValueError(f"unknown Douyin sign_method {sign_method!r}; expected md5 or hmac-sha256")


# --------------------------------------------------------------------------- errors


class DouyinRefusal(PermanentError):
    """Douyin refused the call for good (a 4xxxx/5xxxx code); ``sub_code`` says why."""

    def __init__(self, message: str, *, code: str, sub_code: str, partner_message: str | None = None) -> None:
        super().__init__(message, code=code, partner_message=partner_message)
        self.sub_code = sub_code


class TokenExpiredError(AuthorizationError):
    """The access token expired or is unknown: refresh it and retry once (handled in the client)."""


@dataclass(frozen=True)
class Envelope:
    """A decoded answer: ``code == 10000`` is success, ``10001`` a partial failure."""

    code: int
    msg: str = ""
    sub_code: str = ""
    sub_msg: str = ""
    log_id: str = ""
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS

    @property
    def partial(self) -> bool:
        return self.code == PARTIAL_FAILURE


def parse_envelope(payload: Any) -> Envelope:
    """The current ``code``/``sub_code`` envelope, or the legacy ``err_no``/``message`` one (§1)."""
    if not isinstance(payload, dict):
        raise RetryableError("Douyin answered with something that is not an envelope object; will retry")
    if "code" in payload:
        code = int(payload.get("code") or 0)
    elif "err_no" in payload:  # legacy envelope: err_no 0 is success
        code = SUCCESS if int(payload.get("err_no") or 0) == 0 else int(payload["err_no"])
    else:
        raise RetryableError("Douyin answered without a code; will retry")
    return Envelope(
        code=code,
        msg=str(payload.get("msg") or payload.get("message") or ""),
        sub_code=str(payload.get("sub_code") or ""),
        sub_msg=str(payload.get("sub_msg") or ""),
        log_id=str(payload.get("log_id") or ""),
        data=payload.get("data"),
    )


def classify(shop: str, method: str, envelope: Envelope, *, throttle_retry_after: float = 1.0) -> HubError:
    """The hub error for a failed envelope (§1 "Codes"). Never called for 10000/10001."""
    code, sub = envelope.code, envelope.sub_code
    said = f"{envelope.msg} {sub} {envelope.sub_msg}".strip()
    where = f"shop {shop!r}: Douyin {method}"
    text_code = str(code)
    if code == 60000:
        return ThrottledError(f"{where} was rate limited (60000); slowing down", code=text_code,
                              partner_message=said, retry_after=throttle_retry_after)
    if code in (20000, 20001):
        return RetryableError(f"{where}: platform unavailable or timed out ({code} {sub}); will retry",
                              code=text_code, partner_message=said)
    if sub in TOKEN_EXPIRED_SUB_CODES:
        return TokenExpiredError(f"{where}: access token rejected ({sub})", code=text_code, partner_message=said)
    if sub.startswith("dop.authorization") or sub == "dop.app-forbidden":
        return AuthorizationError(
            f"{where}: the shop's authorisation is gone ({code} {sub}); the shop owner must re-authorise the "
            "app in the Douyin shop back office (抖店 服务市场 → 我的应用), then resume the shop",
            code=text_code, partner_message=said)
    if code == 30002:
        return AuthorizationError(
            f"{where}: this server's IP is not on the app's whitelist (30002); add it in the Douyin open "
            "platform console, then resume the shop", code=text_code, partner_message=said)
    if sub.startswith("isv.access-token") or sub.startswith("dop.token-generate-failed") or (
        code == 50001 and "token" in sub
    ):
        return AuthorizationError(
            f"{where}: token refused ({code} {sub}); re-authorise the shop to issue a new token",
            code=text_code, partner_message=said)
    if code == 90000:
        return RetryableError(f"{where}: platform error (90000 {sub}); will retry", code=text_code,
                              partner_message=said)
    if code == 30001:
        return DouyinRefusal(f"{where}: the app lacks permission ({sub}); apply for this API in the console",
                             code=text_code, sub_code=sub, partner_message=said)
    return DouyinRefusal(f"{where} refused: {code} {said}", code=text_code, sub_code=sub, partner_message=said)


# --------------------------------------------------------------------------- the client


@dataclass
class TokenPair:
    access_token: str | None
    refresh_token: str | None
    #: Unix seconds when the access token expires, when known.
    expires_at: float | None = None


def expiry_of(expires_in: Any, now: float) -> float | None:
    """Unix seconds of an answer's ``expires_in``. [U] The Go SDK comments call it a Unix timestamp;
    other SDKs (and the 7-day default) read it as seconds from now: a value past 10^9 is taken as
    a timestamp, anything smaller as a duration."""
    try:
        value = float(str(expires_in))
    except ValueError:
        return None
    return float(int(value if value >= 1e9 else now + value))  # whole seconds, as stored


@dataclass
class DouyinClient:
    """Calls the Douyin gateway for one shop. Tokens live in the shop's persistent ``state``
    (falling back to the configured ones), so a refresh by one worker is seen by the others."""

    shop: str
    gateway_url: str
    app_key: str
    app_secret: str
    access_token: str | None = None
    refresh_token: str | None = None
    sign_method: SignMethod = "hmac-sha256"
    state: ShopState | None = None
    #: ``self`` (自用型): the app takes its own token with ``authorization_self`` for ``shop_id``;
    #: ``tool`` (工具型): a person authorises the shop and hands over a code.
    app_type: Literal["tool", "self"] = "tool"
    shop_id: str | None = None
    #: Refresh this long before the access token expires. Inside the last hour the platform rotates
    #: the pair (earlier it gives the same pair back), so this must be under an hour.
    refresh_margin_s: float = 1800.0
    throttle: Callable[[], Awaitable[None]] | None = None
    throttle_retry_after: float = 1.0
    min_call_interval_s: float = 0.0
    timeout_s: float = 15.0
    http: httpx.AsyncClient | None = None
    clock: Callable[[], float] = time.time
    _tokens: TokenPair | None = field(default=None, init=False, repr=False)
    _refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _last_call: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.http is None:
            self.http = build_http_client(timeout=self.timeout_s)

    async def aclose(self) -> None:
        assert self.http is not None
        await self.http.aclose()

    # -- tokens ----------------------------------------------------------------------------------

    async def tokens(self) -> TokenPair:
        """Tokens for the next call: the stored ones (else the configured ones), refreshed first
        when the access token is about to expire, taken with ``authorization_self`` for a self-use
        app that has none. A tool app without any token needs a person: ``AuthorizationError``."""
        if self._tokens is None:
            self._tokens = await self._stored_tokens()
        pair = self._tokens
        if not pair.access_token:
            if self.app_type != "self":
                raise AuthorizationError(
                    f"shop {self.shop!r}: not authorised on Douyin yet; the shop owner authorises the app, "
                    "then run `hub shop authorize` with the code")
            await self.create_tokens("")
            assert self._tokens is not None
            return self._tokens
        if pair.expires_at is not None and self.clock() >= pair.expires_at - self.refresh_margin_s:
            return await self.refresh_tokens(pair.access_token)
        return pair

    async def _stored_tokens(self) -> TokenPair:
        access = await self.state.get(STATE_ACCESS_TOKEN) if self.state else None
        if not access:
            return TokenPair(self.access_token, self.refresh_token)
        refresh = await self.state.get(STATE_REFRESH_TOKEN) if self.state else None
        expires = await self.state.get(STATE_TOKEN_EXPIRES_AT) if self.state else None
        return TokenPair(access, refresh or self.refresh_token, float(expires) if expires else None)

    async def _store(self, data: Any, fallback_refresh: str | None = None) -> TokenPair:
        if not isinstance(data, dict) or not data.get("access_token"):
            raise AuthorizationError(f"shop {self.shop!r}: Douyin answered without an access_token")
        fresh = TokenPair(str(data["access_token"]), str(data.get("refresh_token") or fallback_refresh or "") or None,
                          expiry_of(data.get("expires_in"), self.clock()))
        if self.state is not None:
            await self.state.set(STATE_ACCESS_TOKEN, fresh.access_token or "")
            await self.state.set(STATE_REFRESH_TOKEN, fresh.refresh_token or "")
            await self.state.set(STATE_TOKEN_EXPIRES_AT, "" if fresh.expires_at is None else str(int(fresh.expires_at)))
        self._tokens = fresh
        return fresh

    async def create_tokens(self, code: str) -> dict[str, Any]:
        """``token.create`` — ``authorization_code`` with ``code`` (tool app) or
        ``authorization_self`` with ``shop_id`` (self-use app) — and store the pair. Returns the
        answer's ``data`` (``shop_id``, ``shop_name``, ``authority_id`` …) without the tokens.
        A refused code is a ``BadInputError`` that says why; nothing is stored then. Sent once:
        a code works only once, so a retry could not succeed anyway."""
        if self.app_type == "self":
            params = {"code": "", "grant_type": "authorization_self", "shop_id": self.shop_id or ""}
        else:
            if not code.strip():
                raise BadInputError(f"shop {self.shop!r}: an authorisation code is required", field="code")
            params = {"code": code.strip(), "grant_type": "authorization_code"}
        try:
            data = (await self._call_once("token.create", params, None)).data
        except (AuthorizationError, PermanentError) as exc:
            raise BadInputError(
                f"shop {self.shop!r}: Douyin refused the authorisation ({exc.code} {exc.partner_message or ''}"
                .rstrip() + "); codes work once and for 10 minutes: authorise again for a new one",
                field="code", code=exc.code) from exc
        if not isinstance(data, dict):
            raise BadInputError(f"shop {self.shop!r}: token.create answered without data")
        granted = str(data.get("shop_id") or "")
        if self.shop_id and granted and granted != self.shop_id:
            raise BadInputError(f"shop {self.shop!r}: the code authorises Douyin shop {granted} "
                                f"({data.get('shop_name') or '?'}), but this shop is configured with shop_id "
                                f"{self.shop_id}; use a code from the right shop", field="code")
        await self._store(data)
        log.info("douyin.token_created", shop=self.shop, grant=params["grant_type"])
        return {k: v for k, v in data.items() if k not in ("access_token", "refresh_token")}

    async def refresh_tokens(self, rejected_access_token: str | None) -> TokenPair:
        """``token.refresh`` once, unless another task or worker already replaced the token."""
        async with self._refresh_lock:
            current = await self._stored_tokens()
            if current.access_token != rejected_access_token:
                self._tokens = current
                return current
            if not current.refresh_token:
                raise AuthorizationError(
                    f"shop {self.shop!r}: Douyin access token expired and there is no refresh token; "
                    "re-authorise the shop (`hub shop authorize`)")
            params = {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            try:
                data = (await self._call_once("token.refresh", params, None)).data
            except (AuthorizationError, PermanentError) as exc:
                raise AuthorizationError(
                    f"shop {self.shop!r}: Douyin refused to refresh the access token ({exc.code} "
                    f"{exc.partner_message or ''}".rstrip() + "); the refresh token is expired or revoked: "
                    "re-authorise the shop (`hub shop authorize`)", code=exc.code,
                    partner_message=exc.partner_message) from exc
            fresh = await self._store(data, current.refresh_token)
            log.info("douyin.token_refreshed", shop=self.shop)
            return fresh

    # -- calls -----------------------------------------------------------------------------------

    def signed_query(self, method: str, param_json: str, access_token: str | None,
                     timestamp: str | None = None) -> dict[str, str]:
        """The query string of one call (§1): app_key, method, v, timestamp, sign, sign_method,
        access_token (absent for token.create/refresh)."""
        ts = timestamp or str(int(self.clock()))
        query = {
            "app_key": self.app_key,
            "method": method,
            "v": API_VERSION,
            "timestamp": ts,
            "sign": sign(self.app_key, self.app_secret, method, param_json, ts, self.sign_method),
            "sign_method": self.sign_method,
        }
        if access_token:
            query["access_token"] = access_token
        return query

    async def _pace(self) -> None:
        if self.throttle is not None:
            await self.throttle()
        if self.min_call_interval_s > 0:
            wait = self._last_call + self.min_call_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_call = time.monotonic()

    async def _call_once(self, method: str, params: Any, access_token: str | None) -> Envelope:
        envelope = await self._post(method, canonical_json(params), access_token)
        if envelope.ok or envelope.partial:
            return envelope
        raise classify(self.shop, method, envelope, throttle_retry_after=self.throttle_retry_after)

    async def _post(self, method: str, param_json: str, access_token: str | None) -> Envelope:
        assert self.http is not None
        await self._pace()
        query = self.signed_query(method, param_json, access_token)
        where = f"shop {self.shop!r}: Douyin {method}"
        response = await self.http.post(
            self.gateway_url.rstrip("/") + method_path(method),
            params=query,
            content=param_json.encode("utf-8"),  # exactly the string that was signed
            headers={"content-type": "application/json;charset=UTF-8", "x-open-no-old-err-code": "1"},
        )
        if response.status_code == 429:  # the gateway's own flow control: nothing was done
            raise ThrottledError(f"{where}: HTTP 429 (rate limited); slowing down", code="http-429",
                                 retry_after=retry_after_seconds(response, self.throttle_retry_after))
        if response.status_code >= 500:
            raise RetryableError(f"{where}: HTTP {response.status_code}; will retry",
                                 code=f"http-{response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"{where}: HTTP {response.status_code}", code=f"http-{response.status_code}")
        try:
            payload = loads_exact(response.content)
        except ValueError as exc:
            raise RetryableError(f"{where}: the answer is not JSON; will retry", code="bad-json") from exc
        envelope = parse_envelope(payload)
        if not envelope.ok:
            log.info("douyin.call_refused", shop=self.shop, method=method, code=envelope.code,
                     sub_code=envelope.sub_code, log_id=envelope.log_id)
        return envelope

    async def call_envelope(self, method: str, params: Any | None = None, *, retry: bool = True) -> Envelope:
        """Call ``method``; the envelope of a success or a partial failure (10001), else the
        classified error. An expired/unknown access token is refreshed and the call retried once.

        ``retry=False`` sends the call once (non-idempotent writes that the caller checks first);
        otherwise transient faults are retried a few times here (``hub.http.call_with_retries``).
        """
        params = params or {}
        access = None if method in TOKEN_METHODS else (await self.tokens()).access_token

        async def attempt(token: str | None) -> Envelope:
            if retry:
                return await call_with_retries(lambda: self._call_once(method, params, token))
            return await self._call_once(method, params, token)

        try:
            return await attempt(access)
        except TokenExpiredError:
            if access is None:
                raise
            fresh = await self.refresh_tokens(access)
        try:
            return await attempt(fresh.access_token)
        except TokenExpiredError as exc:
            raise AuthorizationError(
                f"shop {self.shop!r}: Douyin still rejects the access token after a refresh ({exc.code}); "
                "re-authorise the shop (`hub shop authorize`)", code=exc.code,
                partner_message=exc.partner_message) from exc

    async def call(self, method: str, params: Any | None = None, *, retry: bool = True) -> Any:
        """``call_envelope(...).data``."""
        return (await self.call_envelope(method, params, retry=retry)).data


class ClientSettings(Protocol):
    """What a shop's and an e-waybill account's settings both give the client: the app, the shop,
    the tokens and the pacing."""

    gateway_url: str
    app_key: str
    app_secret: SecretStr
    access_token: SecretStr | None
    refresh_token: SecretStr | None
    sign_method: SignMethod
    app_type: Literal["tool", "self"]
    shop_id: str
    token_refresh_margin_s: float
    throttle_retry_after_s: float
    min_call_interval_ms: int
    timeout_s: float


def client_for(context: ConnectorContext, settings: ClientSettings) -> DouyinClient:
    """The client of one configured connector (a shop or an e-waybill account): its tokens kept
    in the connector's own state, its calls paced by the hub's throttle for it."""
    return DouyinClient(
        shop=context.name,
        gateway_url=settings.gateway_url,
        app_key=settings.app_key,
        app_secret=settings.app_secret.get_secret_value(),
        access_token=settings.access_token.get_secret_value() if settings.access_token else None,
        refresh_token=settings.refresh_token.get_secret_value() if settings.refresh_token else None,
        sign_method=settings.sign_method,
        state=context.state,
        app_type=settings.app_type,
        shop_id=settings.shop_id,
        refresh_margin_s=settings.token_refresh_margin_s,
        throttle=context.throttle,
        throttle_retry_after=settings.throttle_retry_after_s,
        min_call_interval_s=settings.min_call_interval_ms / 1000,
        timeout_s=settings.timeout_s,
    )
