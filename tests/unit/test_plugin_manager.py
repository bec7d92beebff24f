"""The plugin manager: built-ins load, a broken plugin is named and skipped (or fatal under
strict), a disabled plugin is not loaded, a misspelled hook fails loudly, and connector classes
that promise capabilities they lack are refused at start-up."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from contracts import Capability
from contracts.fulfilment import Hold
from hub.errors import ConfigError
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.testing.factories import make_order


class _Settings(BaseModel):
    app_key: str


class GoodChannel:
    platform: ClassVar[str] = "fakeshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def get_order(self, external_id: str) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class LiarChannel(GoodChannel):
    platform: ClassVar[str] = "liar"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PUSH_STOCK})


class FakeCourier(GoodChannel):
    platform: ClassVar[str] = "fakecourier"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class FakeWarehouse(GoodChannel):
    platform: ClassVar[str] = "fakewms"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class FakeSandbox:
    platform = "fakeshop"


class GoodPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [GoodChannel]

    @hookimpl
    def register_couriers(self) -> list[type[Any]]:
        return [FakeCourier]

    @hookimpl
    def register_warehouses(self) -> list[type[Any]]:
        return [FakeWarehouse]

    @hookimpl
    def register_sandboxes(self) -> list[type[Any]]:
        return [FakeSandbox]


def test_registered_connectors_and_sandboxes_are_listed_with_capabilities() -> None:
    plugins = build_plugin_manager(extra=[GoodPlugin()], load_entry_points=False)
    assert plugins.channel_class("fakeshop") is GoodChannel
    assert plugins.connector_class("courier", "fakecourier") is FakeCourier
    assert plugins.connector_class("warehouse", "fakewms") is FakeWarehouse
    assert plugins.sandboxes() == {"fakeshop": FakeSandbox}
    described = {row["name"]: row for row in plugins.describe()}
    good = next(r for r in described.values() if any(c["platform"] == "fakeshop" for c in r.get("connectors", [])))
    assert {"kind": "channel", "platform": "fakeshop", "capabilities": ["get_order"]} in good["connectors"]


def test_connector_claiming_a_capability_it_lacks_fails_startup_naming_it() -> None:
    class Liar:
        @hookimpl
        def register_channels(self) -> list[type[Any]]:
            return [LiarChannel]

    with pytest.raises(ConfigError, match=r"LiarChannel.*push_stock"):
        build_plugin_manager(extra=[Liar()], load_entry_points=False)


def test_two_plugins_claiming_one_platform_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        build_plugin_manager(extra=[GoodPlugin(), GoodPlugin()], load_entry_points=False)


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def register_channel(self) -> list[type[Any]]:  # missing 's'
            return []

    with pytest.raises(ConfigError, match="register_channel"):
        build_plugin_manager(extra=[Typo()], load_entry_points=False)


def test_broken_entry_point_is_named_and_skipped_or_fatal_when_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    broken = md.EntryPoint(name="broken", value="no_such_module_xyz.plugin", group="connector_hub")
    monkeypatch.setattr(md, "entry_points", lambda group: [broken])
    plugins = build_plugin_manager()
    assert [f.name for f in plugins.failed] == ["broken"]
    assert "ModuleNotFoundError" in plugins.failed[0].error
    with pytest.raises(ConfigError, match="broken"):
        build_plugin_manager(strict=True)


def test_disabled_plugin_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = build_plugin_manager(disabled=["hub.builtin_rules"], load_entry_points=False)
    assert "hub.builtin_rules" in plugins.disabled
    assert plugins.hook.audit_order(order=make_order(tags=["forbid_consign"]), order_id=1, shop="s") == []


def test_builtin_audit_holds_an_order_the_channel_forbids_shipping() -> None:
    plugins = build_plugin_manager(load_entry_points=False)
    results = plugins.hook.audit_order(order=make_order(tags=["forbid_consign"]), order_id=1, shop="s")
    holds = [h for r in results for h in r]
    assert [h.code for h in holds] == ["forbid_consign"]
    assert isinstance(holds[0], Hold)
    assert plugins.hook.audit_order(order=make_order(), order_id=2, shop="s") == [[]]
