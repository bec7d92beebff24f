"""Pure translation of Tmall-only objects: exchanges and Tmall stock params (work cards:
``workcard_mapping``).

Trades and refunds use ``plugins.taobao.mapping`` (same TOP objects, ``seller_type`` B). Facts:
``docs/platforms/taobao-tmall.md`` §3 (``tmall.item.quantity.update``) and §5
(``tmall.exchange.receive.get``);
exchange details, refuse reasons and the replacement's courier name after the TOP API docs of
``tmall.exchange.get``, ``tmall.exchange.refusereason.get`` and ``tmall.exchange.consigngoods``.
No I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts import (
    AfterSale,
    AfterSaleLine,
    AfterSaleStatus,
    AfterSaleType,
    ChannelRef,
    ChannelStock,
    ChannelStockChange,
    RefuseReason,
    canonical_courier_code,
)
from hub.plugin_api import BadInputError
from plugins.taobao.client import unwrap_list
from plugins.taobao.mapping import SKUS_PER_CALL, StockCall, parse_top_time

#: Exchange ``status`` codes (``tmall.exchange.get``/``receive.get``, the same as
#: ``dispute_status_array``) with the doc's labels. The field is a String: whether it carries the
#: code or the label is [U], so both are accepted.
EXCHANGE_STATUS: dict[str, AfterSaleStatus] = {
    "1": AfterSaleStatus.REQUESTED, "换货待处理": AfterSaleStatus.REQUESTED,
    "2": AfterSaleStatus.AWAITING_RETURN, "待买家退货": AfterSaleStatus.AWAITING_RETURN,
    "3": AfterSaleStatus.RETURNED, "买家已退货，待收货": AfterSaleStatus.RETURNED,
    "4": AfterSaleStatus.CLOSED, "换货关闭": AfterSaleStatus.CLOSED,
    "5": AfterSaleStatus.COMPLETED, "换货成功": AfterSaleStatus.COMPLETED,
    # 待买家修改: what a seller's refusal leads to (the ball is with the buyer, who may modify and
    # ask again → 1, or let it close → 4) [U: the doc names the state, not what leads to it].
    # REJECTED, not REQUESTED: the seller has nothing to decide until the buyer moves.
    "6": AfterSaleStatus.REJECTED, "待买家修改": AfterSaleStatus.REJECTED,
    # 待发出换货商品: the seller confirmed the goods back; the replacement is to send.
    "12": AfterSaleStatus.RETURNED, "待发出换货商品": AfterSaleStatus.RETURNED,
    "13": AfterSaleStatus.REPLACEMENT_SHIPPED, "待买家收货": AfterSaleStatus.REPLACEMENT_SHIPPED,
    # 请退款: the exchange became a refund, which TOP reports as a refund case of its own; the
    # exchange itself ends here.
    "14": AfterSaleStatus.CLOSED, "请退款": AfterSaleStatus.CLOSED,
}
#: Raw codes by label, so a label answer is written down as its code (``raw_status``, checks).
EXCHANGE_CODE_OF_LABEL: dict[str, str] = {
    "换货待处理": "1", "待买家退货": "2", "买家已退货，待收货": "3", "换货关闭": "4", "换货成功": "5",
    "待买家修改": "6", "待发出换货商品": "12", "待买家收货": "13", "请退款": "14"}
#: Codes at which the buyer has sent the goods back (3), or they are in (12, 13, 5).
GOODS_SENT_BACK = frozenset({"3", "12", "13", "5"})
#: Codes at which the seller has confirmed the goods back (``returngoods.agree`` done).
GOODS_RECEIVED = frozenset({"12", "13", "5"})
#: ``extra`` keys copied from the exchange as text when present (values the hub does not read).
EXCHANGE_EXTRA = ("refund_phase", "refund_version", "bought_sku", "good_status", "alipay_no", "price",
                  "seller_logistic_name", "seller_logistic_no", "advance_status", "cs_status", "operation_contraint")

#: Hub courier code → the company NAME ``tmall.exchange.consigngoods`` takes (``logistics_company_name``
#: is free text, "卖家发货的快递公司"). Ours: names as TOP's company list writes them (codes and
#: names of ``taobao.logistics.companies.get``); whether Tmall checks the name against that list is
#: [U]. A shop adds or overrides names with the ``courier_names`` setting.
COURIER_NAMES: dict[str, str] = {
    "sf": "顺丰", "zto": "中通", "yto": "圆通", "sto": "申通", "yunda": "韵达", "ems": "EMS",
    "post": "邮政平邮", "zjs": "宅急送", "htky": "汇通", "ttkdex": "天天", "dbl": "德邦物流", "uc": "优速",
    "postb": "邮政快递包裹", "jd": "京东",
}

def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def exchange_code(raw: Any) -> str:
    """The numeric status code of an exchange's ``status`` (code or label)."""
    text = str(raw).strip()
    return EXCHANGE_CODE_OF_LABEL.get(text, text)


