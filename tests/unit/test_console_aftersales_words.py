"""The after-sales screens' words and urgency: time left reads in whole minutes, hours and days in
both languages, overdue and due within the alert window are told apart, a finished case is due no
more, a conflict shows the platform's few telling values, and a notice only names known actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from contracts.aftersales import AfterSale, AfterSaleStatus, AfterSaleType
from contracts.money import Money
from contracts.refs import ChannelRef
from hub.console.i18n import Translator
from hub.console.routes.aftersales_decisions import _current
from hub.console.routes.aftersales_support import CaseWords

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
ALERT = timedelta(hours=12)
EN = CaseWords(Translator("en", ZoneInfo("Asia/Shanghai")))
ZH = CaseWords(Translator("zh-CN", ZoneInfo("Asia/Shanghai")))


@pytest.mark.parametrize(("left", "text", "level"), [
    (timedelta(days=2, hours=3, minutes=59), "2 d 3 h left", "later"),
    (timedelta(hours=12), "12 h 0 min left", "soon"),
    (timedelta(hours=12, minutes=1), "12 h 1 min left", "later"),
    (timedelta(seconds=20), "1 min left", "soon"),
    (timedelta(0), "overdue by 1 min", "overdue"),
    (-timedelta(hours=3, minutes=5), "overdue by 3 h 5 min", "overdue"),
])
def test_time_left_reads_in_whole_minutes_and_says_how_urgent(left: timedelta, text: str, level: str) -> None:
    due = EN.due(NOW + left, NOW, ALERT)
    assert (due.text, due.level) == (text, level)


def test_time_left_in_chinese_and_without_a_deadline() -> None:
    assert ZH.due(NOW - timedelta(days=1, hours=2), NOW, ALERT).text == "已超时 1 天 2 小时"
    assert ZH.due(NOW + timedelta(minutes=45), NOW, ALERT).text == "剩余 45 分钟"
    assert (EN.due(None, NOW, ALERT).text, EN.due(None, NOW, ALERT).level) == ("no deadline", "none")


def test_a_finished_case_is_due_no_more() -> None:
    assert EN.case_due("closed", NOW - timedelta(days=1), NOW, ALERT).level == "none"
    assert EN.case_due("requested", NOW - timedelta(days=1), NOW, ALERT).level == "overdue"


def test_codes_read_as_words_and_unknown_codes_as_themselves() -> None:
    assert (EN.status("awaiting_return"), ZH.status("awaiting_return")) == ("Awaiting return", "待买家退货")
    assert (EN.type("refund_only"), ZH.action("approve_refund"), EN.state("recorded")) == (
        "Refund only", "同意退款", "recorded in the hub only")
    assert EN.event("a_plugins_own") == "a_plugins_own" and EN.status(None) == "-"


def test_a_conflict_shows_what_the_platform_reports_now() -> None:
    case = AfterSale(ref=ChannelRef(platform="p", shop="s", external_id="1"),
                     order_ref=ChannelRef(platform="p", shop="s", external_id="T"), type=AfterSaleType.REFUND_ONLY,
                     status=AfterSaleStatus.CLOSED, raw_status="CLOSED", refund_amount=Money(amount=Decimal("9.90")),
                     created_at=NOW, updated_at=NOW, version="42")
    assert _current(case) == {"status": "closed", "raw_status": "CLOSED", "type": "refund_only",
                              "refund_amount": "9.90 CNY", "updated_at": "2026-12-05T10:00:00Z", "version": "42"}
    assert _current({"state": "gone", "nested": {"a": 1}}) == {"state": "gone"}
    assert _current(None) == {}
