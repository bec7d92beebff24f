"""Whether a shop's channel can be told about a courier, asked before a shipment is recorded.

The API refuses a shipment naming a courier the order's shop surely cannot map (HTTP 422) rather
than recording it and letting its channel confirmation dead-letter later. Not for choosing a
courier (``routing``) nor for the confirmation itself (``shipments``).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from sqlalchemy import select

from contracts.connectors import Capability, declared
from contracts.shipments import canonical_courier_code
from hub.context import Hub
from hub.db.tables import OrderRow
from hub.errors import ConfigError, NotFoundError

log = structlog.get_logger(__name__)


async def couriers_unknown_to_shop(hub: Hub, order_id: int, courier_codes: Iterable[str]) -> tuple[str, list[str]]:
    """The order's shop and the (canonical) courier codes its connector says it cannot name.

    Only a definite "no" counts: a connector without ``courier_known``, one that answers None
    (it would have to ask the platform), a shop that cannot confirm shipments at all, or one whose
    connector cannot be built here, leaves the question to the confirmation. No partner call is
    made. An unknown order gives ``("", [])`` (recording it answers 404)."""
    async with hub.database().session() as session:
        shop = await session.scalar(select(OrderRow.shop).where(OrderRow.id == order_id))
    if shop is None:
        return "", []
    try:
        connector = hub.accounts().channel(shop)
    except (NotFoundError, ConfigError) as exc:
        log.info("courier.check_skipped", shop=shop, order_id=order_id, reason=str(exc))
        return shop, []
    # Optional connector method (``ChannelConnector.courier_known``): plugins without it are not asked.
    known = getattr(connector, "courier_known", None)
    if not declared(type(connector), Capability.CONFIRM_SHIPMENT) or known is None:
        return shop, []
    codes = dict.fromkeys(canonical_courier_code(code) for code in courier_codes)
    return shop, [code for code in codes if known(code) is False]
