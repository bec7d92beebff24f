"""Douyin client: signing vectors, canonical param_json, method paths, exact id parsing, the
envelope and the classification of error codes into the hub's errors."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hub.errors import AuthorizationError, PermanentError, RetryableError, ThrottledError
from plugins.douyin.client import (
    DouyinClient,
    DouyinRefusal,
    Envelope,
    TokenExpiredError,
    canonical_json,
    classify,
    loads_exact,
    method_path,
    parse_envelope,
    path_method,
    sign,
)

APP_KEY, SECRET = "1234567890123456789", "test-secret"
VECTOR_PARAM_JSON = '{"shop_order_id":"4891234567890123456"}'


def test_md5_signature_matches_derived_vector_1() -> None:
    assert sign(APP_KEY, SECRET, "order.orderDetail", VECTOR_PARAM_JSON, "1700000000", "md5") == \
        "b6be43bcf667ae5a5b121d0412ffb6ec"


def test_hmac_sha256_signature_matches_derived_vector_1() -> None:
    assert sign(APP_KEY, SECRET, "order.orderDetail", VECTOR_PARAM_JSON, "1700000000", "hmac-sha256") == \
        "08b2176e0ceeab1838c03a5f37d118567c937fc6ef9ace48aaebd7fb5716c50e"


def test_unknown_sign_method_is_refused() -> None:
    with pytest.raises(ValueError, match="sign_method"):
        sign(APP_KEY, SECRET, "order.orderDetail", "{}", "1700000000", "sha1")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"size": 10, "page": 0, "combine_status": [{"order_status": "2"}]},
         '{"combine_status":[{"order_status":"2"}],"page":0,"size":10}'),
        ({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": True},
         '{"a":true,"b":{"a":[{"x":2,"y":1}],"z":1}}'),
        ({"note": "请发顺丰 <急> & 'x'"}, '{"note":"请发顺丰 <急> & \'x\'"}'),
        ({}, "{}"),
        (None, "{}"),
        ({"shop_order_id": "4891234567890123456", "product_id": 3610000000000000001},
         '{"product_id":3610000000000000001,"shop_order_id":"4891234567890123456"}'),
    ],
)
def test_param_json_is_canonical(params: object, expected: str) -> None:
    assert canonical_json(params) == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [("order.orderDetail", "/order/orderDetail"), ("afterSale.List", "/afterSale/List"),
     ("sku.syncStockBatchMultiProducts", "/sku/syncStockBatchMultiProducts"), ("token.refresh", "/token/refresh")],
)
def test_method_and_path_map_both_ways_keeping_case(method: str, path: str) -> None:
    assert method_path(method) == path
    assert path_method(path) == method


def test_long_ids_are_parsed_as_exact_strings_and_fractions_as_decimal() -> None:
    parsed = loads_exact('{"code":10000,"id":4891234567890123457,"small":42,"ratio":0.1}')
    assert parsed == {"code": 10000, "id": "4891234567890123457", "small": 42, "ratio": Decimal("0.1")}


def test_envelope_success_is_code_10000_only() -> None:
    assert parse_envelope({"code": 10000, "msg": "success", "data": {}}).ok
    partial = parse_envelope({"code": 10001, "msg": "部分失败", "data": {"results": []}})
    assert not partial.ok and partial.partial
    assert not parse_envelope({"code": 40003, "sub_code": "isv.signature-invalid"}).ok


def test_legacy_err_no_envelope_is_understood() -> None:
    assert parse_envelope({"err_no": 0, "message": "success", "data": {"x": 1}}).ok
    assert parse_envelope({"err_no": 1, "message": "fail"}).code == 1


def test_an_answer_that_is_not_an_envelope_is_retryable() -> None:
    with pytest.raises(RetryableError):
        parse_envelope(["not", "an", "envelope"])


@pytest.mark.parametrize(
    ("code", "sub_code", "expected"),
    [
        (60000, "", ThrottledError),
        (20000, "dop.service-error", RetryableError),
        (20001, "", RetryableError),
        (40003, "isv.access-token-expired", TokenExpiredError),
        (40003, "isv.access-token-no-existed", TokenExpiredError),
        (30001, "dop.authorization-closed", AuthorizationError),
        (30001, "dop.authorization-no-existed", AuthorizationError),
        (30001, "dop.app-forbidden", AuthorizationError),
        (30002, "", AuthorizationError),
        (40003, "isv.access-token-invalid", AuthorizationError),
        (50001, "dop.token-generate-failed", AuthorizationError),
        (30001, "isv.app-permissions-insufficient", DouyinRefusal),
        (40003, "isv.signature-invalid", DouyinRefusal),
        (40003, "isv.idempotent-id-existed", DouyinRefusal),
        (40004, "isv.parameter-invalid", DouyinRefusal),
        (50002, "isv.business-failed", DouyinRefusal),
        (70000, "isp.api-service-off", DouyinRefusal),
        (90000, "", RetryableError),
    ],
)
def test_error_codes_are_classified(code: int, sub_code: str, expected: type[Exception]) -> None:
    error = classify("dy-flagship", "order.orderDetail", Envelope(code=code, msg="m", sub_code=sub_code))
    assert type(error) is expected
    assert "dy-flagship" in str(error) and "order.orderDetail" in str(error)
    assert error.code == str(code)


def test_throttling_says_how_long_to_wait() -> None:
    error = classify("s", "sku.syncStock", Envelope(code=60000), throttle_retry_after=2.5)
    assert isinstance(error, ThrottledError) and error.retry_after == 2.5


def test_lost_authorisation_tells_the_operator_what_to_do() -> None:
    error = classify("dy-flagship", "order.searchList", Envelope(code=30001, sub_code="dop.authorization-closed"))
    assert "re-authorise" in str(error) and "dy-flagship" in str(error)


def test_permanent_refusal_keeps_the_sub_code() -> None:
    error = classify("s", "sku.syncStockBatchMultiProducts", Envelope(code=40003, sub_code="isv.idempotent-id-existed"))
    assert isinstance(error, PermanentError) and isinstance(error, DouyinRefusal)
    assert error.sub_code == "isv.idempotent-id-existed"


async def test_the_body_sent_is_exactly_the_signed_param_json() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 10000, "msg": "success", "data": {"ok": True}})

    client = DouyinClient(shop="s", gateway_url="https://gw.example", app_key=APP_KEY, app_secret=SECRET,
                          access_token="at-1", sign_method="md5", clock=lambda: 1700000000.0,
                          http=httpx.AsyncClient(transport=httpx.MockTransport(answer)))
    data = await client.call("order.orderDetail", {"shop_order_id": "4891234567890123456"})
    await client.aclose()
    assert data == {"ok": True}
    request = seen[0]
    assert request.url.path == "/order/orderDetail"
    assert request.content.decode() == VECTOR_PARAM_JSON
    query = {k: v[0] for k, v in parse_qs(urlparse(str(request.url)).query).items()}
    assert query == {"app_key": APP_KEY, "method": "order.orderDetail", "v": "2", "timestamp": "1700000000",
                     "sign": "b6be43bcf667ae5a5b121d0412ffb6ec", "sign_method": "md5", "access_token": "at-1"}
    assert json.loads(request.content) == {"shop_order_id": "4891234567890123456"}


def test_token_calls_carry_no_access_token() -> None:
    client = DouyinClient(shop="s", gateway_url="https://gw.example", app_key=APP_KEY, app_secret=SECRET,
                          access_token="at-1", http=httpx.AsyncClient())
    query = client.signed_query("token.refresh", "{}", None, timestamp="1700000000")
    assert "access_token" not in query and query["sign_method"] == "hmac-sha256"


@pytest.mark.parametrize(("expires_in", "expected"), [
    (604800, 1_700_604_800.0),  # seconds from now (community SDKs, the 7-day default)
    ("604800", 1_700_604_800.0),
    (1_700_500_000, 1_700_500_000.0),  # a Unix timestamp ([U] the Go SDK's comment)
    ("soon", None),
    (None, None),
])
def test_expires_in_is_read_as_a_duration_or_a_timestamp(expires_in: object, expected: float | None) -> None:
    from plugins.douyin.client import expiry_of

    assert expiry_of(expires_in, 1_700_000_000.4) == expected
