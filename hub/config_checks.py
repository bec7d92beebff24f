"""What ``hub check-config`` reports beyond the file's own validation: every account against its
connector (``hub.config.validate_accounts``), the ``[fulfilment]`` section against the accounts it
names (``fulfilment_problems``), ``[aftersales]`` against the shops (``aftersales_problems``),
``[service_orders]`` against the shops (``service_orders_problems``) and ``[notifications]``
against the installed notifiers and the shops (``notification_problems``).
Kept out of ``hub.config`` because the fulfilment checks use the fulfilment services
(``courier_rules.rule_problems``), which themselves need the config: no import cycle. Not for
loading the file (``hub.config.load_config``).
"""

from __future__ import annotations

from typing import Any

from contracts.connectors import Capability, declared
from hub.config import HubConfig, settings_problems, validate_accounts
from hub.services.fulfilment.courier_rules import rule_problems


def config_problems(config: HubConfig, plugins: Any, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(field, problem) for the accounts, ``[fulfilment]``, ``[aftersales]``, ``[service_orders]``
    and ``[notifications]``, in that order."""
    return (validate_accounts(config, plugins, environ) + fulfilment_problems(config, plugins)
            + aftersales_problems(config) + service_orders_problems(config)
            + notification_problems(config, plugins, environ))


def notification_problems(config: HubConfig, plugins: Any,
                          environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """``[notifications]`` problems that would otherwise show only when a delivery fails: an enabled
    channel whose ``kind`` no installed plugin registers (``register_notifiers``), or whose settings
    and credentials its notifier's ``Settings`` refuses (a missing SMTP host, webhook URL or robot
    key, an unset variable, an unknown key), and a rule naming a shop not configured. A rule naming
    a channel not configured is refused when the file loads (``unknown_channel_problems``). Disabled
    channels are skipped, as disabled accounts are. Never a secret's value."""
    problems: list[tuple[str, str]] = []
    notifiers = plugins.notifier_classes()
    for name, channel in sorted(config.notifications.channels.items()):
        prefix = f"notifications.channels.{name}"
        if not channel.enabled:
            continue
        cls = notifiers.get(channel.kind)
        if cls is None:
            problems.append((f"{prefix}.kind", f"no installed plugin registers a notifier {channel.kind!r} "
                                               f"(register_notifiers); known: {sorted(notifiers)}"))
            continue
        problems += settings_problems(cls.Settings, channel, prefix, f"notifier {channel.kind!r}",
                                      environ, config.secrets)
    problems += [(f"notifications.rules.{i}.shops.{j}",
                  f"no [shops.{shop}]: this rule would never notify about it; configured shops: {sorted(config.shops)}")
                 for i, rule in enumerate(config.notifications.rules) for j, shop in enumerate(rule.shops)
                 if shop not in config.shops]
    return problems


def aftersales_problems(config: HubConfig) -> list[tuple[str, str]]:
    """``[aftersales]`` naming what is not there: a return address for a shop not configured (a
    misspelt shop name would leave the real shop without one: agreeing to its returns is refused)."""
    return [(f"aftersales.return_addresses.{shop}",
             f"no [shops.{shop}]: this return address would never be used; configured shops: {sorted(config.shops)}")
            for shop in config.aftersales.return_addresses if shop not in config.shops]


def service_orders_problems(config: HubConfig) -> list[tuple[str, str]]:
    """``[[service_orders.rules]]`` naming what is not there: a shop not configured (a misspelt name
    would leave the real shop's orders without their installation orders, silently)."""
    return [(f"service_orders.rules.{i}.shops",
             f"no [shops.{shop}]: this rule would never create a service order for it; configured shops: "
             f"{sorted(config.shops)}")
            for i, rule in enumerate(config.service_orders.rules) for shop in rule.shops if shop not in config.shops]


def fulfilment_problems(config: HubConfig, plugins: Any) -> list[tuple[str, str]]:
    """``[fulfilment]`` naming what is not there: courier rules (and their costs) naming couriers or
    warehouses not configured, or a courier whose connector cannot issue waybills (``CREATE_WAYBILL``;
    the ``manual`` courier of labels bought elsewhere is meant for that and not reported),
    and a tracking courier that is no enabled courier account or whose
    connector cannot track (``TRACK``) or take pushed scans (``RECEIVE_TRACKING_PUSH``). A warehouse
    whose platform has no connector is reported with the accounts above (``warehouses.<name>.platform``)."""
    problems = rule_problems(config)
    for i, rule in enumerate(config.fulfilment.couriers.rules):
        rule_account = config.couriers.get(rule.courier)
        if rule_account is None:
            continue  # named by rule_problems
        cls = plugins.connector_class("courier", rule_account.platform)
        by_hand = bool(getattr(cls, "waybills_entered_by_hand", False))  # labels bought elsewhere
        if cls is not None and not declared(cls, Capability.CREATE_WAYBILL) and not by_hand:
            problems.append((f"fulfilment.couriers.rules.{i}.courier",
                             f"courier {rule.courier!r} (platform {rule_account.platform!r}) cannot issue "
                             f"waybills: its connector lacks CREATE_WAYBILL"))
    tracking = config.fulfilment.tracking
    if tracking.courier:
        where = "fulfilment.tracking.courier"
        account = config.couriers.get(tracking.courier)
        if account is None:
            problems.append((where, f"no [couriers.{tracking.courier}]; configured: {sorted(config.couriers)}"))
        elif not account.enabled:
            problems.append((where, f"[couriers.{tracking.courier}] is disabled: parcels would not be tracked"))
        else:
            cls = plugins.connector_class("courier", account.platform)
            lacking = [c.name for c in (Capability.TRACK, Capability.RECEIVE_TRACKING_PUSH)
                       if cls is not None and not declared(cls, c)]
            if lacking:  # (no connector at all is reported as couriers.<name>.platform)
                problems.append((where, f"courier {tracking.courier!r} (platform {account.platform!r}) cannot "
                                        f"track parcels: its connector lacks {', '.join(lacking)}"))
        if tracking.callback_base_url is None:
            problems.append(("fulfilment.tracking.callback_base_url",
                             "not set: the tracking courier has nowhere to push scans, so parcels are not "
                             "subscribed (set the hub's public address, e.g. https://hub.example.com)"))
    return problems
