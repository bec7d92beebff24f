"""What a WMS is sent for a delivery order (``delivery_orders.wms_order``): the delivery's lines
with their quantities and SKUs — a replacement that sends another SKU than was sold names the
replacement's SKU to the warehouse, not the order line's."""

from __future__ import annotations

from hub.db.tables import DeliveryLineRow
from hub.services.fulfilment.delivery_orders import wms_order
from hub.testing.factories import make_order


def test_the_delivery_lines_sku_and_quantity_are_what_the_wms_gets() -> None:
    order = make_order(lines=[("MUG-WHITE", 2), ("CUP", 1)])
    first, second = order.lines
    lines = [DeliveryLineRow(order_id=7, line_external_id=first.external_id, merchant_sku="MUG-BLACK", quantity=1),
             DeliveryLineRow(order_id=7, line_external_id=second.external_id, merchant_sku=None, quantity=1)]
    sent, names = wms_order({7: order}, lines)
    assert [(line.merchant_sku, line.quantity) for line in sent.lines] == [("MUG-BLACK", 1), ("CUP", 1)]
    assert names == [first.external_id, second.external_id]
