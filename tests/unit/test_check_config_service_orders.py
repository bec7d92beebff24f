"""``hub check-config`` on the ``[service_orders]`` section: a rule naming a shop that is not
configured is named with its field (a misspelt shop would leave the real one's orders without
their installation orders); a bad type or SLA hours out of order are refused by the file's own
validation, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.config_checks import config_problems
from hub.errors import ConfigError
from hub.plugins import build_plugin_manager

SHOP = """
[shops.dy-main]
platform = "manual_channel_for_test"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)  # load_config exports it; monkeypatch restores it


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return {k: v for k, v in config_problems(load_config(path), build_plugin_manager())
            if k.startswith("service_orders.")}


def test_a_rule_for_an_unknown_shop_is_named_and_one_for_a_configured_shop_passes(tmp_path: Path) -> None:
    problems = _problems(tmp_path, SHOP + """
[[service_orders.rules]]
shops = ["dy-main"]
skus = ["AC-*"]

[[service_orders.rules]]
shops = ["dy-mian"]
skus = ["AC-*"]
""")
    assert list(problems) == ["service_orders.rules.1.shops"]
    assert "no [shops.dy-mian]" in problems["service_orders.rules.1.shops"]


@pytest.mark.parametrize(("section", "field"), [
    ('[service_orders.service_codes]\n"X1" = "plumbing"', "service_orders.service_codes.X1"),
    ("[service_orders.sla.installation]\ncontact_hours = 50\non_site_hours = 48", "service_orders.sla.installation"),
])
def test_a_bad_value_is_refused_naming_the_field(tmp_path: Path, section: str, field: str) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(SHOP + section + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert [where for where, _ in refused.value.problems] == [field]
