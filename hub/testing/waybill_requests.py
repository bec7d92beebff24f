"""E-waybill requests for connector tests: a sender (a Hangzhou warehouse) and a recipient (a
Shanghai buyer) every courier accepts, and ``waybill_request`` filling them in.

For tests of the ``CourierConnector.create_waybill`` side (plugins, sandboxes). Not for the hub's
own waybill flow, which builds its requests from stored parcels (``hub.testing.waybill_provider``).
"""

from __future__ import annotations

from typing import Any

from contracts import Address, WaybillRequest

SENDER = Address(name="杭州仓", phone="0571-88886666", province="浙江省", city="杭州市", district="余杭区",
                 street="文一西路 1 号")
RECIPIENT = Address(name="张三", phone="13812345678", province="上海市", city="上海市", district="浦东新区",
                    street="世纪大道 100 号")


def waybill_request(**values: Any) -> WaybillRequest:
    """A request from ``SENDER`` to ``RECIPIENT``; ``values`` give the rest (and may replace either)."""
    return WaybillRequest(**{"sender": SENDER, "recipient": RECIPIENT, **values})
