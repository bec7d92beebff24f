"""``hub check-config`` on the ``[fulfilment]`` section: courier rules (and costs) naming couriers
or warehouses that are not configured, a tracking courier that is not a configured, enabled courier
account or whose connector cannot track or take pushed scans, a tracking courier with no public
address to push to, and a warehouse whose platform has no connector; each message names the field.
Through ``config_problems`` and through the command (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config
from hub.config_checks import config_problems
from hub.plugins import build_plugin_manager

runner = CliRunner()

KUAIDI100 = """
[couriers.k100]
platform = "kuaidi100"
settings = { customer = "C", key = "K", salt = "S" }
"""
LABELS = """
[couriers.zto-label]
platform = "kuaidi100_label"
settings = { key = "K", secret = "S" }
"""
OWN = """
[warehouses.own]
platform = "manual"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)  # load_config exports it; monkeypatch restores it


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return dict(config_problems(load_config(path), build_plugin_manager()))


def _fulfilment(problems: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in problems.items() if k.startswith("fulfilment.") or k.endswith(".platform")}


def test_a_consistent_fulfilment_section_has_no_problem(tmp_path: Path) -> None:
    problems = _problems(tmp_path, KUAIDI100 + LABELS + OWN + """
[fulfilment.tracking]
courier = "k100"
callback_base_url = "https://hub.example.com"

[[fulfilment.couriers.rules]]
courier = "zto-label"
warehouses = ["own"]

[fulfilment.couriers.costs.zto-label]
first_price = 5
""")
    assert _fulfilment(problems) == {}


def test_courier_rules_naming_unknown_couriers_or_warehouses(tmp_path: Path) -> None:
    problems = _problems(tmp_path, LABELS + OWN + """
[[fulfilment.couriers.rules]]
courier = "zto-label"
warehouses = ["own", "hangzhuo"]

[[fulfilment.couriers.rules]]
courier = "sf"

[fulfilment.couriers.costs.yto]
first_price = 5
""")
    assert _fulfilment(problems) == {
        "fulfilment.couriers.rules.0.warehouses.1": "no [warehouses.hangzhuo]",
        "fulfilment.couriers.rules.1.courier": "no [couriers.sf]; configured: ['zto-label']",
        "fulfilment.couriers.costs.yto": "no [couriers.yto]",
    }


def test_a_tracking_courier_that_is_not_configured(tmp_path: Path) -> None:
    problems = _problems(tmp_path, KUAIDI100 + """
[fulfilment.tracking]
courier = "kuaidi"
callback_base_url = "https://hub.example.com"
""")
    assert _fulfilment(problems) == {"fulfilment.tracking.courier": "no [couriers.kuaidi]; configured: ['k100']"}


def test_a_disabled_tracking_courier(tmp_path: Path) -> None:
    problems = _problems(tmp_path, KUAIDI100 + """enabled = false
[fulfilment.tracking]
courier = "k100"
callback_base_url = "https://hub.example.com"
""")
    assert "is disabled" in _fulfilment(problems)["fulfilment.tracking.courier"]


def test_a_tracking_courier_whose_connector_cannot_track(tmp_path: Path) -> None:
    problems = _problems(tmp_path, LABELS + """
[fulfilment.tracking]
courier = "zto-label"
callback_base_url = "https://hub.example.com"
""")
    assert _fulfilment(problems) == {"fulfilment.tracking.courier": (
        "courier 'zto-label' (platform 'kuaidi100_label') cannot track parcels: its connector lacks "
        "TRACK, RECEIVE_TRACKING_PUSH")}


def test_a_tracking_courier_without_a_public_address(tmp_path: Path) -> None:
    problems = _problems(tmp_path, KUAIDI100 + '[fulfilment.tracking]\ncourier = "k100"\n')
    assert list(_fulfilment(problems)) == ["fulfilment.tracking.callback_base_url"]
    assert "parcels are not subscribed" in problems["fulfilment.tracking.callback_base_url"]


def test_a_warehouse_whose_platform_has_no_connector(tmp_path: Path) -> None:
    problems = _problems(tmp_path, OWN + '[warehouses.wms]\nplatform = "jingdong-wms"\n')
    assert _fulfilment(problems) == {"warehouses.wms.platform": (
        "no warehouse connector for platform 'jingdong-wms'; known: ['manual', 'qimen']")}


def test_check_config_command_names_the_fulfilment_fields(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(LABELS + OWN + """
[warehouses.wms]
platform = "jingdong-wms"

[[fulfilment.couriers.rules]]
courier = "sf"

[fulfilment.tracking]
courier = "zto-label"
""", encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 2, result.output
    for field in ("fulfilment.couriers.rules.0.courier: no [couriers.sf]",
                  "fulfilment.tracking.courier: courier 'zto-label'", "fulfilment.tracking.callback_base_url",
                  "warehouses.wms.platform: no warehouse connector"):
        assert field in result.output, field
    assert "Traceback" not in result.output


def test_a_courier_rule_naming_an_account_that_cannot_issue_waybills(tmp_path: Path) -> None:
    problems = _problems(tmp_path, KUAIDI100 + '[[fulfilment.couriers.rules]]\ncourier = "k100"\n')
    assert _fulfilment(problems) == {"fulfilment.couriers.rules.0.courier": (
        "courier 'k100' (platform 'kuaidi100') cannot issue waybills: its connector lacks CREATE_WAYBILL")}


def test_a_courier_rule_may_name_the_manual_courier_of_labels_bought_elsewhere(tmp_path: Path) -> None:
    """Its parcels wait for a number typed in; the section shown in docs/fulfilment/waybills.md."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "fulfilment" / "waybills.md").read_text(encoding="utf-8")
    section = docs.split("## Labels bought elsewhere", 1)[1]
    example = section.split("```toml", 1)[1].split("```", 1)[0]
    assert 'platform = "manual"' in example
    problems = _problems(tmp_path, OWN + example)
    assert _fulfilment(problems) == {}, problems
