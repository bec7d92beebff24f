"""Which courier carries a parcel: the ``select_courier`` hook, then the ``[fulfilment.couriers]``
rules (province, weight, order amount, platform, warehouse) and their cost table.

``choose`` is what the flow and the waybill step ask; ``None`` means nothing matched and the
caller holds the order (``no_courier``). ``rule_problems`` names rules that point at couriers or
warehouses the configuration does not have. Pure decisions, no I/O; not for issuing waybills
(``waybills``) nor for the config's shape (``settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from contracts.connectors import Capability, declared
from contracts.orders import Order
from contracts.shipments import canonical_courier_code
from hub.context import Hub
from hub.services.fulfilment.settings import CourierCost, CourierRule, CourierRulesSettings

log = structlog.get_logger(__name__)

#: Province suffixes left out when comparing names ("浙江省" and "浙江" are one province).
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")


@dataclass(frozen=True)
class CourierChoice:
    """``account``: the ``[couriers.<name>]`` that issues the waybill; ``courier_code``: the carrier."""

    account: str
    courier_code: str
    reason: str = ""


def province_key(name: str | None) -> str:
    """A province name without its administrative suffix, for comparing."""
    text = (name or "").strip()
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def account_code(config: Any, account: str) -> str:
    """The carrier a courier account ships with: its ``courier_code`` (or a ``courier_code`` among its
    connector settings), else its name."""
    courier = config.couriers.get(account)
    code = getattr(courier, "courier_code", None) if courier is not None else None
    if code is None and courier is not None:  # a connector whose own settings name its carrier
        code = courier.settings.get("courier_code")
    return canonical_courier_code(str(code or account))


def matches(rule: CourierRule, order: Order, warehouse: str, weight_grams: int | None) -> bool:
    """Whether every condition ``rule`` states holds for this parcel. A weight bound needs a known
    weight: a parcel of unknown weight never matches a rule limited by weight."""
    if rule.platforms and order.ref.platform not in rule.platforms:
        return False
    if rule.warehouses and warehouse not in rule.warehouses:
        return False
    if rule.provinces:
        province = province_key(order.shipping_address.province if order.shipping_address else None)
        if province not in {province_key(p) for p in rule.provinces}:
            return False
    if rule.min_weight_grams is not None or rule.max_weight_grams is not None:
        if weight_grams is None:
            return False
        if rule.min_weight_grams is not None and weight_grams < rule.min_weight_grams:
            return False
        if rule.max_weight_grams is not None and weight_grams > rule.max_weight_grams:
            return False
    amount = order.total.amount
    if rule.min_amount is not None and amount < rule.min_amount:
        return False
    return not (rule.max_amount is not None and amount > rule.max_amount)


def price(cost: CourierCost, province: str | None, weight_grams: int | None) -> Decimal:
    """What ``cost`` charges for a parcel: the first weight, plus each started kg above it. An
    unknown weight is priced as the first weight."""
    wanted = province_key(province)
    tier = next((p for name, p in cost.provinces.items() if province_key(name) == wanted), cost) if wanted else cost
    extra = max(0, (weight_grams or 0) - tier.first_weight_grams)
    started_kg = -(-extra // 1000)
    return tier.first_price + tier.extra_kg_price * started_kg


def choose_by_rules(settings: CourierRulesSettings, couriers: list[str], order: Order, warehouse: str,
                    weight_grams: int | None, codes: dict[str, str]) -> CourierChoice | None:
    """The rules' answer among the enabled ``couriers`` (``codes``: each account's default carrier)."""
    if not settings.rules:
        if not couriers:
            return None
        return CourierChoice(couriers[0], codes[couriers[0]], "first configured courier")
    fitting = [(i, rule) for i, rule in enumerate(settings.rules)
               if rule.courier in couriers and matches(rule, order, warehouse, weight_grams)]
    if not fitting:
        return None
    index, rule = fitting[0]
    reason = f"rule {index + 1} is the first that matches"
    if settings.strategy == "cheapest":
        province = order.shipping_address.province if order.shipping_address else None
        priced = [(price(settings.costs[r.courier], province, weight_grams), i, r)
                  for i, r in fitting if r.courier in settings.costs]
        if priced:
            cost, index, rule = min(priced, key=lambda item: (item[0], item[1]))
            reason = f"rule {index + 1} is the cheapest that matches ({cost})"
    code = canonical_courier_code(rule.courier_code) if rule.courier_code else codes[rule.courier]
    return CourierChoice(rule.courier, code, reason)


def choose(hub: Hub, order: Order, order_id: int, warehouse: str, weight_grams: int | None = None
           ) -> CourierChoice | None:
    """The courier for a parcel of ``order`` from ``warehouse``, or None when nothing matches
    (the order is then held with that reason). The ``select_courier`` hook is asked first."""
    couriers = [name for name, c in sorted(hub.config.couriers.items(), key=lambda kv: kv[1].priority)
                if c.enabled]
    codes = {name: account_code(hub.config, name) for name in couriers}
    chosen = hub.plugins.hook.select_courier(order=order, order_id=order_id, warehouse=warehouse, couriers=couriers)
    if chosen is not None:
        if chosen not in couriers:
            raise ValueError(f"select_courier chose unknown courier {chosen!r}; configured: {couriers}")
        return CourierChoice(str(chosen), codes[str(chosen)], "chosen by a select_courier plugin")
    settings = hub.config.fulfilment.couriers
    # Without rules the first account that can issue waybills is taken: a tracking-only account
    # (Kuaidi100's tracking) configured first must not be asked for waybills it cannot issue. A hub
    # whose only waybills are labels bought elsewhere takes its ``manual`` account (parcels then wait
    # for a person to enter the number).
    candidates = couriers
    if not settings.rules:
        candidates = ([name for name in couriers if issues_waybills(hub, name)]
                      or [name for name in couriers if _entered_by_hand(hub, name)])
    choice = choose_by_rules(settings, candidates, order, warehouse, weight_grams, codes)
    if choice is None:
        log.info("courier.no_match", order_id=order_id, warehouse=warehouse, weight_grams=weight_grams)
    return choice


def issues_waybills(hub: Hub, account: str | None) -> bool | None:
    """Whether the ``[couriers.<account>]`` account's connector declares CREATE_WAYBILL; None when
    that cannot be told (no such account, or no connector for its platform)."""
    config = hub.config.couriers.get(account) if account else None
    cls = hub.plugins.connector_class("courier", config.platform) if config is not None else None
    return None if cls is None else declared(cls, Capability.CREATE_WAYBILL)


def _entered_by_hand(hub: Hub, name: str) -> bool:
    """Whether the account's connector is meant for labels bought elsewhere (the ``manual`` courier)."""
    cls = hub.plugins.connector_class("courier", hub.config.couriers[name].platform)
    return bool(getattr(cls, "waybills_entered_by_hand", False))


def no_courier_reason(warehouse: str, weight_grams: int | None) -> str:
    """What a ``no_courier`` hold says."""
    weight = f"{weight_grams} g" if weight_grams is not None else "unknown weight"
    return (f"no courier rule matches this order (warehouse {warehouse}, {weight}); add a rule in "
            "[fulfilment.couriers] or choose a courier by hand")


def rule_problems(config: Any) -> list[tuple[str, str]]:
    """(field, problem) for rules and costs naming couriers or warehouses that are not configured."""
    problems: list[tuple[str, str]] = []
    section = config.fulfilment.couriers
    couriers = set(config.couriers)
    for i, rule in enumerate(section.rules):
        where = f"fulfilment.couriers.rules.{i}"
        if rule.courier not in couriers:
            problems.append((f"{where}.courier", f"no [couriers.{rule.courier}]; configured: {sorted(couriers)}"))
        for j, name in enumerate(rule.warehouses):
            if name not in config.warehouses:
                problems.append((f"{where}.warehouses.{j}", f"no [warehouses.{name}]"))
    for name in section.costs:
        if name not in couriers:
            problems.append((f"fulfilment.couriers.costs.{name}", f"no [couriers.{name}]"))
    return problems
