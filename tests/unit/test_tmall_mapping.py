"""Table tests for plugins.tmall.mapping: exchanges and Tmall stock params (work cards:
test_tmall_workcard_mapping)."""

from __future__ import annotations

import json

import pytest

from contracts import (
    AfterSaleStatus,
    AfterSaleType,
    ChannelStock,
    ChannelStockChange,
)
from hub.errors import BadInputError
from plugins.tmall import mapping


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", AfterSaleStatus.REQUESTED), ("换货待处理", AfterSaleStatus.REQUESTED),
    ("2", AfterSaleStatus.AWAITING_RETURN), ("3", AfterSaleStatus.RETURNED), ("4", AfterSaleStatus.CLOSED),
    ("5", AfterSaleStatus.COMPLETED), ("换货成功", AfterSaleStatus.COMPLETED), ("6", AfterSaleStatus.REJECTED),
    ("12", AfterSaleStatus.RETURNED), ("13", AfterSaleStatus.REPLACEMENT_SHIPPED), ("14", AfterSaleStatus.CLOSED),
])
def test_exchange_statuses_map(raw: str, expected: AfterSaleStatus) -> None:
    assert mapping.exchange_status(raw) is expected


def test_unknown_exchange_status_is_refused() -> None:
    with pytest.raises(BadInputError, match="99"):
        mapping.exchange_status("99")


def test_exchange_maps_to_an_exchange_aftersale() -> None:
    case = mapping.aftersale_from_exchange({
        "dispute_id": "123", "biz_order_id": "163288460521879179", "status": "2", "num": 1,
        "created": "2024-05-01 10:00:00", "modified": "2024-05-01 11:00:00", "buyer_logistic_no": ""}, "tm")
    assert case.type is AfterSaleType.EXCHANGE and case.status is AfterSaleStatus.AWAITING_RETURN
    assert case.order_ref.external_id == "163288460521879179" and case.ref.platform == "tmall"


def test_tmall_stock_calls_use_sku_ids_and_a_hex_outer_biz_key() -> None:
    values = [ChannelStock(shop="tm", merchant_sku=f"S{i}", channel_item_id="1", channel_sku_id=str(i), quantity=i)
              for i in range(25)] + [ChannelStock(shop="tm", merchant_sku="P", channel_item_id="2", quantity=3)]
    calls, unbound = mapping.tmall_stock_calls(values)
    assert not unbound and all(c.method == "tmall.item.quantity.update" for c in calls)
    assert [len(c.values) for c in calls] == [1, 20, 5]
    assert calls[0].params["item_quantity"] == 3
    skus = json.loads(calls[1].params["sku_quantities"])
    assert skus[0] == {"sku_id": "0", "quantity": 0}
    for call in calls:
        options = json.loads(call.params["options"])
        assert options["type"] == 1 and int(options["outer_biz_key"], 16) >= 0


def test_tmall_stock_changes_go_one_per_call_keyed_by_the_change() -> None:
    """Incremental (type 2), one change per call, so the call's outer_biz_key is the change's key."""
    changes = [ChannelStockChange(shop="tm", merchant_sku="S", channel_item_id="1", channel_sku_id="7", delta=-2,
                                  key="a" * 32),
               ChannelStockChange(shop="tm", merchant_sku="P", channel_item_id="2", delta=3, key="b" * 32)]
    calls, unbound = mapping.tmall_stock_change_calls(changes)
    assert not unbound and [len(c.values) for c in calls] == [1, 1]
    assert json.loads(calls[0].params["sku_quantities"]) == [{"sku_id": "7", "quantity": -2}]
    assert calls[1].params["item_quantity"] == 3
    assert [json.loads(c.params["options"]) for c in calls] == [
        {"type": 2, "outer_biz_key": "a" * 32}, {"type": 2, "outer_biz_key": "b" * 32}]
