"""The console's words and formats: both catalogues say the same things (same keys, same
placeholders), the browser's language is honoured unless the reader chose one, and money, numbers
and times read as a merchant in Shanghai expects."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.console.i18n import EN, ZH, Translator, negotiate

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "console" / "templates"


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert set(EN) == set(ZH)
    for key in EN:
        assert set(re.findall(r"{(\w+)}", EN[key])) == set(re.findall(r"{(\w+)}", ZH[key])), key


def test_every_key_a_template_uses_is_in_the_catalogue() -> None:
    used = {key for path in TEMPLATES.rglob("*.html")
            for key in re.findall(r"""t\.t\(\s*["']([\w.]+)["']""", path.read_text(encoding="utf-8"))}
    assert used and used <= set(EN), sorted(used - set(EN))


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    (None, "zh-TW", "zh-CN"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "en;q=0.5, zh;q=0.9", "zh-CN"),
    (None, "fr-FR", "en"),
    (None, None, "en"),
    ("en", "zh-CN", "en"),  # the reader's choice beats the browser
    ("zh-CN", "en-US", "zh-CN"),
    ("klingon", "zh-CN", "zh-CN"),  # an unknown cookie is ignored
])
def test_language_comes_from_the_choice_then_the_browser(cookie: str | None, header: str | None,
                                                         expected: str) -> None:
    assert negotiate(cookie, header) == expected


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    (Decimal("1234567.5"), "CNY", "¥1,234,567.50"),
    (Decimal("0"), "CNY", "¥0.00"),
    (Decimal("19.9"), "USD", "US$19.90"),
    (Decimal("5"), "RUB", "RUB 5.00"),
])
def test_money_has_its_currency_and_thousands_separators(amount: Decimal, currency: str, expected: str) -> None:
    assert Translator("en", ZoneInfo("Asia/Shanghai")).money(amount, currency) == expected


def test_times_are_in_the_merchants_zone_and_numbers_are_grouped() -> None:
    t = Translator("zh-CN", ZoneInfo("Asia/Shanghai"))
    assert t.time(datetime(2026, 11, 10, 16, 30, tzinfo=UTC)) == "2026-11-11 00:30"  # Double 11 in Shanghai
    assert t.number(1234567) == "1,234,567"
    assert t.status("paid") == "已付款" and t.t("order.title", id=7) == "订单 7"
