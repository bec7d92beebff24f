"""The fulfilment configuration the documentation shows is valid: every TOML example of
docs/fulfilment/README.md, and the commented ``[fulfilment]`` example of examples/hub.toml once
uncommented, load and pass ``config_problems`` (what ``hub check-config`` runs: connector settings,
courier rules, tracking) with their credential variables set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import HubConfig, load_config
from hub.config_checks import config_problems
from hub.plugins import build_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "docs" / "fulfilment" / "README.md"
EXAMPLE = ROOT / "examples" / "hub.toml"
BEGIN, END = "# --- fulfilment example begins ---", "# --- fulfilment example ends ---"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)  # load_config exports it; monkeypatch restores it


def _problems(config: HubConfig) -> list[tuple[str, str]]:
    variables = {var: "set" for section in (config.shops, config.warehouses, config.couriers)
                 for account in section.values() for var in account.credentials.values()}
    return config_problems(config, build_plugin_manager(), variables)


def _load(tmp_path: Path, text: str) -> HubConfig:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _readme_examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("index", range(2))
def test_each_readme_example_is_a_valid_configuration(tmp_path: Path, index: int) -> None:
    examples = _readme_examples()
    assert len(examples) == 2
    config = _load(tmp_path, examples[index])
    assert config.fulfilment.tracking.courier == "k100" and config.fulfilment.couriers.rules
    assert _problems(config) == []


def test_the_commented_fulfilment_example_of_examples_hub_toml_is_valid(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN + "\n")
    block, after = rest.split(END + "\n")
    assert all(line == "#" or line.startswith("# ") for line in block.splitlines())
    uncommented = "\n".join(line[2:] for line in block.splitlines())
    config = _load(tmp_path, before + uncommented + "\n" + after)
    assert config.fulfilment.review.amount_above == 5000 and config.fulfilment.tracking.courier == "kuaidi100"
    assert config.warehouses["main"].address["city"] == "杭州市"
    assert _problems(config) == []
    assert _load(tmp_path, text).fulfilment.tracking.courier is None  # as shipped: commented out