def exchange_status(raw: Any) -> AfterSaleStatus:
    try:
        return EXCHANGE_STATUS[str(raw).strip()]
    except KeyError:
        raise BadInputError(f"unknown Tmall exchange status {raw!r}", field="status") from None


def exchange_version(modified: datetime | None) -> str | None:
    """The case's ``version``: ``modified`` as epoch milliseconds. Not ``refund_version``: only
    ``tmall.exchange.get`` documents it, so a case from the poll (``receive.get``) would carry
    another kind of value than the same case read alone, and no exchange write takes a version
    anyway: it is the connector's own check that the case did not move since the hub saw it."""
    return None if modified is None else str(int(modified.timestamp() * 1000))


def aftersale_from_exchange(exchange: Mapping[str, Any], shop: str, platform: str = "tmall") -> AfterSale:
    """An exchange of ``tmall.exchange.get`` (or a ``receive.get`` result) → ``AfterSale`` of type
    EXCHANGE. ``biz_order_id`` ("正向单号") is taken as the trade id [U: it may be the sub-order
    id]. ``deadline`` is ``time_out`` (TOP time, GMT+8); ``version`` see ``exchange_version``;
    ``exchange_sku`` is the platform's words for the SKU wanted (``颜色:黑色``), ``extra`` the values
    of ``EXCHANGE_EXTRA`` present, plus ``seller_received`` ("true") once the seller confirmed the
    goods back (codes 12, 13, 5)."""
    dispute_id, order_id = _text(exchange.get("dispute_id")), _text(exchange.get("biz_order_id"))
    if dispute_id is None or order_id is None:
        raise BadInputError("Tmall exchange without dispute_id or biz_order_id", field="dispute_id")
    modified = parse_top_time(exchange.get("modified"))
    created = parse_top_time(exchange.get("created")) or modified
    if created is None:
        raise BadInputError(f"Tmall exchange {dispute_id} has no created/modified time", field="created")
    code = exchange_code(exchange.get("status"))
    extra = {key: str(exchange[key]) for key in EXCHANGE_EXTRA if _text(exchange.get(key)) is not None}
    if code in GOODS_RECEIVED:
        extra["seller_received"] = "true"
    tracking = _text(exchange.get("buyer_logistic_no"))
    return AfterSale(
        ref=ChannelRef(platform=platform, shop=shop, external_id=dispute_id),
        order_ref=ChannelRef(platform=platform, shop=shop, external_id=order_id),
        type=AfterSaleType.EXCHANGE,
        status=exchange_status(code),
        raw_status=code,
        reason=_text(exchange.get("reason")),
        description=_text(exchange.get("desc")),
        lines=[AfterSaleLine(line_external_id=order_id, quantity=int(exchange.get("num") or 1))],
        goods_returned=code in GOODS_SENT_BACK or tracking is not None,
        return_tracking_number=tracking,
        return_courier=_text(exchange.get("buyer_logistic_name")),
        exchange_sku=_text(exchange.get("exchange_sku")),
        created_at=created,
        updated_at=modified or created,
        deadline=parse_top_time(exchange.get("time_out")),
        version=exchange_version(modified or created),
        extra=extra,
    )


def refuse_reasons_from_exchange(body: Mapping[str, Any]) -> list[RefuseReason]:
    """``tmall.exchange.refusereason.get`` → ``RefuseReason`` list (``result.results[]{reason_id,
    reason_text}``; the list carries no proof rule, so ``proof_required`` stays False)."""
    wrapped = body.get("result")
    result: Mapping[str, Any] = wrapped if isinstance(wrapped, Mapping) else body
    reasons = []
    for row in unwrap_list(result.get("results")):
        reason_id, text = _text(row.get("reason_id")), _text(row.get("reason_text"))
        if reason_id is not None:
            reasons.append(RefuseReason(id=reason_id, text=text or reason_id))
    return reasons


def courier_name(courier_code: str, names: Mapping[str, str]) -> str:
    """The company name for ``consigngoods`` of a hub courier code (``names``: canonical code → name)."""
    try:
        return names[canonical_courier_code(courier_code)]
    except (KeyError, ValueError):
        raise BadInputError(f"no Tmall courier company name for courier {courier_code!r}; add it to the "
                            "shop's courier_names setting", field="courier_code") from None


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
