"""TOP signing against the published vectors (V1, V2) and the derived self-checks (V4, V6) of
docs/platforms/taobao-tmall.md §9."""

from __future__ import annotations

import pytest

from plugins.taobao.signing import sign_top, string_to_sign

V1_PARAMS = {
    "app_key": "12345678", "format": "json", "logisitics_no": "ES2019COM0000123456",
    "method": "aliexpress.solution.order.fulfill", "out_ref": "1000006270175804",
    "partner_id": "top-sdk-php-20180326", "send_type": "all", "service_name": "SPAIN_LOCAL_CORREOS",
    "session": "test", "sign_method": "md5", "timestamp": "2016-01-01 12:00:00", "v": "2.0",
}


@pytest.mark.parametrize(("sign_method", "expected"), [
    ("md5", "4BC79C5FAA1B5E254E95A97E65BACEAB"),  # V1
    ("hmac", "497FA7FCAD98F4F335EFAE2451F8291D"),  # V2
    ("hmac-sha256", "22D625E52540C00712FF1236A9BB1D9551C6A99C0F955F1FEF30CAA900880F03"),  # V4
])
def test_top_vectors_sign_as_published(sign_method: str, expected: str) -> None:
    assert sign_top({**V1_PARAMS, "sign_method": sign_method}, "helloworld") == expected


def test_sign_and_file_params_do_not_change_the_signature() -> None:
    params = {**V1_PARAMS, "sign": "WHATEVER", "image": b"\x89PNG", "empty": ""}
    assert sign_top(params, "helloworld") == "4BC79C5FAA1B5E254E95A97E65BACEAB"


def test_tmc_connect_sign_matches_v6() -> None:
    params = {"app_key": "12345678", "group_name": "default", "timestamp": "1451620800000"}
    assert sign_top(params, "helloworld", "md5") == "2E03D1348D7B65A366F8DB4BD1435983"


def test_string_to_sign_sorts_by_bytes_without_separators() -> None:
    assert string_to_sign({"foo": 1, "bar": 2, "foo_bar": 3, "foobar": 4}) == "bar2foo1foo_bar3foobar4"
