"""The hub's type of a service order: the merchant's code table first, then the words of the
service's name, then what the connector read.

Platforms do not publish their service codes (Tmall ``service_definition.service_code`` [U]), so
``[service_orders] service_codes`` is the merchant's table; the words are the names platforms give
their services (安装 installation, 维修 repair, …). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.service_orders import ServiceOrderType

#: Words in a service's name → its type, first match wins (Chinese and English names).
NAME_WORDS: tuple[tuple[str, ServiceOrderType], ...] = (
    ("安装", ServiceOrderType.INSTALLATION),
    ("install", ServiceOrderType.INSTALLATION),
    ("维修", ServiceOrderType.REPAIR),
    ("修理", ServiceOrderType.REPAIR),
    ("repair", ServiceOrderType.REPAIR),
    ("保养", ServiceOrderType.MAINTENANCE),
    ("清洗", ServiceOrderType.MAINTENANCE),
    ("maintenance", ServiceOrderType.MAINTENANCE),
    ("测量", ServiceOrderType.MEASURE),
    ("量尺", ServiceOrderType.MEASURE),
    ("measure", ServiceOrderType.MEASURE),
    ("取件", ServiceOrderType.RETURN_PICKUP),
    ("揽收", ServiceOrderType.RETURN_PICKUP),
    ("pick-up", ServiceOrderType.RETURN_PICKUP),
    ("pickup", ServiceOrderType.RETURN_PICKUP),
)


def service_type(codes: Mapping[str, ServiceOrderType], service_code: str | None, service_name: str | None,
                 reported: ServiceOrderType) -> ServiceOrderType:
    """The type of a service order with ``service_code`` and ``service_name`` that the connector
    read as ``reported``: the code table, else the name's words, else ``reported``."""
    if service_code and service_code in codes:
        return ServiceOrderType(codes[service_code])
    name = (service_name or "").lower()
    for word, kind in NAME_WORDS:
        if word in name:
            return kind
    return reported
