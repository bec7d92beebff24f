"""Gross profit's freight: what a parcel that left cost to send — the waybill's own
``parcels.freight``, else the ``[reports]`` rate for its courier and the order's province, else the
default. Cost (lines × the SKU's ``cost_price``) and platform fees (``orders.platform_fee``) are
summed with the other figures in ``rollups``. Not for reading figures (``queries``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, literal

from hub.db.tables import OrderRow, ParcelRow
from hub.services.reports.settings import ReportsSection

#: Parcels that never left (no waybill, or it was cancelled): no freight.
NO_FREIGHT = ("pending", "cancelled", "cancelling", "failed")


def freight_sql(settings: ReportsSection) -> Any:
    """A parcel's freight: its own, else the most specific configured rate, else the default
    (``ParcelRow`` joined with its ``OrderRow``)."""
    specific = sorted(settings.freight_rates, key=lambda r: r.province is None)
    whens = [(and_(ParcelRow.courier_code == r.courier, OrderRow.province == r.province) if r.province
              else ParcelRow.courier_code == r.courier, literal(r.amount)) for r in specific]
    rate = case(*whens, else_=literal(settings.default_freight)) if whens else literal(settings.default_freight)
    return func.coalesce(ParcelRow.freight, rate)


def freight_fingerprint(settings: ReportsSection) -> str:
    """A digest of the freight settings: rollups built with other settings are not read."""
    import hashlib
    import json

    rates = [[r.courier, r.province, str(r.amount)] for r in settings.freight_rates]
    text = json.dumps([str(settings.default_freight), rates], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
