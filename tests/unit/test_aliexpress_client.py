"""AliExpress client: IOP signing vectors, envelopes, error classification and the daily quota."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hub.errors import AuthorizationError, PermanentError, RetryableError, ThrottledError
from hub.testing.context import InMemoryShopState
from plugins.aliexpress.client import (
    BEIJING,
    DailyQuota,
    QuotaBanError,
    iop_sign,
    iop_string_to_sign,
    unwrap_response,
)

V3_PARAMS = {"access_token": "test", "app_key": "123456", "order_id": "1234", "sign_method": "sha256",
             "timestamp": "1517820392000"}
V5_PARAMS = {"app_key": "123456", "format": "json", "method": "aliexpress.solution.order.get",
             "param0": '{"current_page":1,"page_size":20}', "session": "test", "sign_method": "sha256",
             "simplify": False, "timestamp": "1517820392000"}


def test_v3_path_api_signature_matches_the_published_vector() -> None:
    assert iop_string_to_sign("/order/get", V3_PARAMS) == (
        "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256timestamp1517820392000")
    assert iop_sign("/order/get", V3_PARAMS, "helloworld") == (
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A")


def test_v5_dotted_method_signature_has_no_path_prefix() -> None:
    assert iop_sign("aliexpress.solution.order.get", V5_PARAMS, "helloworld") == (
        "1EF3F8BFE941696CADC36845AC47FF20250572A97A16F5C9EA5CE807EE0A65B6")
    assert not iop_string_to_sign("aliexpress.solution.order.get", V5_PARAMS).startswith("aliexpress")


def test_only_slash_apis_get_the_path_prefix() -> None:
    params = {"app_key": "1", "timestamp": "2"}
    assert iop_string_to_sign("/auth/token/refresh", params) == "/auth/token/refreshapp_key1timestamp2"
    assert iop_string_to_sign("aliexpress.x.y", params) == "app_key1timestamp2"
    assert iop_sign("/auth/token/refresh", params, "s") != iop_sign("auth.token.refresh", params, "s")


def test_sign_and_empty_params_are_left_out() -> None:
    with_noise = {**V3_PARAMS, "sign": "X", "partner_id": None, "memo": ""}
    assert iop_sign("/order/get", with_noise, "helloworld") == iop_sign("/order/get", V3_PARAMS, "helloworld")


# -- envelopes ------------------------------------------------------------------------------------

METHOD = "aliexpress.solution.order.get"


def test_wrapped_body_is_unwrapped() -> None:
    body = unwrap_response(METHOD, {"aliexpress_solution_order_get_response": {"result": {"success": True},
                                                                                "request_id": "r"}}, "t")
    assert body["result"] == {"success": True}


def test_bare_iop_body_is_accepted() -> None:
    body = unwrap_response(METHOD, {"code": "0", "result": {"success": True}, "request_id": "r"}, "t")
    assert body["result"] == {"success": True}
    assert "code" not in body


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"code": "IncompleteSignature", "type": "ISV", "message": "bad sign"}, PermanentError),
        ({"code": "InternalError", "type": "ISP", "message": "x"}, RetryableError),
        ({"code": "X", "type": "SYSTEM", "message": "x"}, RetryableError),
        ({"code": "ApiCallLimit", "type": "ISP", "message": "This ban will last for 3 more seconds"}, ThrottledError),
        ({"code": "IllegalAccessToken", "type": "ISV", "message": "expired"}, AuthorizationError),
        ({"error_response": {"code": 7, "msg": "App Call Limited", "sub_code":
                             "accesscontrol.limited-by-api-access-count"}}, ThrottledError),
        ({"error_response": {"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"}},
         AuthorizationError),
        ({"error_response": {"code": 15, "msg": "Remote service error",
                             "sub_code": "isp.top-remote-connection-timeout"}},
         RetryableError),
        ({"error_response": {"code": 10, "msg": "Service Currently Unavailable"}}, RetryableError),
        ({"error_response": {"code": 25, "msg": "Invalid Signature"}}, PermanentError),
        ({"error_response": {"code": 15, "msg": "x", "sub_code": "isv.invalid-parameter"}}, PermanentError),
        ({"error_response": {"code": "ApiCallLimit", "msg": "slow down"}}, ThrottledError),
    ],
)
def test_errors_are_classified(payload: dict, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        unwrap_response(METHOD, payload, "shop 's': AliExpress x")
    assert type(info.value) is error
    assert "shop 's'" in str(info.value)


def test_throttle_waits_the_announced_ban_plus_one_second() -> None:
    with pytest.raises(ThrottledError) as info:
        unwrap_response(METHOD, {"error_response": {"code": 7, "sub_code": "accesscontrol.limited-by-api-access-count",
                                                    "msg": "This ban will last for 12 more seconds"}}, "t")
    assert info.value.retry_after == 13


def test_platform_quota_ban_waits_until_beijing_midnight() -> None:
    now = datetime(2026, 11, 11, 23, 0, tzinfo=BEIJING)
    with pytest.raises(QuotaBanError) as info:
        unwrap_response(METHOD, {"error_response": {"code": 7, "sub_code": "accesscontrol.limited-by-app-access-count",
                                                    "msg": "App Call Limited"}}, "t", now=now)
    assert info.value.retry_after == 3600
    assert isinstance(info.value, ThrottledError)


def test_error_response_is_never_taken_for_a_body() -> None:
    with pytest.raises(PermanentError):
        unwrap_response(METHOD, {"error_response": {"code": 50, "msg": "Business Error"}}, "t")


# -- the daily quota ------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingState(InMemoryShopState):
    """The in-memory state, counting the round trips the quota makes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.writes = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)

    async def set(self, key: str, value: str) -> None:
        self.writes += 1
        await super().set(key, value)


