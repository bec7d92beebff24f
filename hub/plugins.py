"""The plugin manager: built by a factory, loading entry points of group ``connector_hub`` one by one.

A broken plugin is reported by name and skipped (or fails start-up under ``strict``); a plugin can
be disabled by name in config; ``check_pending()`` makes a misspelled hook fail loudly. The hub's
own default rules are a plugin too (``hub.builtin_rules``). Not for instantiating connectors per
account: that is ``hub.connectors``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
import structlog

from contracts import hookspecs
from contracts.connectors import Capability
from hub.errors import ConfigError

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_PLUGINS = ("hub.builtin_rules",)


@dataclass
class LoadedPlugin:
    """A plugin that loaded: where it came from and what it provides."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    hooks: list[str] = field(default_factory=list)


@dataclass
class FailedPlugin:
    name: str
    module: str
    error: str


@dataclass
class ConnectorInfo:
    kind: str  # channel | courier | warehouse
    platform: str
    cls: type[Any]
    plugin: str

    @property
    def capabilities(self) -> list[str]:
        return sorted(str(c) for c in getattr(self.cls, "capabilities", frozenset()))


class HubPlugins:
    """The loaded plugins and what they registered."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.loaded: list[LoadedPlugin] = []
        self.failed: list[FailedPlugin] = []
        self.disabled: list[str] = []
        self._connectors: dict[tuple[str, str], ConnectorInfo] | None = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def _collect(self) -> dict[tuple[str, str], ConnectorInfo]:
        found: dict[tuple[str, str], ConnectorInfo] = {}
        for kind, hook_name in (
            ("channel", "register_channels"),
            ("courier", "register_couriers"),
            ("warehouse", "register_warehouses"),
        ):
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                classes = impl.function() or []
                for cls in classes:
                    platform = getattr(cls, "platform", None)
                    if not platform:
                        raise ConfigError(f"plugin {impl.plugin_name!r} registered {cls!r} without a platform name")
                    _check_connector_class(cls, impl.plugin_name)
                    key = (kind, platform)
                    if key in found:
                        raise ConfigError(
                            f"{kind} platform {platform!r} is registered twice: by plugin "
                            f"{found[key].plugin!r} and by {impl.plugin_name!r}; disable one of them"
                        )
                    found[key] = ConnectorInfo(kind, platform, cls, impl.plugin_name)
        return found

    def connectors(self) -> dict[tuple[str, str], ConnectorInfo]:
        if self._connectors is None:
            self._connectors = self._collect()
        return self._connectors

    def channel_class(self, platform: str) -> type[Any] | None:
        info = self.connectors().get(("channel", platform))
        return info.cls if info else None

    def connector_class(self, kind: str, platform: str) -> type[Any] | None:
        info = self.connectors().get((kind, platform))
        return info.cls if info else None

    def notifier_classes(self) -> dict[str, type[Any]]:
        """Notifier classes by ``name`` from every ``register_notifiers`` implementation."""
        found: dict[str, tuple[type[Any], str]] = {}
        for impl in self.pm.hook.register_notifiers.get_hookimpls():
            classes: list[type[Any]] = list(impl.function() or [])  # type: ignore[call-overload]
            for cls in classes:
                name = getattr(cls, "name", None)
                if not name or not hasattr(getattr(cls, "Settings", None), "model_validate"):
                    raise ConfigError(
                        f"plugin {impl.plugin_name!r}: notifier {cls!r} needs a name and a Settings model")
                if name in found:
                    raise ConfigError(f"notifier {name!r} is registered twice: by plugin {found[name][1]!r} "
                                      f"and by {impl.plugin_name!r}; disable one of them")
                found[name] = (cls, impl.plugin_name)
        return {name: cls for name, (cls, _) in found.items()}

    def sandboxes(self) -> dict[str, type[Any]]:
        out: dict[str, type[Any]] = {}
        for classes in self.pm.hook.register_sandboxes():
            for cls in classes or []:
                out[cls.platform] = cls
        return out

    def describe(self) -> list[dict[str, Any]]:
        """What ``hub plugins`` and ``/api/v1/plugins`` show."""
        by_plugin: dict[str, list[ConnectorInfo]] = {}
        for info in self.connectors().values():
            by_plugin.setdefault(info.plugin, []).append(info)
        rows = []
        for p in self.loaded:
            rows.append(
                {
                    "name": p.name,
                    "module": p.module,
                    "distribution": p.distribution,
                    "version": p.version,
                    "hooks": p.hooks,
                    "connectors": [
                        {"kind": c.kind, "platform": c.platform, "capabilities": c.capabilities}
                        for c in sorted(by_plugin.get(p.name, []), key=lambda c: (c.kind, c.platform))
                    ],
                    "status": "loaded",
                }
            )
        rows += [{"name": f.name, "module": f.module, "status": "failed", "error": f.error} for f in self.failed]
        rows += [{"name": n, "status": "disabled"} for n in self.disabled]
        return rows


_REQUIRED_BY_CAPABILITY: dict[Capability, tuple[str, ...]] = {
    Capability.POLL_ORDERS: ("fetch_orders",),
    Capability.GET_ORDER: ("get_order",),
    Capability.GET_ORDERS: ("get_orders",),
    Capability.RECEIVE_PUSH: ("parse_push",),
    Capability.RECEIVE_APP_PUSH: ("parse_push", "push_app_of", "push_app", "account_id"),
    Capability.MESSAGE_CHANNEL: ("open_message_channel", "consume_messages", "confirm_messages"),
    Capability.PUSH_STOCK: ("push_stock",),
    Capability.ADJUST_STOCK: ("adjust_stock",),
    Capability.READ_STOCK: ("read_stock",),
    Capability.CONFIRM_SHIPMENT: ("confirm_shipment",),
    Capability.AFTERSALES: ("fetch_aftersales", "get_aftersale"),
    Capability.DECIDE_AFTERSALES: ("decide_aftersale", "aftersale_refuse_reasons"),
    Capability.SERVICE_ORDERS: ("fetch_service_orders", "get_service_order"),
    Capability.WRITE_SERVICE_ORDERS: ("write_service_order",),
    Capability.REVEAL_BUYER: ("reveal_address",),
    Capability.CREATE_WAYBILL: ("create_waybill", "cancel_waybill"),
    Capability.TRACK: ("track",),
    Capability.RECEIVE_TRACKING_PUSH: ("parse_tracking_push",),
    Capability.DELIVERY_ORDERS: ("create_delivery_order", "cancel_delivery_order"),
    Capability.QUERY_STOCK: ("query_stock",),
    Capability.RECEIVE_WAREHOUSE_PUSH: ("parse_warehouse_push",),
}


def _check_connector_class(cls: type[Any], plugin: str) -> None:
    """A connector must declare Settings and capabilities, and implement what they promise."""
    problems = []
    if not isinstance(getattr(cls, "capabilities", None), frozenset):
        problems.append("'capabilities' must be a frozenset of contracts.Capability")
    settings = getattr(cls, "Settings", None)
    if settings is None or not hasattr(settings, "model_validate"):
        problems.append("'Settings' must be a pydantic model class")
    for cap in getattr(cls, "capabilities", frozenset()):
        for method in _REQUIRED_BY_CAPABILITY.get(cap, ()):
            if not callable(getattr(cls, method, None)):
                problems.append(f"declares {cap.value!r} but has no {method}()")
    if problems:
        raise ConfigError(f"plugin {plugin!r}: connector {cls.__name__}: " + "; ".join(problems))


def _distribution_of(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def build_plugin_manager(
    *,
    disabled: list[str] | tuple[str, ...] = (),
    strict: bool = False,
    extra: list[ModuleType | object] | tuple[ModuleType | object, ...] = (),
    load_entry_points: bool = True,
) -> HubPlugins:
    """Build a fresh plugin manager: hookspecs, built-ins, entry points, then ``extra`` objects.

    :param disabled: plugin (entry point) names not to load.
    :param strict: raise ``ConfigError`` on the first plugin that fails to load.
    :param extra: plugin objects or modules registered after the entry points (tests, embedding).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    plugins = HubPlugins(pm)
    disabled_set = set(disabled)

    candidates: list[tuple[str, str, Any]] = [(m, m, None) for m in BUILTIN_PLUGINS]
    if load_entry_points:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        candidates += [(ep.name, ep.value, ep) for ep in sorted(eps, key=lambda e: e.name)]

    for name, module_path, ep in candidates:
        if name in disabled_set:
            plugins.disabled.append(name)
            continue
        try:
            module = ep.load() if ep is not None else importlib.import_module(module_path)
            pm.register(module, name=name)
        except Exception as exc:  # a broken plugin must not take the hub down (unless strict)
            error = f"{type(exc).__name__}: {exc}"
            plugins.failed.append(FailedPlugin(name, module_path, error))
            log.error("plugin.failed", plugin=name, module=module_path, error=error)
            if strict:
                raise ConfigError(f"plugin {name!r} ({module_path}) failed to load: {error}") from exc
            continue
        dist, version = _distribution_of(ep) if ep is not None else ("connector-hub", None)
        hooks = sorted(h.name for h in pm.get_hookcallers(module) or [])
        plugins.loaded.append(LoadedPlugin(name, module_path, dist, version, hooks))

    for obj in extra:
        pm.register(obj)
        name = pm.get_name(obj) or repr(obj)
        hooks = sorted(h.name for h in pm.get_hookcallers(obj) or [])
        plugins.loaded.append(LoadedPlugin(name, getattr(obj, "__name__", repr(obj)), None, None, hooks))

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"a plugin implements a hook that does not exist: {exc}") from exc
    # Validate registrations now so a bad connector class fails start-up, named.
    try:
        plugins.connectors()
    except ConfigError:
        if strict:
            raise
        raise
    return plugins
