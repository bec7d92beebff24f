"""Pure translation of Tmall-only objects: exchanges, service work cards and Tmall stock params.

Trades and refunds use ``plugins.taobao.mapping`` (same TOP objects, ``seller_type`` B). Facts:
``docs/platforms/taobao-tmall.md`` §3 (``tmall.item.quantity.update``) and §5
(``tmall.exchange.receive.get``, ``tmall.servicecenter.tasks.search``, the workcard TMC topic).
No I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from contracts import (
    AfterSale,
    AfterSaleLine,
    AfterSaleStatus,
    AfterSaleType,
    ChannelRef,
    ChannelStock,
    ChannelStockChange,
    ServiceOrder,
    ServiceOrderStatus,
    ServiceOrderType,
)
from hub.plugin_api import BadInputError
from plugins.taobao.mapping import SKUS_PER_CALL, StockCall, parse_top_time

#: ``dispute_status_array`` codes with the labels of the API doc. Results carry ``status`` as a
#: String: whether that is the code or the label is [U], so both are accepted.
EXCHANGE_STATUS: dict[str, AfterSaleStatus] = {
    "1": AfterSaleStatus.REQUESTED, "换货待处理": AfterSaleStatus.REQUESTED,
    "2": AfterSaleStatus.AWAITING_RETURN, "待买家退货": AfterSaleStatus.AWAITING_RETURN,
    "3": AfterSaleStatus.RETURNED, "买家已退货，待收货": AfterSaleStatus.RETURNED,
    "4": AfterSaleStatus.CLOSED, "换货关闭": AfterSaleStatus.CLOSED,
    "5": AfterSaleStatus.COMPLETED, "换货成功": AfterSaleStatus.COMPLETED,
    "6": AfterSaleStatus.REJECTED, "待买家修改": AfterSaleStatus.REJECTED,
    # 12/13: the replacement is being sent / with the buyer; the canonical machine has no
    # "reshipping" state, and the returned goods are in: RETURNED until 5 (success).
    "12": AfterSaleStatus.RETURNED, "待发出换货商品": AfterSaleStatus.RETURNED,
    "13": AfterSaleStatus.RETURNED, "待买家收货": AfterSaleStatus.RETURNED,
    "14": AfterSaleStatus.REFUNDING, "请退款": AfterSaleStatus.REFUNDING,
}

#: TMC ``tmall_fuwu_WorkcardStatusUpdate`` ``action`` (§5). ``consign`` is read as work under
#: way [U: its exact meaning is not documented].
WORKCARD_ACTION: dict[str, ServiceOrderStatus] = {
    "create": ServiceOrderStatus.OPEN,
    "consign": ServiceOrderStatus.IN_PROGRESS,
    "complete": ServiceOrderStatus.COMPLETED,
    "cancel": ServiceOrderStatus.CANCELLED,
}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def exchange_status(raw: Any) -> AfterSaleStatus:
    try:
        return EXCHANGE_STATUS[str(raw).strip()]
    except KeyError:
        raise BadInputError(f"unknown Tmall exchange status {raw!r}", field="status") from None


def aftersale_from_exchange(exchange: Mapping[str, Any], shop: str, platform: str = "tmall") -> AfterSale:
    """A ``tmall.exchange.receive.get`` result → ``AfterSale`` of type EXCHANGE. ``biz_order_id``
    ("正向单号") is taken as the trade id [U: it may be the sub-order id]."""
    dispute_id, order_id = _text(exchange.get("dispute_id")), _text(exchange.get("biz_order_id"))
    if dispute_id is None or order_id is None:
        raise BadInputError("Tmall exchange without dispute_id or biz_order_id", field="dispute_id")
    modified = parse_top_time(exchange.get("modified"))
    created = parse_top_time(exchange.get("created")) or modified
    if created is None:
        raise BadInputError(f"Tmall exchange {dispute_id} has no created/modified time", field="created")
    return AfterSale(
        ref=ChannelRef(platform=platform, shop=shop, external_id=dispute_id),
        order_ref=ChannelRef(platform=platform, shop=shop, external_id=order_id),
        type=AfterSaleType.EXCHANGE,
        status=exchange_status(exchange.get("status")),
        raw_status=str(exchange.get("status")),
        reason=_text(exchange.get("reason")),
        lines=[AfterSaleLine(line_external_id=order_id, quantity=int(exchange.get("num") or 1))],
        goods_returned=_text(exchange.get("buyer_logistic_no")) is not None,
        return_tracking_number=_text(exchange.get("buyer_logistic_no")),
        created_at=created,
        updated_at=modified or created,
    )


def service_type(name: str | None) -> ServiceOrderType:
    """From the service name: ``task_type`` codes are undocumented [U], names say 安装/维修."""
    text = name or ""
    if "安装" in text:
        return ServiceOrderType.INSTALLATION
    if "维修" in text:
        return ServiceOrderType.REPAIR
    return ServiceOrderType.OTHER


def service_order_from_task(task: Mapping[str, Any], shop: str, statuses: Mapping[str, ServiceOrderStatus],
                            platform: str = "tmall") -> ServiceOrder:
    """A ``ServiceTaskDO`` → ``ServiceOrder``. ``task_status`` codes are undocumented [U]: the
    shop's ``service_task_statuses`` setting maps them; an unmapped code raises naming it."""
    task_id = _text(task.get("id"))
    if task_id is None:
        raise BadInputError("Tmall service task without id", field="id")
    code = str(task.get("task_status"))
    if code not in statuses:
        raise BadInputError(f"Tmall service task {task_id} has task_status {code!r}, which the shop's "
                            "service_task_statuses setting does not map", field="task_status")
    created = parse_top_time(task.get("gmt_create"))
    if created is None:
        raise BadInputError(f"Tmall service task {task_id} has no gmt_create", field="gmt_create")
    order_id = _text(task.get("parent_biz_order_id")) or _text(task.get("biz_order_id"))
    return ServiceOrder(
        ref=ChannelRef(platform=platform, shop=shop, external_id=task_id),
        order_ref=ChannelRef(platform=platform, shop=shop, external_id=order_id) if order_id else None,
        type=service_type(_text(task.get("service_name")) or _text(task.get("name"))),
        status=statuses[code],
        raw_status=code,
        assignee=_text(task.get("tp_name")),
        sla_deadline=parse_top_time(task.get("expect_date")),
        description=_text(task.get("task_memo")) or _text(task.get("service_name")),
        created_at=created,
        updated_at=parse_top_time(task.get("gmt_modify")) or created,
    )


