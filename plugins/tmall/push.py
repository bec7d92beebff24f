"""Tmall's TMC topics on top of Taobao's: service work cards (``tmall_fuwu_WorkcardStatusUpdate``).

Tmall trades and refunds use the ``taobao_trade_*``/``taobao_refund_*`` topics, handled by
``plugins.taobao.push``. Not for signature checks (TMC pulls are signed TOP calls).
"""

from __future__ import annotations

from contracts import MessageKind
from plugins.taobao.push import taobao_topics
from plugins.taobao.tmc import TmcMessage

WORKCARD_TOPIC = "tmall_fuwu_WorkcardStatusUpdate"


def tmall_topics(message: TmcMessage) -> tuple[MessageKind, str | None] | None:
    if message.topic == WORKCARD_TOPIC:
        value = message.content.get("workcard_id")
        return MessageKind.SERVICE_ORDER, None if value in (None, "") else str(value)
    return None


TMALL_RULES = (tmall_topics, taobao_topics)
