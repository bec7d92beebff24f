"""The exportable lists by the name URLs and commands use: ``orders``, ``lines``, ``aftersales``,
``stock``, ``service-orders``. Adding a list is one ``ExportList`` in its own module and one line here.
"""

from __future__ import annotations

from hub.errors import NotFoundError
from hub.services.export.aftersales import AFTERSALES
from hub.services.export.orders import LINES, ORDERS
from hub.services.export.service_orders import SERVICE_ORDERS
from hub.services.export.spec import FORMATS, ExportList
from hub.services.export.stock import STOCK

__all__ = ["FORMATS", "LISTS", "export_list"]

LISTS: dict[str, ExportList] = {e.name: e for e in (ORDERS, LINES, AFTERSALES, STOCK, SERVICE_ORDERS)}


def export_list(name: str) -> ExportList:
    """The list called ``name``; ``NotFoundError`` naming the lists there are."""
    try:
        return LISTS[name]
    except KeyError:
        raise NotFoundError(f"there is no list {name!r} to export; there are: {', '.join(LISTS)}") from None
