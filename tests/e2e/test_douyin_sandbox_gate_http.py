"""The Douyin sandbox is as strict as the platform and no stricter: requests built the way
third-party SDKs build them (datetime or millisecond timestamps, ``\\uXXXX``-escaped or unsorted
``param_json``, no ``sign_method``) pass when correctly signed, and tokens come and go as the
platform's ``token.create`` / ``token.refresh`` say. Signatures are computed here, independently of
the plugin's signing code, and every call goes over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from plugins.douyin.sandbox import DouyinSandbox, running

SHOP = "dy-gate"
BEIJING = timezone(timedelta(hours=8))
pytestmark = pytest.mark.e2e


class Clock:
    """The platform's clock, moved on by the tests (never by waiting)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate() -> Iterator[tuple[DouyinSandbox, str, Clock]]:
    box = DouyinSandbox(auto_deliver=False, seed=3)
    clock = Clock()
    box.book.clock = clock
    with running(box) as base_url:
        yield box, base_url, clock


def signature(secret: str, app_key: str, method: str, param_json: str, timestamp: str, sign_method: str) -> str:
    text = f"{secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v2{secret}"
    if sign_method == "md5":
        return hashlib.md5(text.encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def call(box: DouyinSandbox, base_url: str, method: str, body: str, *, timestamp: str, token: str | None = None,
         signed: str | None = None, sign_method: str | None = "hmac-sha256") -> dict[str, Any]:
    """POST ``body`` as sent; ``signed`` is the param_json the signature covers (default: ``body``)."""
    query = {"app_key": box.app_key, "method": method, "v": "2", "timestamp": timestamp,
             "sign": signature(box.app_secret, box.app_key, method, body if signed is None else signed, timestamp,
                               sign_method or "md5")}
    if sign_method is not None:
        query["sign_method"] = sign_method
    if token is not None:
        query["access_token"] = token
    path = "/" + method.replace(".", "/")
    answer = httpx.post(base_url + path, params=query, content=body.encode("utf-8"),
                        headers={"content-type": "application/json"})
    assert answer.status_code == 200
    return dict(answer.json())


def seconds(clock: Clock, shift: float = 0) -> str:
    return str(int(clock.now + shift))


def beijing(clock: Clock, shift: float = 0) -> str:
    return datetime.fromtimestamp(clock.now + shift, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


TIMESTAMPS = [
    # (case, how the timestamp is written, expected sub_code; "" = accepted)
    ("unix seconds (Go and Python SDKs)", lambda c: seconds(c), ""),
    ("unix milliseconds (Java SDK)", lambda c: str(int(c.now * 1000)), ""),
    ("yyyy-MM-dd HH:mm:ss, Beijing time", lambda c: beijing(c), ""),
    ("datetime five minutes behind", lambda c: beijing(c, -300), ""),
    ("seconds eleven minutes old", lambda c: seconds(c, -660), "isv.timestamp-invalid"),
    ("datetime an hour old", lambda c: beijing(c, -3600), "isv.timestamp-invalid"),
    ("datetime written in UTC", lambda c: datetime.fromtimestamp(c.now, UTC).strftime("%Y-%m-%d %H:%M:%S"),
     "isv.timestamp-invalid"),
    ("slashes instead of dashes", lambda c: beijing(c).replace("-", "/"), "isv.timestamp-format-error"),
    ("ISO 8601 with a T", lambda c: beijing(c).replace(" ", "T"), "isv.timestamp-format-error"),
    ("not a date", lambda c: "yesterday", "isv.timestamp-format-error"),
    ("empty", lambda c: "", "isv.timestamp-format-error"),
]


@pytest.mark.parametrize(("case", "write", "refused"), TIMESTAMPS, ids=[t[0] for t in TIMESTAMPS])
def test_timestamp_forms(gate: tuple[DouyinSandbox, str, Clock], case: str, write: Any, refused: str) -> None:
    box, base_url, clock = gate
    order_id = box.create_order(SHOP, "TEE", 1)
    answer = call(box, base_url, "order.orderDetail", json.dumps({"shop_order_id": order_id}),
                  timestamp=write(clock), token=box.grant(SHOP).access_token)
    if refused:
        assert (answer["code"], answer["sub_code"]) == (40003, refused)
    else:
        assert answer["code"] == 10000, answer
        assert answer["data"]["shop_order_detail"]["order_id"] == order_id


def _ship_params(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "company_code": "shunfeng", "company": "顺丰速运", "logistics_code": "SF1001"}


PARAM_JSON = [
    # (case, body as sent, param_json the signature covers (None = the body), sign_method, accepted)
    ("canonical, UTF-8 unescaped",
     lambda p: json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False), None, "hmac-sha256", True),
    ("\\uXXXX escapes (json.dumps default)",
     lambda p: json.dumps(p, sort_keys=True, separators=(",", ":")), None, "hmac-sha256", True),
    ("an escaped ASCII letter too",
     lambda p: json.dumps(p, sort_keys=True, separators=(",", ":")).replace("SF1001", "\\u0053F1001"), None,
     "hmac-sha256", True),
    ("spaces after separators", lambda p: json.dumps(p, sort_keys=True), None, "hmac-sha256", True),
    ("keys unsorted, signed as sent", lambda p: json.dumps(dict(reversed(list(p.items()))), ensure_ascii=False),
     None, "hmac-sha256", True),
    ("no sign_method, md5 signature", lambda p: json.dumps(p, sort_keys=True), None, None, True),
    ("unsorted body signed in sorted form (Java SDK) [U]",
     lambda p: json.dumps(dict(reversed(list(p.items()))), separators=(",", ":"), ensure_ascii=False),
     lambda p: json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False), "hmac-sha256", True),
    ("signature over other content",
     lambda p: json.dumps(p, sort_keys=True), lambda p: json.dumps({**p, "logistics_code": "SF9999"}, sort_keys=True),
     "hmac-sha256", False),
    ("escaped body signed over its unescaped bytes with spaces",
     lambda p: json.dumps(p, sort_keys=True), lambda p: json.dumps(p, sort_keys=True, ensure_ascii=False),
     "hmac-sha256", False),
]


