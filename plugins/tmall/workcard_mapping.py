"""Pure translation of Tmall service work cards (服务工单) and their SLA alerts.

A ``WorkcardDTO`` as ``tmall.servicecenter.workcard.querybyseller`` answers it → ``ServiceOrder``;
a ``tmall_fuwu_ServiceMonitorMessage`` TMC message → ``ServiceAlert``. Facts:
``docs/platforms/taobao-tmall.md`` (from the TOP API docs of querybyseller and the TMC
types). TOP times are Asia/Shanghai ``yyyy-MM-dd HH:mm:ss``.

What is deliberately left out: the buyer's name, phone, e-mail and street address
(``buyer.address_detail`` …). Only the province, city and district (``ServiceRegion``) are read;
the rest never enters a ``ServiceOrder`` (nor a log line). No I/O.

Status: ``status_code`` values are not published [U]. A shop that knows its codes maps them with the
``workcard_statuses`` setting (passed in as ``statuses``); any other card's status is derived from
its times (``status_from_times``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts import (
    ChannelRef,
    ServiceAlert,
    ServiceAlertLevel,
    ServiceOrder,
    ServiceOrderStatus,
    ServiceOrderType,
    ServiceRegion,
)
from hub.plugin_api import BadInputError
from plugins.taobao.mapping import parse_top_time

#: Words in a service's name or code → its type, first match wins. A best reading only: the hub's
#: ``[service_orders] service_codes`` table wins over it (Tmall's service codes are not published [U]).
TYPE_WORDS: tuple[tuple[str, ServiceOrderType], ...] = (
    ("安装", ServiceOrderType.INSTALLATION), ("install", ServiceOrderType.INSTALLATION),
    ("维修", ServiceOrderType.REPAIR), ("修理", ServiceOrderType.REPAIR), ("寄修", ServiceOrderType.REPAIR),
    ("repair", ServiceOrderType.REPAIR),
    ("保养", ServiceOrderType.MAINTENANCE), ("清洗", ServiceOrderType.MAINTENANCE),
    ("maintain", ServiceOrderType.MAINTENANCE), ("clean", ServiceOrderType.MAINTENANCE),
    ("测量", ServiceOrderType.MEASURE), ("量尺", ServiceOrderType.MEASURE), ("measure", ServiceOrderType.MEASURE),
    ("取件", ServiceOrderType.RETURN_PICKUP), ("揽收", ServiceOrderType.RETURN_PICKUP),
    ("pickup", ServiceOrderType.RETURN_PICKUP),
)

#: ``tmall_fuwu_ServiceMonitorMessage`` ``level``: 1 预警, 2 警告, 3 严重.
ALERT_LEVELS: dict[str, ServiceAlertLevel] = {
    "1": ServiceAlertLevel.WARNING, "2": ServiceAlertLevel.ALERT, "3": ServiceAlertLevel.CRITICAL}
#: ``biz_type`` of a monitor message whose ``biz_id`` is a work card's id.
WORKCARD_BIZ_TYPE = "1"


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def service_type(*texts: str | None) -> ServiceOrderType:
    """The connector's best reading of the type from the service's words (name, then codes)."""
    for text in texts:
        lowered = (text or "").lower()
        for word, kind in TYPE_WORDS:
            if word in lowered:
                return kind
    return ServiceOrderType.OTHER


def status_from_times(card: Mapping[str, Any]) -> ServiceOrderStatus:
    """The status a card's times say, the furthest first: cancelled (``gmt_cancel``), completed
    (``gmt_identify``, 核销), on site (``gmt_sign_in``), booked (``gmt_reserve_start``), assigned (a
    worker named, or ``gmt_assign_worker``), else new."""
    if _text(card.get("gmt_cancel")):
        return ServiceOrderStatus.CANCELLED
    if _text(card.get("gmt_identify")):
        return ServiceOrderStatus.COMPLETED
    if _text(card.get("gmt_sign_in")):
        return ServiceOrderStatus.ON_SITE
    if _text(card.get("gmt_reserve_start")):
        return ServiceOrderStatus.BOOKED
    if _text(_object(card.get("service_provider")).get("worker_name")) or _text(card.get("gmt_assign_worker")):
        return ServiceOrderStatus.ASSIGNED
    return ServiceOrderStatus.NEW


def workcard_status(card: Mapping[str, Any], statuses: Mapping[str, ServiceOrderStatus]) -> ServiceOrderStatus:
    """``statuses`` (the shop's ``workcard_statuses``) for a known ``status_code``, else the times."""
    code = _text(card.get("status_code"))
    if code is not None and code in statuses:
        return ServiceOrderStatus(statuses[code])
    return status_from_times(card)


def workcard_region(buyer: Mapping[str, Any]) -> ServiceRegion | None:
    """Province, city and district of the buyer's address; never the detail, name or phone."""
    region = ServiceRegion(province=_text(buyer.get("address_province")), city=_text(buyer.get("address_city")),
                           district=_text(buyer.get("address_district")))
    return region if region.names() else None


def service_order_from_workcard(card: Mapping[str, Any], shop: str,
                                statuses: Mapping[str, ServiceOrderStatus] | None = None,
                                platform: str = "tmall") -> ServiceOrder:
    """A querybyseller ``WorkcardDTO`` → ``ServiceOrder`` (see the module docstring).

    ``master_trade_order`` (the goods served) gives the trade (``parent_order_id``, else the card's
    ``parent_biz_order_id``), the line (``order_id``), ``outer_id_sku`` and ``auction_title``;
    ``service_trade_order.auction_title`` (the service product bought, when there is one) is the
    service's name [U: the DTO has no name field of its own]; ``sequence`` goes to ``extra`` (the
    complete call echoes it)."""
    card_id = _text(card.get("id"))
    if card_id is None:
        raise BadInputError("Tmall work card without id", field="id")
    created = parse_top_time(card.get("gmt_create"))
    if created is None:
        raise BadInputError(f"Tmall work card {card_id} has no gmt_create", field="gmt_create")
    master = _object(card.get("master_trade_order"))
    service_trade = _object(card.get("service_trade_order"))
    definition = _object(card.get("service_definition"))
    provider = _object(card.get("service_provider"))
    trade_id = _text(master.get("parent_order_id")) or _text(card.get("parent_biz_order_id"))
    service_code = _text(definition.get("service_code"))
    service_name = _text(service_trade.get("auction_title"))
    extra = {"sequence": str(card["sequence"])} if _text(card.get("sequence")) is not None else {}
    biz_code = _text(definition.get("biz_code"))
    if biz_code is not None:
        extra["biz_code"] = biz_code
    count = _text(card.get("service_count"))
    return ServiceOrder(
        ref=ChannelRef(platform=platform, shop=shop, external_id=card_id),
        order_ref=ChannelRef(platform=platform, shop=shop, external_id=trade_id) if trade_id else None,
        line_external_id=_text(master.get("order_id")),
        merchant_sku=_text(master.get("outer_id_sku")),
        product_title=_text(master.get("auction_title")),
        quantity=int(count) if count is not None else 1,
        service_code=service_code,
        service_name=service_name,
        type=service_type(service_name, service_code, biz_code),
        status=workcard_status(card, statuses or {}),
        raw_status=_text(card.get("status_code")) or "",
        region=workcard_region(_object(card.get("buyer"))),
        expected_at=parse_top_time(card.get("buyer_expect_date")),
        appointment_start=parse_top_time(card.get("gmt_reserve_start")),
        appointment_end=parse_top_time(card.get("gmt_reserve_end")),
        assignee=_text(provider.get("worker_name")),
        extra=extra,
        created_at=created,
        updated_at=parse_top_time(card.get("gmt_modify")) or created,
    )


def service_alert_from_message(content: Mapping[str, Any], shop: str, platform: str = "tmall",
                               published: datetime | None = None) -> ServiceAlert | None:
    """A ``tmall_fuwu_ServiceMonitorMessage`` about a work card (``biz_type`` 1) → ``ServiceAlert``
    (``biz_id`` the card, ``id`` the alert, ``level`` 1/2/3 → warning/alert/critical, raised at
    ``gmt_create``, else ``published``); None for other ``biz_type``s. A card alert without its
    ids, level or time raises ``BadInputError`` naming the field."""
    if _text(content.get("biz_type")) != WORKCARD_BIZ_TYPE:
        return None
    card_id, alert_id = _text(content.get("biz_id")), _text(content.get("id"))
    if card_id is None or alert_id is None:
        raise BadInputError("Tmall service alert without biz_id or id", field="biz_id")
    level = ALERT_LEVELS.get(_text(content.get("level")) or "")
    if level is None:
        raise BadInputError(f"Tmall service alert {alert_id} has level {content.get('level')!r}; expected 1, 2 or 3",
                            field="level")
    raised = parse_top_time(content.get("gmt_create")) or published
    if raised is None:
        raise BadInputError(f"Tmall service alert {alert_id} has no gmt_create", field="gmt_create")
    return ServiceAlert(ref=ChannelRef(platform=platform, shop=shop, external_id=card_id), alert_id=alert_id,
                        level=level, rule_id=_text(content.get("rule_id")), content=_text(content.get("content")) or "",
                        raised_at=raised)
