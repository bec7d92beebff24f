"""Douyin exchange and 补寄 (resend) mapping tables: the ids of the SKU the buyer wants instead
(``exchange_sku_info`` → ``exchange_sku`` and ``extra["exchange_sku_id"]`` / ``["exchange_sku_code"]``,
which the hub sends the replacement by), a resend's parcel (``logistics_info.resend``), and the
``reissue`` decision (``afterSale.fillLogistics``) among those the connector writes back."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import AfterSaleAction, AfterSaleStatus, AfterSaleType, allowed_actions
from plugins.douyin import mapping
from plugins.douyin.aftersale_decisions import ACTIONS, RESEND_WAITING, already_done


def detail(sku_info: Any = None, *, raw_type: int = 3, status: int = 6,
           resend: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``afterSale.Detail`` ``data`` in the official SDK's field tree (ids as int64), values invented."""
    info = {"after_sale_id": 7301000000000000009, "after_sale_status": status, "after_sale_type": raw_type,
            "refund_status": 1, "refund_total_amount": 0, "apply_time": 1700000000, "update_time": 1700000300,
            "exchange_sku_info": sku_info if sku_info is not None else {}}
    logistics: dict[str, Any] = {"return": {}, "exchange": {}}
    if resend is not None:
        logistics["resend"] = resend
    return {"process_info": {"after_sale_info": info, "logistics_info": logistics},
            "order_info": {"shop_order_id": 6918000000000000001, "sku_order_infos": [
                {"sku_order_id": 6918000000000000001, "shop_sku_code": "TEE-M", "item_quantity": 1,
                 "after_sale_item_count": 1, "pay_amount": 1990}]}}


@pytest.mark.parametrize(("sku_info", "exchange_sku", "sku_id", "code"), [
    # code is the merchant code: it wins over out_sku_id and the words
    ({"sku_id": 1750000000000000002, "code": "TEE-L", "out_sku_id": "OUT-L", "name": "T 恤",
      "spec_desc": "尺码:L"}, "TEE-L", "1750000000000000002", "TEE-L"),
    # no code: out_sku_id (the merchant's own SKU id) is the merchant code
    ({"sku_id": 1750000000000000002, "code": "", "out_sku_id": "OUT-L"}, "OUT-L", "1750000000000000002", "OUT-L"),
    # neither: only the channel id (for the listing bindings) and the platform's words
    ({"sku_id": 1750000000000000002, "code": "", "out_sku_id": 0, "name": "T 恤", "spec_desc": "尺码:L"},
     "T 恤 尺码:L", "1750000000000000002", None),
    # a zero sku_id is no id
    ({"sku_id": 0, "code": "", "name": "T 恤"}, "T 恤", None, None),
    ({}, None, None, None),
    (["not", "an", "object"], None, None, None),
])
def test_the_wanted_sku_carries_its_channel_id_and_merchant_code(sku_info: Any, exchange_sku: str | None,
                                                                 sku_id: str | None, code: str | None) -> None:
    case = mapping.map_aftersale_detail(detail(sku_info), "s")
    assert case.exchange_sku == exchange_sku
    assert case.extra.get("exchange_sku_id") == sku_id
    assert case.extra.get("exchange_sku_code") == code


@pytest.mark.parametrize(("status", "resend", "expected", "tracking"), [
    (6, None, AfterSaleStatus.REQUESTED, None),
    (8, {"tracking_no": "", "company_code": ""}, AfterSaleStatus.APPROVED, None),
    (13, {"tracking_no": "SF2000000009", "company_code": "shunfeng"}, AfterSaleStatus.REPLACEMENT_SHIPPED,
     "SF2000000009"),
    (14, {"tracking_no": "SF2000000009", "company_code": "shunfeng"}, AfterSaleStatus.COMPLETED, "SF2000000009"),
])
def test_a_resend_maps_its_status_and_parcel(status: int, resend: dict[str, Any] | None,
                                             expected: AfterSaleStatus, tracking: str | None) -> None:
    case = mapping.map_aftersale_detail(detail(raw_type=7, status=status, resend=resend), "s")
    assert case.type is AfterSaleType.REISSUE and case.status is expected
    assert case.extra.get("resend_tracking_number") == tracking
    assert case.extra.get("resend_courier") == ("shunfeng" if tracking else None)
    assert case.extra["aftersale_type"] == "7"


@pytest.mark.parametrize(("status", "done"), [(6, False), (8, False), (13, True), (14, True), (28, False)])
def test_a_resend_counts_as_reissued_once_its_parcel_left(status: int, done: bool) -> None:
    case = mapping.map_aftersale_detail(detail(raw_type=7, status=status), "s")
    assert already_done(AfterSaleAction.REISSUE, case) is done
    assert (str(status) in RESEND_WAITING) is (status in (6, 8))


def test_every_reissue_action_the_hub_offers_is_written_back() -> None:
    assert AfterSaleAction.REISSUE in ACTIONS
    for status in AfterSaleStatus:
        for action in allowed_actions(AfterSaleType.REISSUE, status):
            assert action in ACTIONS
