"""Kuaidi100: signatures (derived vector 3), state and courier tables, callback verification and
the classification of Kuaidi100's failures (against the sandbox app, in process)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import httpx
import pytest

from contracts import TrackingState
from hub.errors import AuthorizationError, BadInputError, PermanentError, RetryableError, SignatureError
from hub.testing.context import make_context
from plugins.logistics.kuaidi100.client import Kuaidi100Client, callback_sign, param_text, query_sign
from plugins.logistics.kuaidi100.connector import Kuaidi100Courier
from plugins.logistics.kuaidi100.mapping import (
    CHINA_TZ,
    DEFAULT_COURIER_CODES,
    STATES,
    UNCONFIRMED_COMPANY_CODES,
    company_code,
    courier_table,
    hub_courier_code,
    tracking_events,
    tracking_state,
)
from plugins.logistics.kuaidi100.push import TRACKING_PUSH_REPLY, TRACKING_PUSH_REPLY_BODY
from plugins.logistics.sandbox import Kuaidi100Sandbox

VECTOR_PARAM = '{"com":"yuantong","num":"YT0000000000000"}'


def test_query_sign_matches_derived_vector_3() -> None:
    assert query_sign(VECTOR_PARAM, "testkey", "TESTCUSTOMER") == "98EDFC6C0349B3BC68A8A896AC95942E"


def test_callback_sign_matches_derived_vector_3() -> None:
    assert callback_sign(VECTOR_PARAM, "salt123") == "D3CDCD03C3B1EA612209DE145A0834C4"


def test_param_is_sent_as_the_compact_json_the_vector_signs() -> None:
    assert param_text({"com": "yuantong", "num": "YT0000000000000"}) == VECTOR_PARAM


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", TrackingState.IN_TRANSIT),
        ("1", TrackingState.COLLECTED),
        ("2", TrackingState.EXCEPTION),
        ("3", TrackingState.DELIVERED),
        ("4", TrackingState.RETURNED),
        ("5", TrackingState.OUT_FOR_DELIVERY),
        ("6", TrackingState.RETURNED),
        ("7", TrackingState.IN_TRANSIT),
        ("8", TrackingState.IN_TRANSIT),  # undefined in the source: fallback, raw kept
        ("9", TrackingState.IN_TRANSIT),  # undefined in the source: fallback, raw kept
        ("10", TrackingState.IN_TRANSIT),
        ("11", TrackingState.IN_TRANSIT),
        ("12", TrackingState.IN_TRANSIT),
        ("13", TrackingState.EXCEPTION),
        ("14", TrackingState.EXCEPTION),
    ],
)
def test_every_kuaidi100_state_maps_to_a_canonical_state(raw: str, expected: TrackingState) -> None:
    assert tracking_state(raw) is expected
    assert tracking_state(int(raw)) is expected


def test_state_table_covers_every_documented_state() -> None:
    assert set(STATES) == {str(n) for n in range(15)} - {"8", "9"}


@pytest.mark.parametrize(
    ("hub", "company"),
    [
        ("SF", "shunfeng"), ("ZTO", "zhongtong"), ("YTO", "yuantong"), ("STO", "shentong"), ("YUNDA", "yunda"),
        ("EMS", "ems"), ("JD", "jd"), ("ZJS", "zhaijisong"), ("HTKY", "huitongkuaidi"), ("DBL", "debangkuaidi"),
        ("JTSD", "jtexpress"), ("POSTB", "youzhengguonei"),
    ],
)
def test_hub_courier_codes_translate_both_ways(hub: str, company: str) -> None:
    table = courier_table()
    assert company_code(hub, table) == company
    assert company_code(hub.lower(), table) == company
    assert hub_courier_code(company, table) == hub.lower()  # hub codes come back canonical


def test_unconfirmed_company_codes_are_flagged_and_overridable() -> None:
    assert UNCONFIRMED_COMPANY_CODES <= set(DEFAULT_COURIER_CODES.values())
    table = courier_table({"POSTB": "youzhengbk"})
    assert company_code("POSTB", table) == "youzhengbk"
    assert company_code("SF", table) == "shunfeng"


def test_unknown_company_is_kept_verbatim_not_guessed() -> None:
    assert hub_courier_code("kfw", courier_table()) == "kfw"
    assert company_code("NOPE", courier_table()) is None


def test_events_are_oldest_first_in_china_time_and_newest_carries_waybill_state() -> None:
    result = {
        "nu": "YT1", "state": "5",
        "data": [
            {"time": "2026-11-12 08:00:00", "ftime": "2026-11-12 08:00:00", "context": "派件中"},
            {"time": "2026-11-11 09:00:00", "ftime": "2026-11-11 09:00:00", "context": "已揽收", "status": "揽收"},
            {"time": "2026-11-11 20:00:00", "ftime": "2026-11-11 20:00:00", "context": "运输中"},
        ],
    }
    events = tracking_events(result, "YTO")
    assert [e.description for e in events] == ["已揽收", "运输中", "派件中"]
    assert [e.state for e in events] == [
        TrackingState.COLLECTED, TrackingState.IN_TRANSIT, TrackingState.OUT_FOR_DELIVERY,
    ]
    assert events[0].occurred_at == datetime(2026, 11, 11, 9, 0, tzinfo=CHINA_TZ)
    assert events[0].occurred_at.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert events[1].raw_state is None and events[2].raw_state == "5"


def test_push_reply_is_the_exact_body_kuaidi100_requires() -> None:
    assert TRACKING_PUSH_REPLY == {"result": True, "returnCode": "200", "message": "成功"}
    assert TRACKING_PUSH_REPLY_BODY.decode("utf-8") == '{"result": true, "returnCode": "200", "message": "成功"}'


# ---------------------------------------------------------------- callbacks


def _courier(salt: str | None = "salt123") -> Kuaidi100Courier:
    settings = {"customer": "TESTCUSTOMER", "key": "testkey"}
    if salt is not None:
        settings["salt"] = salt
    return Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", settings))


def _callback(param: str, sign: str | None) -> bytes:
    form = {"param": param}
    if sign is not None:
        form["sign"] = sign
    return urlencode(form).encode("utf-8")


CALLBACK_PARAM = param_text(
    {
        "status": "polling", "message": "", "autoCheck": "0", "comOld": "", "comNew": "",
        "lastResult": {
            "message": "ok", "state": "3", "status": "200", "condition": "F00", "ischeck": "1",
            "com": "zhongtong", "nu": "78000000000000000001",
            "data": [
                {"time": "2026-11-13 10:00:00", "ftime": "2026-11-13 10:00:00", "context": "已签收"},
                {"time": "2026-11-12 10:00:00", "ftime": "2026-11-12 10:00:00", "context": "已揽收", "status": "揽收"},
            ],
        },
    }
)


async def test_signed_callback_parses_into_events_with_hub_courier_code() -> None:
    courier = _courier()
    events = courier.parse_tracking_push({}, _callback(CALLBACK_PARAM, callback_sign(CALLBACK_PARAM, "salt123")))
    assert [(e.state, e.courier_code, e.tracking_number) for e in events] == [
        (TrackingState.COLLECTED, "zto", "78000000000000000001"),
        (TrackingState.DELIVERED, "zto", "78000000000000000001"),
    ]
    await courier.aclose()


async def test_callback_with_wrong_sign_is_rejected() -> None:
    courier = _courier()
    with pytest.raises(SignatureError):
        courier.parse_tracking_push({}, _callback(CALLBACK_PARAM, callback_sign(CALLBACK_PARAM, "other-salt")))
    with pytest.raises(SignatureError):
        courier.parse_tracking_push({}, _callback(CALLBACK_PARAM, None))
    await courier.aclose()


async def test_callback_param_tampered_after_signing_is_rejected() -> None:
    courier = _courier()
    tampered = CALLBACK_PARAM.replace('"state":"3"', '"state":"0"')
    with pytest.raises(SignatureError):
        courier.parse_tracking_push({}, _callback(tampered, callback_sign(CALLBACK_PARAM, "salt123")))
    await courier.aclose()


async def test_callback_without_param_is_bad_input() -> None:
    courier = _courier()
    with pytest.raises(BadInputError):
        courier.parse_tracking_push({}, b"sign=ABC")
    await courier.aclose()


async def test_abort_callback_asks_for_resubscription() -> None:
    courier = _courier(salt=None)
    param = CALLBACK_PARAM.replace('"status":"polling"', '"status":"abort"')
    push = courier.parse_tracking_callback({}, _callback(param, None))
    assert push.needs_resubscribe
    assert push.tracking_number == "78000000000000000001"
    await courier.aclose()


# ---------------------------------------------------------------- error classification (sandbox, in process)


@pytest.fixture
def sandbox() -> Kuaidi100Sandbox:
    return Kuaidi100Sandbox(customer="TESTCUSTOMER", key="testkey")


def _client(sandbox: Kuaidi100Sandbox, key: str = "testkey") -> Kuaidi100Client:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://kuaidi100.test")
    return Kuaidi100Client("k100", "TESTCUSTOMER", key, http=http)


async def test_unknown_waybill_is_no_result_not_an_error(sandbox: Kuaidi100Sandbox) -> None:
    client = _client(sandbox)
    assert await client.query({"com": "yuantong", "num": "YT404"}) is None
    await client.aclose()


async def test_busy_is_retried_inline_then_answers(sandbox: Kuaidi100Sandbox) -> None:
    sandbox.advance("yuantong", "YT1")
    sandbox.inject_fault("busy")
    client = _client(sandbox)
    result = await client.query({"com": "yuantong", "num": "YT1"})
    assert result is not None and result["state"] == "1"
    assert sandbox.calls == ["query", "query"]
    await client.aclose()


@pytest.mark.parametrize(("fault", "error"), [("busy", RetryableError), ("server_error", RetryableError)])
async def test_persistent_busy_or_server_error_is_retryable(
    sandbox: Kuaidi100Sandbox, fault: str, error: type[Exception]
) -> None:
    sandbox.advance("yuantong", "YT1")
    sandbox.inject_fault(fault, count=5)
    client = _client(sandbox)
    with pytest.raises(error):
        await client.query({"com": "yuantong", "num": "YT1"})
    await client.aclose()


async def test_expired_key_asks_for_reauthorisation(sandbox: Kuaidi100Sandbox) -> None:
    sandbox.inject_fault("key_expired")
    client = _client(sandbox)
    with pytest.raises(AuthorizationError) as info:
        await client.query({"com": "yuantong", "num": "YT1"})
    assert info.value.code == "601"
    await client.aclose()


async def test_wrong_key_is_a_permanent_bad_signature(sandbox: Kuaidi100Sandbox) -> None:
    client = _client(sandbox, key="not-the-key")
    with pytest.raises(PermanentError) as info:
        await client.query({"com": "yuantong", "num": "YT1"})
    assert info.value.code == "503" and not isinstance(info.value, RetryableError)
    await client.aclose()


async def test_resubscribing_is_success(sandbox: Kuaidi100Sandbox) -> None:
    client = _client(sandbox)
    param = {"company": "yuantong", "number": "YT1", "parameters": {"callbackurl": "http://hub.test/cb"}}
    assert await client.subscribe(param) is True
    assert await client.subscribe(param) is False
    assert list(sandbox.subscriptions) == [("yuantong", "YT1")]
    await client.aclose()


async def test_subscribing_with_a_wrong_key_is_an_authorisation_error(sandbox: Kuaidi100Sandbox) -> None:
    client = _client(sandbox, key="not-the-key")
    with pytest.raises(AuthorizationError):
        await client.subscribe({"company": "yuantong", "number": "YT1", "parameters": {"callbackurl": "http://x/"}})
    await client.aclose()


async def test_track_without_a_courier_code_says_what_to_configure() -> None:
    courier = _courier()
    with pytest.raises(BadInputError, match="default_courier"):
        await courier.track("YT1")
    await courier.aclose()
