"""Commands in the console's sentences (written `hub run --demo` in the catalogues) show as code,
not with their back-quotes, and nothing else in the sentence becomes markup."""

from __future__ import annotations

from hub.console.i18n import Translator
from hub.console.pages import TEMPLATES, code_spans


def test_back_quoted_commands_show_as_code_and_the_rest_is_escaped() -> None:
    assert code_spans("`hub run --demo` prints a key") == "<code>hub run --demo</code> prints a key"
    assert code_spans("<b>`x & y`</b>") == "&lt;b&gt;<code>x &amp; y</code>&lt;/b&gt;"
    assert code_spans("one ` alone") == "one ` alone", "an unpaired back-quote stays as it is"


def test_the_sign_in_hint_shows_its_commands_as_code_in_both_languages() -> None:
    from zoneinfo import ZoneInfo

    source = TEMPLATES.env.from_string('{{ t.t("login.key_hint")|code_spans }}')
    for language in ("en", "zh-CN"):
        html = source.render(t=Translator(language, ZoneInfo("Asia/Shanghai")))
        assert "<code>hub run --demo</code>" in html and "<code>hub apikey create</code>" in html
        assert "`" not in html