def service_order_from_workcard_message(content: Mapping[str, Any], shop: str,
                                        platform: str = "tmall") -> ServiceOrder | None:
    """What a ``tmall_fuwu_WorkcardStatusUpdate`` message tells (workcard_id, action,
    update_date), or None when the action is not one we know. The message carries no creation
    time, so ``created_at`` is the update time."""
    workcard_id, action = _text(content.get("workcard_id")), str(content.get("action") or "")
    updated = parse_top_time(content.get("update_date"))
    if workcard_id is None or action not in WORKCARD_ACTION or updated is None:
        return None
    return ServiceOrder(ref=ChannelRef(platform=platform, shop=shop, external_id=workcard_id),
                        type=ServiceOrderType.OTHER, status=WORKCARD_ACTION[action], raw_status=action,
                        created_at=updated, updated_at=updated)


def outer_biz_key() -> str:
    """An ``options.outer_biz_key``: hex characters only (§3)."""
    return uuid.uuid4().hex


def tmall_stock_change_calls(changes: list[ChannelStockChange]) -> tuple[list[StockCall], list[ChannelStockChange]]:
    """``tmall.item.quantity.update`` with ``options`` type 2 (incremental), one change per call so
    its ``outer_biz_key`` is the hub's key of that change (hex, §3): a resend after a lost answer
    carries the same key and is applied once. Returns (calls, changes without a channel_item_id)."""
    unbound = [c for c in changes if not c.channel_item_id]
    calls: list[StockCall] = []
    for change in changes:
        if not change.channel_item_id:
            continue
        params: dict[str, Any] = {"item_id": change.channel_item_id,
                                  "options": json.dumps({"type": 2, "outer_biz_key": change.key})}
        if change.channel_sku_id:
            params["sku_quantities"] = json.dumps([{"sku_id": change.channel_sku_id, "quantity": change.delta}])
        else:
            params["item_quantity"] = change.delta
        calls.append(StockCall("tmall.item.quantity.update", params, [change]))
    return calls, unbound


def tmall_stock_calls(values: list[ChannelStock]) -> tuple[list[StockCall], list[ChannelStock]]:
    """``tmall.item.quantity.update`` calls: per item, SKUs by ``sku_id`` (one lookup mode per
    call, as the doc demands) in chunks of 20 [U: the doc states no limit], ``item_quantity`` for
    items without SKUs; ``options`` type 1 (full) with a fresh hex ``outer_biz_key`` per call."""
    unbound = [v for v in values if not v.channel_item_id]
    by_item: dict[str, list[ChannelStock]] = {}
    calls: list[StockCall] = []
    for value in values:
        if not value.channel_item_id:
            continue
        if value.channel_sku_id:
            by_item.setdefault(value.channel_item_id, []).append(value)
        else:
            calls.append(StockCall("tmall.item.quantity.update", {
                "item_id": value.channel_item_id, "item_quantity": value.quantity,
                "options": json.dumps({"type": 1, "outer_biz_key": outer_biz_key()})}, [value]))
    for item_id, group in by_item.items():
        for start in range(0, len(group), SKUS_PER_CALL):
            chunk = group[start:start + SKUS_PER_CALL]
            calls.append(StockCall("tmall.item.quantity.update", {
                "item_id": item_id,
                "sku_quantities": json.dumps([{"sku_id": v.channel_sku_id, "quantity": v.quantity} for v in chunk]),
                "options": json.dumps({"type": 1, "outer_biz_key": outer_biz_key()})}, chunk))
    return calls, unbound
