"""Tmall's TMC topics on top of Taobao's: exchanges (``taobao_dispute_Exchange*``), service work
cards (``tmall_servicecenter_TaskUpdate``, ``tmall_fuwu_WorkcardStatusUpdate``) and their SLA alerts
(``tmall_fuwu_ServiceMonitorMessage``).

Tmall trades and refunds use the ``taobao_trade_*``/``taobao_refund_*`` topics, handled by
``plugins.taobao.push``. An exchange message names its case by ``refund_id``, read as the
exchange's ``dispute_id`` [U: the TMC type ``Taobao.Dispute`` has no separate dispute id; the
hub then reads the case with ``get_aftersale``, which tells exchanges from refunds]. A work-card
message is a trigger naming the card (``id`` / ``workcard_id``): the hub reads the card with
``get_service_order``. A monitor message about a card (``biz_type`` 1) is a SERVICE_ALERT whose
``ServiceAlert`` the connector attaches (alerts carry all they say); other ``biz_type``\\ s are
recorded as OTHER. Not for signature checks (TMC pulls are signed TOP calls).
"""

from __future__ import annotations

from contracts import MessageKind
from hub.plugin_api import BadInputError
from plugins.taobao.push import taobao_topics
from plugins.taobao.tmc import TmcMessage

#: 天猫服务平台工单更新: ``id`` (the card), ``change_type``, ``main_status``/``sub_status`` … and the
#: buyer's name, phone and address, which the connector drops from the stored payload.
TASK_UPDATE_TOPIC = "tmall_servicecenter_TaskUpdate"
#: ``workcard_id``, ``action`` (create/complete/cancel/consign), ``update_date``.
WORKCARD_TOPIC = "tmall_fuwu_WorkcardStatusUpdate"
#: SLA alerts: ``id``, ``biz_type`` (1: ``biz_id`` is a work card), ``level``, ``rule_id``, ``content``.
SERVICE_MONITOR_TOPIC = "tmall_fuwu_ServiceMonitorMessage"
WORKCARD_TOPICS: tuple[str, ...] = (TASK_UPDATE_TOPIC, WORKCARD_TOPIC, SERVICE_MONITOR_TOPIC)
#: Content keys of a TaskUpdate message that are the buyer's personal data: never stored nor logged.
TASK_UPDATE_PERSONAL = frozenset({"buyer_name", "buyer_phone", "buyer_address", "buyer_mobile"})
#: The exchange topics of TMC's ``taobao_dispute_`` group (tmc.js ``Taobao.Dispute`` types).
EXCHANGE_TOPICS: tuple[str, ...] = tuple(f"taobao_dispute_{event}" for event in (
    "ExchangeAgree", "ExchangeClosed", "ExchangeModified", "ExchangeSellerConfirmed",
    "ExchangeSellerGoodsConsigned", "ExchangeSuccess", "ExchangeTurnToRefund"))


def _required(message: TmcMessage, key: str) -> str:
    value = message.content.get(key)
    if value in (None, ""):
        raise BadInputError(f"TMC {message.topic} message {message.id} has no {key}", field=key)
    return str(value)


def tmall_topics(message: TmcMessage) -> tuple[MessageKind, str | None] | None:
    if message.topic == TASK_UPDATE_TOPIC:
        return MessageKind.SERVICE_ORDER, _required(message, "id")
    if message.topic == WORKCARD_TOPIC:
        return MessageKind.SERVICE_ORDER, _required(message, "workcard_id")
    if message.topic == SERVICE_MONITOR_TOPIC:
        if str(message.content.get("biz_type")) == "1":
            return MessageKind.SERVICE_ALERT, _required(message, "biz_id")
        return MessageKind.OTHER, None
    if message.topic in EXCHANGE_TOPICS:
        return MessageKind.AFTERSALE, _required(message, "refund_id")
    return None


TMALL_RULES = (tmall_topics, taobao_topics)
