"""Douyin mapping: status and after-sale tables, and the real-shaped sample payloads in
``plugins/douyin/fixtures`` translated into canonical orders, after-sales and stock readings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts import (
    Address,
    AfterSaleStatus,
    AfterSaleType,
    ChannelStock,
    ChannelStockChange,
    Money,
    OrderStatus,
    Parcel,
    ParcelItem,
    Shipment,
)
from hub.errors import BadInputError
from plugins.douyin import mapping
from plugins.douyin.client import loads_exact

FIXTURES = Path(__file__).resolve().parents[2] / "plugins" / "douyin" / "fixtures"


def fixture(name: str) -> Any:
    return loads_exact((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, OrderStatus.PENDING_PAYMENT), (105, OrderStatus.PAID), (2, OrderStatus.PAID),
     (101, OrderStatus.PARTIALLY_SHIPPED), (3, OrderStatus.SHIPPED), (4, OrderStatus.CANCELLED),
     (5, OrderStatus.COMPLETED), ("2", OrderStatus.PAID)],
)
def test_every_order_status_maps(raw: object, expected: OrderStatus) -> None:
    assert mapping.order_status(raw) == expected


@pytest.mark.parametrize("raw", [0, 103, 21, "", "paid"])
def test_unknown_order_status_is_bad_input(raw: object) -> None:
    with pytest.raises(BadInputError, match="order_status"):
        mapping.order_status(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, AfterSaleType.RETURN_AND_REFUND), (1, AfterSaleType.REFUND_ONLY), (2, AfterSaleType.REFUND_ONLY),
     (3, AfterSaleType.EXCHANGE), (4, AfterSaleType.REFUND_ONLY), (5, AfterSaleType.REFUND_ONLY),
     (6, AfterSaleType.REFUND_ONLY), (7, AfterSaleType.REISSUE), (8, AfterSaleType.REPAIR)],
)
def test_every_aftersale_type_maps(raw: int, expected: AfterSaleType) -> None:
    assert mapping.aftersale_type(raw) == expected


@pytest.mark.parametrize(
    ("status", "kind", "refund", "expected"),
    [
        (6, 2, 1, AfterSaleStatus.REQUESTED),
        (7, 0, 1, AfterSaleStatus.AWAITING_RETURN),
        (8, 3, 0, AfterSaleStatus.RETURNED),  # exchange: goods back, replacement not yet sent [U]
        (8, 7, 0, AfterSaleStatus.APPROVED),  # resend agreed, awaiting the seller's parcel
        (11, 0, 1, AfterSaleStatus.RETURNED),
        (12, 2, 3, AfterSaleStatus.REFUNDED),
        (12, 3, 0, AfterSaleStatus.COMPLETED),  # an exchange succeeds without a refund
        (12, 7, 0, AfterSaleStatus.COMPLETED),
        (13, 3, 0, AfterSaleStatus.REPLACEMENT_SHIPPED),
        (13, 7, 0, AfterSaleStatus.REPLACEMENT_SHIPPED),
        (14, 3, 0, AfterSaleStatus.COMPLETED),
        (27, 0, 1, AfterSaleStatus.REJECTED),
        (28, 2, 1, AfterSaleStatus.CLOSED),  # buyer withdrew: refund_status stays 1 (§5)
        (29, 0, 1, AfterSaleStatus.REJECTED),
        (51, 4, 1, AfterSaleStatus.CLOSED),
        (51, 4, 3, AfterSaleStatus.REFUNDED),
        (53, 0, 3, AfterSaleStatus.REFUNDED),
        (6, 2, 2, AfterSaleStatus.REFUNDING),
        (11, 0, 3, AfterSaleStatus.REFUNDED),
    ],
)
def test_aftersale_status_table(status: int, kind: int, refund: int, expected: AfterSaleStatus) -> None:
    assert mapping.aftersale_status(status, kind, refund) == expected


@pytest.mark.parametrize("status", [0, 1, 99])
def test_unknown_aftersale_status_is_bad_input(status: int) -> None:
    with pytest.raises(BadInputError, match="aftersale_status"):
        mapping.aftersale_status(status, 0, 1)


def test_refund_status_words_cover_every_value() -> None:
    assert set(mapping.REFUND_STATUSES) == {"1", "2", "3", "4", "5"}


def test_fen_become_yuan_and_unix_seconds_become_aware_utc() -> None:
    assert mapping.fen(1999) == Money(amount=Decimal("19.99"), currency="CNY")
    assert mapping.from_unix(1700000000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert mapping.from_unix(0) is None and mapping.from_unix("") is None


def test_order_detail_fixture_maps_to_a_canonical_order() -> None:
    order = mapping.map_order(fixture("order_detail.json")["data"]["shop_order_detail"], "dy-flagship")
    assert order.ref.external_id == "4891234567890123456" and order.ref.platform == "douyin"
    assert order.status == OrderStatus.PAID and order.raw_status == "2"
    assert order.total == Money(amount="59.70") and order.shipping_fee == Money(amount="10.00")
    assert order.created_at == datetime.fromtimestamp(1700000000, UTC)
    assert order.paid_at == datetime.fromtimestamp(1700000060, UTC) and order.shipped_at is None
    assert order.buyer_note == "请尽快发货 <谢谢> & 好评"
    first, second = order.lines
    assert first.external_id == "4891234567890123456"
    assert first.merchant_sku == "TEE-RED-M"  # the merchant code
    assert first.channel_item_id == "3610000000000000001" and first.channel_sku_id == "1750000000000000001"
    assert first.quantity == 2 and first.unit_price == Money(amount="19.90")  # origin_amount is per unit
    assert first.discount == Money(amount="10.00") and first.paid == Money(amount="29.80")
    assert second.merchant_sku == "MUG-OUT-1"  # no code: out_sku_id
    assert second.refund_status == AfterSaleStatus.REQUESTED.value
    assert order.extra["seller_remark_stars"] == 3


def test_encrypted_receiver_is_kept_as_ciphertext_and_flagged() -> None:
    address = mapping.map_address(fixture("order_detail.json")["data"]["shop_order_detail"])
    assert address is not None and address.encrypted
    assert address.name == "#CIPHER-NAME-PLACEHOLDER#" and address.phone == "$CIPHER-TEL-PLACEHOLDER$"
    assert address.street == "~CIPHER-DETAIL-PLACEHOLDER~"
    assert (address.province, address.city, address.district, address.town) == ("浙江省", "杭州市", "西湖区",
                                                                                 "文新街道")


def test_plain_legacy_receiver_is_stored_masked() -> None:
    legacy = fixture("search_list.json")["data"]["shop_order_list"][1]
    address = mapping.map_address(legacy)
    assert address is not None and not address.encrypted
    assert address.name == "李*" and address.phone == "139****1111" and address.street == "****"
    assert "13900001111" not in address.model_dump_json()


def test_search_page_maps_partially_shipped_orders_and_line_statuses() -> None:
    first, second = (mapping.map_order(o, "s") for o in fixture("search_list.json")["data"]["shop_order_list"])
    assert first.status == OrderStatus.PARTIALLY_SHIPPED
    assert [line.status for line in first.lines] == [OrderStatus.SHIPPED, OrderStatus.PAID]
    assert first.extra["logistics"][0]["tracking_no"] == "SF1234567890123"
    assert second.status == OrderStatus.COMPLETED
    assert second.lines[0].channel_item_id == "3610000000000000003"  # product_id without product_id_str


def test_order_without_lines_is_bad_input() -> None:
    detail = dict(fixture("order_detail.json")["data"]["shop_order_detail"], sku_order_list=[])
    with pytest.raises(BadInputError, match="sku_order_list"):
        mapping.map_order(detail, "s")


def test_aftersale_list_fixture_maps() -> None:
    first, second = (mapping.map_aftersale_list_item(i, "s") for i in fixture("aftersale_list.json")["data"]["items"])
    assert first.ref.external_id == "7301000000000000001" and first.order_ref.external_id == "4891234567890123456"
    assert first.type == AfterSaleType.RETURN_AND_REFUND and first.status == AfterSaleStatus.RETURNED
    assert first.goods_returned and first.return_tracking_number == "YT0000000000001"
    assert first.refund_amount == Money(amount="29.80") and first.raw_status == "11"
    assert first.lines[0].merchant_sku == "TEE-RED-M" and first.lines[0].quantity == 2
    assert second.status == AfterSaleStatus.REFUNDED and not second.goods_returned
    assert second.lines[0].merchant_sku is None


def test_aftersale_detail_fixture_maps_int64_ids_to_strings() -> None:
    aftersale = mapping.map_aftersale_detail(fixture("aftersale_detail.json")["data"], "s")
    assert aftersale.ref.external_id == "7301000000000000003"
    assert aftersale.order_ref.external_id == "4891234567890123456"
    assert aftersale.type == AfterSaleType.EXCHANGE and aftersale.status == AfterSaleStatus.COMPLETED
    assert aftersale.reason == "尺码不合适" and aftersale.return_tracking_number == "ZT0000000000009"
    assert aftersale.lines[0].line_external_id == "4891234567890123456" and aftersale.lines[0].quantity == 1


def test_sku_list_readings_match_asked_listings() -> None:
    listings = [ChannelStock(shop="s", merchant_sku="TEE-RED-M", channel_item_id="3610000000000000001",
                             channel_sku_id="1750000000000000001", quantity=0)]
    readings = mapping.stock_readings(fixture("sku_list.json")["data"], listings)
    assert [(r.merchant_sku, r.channel_sku_id, r.quantity) for r in readings] == \
        [("TEE-RED-M", "1750000000000000001", 42)]


def _value(i: int, quantity: int = 5) -> ChannelStock:
    return ChannelStock(shop="s", merchant_sku=f"SKU-{i}", channel_item_id=str(3610000000000000000 + i),
                        channel_sku_id=str(1750000000000000000 + i), quantity=quantity)


def test_stock_batch_overwrites_with_exact_ids() -> None:
    params = mapping.stock_batch_params([_value(1, 7)], "idem-1")
    assert params == {"items": [{"product_id": 3610000000000000001, "sku_id": 1750000000000000001, "stock_num": 7}],
                      "incremental": False, "idempotent_id": "idem-1"}
    as_text = mapping.stock_batch_params([_value(1, 7)], "idem-1", ids_as_strings=True)
    assert as_text["items"][0]["sku_id"] == "1750000000000000001"


def test_stock_batch_refuses_more_than_50() -> None:
    with pytest.raises(ValueError, match="50"):
        mapping.stock_batch_params([_value(i) for i in range(51)], "x")


@pytest.mark.parametrize(("row", "ok", "quantity", "applied"), [
    ({"sku_id": 1750000000000000001, "stock_num": 4, "change_num": -3, "status_code": 0}, True, 4, -3),
    ({"sku_id": 1750000000000000001, "stock_num": 0, "change_num": -2, "status_code": 0}, True, 0, -2),  # cut short
    ({"sku_id": 1750000000000000001, "status_code": 0}, True, None, None),
    ({"sku_id": 1750000000000000001, "status_code": 40004, "status_message": "sku不存在"}, False, None, None),
    ({"sku_id": 99, "stock_num": 1, "change_num": 1, "status_code": 0}, True, None, None),  # another SKU's row
])
def test_a_stock_change_result_reads_what_the_sku_shows_and_the_change_really_made(
    row: dict[str, object], ok: bool, quantity: int | None, applied: int | None
) -> None:
    change = ChannelStockChange(shop="s", merchant_sku="SKU-1", channel_item_id="3610000000000000001",
                                channel_sku_id="1750000000000000001", delta=-3, key="c" * 32)
    params = mapping.stock_change_params(change)
    assert params == {"items": [{"product_id": 3610000000000000001, "sku_id": 1750000000000000001, "stock_num": -3}],
                      "incremental": True, "idempotent_id": "c" * 32}
    result = mapping.change_result(change, {"results": [row]})
    assert (result.ok, result.quantity, result.applied) == (ok, quantity, applied)


def test_idempotent_id_depends_on_content_and_generation_not_order() -> None:
    items = [mapping.stock_item(_value(i)) for i in range(3)]
    fingerprint = mapping.batch_fingerprint(items)
    assert fingerprint == mapping.batch_fingerprint(list(reversed(items)))
    assert mapping.idempotent_id(fingerprint, 0) == mapping.idempotent_id(fingerprint, 0)
    assert mapping.idempotent_id(fingerprint, 0) != mapping.idempotent_id(fingerprint, 1)
    changed = mapping.batch_fingerprint([mapping.stock_item(_value(0, 6)), *items[1:]])
    assert changed != fingerprint


def test_unmapped_sku_cannot_be_pushed() -> None:
    with pytest.raises(BadInputError, match="sku_id"):
        mapping.stock_item(ChannelStock(shop="s", merchant_sku="X", quantity=1))


def test_logistics_add_uses_the_tracking_number_as_logistics_code() -> None:
    assert mapping.logistics_add_params("489", "shunfeng", "SF123") == \
        {"order_id": "489", "company_code": "shunfeng", "logistics_code": "SF123"}


def test_multipack_lists_sub_orders_per_parcel_with_a_stable_request_id() -> None:
    shipment = Shipment(order_id=1, partial=True, parcels=[
        Parcel(courier_code="SF", tracking_number="SF1", items=[ParcelItem(line_external_id="111", quantity=1)]),
        Parcel(courier_code="ZTO", tracking_number="ZT2", items=[ParcelItem(line_external_id="112", quantity=2)]),
    ])
    params = mapping.multipack_params("111", shipment, {"SF": "shunfeng", "ZTO": "zhongtong"})
    assert params["pack_list"] == [
        {"shipped_order_info": [{"shipped_order_id": "111", "shipped_num": 1}], "logistics_code": "SF1",
         "company_code": "shunfeng"},
        {"shipped_order_info": [{"shipped_order_id": "112", "shipped_num": 2}], "logistics_code": "ZT2",
         "company_code": "zhongtong"},
    ]
    again = mapping.multipack_params("111", shipment, {"SF": "shunfeng", "ZTO": "zhongtong"})
    assert params["request_id"] == again["request_id"]


def test_multipack_needs_items_in_each_parcel() -> None:
    shipment = Shipment(order_id=1, parcels=[Parcel(courier_code="SF", tracking_number="SF1")], partial=True)
    with pytest.raises(BadInputError, match="items"):
        mapping.multipack_params("111", shipment, {"SF": "shunfeng"})


def test_decrypted_values_replace_ciphertexts() -> None:
    address = Address(name="c-name", phone="c-tel", street="c-street", province="浙江省", encrypted=True)
    params = mapping.decrypt_params("489", address)
    assert [c["cipher_text"] for c in params["cipher_infos"]] == ["c-name", "c-tel", "c-street"]
    assert {c["auth_id"] for c in params["cipher_infos"]} == {"489"}
    plain = mapping.decrypted_address(address, [
        {"cipher_text": "c-name", "decrypt_text": "张三", "err_no": 0},
        {"cipher_text": "c-tel", "decrypt_text": "13812345678", "err_no": 0},
        {"cipher_text": "c-street", "decrypt_text": "文三路 100 号", "err_no": 0},
    ])
    assert (plain.name, plain.phone, plain.street, plain.encrypted) == ("张三", "13812345678", "文三路 100 号", False)


def test_a_failed_decryption_is_not_silently_ciphertext() -> None:
    address = Address(name="c-name", encrypted=True)
    with pytest.raises(BadInputError, match="decrypt"):
        mapping.decrypted_address(address, [{"cipher_text": "c-name", "err_no": 300008, "err_msg": "bad"}])
