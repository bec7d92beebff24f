"""Tokens of the Douyin sandbox: authorisation codes, access and refresh tokens, how they expire,
and ``token.create`` / ``token.refresh`` as the platform answers them.

Lifetimes follow the platform's documentation of ``token.create`` (doudian SDKs,
``TokenCreateData``): access token 7 days, refresh token 14 days, authorisation code 10 minutes.
Refreshing follows the same comments: more than an hour before the access token expires the
platform gives the *same* pair back with unchanged lifetimes; within that last hour it gives a new
pair and the old one stays valid for an hour; after expiry it gives a new pair and the old one is
dead. Not for checking signatures or dispatching calls (``sandbox.py``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.douyin.sandbox_shop import ApiFailure

ACCESS_TOKEN_TTL_S = 7 * 86_400
REFRESH_TOKEN_TTL_S = 14 * 86_400
#: Within this last stretch of an access token's life a refresh rotates the pair, and the old pair
#: stays valid this long afterwards.
ROTATION_WINDOW_S = 3_600
CODE_TTL_S = 600
GRANT_TYPES = ("authorization_code", "authorization_self")


@dataclass
class Grant:
    """One issued pair. ``ends_at`` is set when a newer pair replaces it."""

    shop: str
    shop_id: int
    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float
    ends_at: float | None = None

    def access_valid(self, now: float) -> bool:
        return now < self.access_expires_at and (self.ends_at is None or now < self.ends_at)

    def refresh_valid(self, now: float) -> bool:
        return now < self.refresh_expires_at and (self.ends_at is None or now < self.ends_at)


@dataclass
class AuthorizationCode:
    shop: str
    shop_id: int
    expires_at: float
    used: bool = False


def _failed(reason: str) -> ApiFailure:
    # [U] The exact sub_code form: the error tables list "dop.token-generate-failed" followed by the
    # reason (token-expired, token-invalid, code-expired, code-invalid); the reason goes in sub_msg.
    return ApiFailure(50001, "dop.token-generate-failed", "token生成失败", reason)


class TokenIssuer:
    """Every pair and code the sandbox app issued, for all its shops. Thread-safe."""

    def __init__(self, clock: Callable[[], float], lock: threading.RLock, *,
                 access_ttl_s: float = ACCESS_TOKEN_TTL_S, refresh_ttl_s: float = REFRESH_TOKEN_TTL_S) -> None:
        self.clock = clock
        self.lock = lock
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.current: dict[str, Grant] = {}  # by shop name
        self._by_access: dict[str, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}
        self._codes: dict[str, AuthorizationCode] = {}

    # -- issuing ---------------------------------------------------------------------------------

    def issue(self, shop: str, shop_id: int, *, old_pair_lasts_s: float = 0.0) -> Grant:
        """A new pair for ``shop``; the previous one dies after ``old_pair_lasts_s``."""
        now = self.clock()
        with self.lock:
            previous = self.current.get(shop)
            if previous is not None:
                previous.ends_at = now + old_pair_lasts_s
            grant = Grant(shop, shop_id, "sbx-at-" + secrets.token_hex(12), "sbx-rt-" + secrets.token_hex(12),
                          now + self.access_ttl_s, now + self.refresh_ttl_s)
            self.current[shop] = grant
            self._by_access[grant.access_token] = grant
            self._by_refresh[grant.refresh_token] = grant
            return grant

    def issue_code(self, shop: str, shop_id: int) -> str:
        """A one-time authorisation code, as the merchant's consent page hands one to the app."""
        code = "sbx-code-" + secrets.token_hex(8)
        with self.lock:
            self._codes[code] = AuthorizationCode(shop, shop_id, self.clock() + CODE_TTL_S)
        return code

    def expire(self, shop: str) -> None:
        """The shop's current access token expires now (its refresh token still works)."""
        with self.lock:
            grant = self.current.get(shop)
            if grant is not None:
                grant.access_expires_at = min(grant.access_expires_at, self.clock())

    # -- checking --------------------------------------------------------------------------------

    def holder(self, access_token: str) -> tuple[str | None, bool]:
        """(shop, valid) for an access token; (None, False) when it was never issued."""
        with self.lock:
            grant = self._by_access.get(access_token)
            if grant is None:
                return None, False
            return grant.shop, grant.access_valid(self.clock())

    def refresh_holder(self, refresh_token: str) -> str | None:
        with self.lock:
            grant = self._by_refresh.get(refresh_token)
            return None if grant is None else grant.shop

    # -- the two gateway methods -----------------------------------------------------------------

    def answer(self, grant: Grant) -> dict[str, Any]:
        """``data`` of token.create / token.refresh. ``expires_in`` is sent as seconds left ([U]: the
        Go SDK comments call it a Unix timestamp, other SDKs add it to the current time)."""
        return {"access_token": grant.access_token, "expires_in": max(0, int(grant.access_expires_at - self.clock())),
                "refresh_token": grant.refresh_token, "scope": "SCOPE", "shop_id": grant.shop_id,
                "shop_name": grant.shop, "authority_id": str(grant.shop_id), "auth_subject_type": ""}

    def create(self, params: dict[str, Any], shops_by_id: dict[int, tuple[str, bool]]) -> dict[str, Any]:
        """``token.create``: ``grant_type`` authorization_code (``code``) or authorization_self
        (``shop_id``). ``shops_by_id`` maps a shop id to (name, authorisation closed)."""
        grant_type = params.get("grant_type")
        if grant_type not in GRANT_TYPES:
            raise ApiFailure(40004, "isv.parameter-invalid", "grant_type不合法",
                             "grant_type must be authorization_code or authorization_self")
        if "code" not in params:
            # [U] The SDK marks code as always sent ("" for self-use apps).
            raise ApiFailure(40001, "isv.missing-parameter", "缺少参数", "code is required")
        with self.lock:
            if grant_type == "authorization_code":
                shop, shop_id = self._redeem(str(params.get("code") or ""))
            else:
                given = str(params.get("shop_id") or "")
                shop_id = int(given) if given.isascii() and given.isdigit() else 0
                found = shops_by_id.get(shop_id)
                if found is None:
                    # [U] The platform's answer for a shop that never authorised this self-use app.
                    raise ApiFailure(30001, "dop.authorization-no-existed", "店铺未授权", f"shop_id {shop_id}")
                shop, closed = found
                if closed:
                    raise ApiFailure(30001, "dop.authorization-closed", "店铺授权已关闭")
            return self.answer(self.issue(shop, shop_id))

    def _redeem(self, code: str) -> tuple[str, int]:
        found = self._codes.get(code)
        if found is None or found.used:
            raise _failed("code-invalid")
        if self.clock() >= found.expires_at:
            raise _failed("code-expired")
        found.used = True
        return found.shop, found.shop_id

    def refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        """``token.refresh`` (``grant_type=refresh_token``), with the platform's rotation rules."""
        if params.get("grant_type") != "refresh_token":
            raise ApiFailure(40004, "isv.parameter-invalid", "grant_type不合法", "grant_type must be refresh_token")
        now = self.clock()
        with self.lock:
            grant = self._by_refresh.get(str(params.get("refresh_token") or ""))
            if grant is None:
                raise _failed("token-invalid")
            if not grant.refresh_valid(now):
                raise _failed("token-expired")
            current = self.current[grant.shop]
            if current is not grant:
                return self.answer(current)  # [U] an old pair still in its hour: the current pair
            if now < grant.access_expires_at - ROTATION_WINDOW_S:
                return self.answer(grant)  # early: the same pair, lifetimes unchanged
            lasts = ROTATION_WINDOW_S if now < grant.access_expires_at else 0.0
            return self.answer(self.issue(grant.shop, grant.shop_id, old_pair_lasts_s=lasts))
