"""TMC messages for AliExpress → ``contracts.InboundMessage``.

AliExpress order events arrive over Taobao's TMC (§6, §7): topics ``aliexpress_order_*`` (and
``aliexpress_trade_OrderNotify``) with content ``{order_id, current_status, last_status, login_id,
order_change_time}`` as a JSON string. Each becomes an ORDER trigger (the hub re-fetches the order);
anything else is recorded as OTHER. A message whose content cannot be read is still returned (kind
OTHER, the problem in ``payload``) so it is stored and confirmed instead of being redelivered for
ever. There are no HTTP pushes: the IOP webhook's format is [U] and not implemented.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts import InboundMessage, MessageKind, platform_id
from hub.plugin_api import BadInputError
from plugins.aliexpress.client import BEIJING
from plugins.aliexpress.mapping import parse_pacific
from plugins.taobao.tmc import TmcMessage

ORDER_TOPIC_PREFIXES = ("aliexpress_order_", "aliexpress_trade_")
#: The order topics TMC publishes for AliExpress sellers (tmc.js ``types/aliexpress.d.ts``): what
#: the connector asks ``taobao.tmc.user.permit`` for.
AE_ORDER_TOPICS: tuple[str, ...] = tuple(f"aliexpress_order_{event}" for event in (
    "PlaceOrderSuccess", "RiskControl", "WaitGroupSuccess", "WaitSellerExamineMoney", "WaitSellerSendGoods",
    "SellerPartSendGoods", "WaitBuyerAcceptGoods", "InCancel", "FundProcessing", "Finish"))


def _content(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    value = json.loads(raw) if isinstance(raw, str | bytes) else None
    if not isinstance(value, dict):
        raise ValueError("content is not a JSON object")
    return value


def _pub_time(text: Any) -> datetime | None:
    """TMC ``pub_time`` is a TOP time: ``yyyy-MM-dd HH:mm:ss`` GMT+8."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING) if text else None
    except ValueError:
        return None


def parse_tmc_message(message: Mapping[str, Any]) -> InboundMessage:
    """One TMC message (``{id, topic, content, pub_time, …}``) → ``InboundMessage``."""
    if message.get("id") in (None, ""):
        raise BadInputError("TMC message without id", field="id")
    message_id = platform_id(message["id"])
    topic = str(message.get("topic") or "")
    try:
        content = _content(message.get("content"))
    except ValueError as exc:
        return InboundMessage(message_id=message_id, kind=MessageKind.OTHER, topic=topic,
                              payload={"unreadable_content": str(exc)})
    if not topic.startswith(ORDER_TOPIC_PREFIXES) or content.get("order_id") in (None, ""):
        return InboundMessage(message_id=message_id, kind=MessageKind.OTHER, topic=topic, payload=content)
    try:
        # order_change_time: read as US Pacific like every AE time [U: TMC content's zone is undocumented].
        occurred = parse_pacific(content.get("order_change_time")) or _pub_time(message.get("pub_time"))
    except BadInputError:
        occurred = _pub_time(message.get("pub_time"))
    return InboundMessage(message_id=message_id, kind=MessageKind.ORDER, topic=topic,
                          external_id=platform_id(content["order_id"]), occurred_at=occurred, payload=content)


def from_tmc(message: TmcMessage) -> InboundMessage:
    """A message from the shared ``plugins.taobao.tmc.TmcConsumer`` → ``InboundMessage``."""
    content: Any = message.raw_content or message.content
    if "raw" in message.content and len(message.content) == 1:
        content = "unreadable"  # TmcConsumer keeps non-object content under "raw"
    return parse_tmc_message({"id": message.id, "topic": message.topic, "content": content,
                              "pub_time": message.pub_time})


def tmc_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The message list of a ``taobao.tmc.messages.consume`` body: ``messages.tmc_message[]`` (TOP's
    list wrapping, §1) or a bare ``messages[]``."""
    block = body.get("messages")
    if isinstance(block, Mapping):
        block = block.get("tmc_message")
    return [dict(m) for m in (block or [])]
