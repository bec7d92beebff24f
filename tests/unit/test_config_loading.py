"""Loading hub.toml: environment overrides win over the file, credentials are environment variable
names (never values), secrets may come from ``<VAR>_FILE``, and every bad field is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config, resolve_credentials
from hub.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hub.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_CONFIG", "HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_HUB__API_PORT"):
        monkeypatch.setenv(name, "")  # recorded, so the original environment comes back afterwards
        monkeypatch.delenv(name)


def test_the_example_parses_with_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(EXAMPLE)
    assert set(config.shops) == {"tb-flagship", "tm-official", "dy-store", "ae-global"}
    assert {s.platform for s in config.shops.values()} == {"taobao", "tmall", "douyin", "aliexpress"}
    assert {w.platform for w in config.warehouses.values()} == {"manual", "qimen"}
    assert config.couriers["kuaidi100"].platform == "kuaidi100"
    stock = config.shops["tb-flagship"].stock
    assert stock.safety_stock == 2 and stock.products["TEE"].cap == 50 and stock.skus["TEE-RED-M"].fixed == 10
    assert config.stock_groups["limited-edition"].mode.value == "partitioned"
    assert config.rules.high_value_hold_amount == 5000


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://hub@db/hub")
    monkeypatch.setenv("HUB_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("HUB_HUB__API_PORT", "9100")
    config = load_config(EXAMPLE)
    assert config.database_url == "postgresql://hub@db/hub" and config.redis_url == "redis://cache:6379/0"
    assert config.hub.api_port == 9100
    assert config.hub.public_url == "https://hub.example.com", "fields not overridden keep the file's value"


def test_a_secret_value_in_credentials_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text('[shops.tb]\nplatform = "taobao"\ncredentials = { app_secret = "abc123supersecret" }\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem[0] == "shops.tb.credentials"
    assert "environment variable" in problem[1] and "abc123supersecret" not in problem[1]


def test_credentials_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    secret_file = tmp_path / "session"
    secret_file.write_text("session-from-file\n")
    values, problems = resolve_credentials(
        config.shops["ae-global"], "shops.ae-global",
        {"AE_APP_SECRET": "from-env", "AE_SESSION_FILE": str(secret_file)},
    )
    assert problems == []
    assert values["app_secret"] == "from-env" and values["session"] == "session-from-file"
    assert values["app_key"] == "34567890", "plain settings are kept beside the credentials"


def test_a_misspelt_key_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\napi_prot = 9000\n[shopz.tb]\nplatform = "taobao"\n'
                    '[shops.tb]\nplatform = "taobao"\n[shops.tb.stock]\nshare_percnt = 50\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = dict(caught.value.problems)
    assert "did you mean 'api_port'?" in problems["hub.api_prot"]
    assert "did you mean 'shops'?" in problems["shopz"]
    assert "did you mean 'share_percent'?" in problems["shops.tb.stock.share_percnt"]


def test_an_unknown_connector_setting_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    from hub.config import validate_accounts
    from hub.plugins import build_plugin_manager

    path = tmp_path / "hub.toml"
    path.write_text('[shops.tb]\nplatform = "taobao"\n[shops.tb.settings]\napp_key = "1"\nsesion = "x"\n'
                    'app_secret = "y"\n[warehouses.main.settings]\ndescription = "shelf"\n')
    problems = validate_accounts(load_config(path), build_plugin_manager())
    found = dict(problems)
    assert "did you mean 'session'?" in found["shops.tb.settings.sesion"]
    assert not any(where.startswith("warehouses.") for where, _ in problems)  # a known setting passes


def test_credentials_come_from_the_secrets_file_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "hub.secrets").write_text("# demo credentials\nTB_SECRET=from-file\n")
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nsecrets_file = "hub.secrets"\n[shops.tb]\nplatform = "taobao"\n'
                    '[shops.tb.credentials]\napp_secret = "TB_SECRET"\n')
    config = load_config(path)
    values, problems = resolve_credentials(config.shops["tb"], "shops.tb", {}, config.secrets)
    assert values["app_secret"] == "from-file" and problems == []
    values, _ = resolve_credentials(config.shops["tb"], "shops.tb", {"TB_SECRET": "from-env"}, config.secrets)
    assert values["app_secret"] == "from-env"  # the environment wins
