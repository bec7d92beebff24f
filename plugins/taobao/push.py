"""TMC messages → ``contracts.InboundMessage`` for TOP shops (Taobao; Tmall adds its topics).

TOP has no HTTP webhooks for sellers: events arrive over TMC (§6), which the connector pulls and
confirms. Each message is a *trigger*: the hub re-fetches the full trade or refund through the
connector. ``message_id`` is the TMC id, so a redelivered message dedups in the inbox. Not for
signature checks: TMC pulls are authenticated by the signed TOP call itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts import InboundMessage, MessageKind
from hub.plugin_api import BadInputError
from plugins.taobao.mapping import parse_top_time
from plugins.taobao.tmc import TmcMessage

#: Item topics that report stock (§3 "TMC stock events"); other item topics are recorded only.
STOCK_TOPICS = frozenset({"taobao_item_ItemStockChanged", "taobao_item_ItemZeroStock", "taobao_item_ItemSkuZeroStock"})

#: The topics ``taobao_topics`` maps to orders, after-sales and stock: what the connector asks
#: ``taobao.tmc.user.permit`` for (TMC's published topic lists; item topics other than the stock
#: ones would only be recorded, so they are not asked for).
TAOBAO_TOPICS: tuple[str, ...] = (
    *(f"taobao_trade_{event}" for event in (
        "TradeCreate", "TradeAlipayCreate", "TradeBuyerPay", "TradeSellerShip", "TradePartlySellerShip",
        "TradeSuccess", "TradeClose", "TradeCloseAndModifyDetailOrder", "TradeChanged", "TradeModifyFee",
        "TradeMemoModified", "TradeLogisticsAddressChanged", "TradePartlyRefund", "OrderSkuChanged")),
    *(f"taobao_refund_{event}" for event in (
        "RefundCreated", "RefundSellerAgreeAgreement", "RefundSellerRefuseAgreement", "RefundBuyerReturnGoods",
        "RefundClosed", "RefundSuccess", "TaobaoIntervened")),
    *sorted(STOCK_TOPICS),
)

TopicRule = Callable[[TmcMessage], tuple[MessageKind, str | None] | None]


def _content_id(message: TmcMessage, key: str) -> str | None:
    value = message.content.get(f"{key}_str", message.content.get(key))
    return None if value in (None, "") else str(value)


def taobao_topics(message: TmcMessage) -> tuple[MessageKind, str | None] | None:
    """Kind and object id for the ``taobao_*`` topics, or None when not one of them."""
    topic = message.topic
    if topic.startswith("taobao_trade_"):
        tid = _content_id(message, "tid")
        if tid is None:
            raise BadInputError(f"TMC {topic} message {message.id} has no tid", field="tid")
        return MessageKind.ORDER, tid
    if topic.startswith("taobao_refund_"):
        refund_id = _content_id(message, "refund_id")
        if refund_id is None:
            raise BadInputError(f"TMC {topic} message {message.id} has no refund_id", field="refund_id")
        return MessageKind.AFTERSALE, refund_id
    if topic.startswith("taobao_item_"):
        kind = MessageKind.STOCK if topic in STOCK_TOPICS else MessageKind.OTHER
        return kind, _content_id(message, "num_iid")
    return None


def inbound_from_tmc(message: TmcMessage, rules: tuple[TopicRule, ...] = (taobao_topics,)) -> InboundMessage:
    """Map one TMC message; the first rule that knows the topic decides, unknown topics → OTHER."""
    kind, external_id = MessageKind.OTHER, None
    for rule in rules:
        decided = rule(message)
        if decided is not None:
            kind, external_id = decided
            break
    return InboundMessage(message_id=message.id, kind=kind, topic=message.topic, external_id=external_id,
                          occurred_at=occurred_at(message), payload=message.content)


def occurred_at(message: TmcMessage) -> datetime | None:
    """When the change happened, as near as TMC says: ``pub_time``, the time TMC published the
    message (GMT+8), just after the trade's ``modified``; else the content's ``modified`` (refund
    topics carry the refund's modification time, §6). The hub's window for ``get_orders`` is built
    from it, so a message without either is fetched alone."""
    for value in (message.pub_time, message.content.get("modified")):
        try:
            moment = parse_top_time(value)
        except BadInputError:
            continue
        if moment is not None:
            return moment
    return None
