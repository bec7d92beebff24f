"""Qimen callbacks from the WMS (``deliveryorder.confirm``, ``stockchange.report``): verify the
signature over the query params and the raw XML body, parse, and the reply XML.

The WMS (through Qimen, which re-signs with our secret) POSTs to the hub's URL with the system
params in the query string and the XML in the body, like our own requests (§10 ✅). Method names
may come with or without the ``taobao.qimen.`` prefix (⚠️): both are accepted. Not for the
hub → WMS direction (``client``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from contracts import StockChange
from hub.plugin_api import BadInputError, SignatureError, constant_time_equals
from plugins.warehouse.client import XML_DECLARATION, parse_china_time, parse_xml, qimen_sign, short_method
from plugins.warehouse.mapping import DeliveryOrderConfirmation, WarehouseCodes, delivery_confirmation, stock_changes

DELIVERY_CONFIRM = "deliveryorder.confirm"
STOCK_CHANGE_REPORT = "stockchange.report"
SUPPORTED_METHODS = (DELIVERY_CONFIRM, STOCK_CHANGE_REPORT)

#: What the hub's webhook answers to a callback it accepted (§10 envelope).
SUCCESS_REPLY = XML_DECLARATION + "<response><flag>success</flag><code>0</code><message></message></response>"
REPLY_CONTENT_TYPE = "text/xml;charset=utf-8"


def failure_reply(code: str, message: str) -> str:
    """The reply to a callback we refuse (the WMS retries it later)."""
    return XML_DECLARATION + (
        f"<response><flag>failure</flag><code>{escape(code)}</code><message>{escape(message)}</message></response>"
    )


@dataclass(frozen=True)
class WarehouseCallback:
    """One verified callback: which method, and what it says."""

    method: str
    confirmation: DeliveryOrderConfirmation | None = None
    stock_changes: list[StockChange] = field(default_factory=list)


def verify_callback(
    query: Mapping[str, str], body: bytes, secret: str, *, now: datetime | None = None, max_age_s: float | None = None
) -> str:
    """Check ``sign`` (constant time) and, with ``max_age_s``, the timestamp; return the body text.

    :raises SignatureError: missing or wrong sign, or a timestamp outside the window.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError("Qimen callback body is not UTF-8") from exc
    params = {k: v for k, v in query.items() if k != "sign"}
    if not constant_time_equals(qimen_sign(params, text, secret), query.get("sign")):
        raise SignatureError("Qimen callback sign does not match the configured app secret; rejected", field="sign")
    if max_age_s is not None and now is not None:
        stamp = query.get("timestamp")
        try:
            sent = parse_china_time(stamp or "")
        except ValueError as exc:
            raise SignatureError("Qimen callback has no valid timestamp", field="timestamp") from exc
        if abs((now - sent).total_seconds()) > max_age_s:
            raise SignatureError(f"Qimen callback timestamp {stamp} is outside the {max_age_s:.0f}s window",
                                 field="timestamp")
    return text


def parse_callback(
    query: Mapping[str, str],
    body: bytes,
    secret: str,
    warehouse: str,
    codes: WarehouseCodes,
    *,
    now: datetime | None = None,
    max_age_s: float | None = None,
) -> WarehouseCallback:
    """Verify and parse one callback.

    :raises SignatureError: on a bad sign or stale timestamp.
    :raises BadInputError: unknown method or malformed XML.
    """
    text = verify_callback(query, body, secret, now=now, max_age_s=max_age_s)
    method = short_method(query.get("method", ""))
    if method not in SUPPORTED_METHODS:
        raise BadInputError(f"Qimen callback method {query.get('method')!r} is not handled here", field="method")
    root = parse_xml(text, f"Qimen {method}")
    if root.tag != "request":
        raise BadInputError(f"Qimen {method}: root element is <{root.tag}>, expected <request>")
    if method == DELIVERY_CONFIRM:
        return WarehouseCallback(method, confirmation=delivery_confirmation(root))
    return WarehouseCallback(method, stock_changes=stock_changes(root, warehouse, codes))
