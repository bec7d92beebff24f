"""Stored codes in a reader's words: history events, causes, fulfilment and shipment states,
hold codes with the code beside them, and how long ago — falling back to the code itself for a
code the console has no words for (a plugin's), never to a catalogue key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.console.i18n import Translator

ZONE = ZoneInfo("Asia/Shanghai")


def test_codes_read_as_words_and_unknown_codes_stay_as_they_are() -> None:
    en, zh = Translator("en", ZONE), Translator("zh-CN", ZONE)
    assert en.code("event", "hold_added") == "Held" and zh.code("event", "hold_added") == "挂起"
    assert zh.code("cause", "message_channel") == "消息通道" and zh.code("fulfilment", "unfulfilled") == "未开始"
    assert zh.code("shipment", "confirmed") == "已向平台确认" and zh.code("inbox", "dead") == "已放弃"
    assert zh.code("event", "a_plugins_event") == "a_plugins_event" and zh.code("cause", None) == "-"
    assert en.hold_code("high_value") == "High value (high_value)"
    assert zh.hold_code("high_value") == "高金额（high_value）"
    assert zh.hold_code("plugin_check") == "plugin_check"


@pytest.mark.parametrize(("seconds", "english", "chinese"), [
    (0, "0 s", "0 秒"), (59, "59 s", "59 秒"), (60, "1 min", "1 分钟"), (3599, "59 min", "59 分钟"),
    (3600, "1 h", "1 小时"), (86400 * 2 + 5, "2 d", "2 天"),
])
def test_how_long_ago_in_each_language(seconds: int, english: str, chinese: str) -> None:
    now = datetime(2026, 11, 11, tzinfo=UTC)
    moment = now - timedelta(seconds=seconds)
    assert Translator("en", ZONE).ago(moment, now) == english
    assert Translator("zh-CN", ZONE).ago(moment, now) == chinese
