"""``hub check-config`` on the ``[notifications]`` section: what would otherwise show only when a
delivery fails is named with its field — a channel whose kind no installed plugin registers, the
settings its notifier refuses (SMTP host, webhook URL and secret, robot key), a credential whose
variable is not set, a misspelt setting, a rule for a shop not configured — and a rule or the daily
summary naming a channel that is not configured is refused when the file loads, each one named.
A secret's value is never printed. Through ``config_problems`` and through the command (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config
from hub.config_checks import config_problems
from hub.errors import ConfigError
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager

runner = CliRunner()

GOOD = """
[shops.tb]
platform = "taobao"
enabled = false   # (its own settings are not what these tests are about)

[notifications.channels.erp-hook]
kind = "webhook"
settings = { url = "https://erp.example.com/hub-events" }
credentials = { secret = "ERP_HOOK_SECRET" }

[notifications.channels.mail]
kind = "email"
settings = { host = "smtp.example.com", sender = "hub@example.com", recipients = ["ops@example.com"] }

[notifications.channels.cs]
kind = "wecom"
credentials = { key = "WECOM_CS_KEY" }

[[notifications.rules]]
event = "order_held"
channels = ["erp-hook", "cs"]
shops = ["tb"]

[notifications.daily_summary]
channels = ["mail"]
"""
ENV = {"ERP_HOOK_SECRET": "s3cret-value-of-the-hook", "WECOM_CS_KEY": "wecom-key-value"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_CONFIG", raising=False)  # load_config exports it; monkeypatch restores it


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None,
              extra: tuple[object, ...] = ()) -> dict[str, str]:
    config = load_config(_write(tmp_path, text))
    plugins = build_plugin_manager(extra=extra)
    return {k: v for k, v in config_problems(config, plugins, ENV if environ is None else environ)
            if k.startswith("notifications.")}


def test_configured_channels_and_rules_have_no_problem(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD) == {}


def test_a_channel_whose_kind_no_plugin_registers_is_named(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD + '[notifications.channels.pager]\nkind = "pagerduty"\n')
    assert problems == {"notifications.channels.pager.kind": (
        "no installed plugin registers a notifier 'pagerduty' (register_notifiers); "
        "known: ['dingtalk', 'email', 'webhook', 'wecom']")}


def test_settings_the_notifiers_need_but_lack_are_named(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """
[notifications.channels.mail]
kind = "email"
settings = { sender = "hub@example.com", recipients = [] }

[notifications.channels.hook]
kind = "webhook"
settings = { url = "erp.example.com/hub-events" }

[notifications.channels.robot]
kind = "dingtalk"
settings = { acess_token = "a-token" }
""", environ={})
    assert problems == {
        "notifications.channels.mail.settings.host": "Field required",
        "notifications.channels.mail.settings.recipients": "List should have at least 1 item after validation, not 0",
        "notifications.channels.hook.settings.url": "String should match pattern '^https?://'",
        "notifications.channels.hook.settings.secret": "Field required",
        "notifications.channels.robot.settings.acess_token": (
            "unknown setting for notifier 'dingtalk'; did you mean 'access_token'?"),
        "notifications.channels.robot.settings.access_token": "Field required",
    }


def test_an_unset_credential_variable_is_named_and_a_secret_value_is_never_shown(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD, environ={"ERP_HOOK_SECRET": "short"})
    assert problems == {
        "notifications.channels.erp-hook.credentials.secret": "String should have at least 8 characters",
        "notifications.channels.cs.credentials.key": "environment variable WECOM_CS_KEY is not set",
    }
    assert not any("short" in text for text in problems.values())


def test_a_disabled_channel_is_not_checked(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD + '[notifications.channels.old]\nkind = "fax"\nenabled = false\n') == {}


def test_a_rule_for_a_shop_that_is_not_configured_is_named(tmp_path: Path) -> None:
    problems = _problems(tmp_path, GOOD.replace('shops = ["tb"]', 'shops = ["tb", "tmall"]'))
    assert problems == {"notifications.rules.0.shops.1": (
        "no [shops.tmall]: this rule would never notify about it; configured shops: ['tb']")}


class PagerSettings(BaseModel):
    service_key: str


class PagerNotifier:
    name: ClassVar[str] = "pager"
    Settings: ClassVar[type[BaseModel]] = PagerSettings


class PagerPlugin:
    @hookimpl
    def register_notifiers(self) -> list[type[Any]]:
        return [PagerNotifier]


def test_a_plugins_notifier_is_checked_against_its_own_settings(tmp_path: Path) -> None:
    text = GOOD + '[notifications.channels.pager]\nkind = "pager"\ncredentials = { service_key = "PAGER_KEY" }\n'
    assert _problems(tmp_path, text, extra=(PagerPlugin(),)) == {
        "notifications.channels.pager.credentials.service_key": "environment variable PAGER_KEY is not set"}
    assert _problems(tmp_path, text, {**ENV, "PAGER_KEY": "k"}, extra=(PagerPlugin(),)) == {}


def test_rules_and_the_summary_naming_unknown_channels_are_each_refused_at_load(tmp_path: Path) -> None:
    text = GOOD.replace('channels = ["erp-hook", "cs"]', 'channels = ["erp-hook", "pager"]').replace(
        'channels = ["mail"]', 'channels = ["mial"]')
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, text))
    known = "known: ['cs', 'erp-hook', 'mail']"
    assert raised.value.problems == [
        ("notifications.rules.0.channels.1", f"no channel 'pager' in [notifications.channels]; {known}"),
        ("notifications.daily_summary.channels.0", f"no channel 'mial' in [notifications.channels]; {known}"),
    ]


def test_the_command_names_each_notification_field_and_no_secret(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_HOOK_SECRET", "tiny-pw")
    monkeypatch.delenv("WECOM_CS_KEY", raising=False)
    path = _write(tmp_path, GOOD.replace('host = "smtp.example.com", ', "")
                  + '[notifications.channels.pager]\nkind = "pagerduty"\n')
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 2, result.output
    for line in ("notifications.channels.erp-hook.credentials.secret: String should have at least 8 characters",
                 "notifications.channels.cs.credentials.key: environment variable WECOM_CS_KEY is not set",
                 "notifications.channels.mail.settings.host: Field required",
                 "notifications.channels.pager.kind: no installed plugin registers a notifier 'pagerduty'"):
        assert line in result.output
    assert "tiny-pw" not in result.output

    monkeypatch.setenv("ERP_HOOK_SECRET", ENV["ERP_HOOK_SECRET"])
    monkeypatch.setenv("WECOM_CS_KEY", ENV["WECOM_CS_KEY"])
    result = runner.invoke(app, ["check-config", str(_write(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output
