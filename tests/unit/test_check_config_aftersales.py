"""``hub check-config`` on the ``[aftersales]`` section: a return address for a shop that is not
configured is named with its field (a misspelt shop would leave the real one without an address,
and agreeing to its returns would be refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.config_checks import config_problems
from hub.plugins import build_plugin_manager

SHOP = """
[shops.tb-main]
platform = "manual_channel_for_test"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)  # load_config exports it; monkeypatch restores it


def _aftersales(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return {k: v for k, v in config_problems(load_config(path), build_plugin_manager())
            if k.startswith("aftersales.")}


def test_a_return_address_for_an_unknown_shop_is_named(tmp_path: Path) -> None:
    problems = _aftersales(tmp_path, SHOP + """
[aftersales.return_addresses.tb-mian]
address_id = "1"
[aftersales.return_addresses.tb-main]
address_id = "2"
""")
    assert list(problems) == ["aftersales.return_addresses.tb-mian"]
    assert "no [shops.tb-mian]" in problems["aftersales.return_addresses.tb-mian"]
    assert "tb-main" in problems["aftersales.return_addresses.tb-mian"]


def test_return_addresses_of_configured_shops_pass(tmp_path: Path) -> None:
    assert _aftersales(tmp_path, SHOP + """
[aftersales.return_addresses.tb-main]
address_id = "2"
""") == {}
