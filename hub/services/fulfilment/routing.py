"""Choosing where an order ships from and with whom: the ``route_order`` and ``select_courier``
hooks with the built-in rules behind them.

Built-in routing: the first warehouse, in configured priority order, that has every line's SKU
available; if none has it all, a split by line across warehouses; if stock is short everywhere,
the first warehouse (the stock-short hold stops it). Built-in courier choice: the first configured
courier. Not for reserving stock (``hub.services.stock.reservations``).
"""

from __future__ import annotations

from typing import Any

from contracts.fulfilment import RoutingDecision
from contracts.orders import Order


def builtin_route(order: Order, warehouses: list[str], stock: dict[str, dict[str, int]]) -> RoutingDecision:
    if not warehouses:
        return RoutingDecision(reason="no warehouse configured")
    needs: dict[str, int] = {}
    for line in order.lines:
        if line.merchant_sku:
            needs[line.merchant_sku] = needs.get(line.merchant_sku, 0) + line.quantity
    for wh in warehouses:
        have = stock.get(wh, {})
        if all(have.get(sku, 0) >= qty for sku, qty in needs.items()):
            return RoutingDecision(warehouse=wh, reason=f"{wh} has every line in stock")
    split: dict[str, list[str]] = {}
    for line in order.lines:
        chosen = next(
            (wh for wh in warehouses if stock.get(wh, {}).get(line.merchant_sku or "", 0) >= line.quantity),
            warehouses[0],
        )
        split.setdefault(chosen, []).append(line.external_id)
    if len(split) == 1:
        only = next(iter(split))
        return RoutingDecision(warehouse=only, reason=f"stock short everywhere; {only} is first by priority")
    return RoutingDecision(split=split, reason="no single warehouse has every line; split by line")


def route(plugins: Any, order: Order, order_id: int, warehouses: list[str],
          stock: dict[str, dict[str, int]]) -> RoutingDecision:
    """Ask the plugins (first non-None wins), then fall back to the built-in rule."""
    decision = plugins.hook.route_order(order=order, order_id=order_id, warehouses=warehouses, stock=stock)
    if decision is not None:
        if decision.warehouse is not None and decision.warehouse not in warehouses:
            raise ValueError(f"route_order chose unknown warehouse {decision.warehouse!r}")
        return decision
    return builtin_route(order, warehouses, stock)


def choose_courier(plugins: Any, order: Order, order_id: int, warehouse: str, couriers: list[str]) -> str | None:
    """Ask the plugins (first non-None wins), then take the first configured courier."""
    chosen = plugins.hook.select_courier(order=order, order_id=order_id, warehouse=warehouse, couriers=couriers)
    if chosen is not None:
        if chosen not in couriers:
            raise ValueError(f"select_courier chose unknown courier {chosen!r}; configured: {couriers}")
        return str(chosen)
    return couriers[0] if couriers else None
