"""The TOP client without a network: envelopes, error classification, system params."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.errors import AuthorizationError, PermanentError, RetryableError, ThrottledError
from plugins.taobao.client import TopClient, classify_error, loads_exact, response_key, unwrap_list
from plugins.taobao.signing import sign_top


@pytest.mark.parametrize(("method", "key"), [
    ("taobao.trade.fullinfo.get", "trade_fullinfo_get_response"),
    ("taobao.skus.quantity.update", "skus_quantity_update_response"),
    ("tmall.item.quantity.update", "tmall_item_quantity_update_response"),
    ("aliexpress.solution.order.get", "aliexpress_solution_order_get_response"),
])
def test_response_key_follows_the_envelope_rule(method: str, key: str) -> None:
    assert response_key(method) == key


@pytest.mark.parametrize(("error", "expected"), [
    ({"code": 7, "msg": "App Call Limited", "sub_code": "accesscontrol.limited-by-app-access-count",
      "sub_msg": "This ban will last for 12 more seconds"}, ThrottledError),
    ({"code": 10, "msg": "Service Currently Unavailable"}, RetryableError),
    ({"code": 15, "msg": "Remote service error", "sub_code": "isp.top-remote-connection-timeout"}, RetryableError),
    ({"code": 15, "msg": "Remote service error"}, RetryableError),
    ({"code": 15, "msg": "Remote service error", "sub_code": "isv.invalid-parameter"}, PermanentError),
    ({"code": 15, "sub_code": "isv.logistics-offline-service-error:B150"}, RetryableError),
    ({"code": 25, "msg": "Invalid signature"}, PermanentError),
    ({"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"}, AuthorizationError),
    ({"code": 29, "msg": "Invalid app Key"}, PermanentError),
    ({"code": 31, "msg": "Invalid timestamp"}, PermanentError),
    ({"code": 40, "msg": "Missing required arguments"}, PermanentError),
    ({"code": 50, "msg": "Business error"}, PermanentError),
])
def test_errors_are_classified_per_the_hub_policy(error: dict, expected: type) -> None:
    exc = classify_error(error, label="tb-flagship", method="taobao.trade.fullinfo.get")
    assert type(exc) is expected


def test_throttle_waits_the_ban_plus_one_second() -> None:
    exc = classify_error({"code": 7, "msg": "App Call Limited", "sub_msg": "This ban will last for 12 more seconds"})
    assert isinstance(exc, ThrottledError) and exc.retry_after == 13


def test_invalid_session_tells_to_reauthorise_the_named_shop() -> None:
    exc = classify_error({"code": 27, "msg": "Invalid session"}, label="tb-flagship")
    assert str(exc) == "shop 'tb-flagship': session invalid (TOP code 27); re-authorise the shop"


def _client() -> TopClient:
    return TopClient("http://gw/router/rest", "12345678", "helloworld", "sess", label="tb")


def test_error_response_on_http_200_raises() -> None:
    body = json.dumps({"error_response": {"code": 25, "msg": "Invalid signature"}}).encode()
    with pytest.raises(PermanentError, match="TOP code 25"):
        _client().parse_response("taobao.trade.fullinfo.get", 200, body)


def test_success_envelope_returns_the_inner_object_with_exact_big_ids() -> None:
    body = b'{"trade_fullinfo_get_response":{"trade":{"tid":163288460521879179},"request_id":"r1"}}'
    inner = _client().parse_response("taobao.trade.fullinfo.get", 200, body)
    assert inner["trade"]["tid"] == "163288460521879179" and inner["request_id"] == "r1"


def test_gateway_5xx_is_retryable_and_4xx_is_permanent() -> None:
    with pytest.raises(RetryableError):
        _client().parse_response("taobao.trade.fullinfo.get", 502, b"bad gateway")
    with pytest.raises(PermanentError):
        _client().parse_response("taobao.trade.fullinfo.get", 404, b"")


def test_request_params_carry_the_system_params_and_a_valid_sign() -> None:
    when = datetime(2016, 1, 1, 4, 0, tzinfo=UTC)
    form = _client().request_params("taobao.trade.fullinfo.get", {"tid": "1", "fields": "tid", "empty": ""}, now=when)
    assert form["timestamp"] == "2016-01-01 12:00:00"  # GMT+8
    assert (form["v"], form["format"], form["sign_method"], form["session"]) == ("2.0", "json", "hmac-sha256", "sess")
    assert "empty" not in form and "partner_id" not in form
    assert form["sign"] == sign_top({k: v for k, v in form.items() if k != "sign"}, "helloworld", "hmac-sha256")


def test_loads_exact_keeps_small_ints_and_stringifies_ids_beyond_2_53() -> None:
    assert loads_exact('{"a": 2, "b": 9007199254740993}') == {"a": 2, "b": "9007199254740993"}


def test_unwrap_list_reads_bare_and_wrapped_lists() -> None:
    assert unwrap_list({"order": [1, 2]}) == [1, 2]
    assert unwrap_list([3]) == [3]
    assert unwrap_list(None) == []


# -- answers as TOP really shapes them: wrapped or simplified, empty lists left out ---------------

TRADE = {"tid": 1, "orders": {"order": [{"oid": 2}]}}


@pytest.mark.parametrize(("simplify", "body", "inner"), [
    # the usual envelope, lists wrapped in singular-key objects
    (False, {"trade_fullinfo_get_response": {"trade": TRADE, "request_id": "r"}}, {"trade": TRADE, "request_id": "r"}),
    # simplify=true: no <method>_response wrapper, lists bare
    (True, {"trade": {"tid": 1, "orders": [{"oid": 2}]}, "request_id": "r"},
     {"trade": {"tid": 1, "orders": [{"oid": 2}]}, "request_id": "r"}),
    # a simplifying client still reads a wrapped answer (a gateway that ignores simplify)
    (True, {"trade_fullinfo_get_response": {"trade": TRADE}}, {"trade": TRADE}),
    # no trades in the window: TOP leaves the list out instead of sending it empty
    (False, {"trade_fullinfo_get_response": {"total_results": 0, "request_id": "r"}},
     {"total_results": 0, "request_id": "r"}),
])
def test_answers_are_read_wrapped_or_simplified(simplify: bool, body: dict, inner: dict) -> None:
    client = TopClient("http://gw", "app", "secret", "sess", simplify=simplify)
    assert client.parse_response("taobao.trade.fullinfo.get", 200, json.dumps(body).encode()) == inner


def test_an_unwrapped_answer_without_simplify_is_refused_and_errors_win_even_when_simplified() -> None:
    plain = TopClient("http://gw", "app", "secret", "sess")
    with pytest.raises(PermanentError, match="without 'trade_fullinfo_get_response'"):
        plain.parse_response("taobao.trade.fullinfo.get", 200, b'{"trade": {"tid": 1}}')
    simple = TopClient("http://gw", "app", "secret", "sess", simplify=True)
    with pytest.raises(AuthorizationError):
        simple.parse_response("taobao.trade.fullinfo.get", 200,
                              b'{"error_response": {"code": 27, "msg": "Invalid session"}}')


def test_simplify_is_sent_and_signed_only_when_asked_for() -> None:
    assert "simplify" not in TopClient("http://gw", "app", "secret").request_params("m", {})
    form = TopClient("http://gw", "app", "secret", simplify=True).request_params("m", {})
    assert form["simplify"] == "true" and form["sign"] == sign_top(
        {k: v for k, v in form.items() if k != "sign"}, "secret", "hmac-sha256")


@pytest.mark.parametrize(("value", "items"), [
    (None, []),  # left out by TOP
    ({}, []),
    ("", []),
    ([{"a": 1}], [{"a": 1}]),  # simplified: bare
    ({"trade": [{"a": 1}]}, [{"a": 1}]),  # wrapped
    ({"trade": []}, []),
])
def test_a_missing_or_empty_list_reads_as_empty(value: object, items: list) -> None:
    assert unwrap_list(value) == items
