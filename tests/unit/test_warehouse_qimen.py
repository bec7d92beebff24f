"""Qimen WMS: signature (derived vector 5), delivery order XML, status and code tables, stock
answers, and callback verification and parsing; plus the manual warehouse's honest emptiness."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

import plugins.logistics.plugin as logistics_plugin
import plugins.warehouse.plugin as warehouse_plugin
from contracts import Address, Money, StockChangeCause
from hub.errors import BadInputError, SignatureError
from hub.plugins import build_plugin_manager
from hub.testing.context import make_context
from hub.testing.factories import make_order
from plugins.warehouse.client import CHINA_TZ, parse_xml, qimen_sign, to_xml
from plugins.warehouse.connector import ManualWarehouse, QimenWarehouse
from plugins.warehouse.mapping import (
    WarehouseCodes,
    WarehouseOrderStatus,
    delivery_order_request,
    logistics_code,
    source_platform_code,
    stock_levels,
    warehouse_status,
)
from plugins.warehouse.push import SUCCESS_REPLY, failure_reply, parse_callback
from plugins.warehouse.sandbox import QimenWmsSandbox

CODES = WarehouseCodes(owner_code="OWNER1", warehouse_code="WH-HZ-01")
NOW = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def test_sign_matches_derived_vector_5() -> None:
    params = {
        "app_key": "testerp_appkey", "customerId": "stub-cust-code", "format": "xml",
        "method": "taobao.qimen.entryorder.query", "sign_method": "md5", "timestamp": "2015-04-26 00:00:07",
        "v": "2.0",
    }
    body = "<request><entryOrderCode>E001</entryOrderCode></request>"
    assert qimen_sign(params, body, "test") == "64176985FF490BE85AEF96684AF880DC"


def test_signed_params_carry_the_qimen_system_params_in_china_time() -> None:
    warehouse = QimenWarehouse(make_context(QimenWarehouse, "wms", QimenWmsSandbox().warehouse_settings("http://x")))
    params = warehouse.client.signed_params("deliveryorder.create", "<request/>", now=NOW)
    assert params["method"] == "taobao.qimen.deliveryorder.create"
    assert params["timestamp"] == "2026-11-11 10:00:00"
    assert (params["format"], params["sign_method"], params["v"]) == ("xml", "md5", "2.0")
    assert params["customerId"] == "SANDBOX-WMS"
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    assert params["sign"] == qimen_sign(unsigned, "<request/>", "sandbox-erp-secret")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NEW", WarehouseOrderStatus.RECEIVED),
        ("ACCEPT", WarehouseOrderStatus.ACCEPTED),
        ("PARTDELIVERED", WarehouseOrderStatus.PARTIALLY_SHIPPED),
        ("DELIVERED", WarehouseOrderStatus.SHIPPED),
        ("EXCEPTION", WarehouseOrderStatus.EXCEPTION),
        ("CANCELED", WarehouseOrderStatus.CANCELLED),
        ("CLOSED", WarehouseOrderStatus.CLOSED),
        ("REJECT", WarehouseOrderStatus.REJECTED),
        ("CANCELEDFAIL", WarehouseOrderStatus.CANCEL_FAILED),
        ("SOMETHING_NEW", WarehouseOrderStatus.EXCEPTION),
    ],
)
def test_every_qimen_delivery_status_maps(raw: str, expected: WarehouseOrderStatus) -> None:
    assert warehouse_status(raw) is expected


@pytest.mark.parametrize(
    ("platform", "code"), [("taobao", "TB"), ("tmall", "TM"), ("douyin", "OTHER"), ("aliexpress", "OTHER")]
)
def test_source_platform_codes(platform: str, code: str) -> None:
    assert source_platform_code(platform) == code


def test_source_platform_code_is_configurable() -> None:
    assert source_platform_code("douyin", {"douyin": "DY"}) == "DY"


@pytest.mark.parametrize(("hub", "qimen"), [("SF", "SF"), ("zto", "ZTO"), ("POSTB", "POSTB"), ("JTSD", "OTHER"),
                                            (None, None)])
def test_hub_courier_codes_become_qimen_logistics_codes(hub: str | None, qimen: str | None) -> None:
    assert logistics_code(hub) == qimen


# ---------------------------------------------------------------- delivery order request


def test_delivery_order_carries_address_amounts_in_yuan_and_the_key_as_code() -> None:
    order = make_order(lines=[("SKU-1", 2), ("SKU-2", 1)], unit_price="19.90", shipping_fee=Money(amount="6"))
    root = delivery_order_request(order, [order.lines[0].external_id], "KEY-1", CODES, source_platform="TB",
                                  shop_nick="tb-flagship", now=NOW)
    head = root.find("deliveryOrder")
    assert head is not None
    assert head.findtext("deliveryOrderCode") == "KEY-1"
    assert head.findtext("orderType") == "JYCK"
    assert head.findtext("sourcePlatformCode") == "TB"
    assert head.findtext("createTime") == "2026-11-11 10:00:00"
    assert head.findtext("totalAmount") == "59.70"
    assert head.findtext("freight") == "6.00"
    assert head.findtext("receiverInfo/name") == "张三"
    assert head.findtext("receiverInfo/mobile") == "13812345678"
    assert head.findtext("receiverInfo/area") == "余杭区"
    assert head.findtext("receiverInfo/detailAddress") == "文一西路969号"
    lines = root.findall("orderLines/orderLine")
    assert [(line.findtext("itemCode"), line.findtext("planQty")) for line in lines] == [("SKU-1", "2")]
    assert lines[0].findtext("retailPrice") == "19.90"
    assert lines[0].findtext("sourceOrderCode") == order.ref.external_id


def test_delivery_order_refuses_an_encrypted_address() -> None:
    order = make_order(shipping_address=Address(name="~enc~", street="~enc~", province="浙江省", encrypted=True))
    with pytest.raises(BadInputError, match="revealed shipping address"):
        delivery_order_request(order, [order.lines[0].external_id], "K", CODES, source_platform="TB", shop_nick="s")


def test_delivery_order_refuses_a_line_without_merchant_sku() -> None:
    order = make_order()
    order = order.model_copy(update={"lines": [order.lines[0].model_copy(update={"merchant_sku": None})]})
    with pytest.raises(BadInputError, match="no merchant SKU"):
        delivery_order_request(order, [order.lines[0].external_id], "K", CODES, source_platform="TB", shop_nick="s")


def test_delivery_order_refuses_unknown_lines() -> None:
    order = make_order()
    with pytest.raises(BadInputError, match="unknown line"):
        delivery_order_request(order, ["nope"], "K", CODES, source_platform="TB", shop_nick="s")


def test_non_cny_orders_send_no_amounts_rather_than_wrong_ones() -> None:
    order = make_order(currency="USD")
    root = delivery_order_request(order, [order.lines[0].external_id], "K", CODES, source_platform="OTHER",
                                  shop_nick="s")
    assert root.find("deliveryOrder/totalAmount") is None


# ---------------------------------------------------------------- stock


def test_stock_levels_sum_sellable_batches_and_ignore_defective_stock() -> None:
    response = parse_xml(
        "<response><flag>success</flag><items>"
        "<item><itemCode>SKU-1</itemCode><inventoryType>ZP</inventoryType><quantity>5</quantity>"
        "<lockQuantity>1</lockQuantity><batchCode>B1</batchCode></item>"
        "<item><itemCode>SKU-1</itemCode><inventoryType>ZP</inventoryType><quantity>3</quantity>"
        "<lockQuantity>0</lockQuantity><batchCode>B2</batchCode></item>"
        "<item><itemCode>SKU-1</itemCode><inventoryType>CC</inventoryType><quantity>9</quantity></item>"
        "</items></response>",
        "test",
    )
    [level] = stock_levels(response, "wms", CODES, NOW)
    assert (level.merchant_sku, level.on_hand, level.locked, level.warehouse) == ("SKU-1", 8, 1, "wms")


# ---------------------------------------------------------------- callbacks


@pytest.fixture
def wms() -> QimenWmsSandbox:
    sandbox = QimenWmsSandbox()
    sandbox.set_stock("SKU-1", 10)
    return sandbox


def _now() -> datetime:
    return datetime.now(UTC)


def test_stock_change_report_parses_into_ledger_movements(wms: QimenWmsSandbox) -> None:
    params, body = wms.stock_change("SKU-1", -3, order_code="PD001", order_type="PDCK")
    callback = parse_callback(params, body, wms.secret, "wms", CODES, now=_now(), max_age_s=900)
    [change] = callback.stock_changes
    assert (change.merchant_sku, change.delta, change.cause) == ("SKU-1", -3, StockChangeCause.WAREHOUSE_REPORT)
    assert change.reference is not None and change.reference.startswith("SC-")
    assert change.warehouse == "wms"


@pytest.mark.parametrize("prefix", ["taobao.qimen.", ""])
def test_callbacks_are_accepted_with_and_without_the_method_prefix(prefix: str) -> None:
    wms = QimenWmsSandbox(callback_method_prefix=prefix)
    params, body = wms.stock_change("SKU-1", 2)
    assert parse_callback(params, body, wms.secret, "wms", CODES).method == "stockchange.report"


def test_callback_with_a_wrong_sign_is_rejected(wms: QimenWmsSandbox) -> None:
    wms.inject_fault("bad_sign")
    params, body = wms.stock_change("SKU-1", 2)
    with pytest.raises(SignatureError):
        parse_callback(params, body, wms.secret, "wms", CODES)


def test_callback_body_changed_after_signing_is_rejected(wms: QimenWmsSandbox) -> None:
    params, body = wms.stock_change("SKU-1", 2)
    with pytest.raises(SignatureError):
        parse_callback(params, body.replace(b"<quantity>2<", b"<quantity>200<"), wms.secret, "wms", CODES)


def test_stale_callback_is_rejected(wms: QimenWmsSandbox) -> None:
    params, body = wms.stock_change("SKU-1", 2)
    with pytest.raises(SignatureError, match="window"):
        parse_callback(params, body, wms.secret, "wms", CODES, now=_now() + timedelta(hours=1), max_age_s=900)


def test_callback_with_a_dtd_is_refused_even_when_signed() -> None:
    body = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><request><items/></request>'
    params = {"method": "taobao.qimen.stockchange.report", "timestamp": "2026-11-11 10:00:00"}
    params["sign"] = qimen_sign(params, body, "s")
    with pytest.raises(BadInputError, match="DTD"):
        parse_callback(params, body.encode(), "s", "wms", CODES)


def test_unknown_callback_method_is_bad_input() -> None:
    body = "<request/>"
    params = {"method": "taobao.qimen.entryorder.confirm"}
    params["sign"] = qimen_sign(params, body, "s")
    with pytest.raises(BadInputError, match="not handled"):
        parse_callback(params, body.encode(), "s", "wms", CODES)


def test_confirm_parses_status_packages_and_dedupe_key() -> None:
    request = ET.fromstring(
        "<request><deliveryOrder><deliveryOrderCode>KEY-1</deliveryOrderCode><deliveryOrderId>W1</deliveryOrderId>"
        "<warehouseCode>WH-HZ-01</warehouseCode><orderType>JYCK</orderType><status>PARTDELIVERED</status>"
        "<outBizCode>OB-1</outBizCode><confirmType>1</confirmType>"
        "<orderConfirmTime>2026-11-11 18:30:00</orderConfirmTime></deliveryOrder>"
        "<packages><package><logisticsCode>ZTO</logisticsCode><expressCode>7800001</expressCode>"
        "<items><item><itemCode>SKU-1</itemCode><quantity>1</quantity></item></items></package>"
        "<package><logisticsCode>ZTO</logisticsCode><expressCode></expressCode></package></packages>"
        "<orderLines><orderLine><orderLineNo>L1</orderLineNo><itemCode>SKU-1</itemCode><actualQty>1</actualQty>"
        "</orderLine></orderLines></request>"
    )
    body = to_xml(request)
    params = {"method": "deliveryorder.confirm"}
    params["sign"] = qimen_sign(params, body, "s")
    confirmation = parse_callback(params, body.encode(), "s", "wms", CODES).confirmation
    assert confirmation is not None
    assert confirmation.status is WarehouseOrderStatus.PARTIALLY_SHIPPED and not confirmation.final
    assert confirmation.dedupe_key == "OB-1"
    assert confirmation.confirmed_at == datetime(2026, 11, 11, 18, 30, tzinfo=CHINA_TZ)
    assert [(p.logistics_code, p.express_code) for p in confirmation.packages] == [("ZTO", "7800001")]
    order = make_order(lines=[("SKU-1", 2)])
    [parcel] = confirmation.parcels(order)
    assert parcel.tracking_number == "7800001"
    assert [(i.line_external_id, i.quantity) for i in parcel.items] == [(order.lines[0].external_id, 1)]


def test_replies_use_the_qimen_envelope() -> None:
    reply = parse_xml(SUCCESS_REPLY, "reply")
    assert (reply.findtext("flag"), reply.findtext("code"), reply.findtext("message")) == ("success", "0", "")
    refused = parse_xml(failure_reply("SIGN", "bad <sign>"), "reply")
    assert (refused.findtext("flag"), refused.findtext("message")) == ("failure", "bad <sign>")


# ---------------------------------------------------------------- registration and honesty


def test_manual_warehouse_needs_no_settings_and_claims_nothing() -> None:
    context = make_context(ManualWarehouse, "backroom", {})
    assert ManualWarehouse(context).capabilities == frozenset()


def test_plugins_register_connectors_that_implement_what_they_declare() -> None:
    plugins = build_plugin_manager(load_entry_points=False, extra=[warehouse_plugin, logistics_plugin])
    found = {(key, tuple(info.capabilities)) for key, info in plugins.connectors().items()}
    assert found == {
        (("warehouse", "manual"), ()),
        (("warehouse", "qimen"), ("delivery_orders", "query_stock", "receive_warehouse_push")),
        (("courier", "kuaidi100"), ("receive_tracking_push", "track")),
        (("courier", "kuaidi100_label"), ("create_waybill",)),
        (("courier", "manual"), ()),  # labels bought elsewhere: calls nothing
    }
    assert not plugins.sandboxes()
