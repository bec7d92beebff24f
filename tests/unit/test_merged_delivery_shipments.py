"""A merged delivery's shipment becomes one shipment per order, each with the same tracking
number(s) and only its own lines, so every order is confirmed to its own channel."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hub.services.fulfilment.merging import ShippedParcel, shipments_for_merged_delivery


def _line(order_id: int, line: str, qty: int = 1) -> SimpleNamespace:
    return SimpleNamespace(order_id=order_id, line_external_id=line, merchant_sku=f"SKU-{line}", quantity=qty)


def test_one_parcel_gives_each_order_its_lines_under_the_same_tracking_number() -> None:
    lines = [_line(1, "a"), _line(1, "b", 2), _line(2, "c")]
    out = shipments_for_merged_delivery(lines, [ShippedParcel("sf", "SF100")])
    assert sorted(out) == [1, 2]
    assert [(p.tracking_number, [(i.line_external_id, i.quantity) for i in p.items]) for p in out[1]] == [
        ("SF100", [("a", 1), ("b", 2)])]
    assert [(p.tracking_number, [i.line_external_id for i in p.items]) for p in out[2]] == [("SF100", ["c"])]


def test_several_parcels_must_say_what_they_hold() -> None:
    lines = [_line(1, "a"), _line(2, "c")]
    with pytest.raises(ValueError):
        shipments_for_merged_delivery(lines, [ShippedParcel("sf", "SF1"), ShippedParcel("sf", "SF2")])
    out = shipments_for_merged_delivery(lines, [ShippedParcel("sf", "SF1", [(1, "a", 1), (2, "c", 1)]),
                                                ShippedParcel("sf", "SF2", [(2, "c", 1)])])
    assert [p.tracking_number for p in out[1]] == ["SF1"] and [p.tracking_number for p in out[2]] == ["SF1", "SF2"]
