"""Throttling over HTTP is classified as ``ThrottledError`` carrying the partner's wait, so the
queue waits it out without spending attempts: ``Retry-After`` in seconds or as a date, and the
Douyin, Qimen and Kuaidi100 clients' HTTP 429 answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from hub.errors import ThrottledError
from hub.http import DEFAULT_THROTTLE_SECONDS, retry_after_seconds
from plugins.logistics.kuaidi100.client import Kuaidi100Client

# A fixed clock: a date computed when the module is collected would age before the test runs.
NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        (None, DEFAULT_THROTTLE_SECONDS, DEFAULT_THROTTLE_SECONDS),
        ("7", 7, 7),
        ("soon", DEFAULT_THROTTLE_SECONDS, DEFAULT_THROTTLE_SECONDS),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30, 30),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0, 0),
    ],
)
def test_retry_after_is_read_in_seconds_or_as_a_date(header: str | None, low: float, high: float) -> None:
    headers = {"retry-after": header} if header is not None else {}
    assert low <= retry_after_seconds(httpx.Response(429, headers=headers), now=NOW) <= high


@respx.mock
async def test_kuaidi100_http_429_is_throttling_with_the_partners_wait() -> None:
    respx.post("https://poll.kuaidi100.com/poll/query.do").mock(
        return_value=httpx.Response(429, headers={"retry-after": "12"}))
    client = Kuaidi100Client(account="k100", customer="C", key="K")
    with pytest.raises(ThrottledError) as raised:
        await client.query({"com": "shunfeng", "num": "SF1"})
    assert raised.value.retry_after == 12 and raised.value.code == "http-429"
    await client.aclose()