async def _calls_allowed(quota: DailyQuota, attempts: int) -> int:
    allowed = 0
    for _ in range(attempts):
        try:
            await quota.take()
        except QuotaBanError:
            break
        allowed += 1
    return allowed


async def test_quota_stops_before_the_ban_and_resumes_after_beijing_midnight() -> None:
    clock = Clock(datetime(2026, 3, 1, 22, 0, tzinfo=BEIJING))
    state = InMemoryShopState()
    quota = DailyQuota(state, "app1", limit=10, margin=2, now=clock)
    for _ in range(8):
        await quota.take()
    with pytest.raises(QuotaBanError) as info:
        await quota.take()
    assert info.value.retry_after == pytest.approx(2 * 3600)
    assert await quota.used_today() == 8  # the refused call was not counted
    clock.now += timedelta(hours=2, seconds=1)  # 00:00:01 Beijing: a new day
    await quota.take()
    assert await _calls_allowed(quota, 20) == 7  # a fresh day's 8, one of them taken above


async def test_processes_sharing_an_app_never_make_more_calls_than_the_quota() -> None:
    clock = Clock(datetime(2026, 3, 1, 9, 0, tzinfo=BEIJING))
    state = InMemoryShopState()
    limit, margin = 5 * DailyQuota.BLOCK + 7, 3
    first, second = (DailyQuota(state, "app1", limit=limit, margin=margin, now=clock) for _ in range(2))
    made = 0
    for _ in range(limit):  # the two take turns, as two workers would
        made += await _calls_allowed(first, 3) + await _calls_allowed(second, 3)
    assert made == limit - margin


async def test_a_restart_never_lets_the_count_go_back() -> None:
    clock = Clock(datetime(2026, 3, 1, 9, 0, tzinfo=BEIJING))
    state = InMemoryShopState()
    first = DailyQuota(state, "app1", limit=50, margin=0, now=clock)
    for _ in range(4):
        await first.take()
    restarted = DailyQuota(state, "app1", limit=50, margin=0, now=clock)
    # The first process's block is still counted: at most the quota minus the 4 calls it made
    # (and minus what it had reserved and not used: the quota stops early, never late).
    assert 0 < await _calls_allowed(restarted, 100) <= 50 - 4


async def test_a_burst_of_calls_touches_the_state_once_per_block() -> None:
    clock = Clock(datetime(2026, 3, 1, 9, 0, tzinfo=BEIJING))
    for limit in (0, 10_000):  # not counting (the stored ban still looked at) and counting
        state = CountingState()
        quota = DailyQuota(state, "app1", limit=limit, margin=0, now=clock)
        await _calls_allowed(quota, 10 * DailyQuota.BLOCK)
        assert state.reads <= 2 * 10 and state.writes <= 10, (limit, state.reads, state.writes)


async def test_a_ban_recorded_by_another_process_stops_calls_within_a_block() -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=BEIJING))
    state = InMemoryShopState()
    worker, other = (DailyQuota(state, "app1", limit=0, now=clock) for _ in range(2))
    await worker.take()
    await other.record_ban()
    assert await _calls_allowed(worker, 10 * DailyQuota.BLOCK) < DailyQuota.BLOCK


async def test_beijing_day_not_utc_day_bounds_the_count() -> None:
    # 16:30 UTC is 00:30 the next day in Beijing: a new quota day although UTC has not turned.
    from datetime import UTC
    clock = Clock(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    quota = DailyQuota(InMemoryShopState(), "app1", limit=1, margin=0, now=clock)
    await quota.take()
    clock.now = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    await quota.take()


async def test_a_recorded_platform_ban_refuses_calls_until_midnight() -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=BEIJING))
    quota = DailyQuota(InMemoryShopState(), "app1", limit=0, now=clock)  # not counting, but bans still hold
    await quota.take()
    await quota.record_ban()
    with pytest.raises(QuotaBanError) as info:
        await quota.take()
    assert info.value.retry_after == pytest.approx(12 * 3600)
    clock.now += timedelta(hours=12)
    await quota.take()
