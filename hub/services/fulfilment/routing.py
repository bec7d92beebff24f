"""Choosing where an order ships from and with whom: the ``route_order`` and ``select_courier``
hooks with the built-in rules behind them.

Built-in routing (``builtin_route``), over the enabled warehouses in priority order
(``[warehouses.<name>] priority``, lower first):

1. only warehouses whose ``regions`` cover the recipient's province (no ``regions``: everywhere);
   none covers it → no warehouse, and the flow holds the order (``no_warehouse``) with the reason;
2. the first of them with every line available (on hand − reserved, counting the order's own
   reservations as its own);
3. otherwise a split by line: each line from the first covering warehouse that still has it;
4. a line no covering warehouse has goes to the first covering warehouse (a stock-short order is
   held before it gets here; this only happens when stock moved meanwhile).

``warehouse_stock`` reads the stock the rule and the hook see. Not for reserving stock
(``hub.services.stock.reservations``) nor for creating delivery orders (``flow``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import RoutingDecision
from contracts.orders import Order
from hub.db.tables import ReservationRow, StockRow
from hub.services.stock.skus import components_of

#: Suffixes a province may be written with or without ("浙江省" / "浙江", "广西壮族自治区" / "广西").
_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


def province_key(name: str) -> str:
    """A province name compared loosely: trimmed, lower case, without 省/市/自治区 suffixes."""
    key = name.strip().lower()
    for suffix in _PROVINCE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def covers(regions: Iterable[str], province: str | None) -> bool:
    """Whether a warehouse with ``regions`` ships to ``province`` (no regions: everywhere)."""
    wanted = [province_key(r) for r in regions if r.strip()]
    if not wanted:
        return True
    return province is not None and province_key(province) in wanted


def _province(order: Order) -> str | None:
    address = order.shipping_address
    return address.province if address is not None and address.province else None


def builtin_route(order: Order, warehouses: list[str], stock: dict[str, dict[str, int]],
                  regions: Mapping[str, list[str]] | None = None) -> RoutingDecision:
    """The default strategy (module docstring); ``regions`` maps warehouse → provinces it covers."""
    if not warehouses:
        return RoutingDecision(reason="no warehouse configured")
    province = _province(order)
    covering = [wh for wh in warehouses if covers((regions or {}).get(wh, []), province)]
    if not covering:
        return RoutingDecision(reason=f"no warehouse ships to {province or 'an unknown province'} "
                                      f"(regions of {', '.join(warehouses)})")
    needs: dict[str, int] = {}
    for line in order.lines:
        if line.merchant_sku:
            needs[line.merchant_sku] = needs.get(line.merchant_sku, 0) + line.quantity
    for wh in covering:
        have = stock.get(wh, {})
        if all(have.get(sku, 0) >= qty for sku, qty in needs.items()):
            return RoutingDecision(warehouse=wh, reason=f"{wh} has every line in stock")
    left = {wh: dict(stock.get(wh, {})) for wh in covering}
    split: dict[str, list[str]] = {}
    short: list[str] = []
    for line in order.lines:
        sku = line.merchant_sku or ""
        chosen = next((wh for wh in covering if left[wh].get(sku, 0) >= line.quantity), None)
        if chosen is None:
            chosen = covering[0]
            short.append(line.external_id)
        else:
            left[chosen][sku] -= line.quantity
        split.setdefault(chosen, []).append(line.external_id)
    if len(split) == 1:
        only = next(iter(split))
        why = "stock short everywhere" if short else "every line fits"
        return RoutingDecision(warehouse=only, reason=f"{why}; {only} is first by priority")
    reason = "no single warehouse has every line; split by line"
    if short:
        reason += f" (short everywhere: {', '.join(short)})"
    return RoutingDecision(split=split, reason=reason)


def route(plugins: Any, order: Order, order_id: int, warehouses: list[str],
          stock: dict[str, dict[str, int]], regions: Mapping[str, list[str]] | None = None) -> RoutingDecision:
    """Ask the plugins (first non-None wins), then fall back to the built-in rule.

    A plugin's decision naming a warehouse not in ``warehouses``, or a split that leaves a line
    out or names one twice, raises ``ValueError`` (the flow holds the order with that reason)."""
    decision = plugins.hook.route_order(order=order, order_id=order_id, warehouses=warehouses, stock=stock)
    if decision is not None:
        if decision.warehouse is not None and decision.warehouse not in warehouses:
            raise ValueError(f"route_order chose unknown warehouse {decision.warehouse!r}")
        if decision.split:
            unknown = sorted(set(decision.split) - set(warehouses))
            if unknown:
                raise ValueError(f"route_order split to unknown warehouse(s) {', '.join(map(repr, unknown))}")
            listed = [line for lines in decision.split.values() for line in lines]
            expected = sorted(line.external_id for line in order.lines)
            if sorted(listed) != expected:
                raise ValueError(f"route_order's split must name every line once; it named {sorted(listed)}, "
                                 f"the order has {expected}")
        return decision
    return builtin_route(order, warehouses, stock, regions)


def choose_courier(plugins: Any, order: Order, order_id: int, warehouse: str, couriers: list[str]) -> str | None:
    """Ask the plugins (first non-None wins), then take the first configured courier."""
    chosen = plugins.hook.select_courier(order=order, order_id=order_id, warehouse=warehouse, couriers=couriers)
    if chosen is not None:
        if chosen not in couriers:
            raise ValueError(f"select_courier chose unknown courier {chosen!r}; configured: {couriers}")
        return str(chosen)
    return couriers[0] if couriers else None


# --------------------------------------------------------------------------- what routing sees


def enabled_warehouses(config: Any) -> list[str]:
    """The enabled warehouses in priority order (lower first, then by name); with none
    configured, the embedded default's single ``default``."""
    if not config.warehouses:
        return ["default"]
    enabled = [(wh.priority, name) for name, wh in config.warehouses.items() if wh.enabled]
    return [name for _, name in sorted(enabled)]