@pytest.mark.parametrize(("case", "body", "signed", "sign_method", "accepted"), PARAM_JSON,
                         ids=[t[0] for t in PARAM_JSON])
def test_param_json_is_verified_as_sent_then_parsed(gate: tuple[DouyinSandbox, str, Clock], case: str, body: Any,
                                                   signed: Any, sign_method: str | None, accepted: bool) -> None:
    box, base_url, clock = gate
    order_id = box.create_order(SHOP, "TEE", 1)
    params = _ship_params(order_id)
    answer = call(box, base_url, "order.logisticsAdd", body(params), timestamp=seconds(clock),
                  token=box.grant(SHOP).access_token, signed=signed(params) if signed else None,
                  sign_method=sign_method)
    order = box.book.order(SHOP, order_id)
    if accepted:
        assert answer["code"] == 10000, answer
        assert order.status == "3" and [entry["tracking_no"] for entry in order.logistics] == ["SF1001"]
    else:
        assert (answer["code"], answer["sub_code"]) == (40003, "isv.signature-invalid")
        assert order.status == "2"


def test_hmac_signature_without_sign_method_is_refused(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    body = json.dumps({"shop_order_id": box.create_order(SHOP, "TEE", 1)})
    query = {"app_key": box.app_key, "method": "order.orderDetail", "v": "2", "timestamp": seconds(clock),
             "access_token": box.grant(SHOP).access_token}
    query["sign"] = signature(box.app_secret, box.app_key, "order.orderDetail", body, query["timestamp"],
                              "hmac-sha256")
    answer = httpx.post(base_url + "/order/orderDetail", params=query, content=body.encode()).json()
    assert answer["sub_code"] == "isv.signature-invalid"  # absent sign_method means md5


# --------------------------------------------------------------------------- tokens


def token_call(box: DouyinSandbox, base_url: str, clock: Clock, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return call(box, base_url, method, json.dumps(params, sort_keys=True, separators=(",", ":")),
                timestamp=seconds(clock))


def order_detail(box: DouyinSandbox, base_url: str, clock: Clock, token: str | None) -> dict[str, Any]:
    order_id = box.create_order(SHOP, "TEE", 1)
    return call(box, base_url, "order.orderDetail", json.dumps({"shop_order_id": order_id}),
                timestamp=seconds(clock), token=token)


def test_an_authorisation_code_buys_one_token_pair(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    code = box.authorization_code(SHOP)
    created = token_call(box, base_url, clock, "token.create", {"code": code, "grant_type": "authorization_code"})
    assert created["code"] == 10000, created
    data = created["data"]
    assert set(data) >= {"access_token", "expires_in", "refresh_token", "scope", "shop_id", "shop_name",
                         "authority_id"}
    assert data["expires_in"] == 7 * 86_400 and data["shop_id"] == box.book.shop(SHOP).shop_id
    assert order_detail(box, base_url, clock, data["access_token"])["code"] == 10000
    again = token_call(box, base_url, clock, "token.create", {"code": code, "grant_type": "authorization_code"})
    assert (again["code"], again["sub_code"], again["sub_msg"]) == (50001, "dop.token-generate-failed", "code-invalid")


def test_an_authorisation_code_lives_ten_minutes(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    code = box.authorization_code(SHOP)
    clock.now += 601
    late = token_call(box, base_url, clock, "token.create", {"code": code, "grant_type": "authorization_code"})
    assert (late["code"], late["sub_msg"]) == (50001, "code-expired")


def test_a_self_use_app_gets_a_token_for_its_shop_id(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    shop_id = str(box.book.shop(SHOP).shop_id)
    created = token_call(box, base_url, clock, "token.create",
                         {"code": "", "grant_type": "authorization_self", "shop_id": shop_id})
    assert created["code"] == 10000 and str(created["data"]["shop_id"]) == shop_id
    unknown = token_call(box, base_url, clock, "token.create",
                         {"code": "", "grant_type": "authorization_self", "shop_id": "999"})
    assert (unknown["code"], unknown["sub_code"]) == (30001, "dop.authorization-no-existed")
    bad_grant = token_call(box, base_url, clock, "token.create", {"code": "", "grant_type": "password"})
    assert bad_grant["code"] == 40004


def test_access_tokens_expire_after_seven_days_with_the_platform_codes(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    token = box.grant(SHOP).access_token
    clock.now += 7 * 86_400 - 1
    assert order_detail(box, base_url, clock, token)["code"] == 10000
    clock.now += 1
    expired = order_detail(box, base_url, clock, token)
    unknown = order_detail(box, base_url, clock, "sbx-at-never-issued")
    missing = order_detail(box, base_url, clock, None)
    assert (expired["code"], expired["sub_code"]) == (40003, "isv.access-token-expired")
    assert (unknown["code"], unknown["sub_code"]) == (40003, "isv.access-token-no-existed")
    assert (missing["code"], missing["sub_code"]) == (40001, "isv.access-token-missing")


def test_refresh_keeps_rotates_or_replaces_the_pair_as_the_platform_says(
        gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    first = box.grant(SHOP)
    refresh = {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    early = token_call(box, base_url, clock, "token.refresh", refresh)["data"]
    assert (early["access_token"], early["refresh_token"]) == (first.access_token, first.refresh_token)

    clock.now += 7 * 86_400 - 1800  # the access token's last half hour
    rotated = token_call(box, base_url, clock, "token.refresh", refresh)["data"]
    assert rotated["access_token"] != first.access_token and rotated["expires_in"] == 7 * 86_400
    assert order_detail(box, base_url, clock, first.access_token)["code"] == 10000  # an hour of overlap
    assert order_detail(box, base_url, clock, rotated["access_token"])["code"] == 10000
    clock.now += 3600
    assert order_detail(box, base_url, clock, first.access_token)["sub_code"] == "isv.access-token-expired"

    clock.now += 7 * 86_400  # the rotated access token is dead, its refresh token alive
    replaced = token_call(box, base_url, clock, "token.refresh",
                          {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]})["data"]
    assert order_detail(box, base_url, clock, replaced["access_token"])["code"] == 10000
    stale = token_call(box, base_url, clock, "token.refresh",
                       {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]})
    assert (stale["code"], stale["sub_msg"]) == (50001, "token-expired")


def test_a_refresh_token_dies_after_fourteen_days(gate: tuple[DouyinSandbox, str, Clock]) -> None:
    box, base_url, clock = gate
    grant = box.grant(SHOP)
    clock.now += 14 * 86_400
    dead = token_call(box, base_url, clock, "token.refresh",
                      {"grant_type": "refresh_token", "refresh_token": grant.refresh_token})
    unknown = token_call(box, base_url, clock, "token.refresh",
                         {"grant_type": "refresh_token", "refresh_token": "sbx-rt-never-issued"})
    assert (dead["code"], dead["sub_code"], dead["sub_msg"]) == (50001, "dop.token-generate-failed", "token-expired")
    assert (unknown["code"], unknown["sub_msg"]) == (50001, "token-invalid")
