"""Tmall's TMC topics on top of Taobao's: exchanges (``taobao_dispute_Exchange*``) and service work
cards (``tmall_fuwu_WorkcardStatusUpdate``).

Tmall trades and refunds use the ``taobao_trade_*``/``taobao_refund_*`` topics, handled by
``plugins.taobao.push``. An exchange message names its case by ``refund_id``, read as the
exchange's ``dispute_id`` [U: the TMC type ``Taobao.Dispute`` has no separate dispute id; the
hub then reads the case with ``get_aftersale``, which tells exchanges from refunds]. Not for
signature checks (TMC pulls are signed TOP calls).
"""

from __future__ import annotations

from contracts import MessageKind
from hub.plugin_api import BadInputError
from plugins.taobao.push import taobao_topics
from plugins.taobao.tmc import TmcMessage

WORKCARD_TOPIC = "tmall_fuwu_WorkcardStatusUpdate"
#: The exchange topics of TMC's ``taobao_dispute_`` group (tmc.js ``Taobao.Dispute`` types).
EXCHANGE_TOPICS: tuple[str, ...] = tuple(f"taobao_dispute_{event}" for event in (
    "ExchangeAgree", "ExchangeClosed", "ExchangeModified", "ExchangeSellerConfirmed",
    "ExchangeSellerGoodsConsigned", "ExchangeSuccess", "ExchangeTurnToRefund"))


def tmall_topics(message: TmcMessage) -> tuple[MessageKind, str | None] | None:
    if message.topic == WORKCARD_TOPIC:
        value = message.content.get("workcard_id")
        return MessageKind.SERVICE_ORDER, None if value in (None, "") else str(value)
    if message.topic in EXCHANGE_TOPICS:
        value = message.content.get("refund_id")
        if value in (None, ""):
            raise BadInputError(f"TMC {message.topic} message {message.id} has no refund_id", field="refund_id")
        return MessageKind.AFTERSALE, str(value)
    return None


TMALL_RULES = (tmall_topics, taobao_topics)