def warehouse_regions(config: Any) -> dict[str, list[str]]:
    return {name: list(wh.regions) for name, wh in config.warehouses.items()}


async def warehouse_stock(session: AsyncSession, skus: Iterable[str], warehouses: list[str],
                          order_ids: Iterable[int] = ()) -> dict[str, dict[str, int]]:
    """Available units per warehouse and SKU: on hand − reserved, plus what the orders
    ``order_ids`` themselves hold there (their own reservations are theirs to ship). A bundle's
    is the minimum over its components of available // quantity, per warehouse."""
    wanted = {s for s in skus if s}
    out: dict[str, dict[str, int]] = {wh: {} for wh in warehouses}
    if not wanted or not warehouses:
        return out
    bundles = await components_of(session, wanted)
    plain = (wanted - set(bundles)) | {c for comps in bundles.values() for c in comps}
    free: dict[str, dict[str, int]] = {wh: {} for wh in warehouses}
    for sku, wh, on_hand, reserved in await session.execute(
            select(StockRow.merchant_sku, StockRow.warehouse, StockRow.on_hand, StockRow.reserved)
            .where(StockRow.merchant_sku.in_(plain), StockRow.warehouse.in_(warehouses))):
        free[wh][sku] = int(on_hand) - int(reserved)
    ids = list(set(order_ids))
    if ids:
        for r_sku, r_wh, qty in await session.execute(
                select(ReservationRow.merchant_sku, ReservationRow.warehouse, ReservationRow.quantity)
                .where(ReservationRow.order_id.in_(ids), ReservationRow.state == "active",
                       ReservationRow.warehouse.in_(warehouses))):
            if r_wh is not None:
                free[r_wh][r_sku] = free[r_wh].get(r_sku, 0) + int(qty)
    for wh in warehouses:
        for sku in wanted:
            if sku in bundles:
                comps = bundles[sku]
                out[wh][sku] = min((max(0, free[wh].get(c, 0)) // q for c, q in comps.items() if q > 0), default=0)
            else:
                out[wh][sku] = max(0, free[wh].get(sku, 0))
    return out
