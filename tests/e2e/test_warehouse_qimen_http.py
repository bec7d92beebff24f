"""Qimen WMS end to end over real HTTP: the connector against the WMS sandbox under uvicorn, and
the sandbox's signed callbacks delivered to a webhook that verifies them with the connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.asgi_server import serve_in_thread
from hub.errors import RetryableError, SignatureError
from hub.testing.context import make_context
from hub.testing.factories import make_order
from plugins.warehouse.connector import QimenWarehouse
from plugins.warehouse.push import REPLY_CONTENT_TYPE, SUCCESS_REPLY, WarehouseCallback, failure_reply
from plugins.warehouse.sandbox import QimenWmsSandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    sandbox = QimenWmsSandbox()
    sandbox.set_stock("SKU-1", 10)
    sandbox.set_stock("SKU-2", 4)
    with serve_in_thread(sandbox.app) as base_url:
        yield sandbox, base_url


def _warehouse(sandbox: QimenWmsSandbox, base_url: str) -> QimenWarehouse:
    return QimenWarehouse(make_context(QimenWarehouse, "wms-hz", sandbox.warehouse_settings(base_url)))


class Webhook:
    """A stand-in for the hub's ``POST /webhooks/qimen/{warehouse}``: verify, record, reply."""

    def __init__(self, warehouse: QimenWarehouse) -> None:
        self.warehouse = warehouse
        self.received: list[WarehouseCallback] = []
        self.rejected = 0
        self.app = Starlette(routes=[Route("/webhooks/qimen/wms-hz", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        try:
            callback = self.warehouse.parse_warehouse_push(
                dict(request.headers), await request.body(), dict(request.query_params)
            )
        except SignatureError as exc:
            self.rejected += 1
            return Response(failure_reply("sign-check-failure", str(exc)), status_code=401,
                            media_type=REPLY_CONTENT_TYPE)
        self.received.append(callback)
        return Response(SUCCESS_REPLY, media_type=REPLY_CONTENT_TYPE)


async def test_creating_a_delivery_order_twice_with_one_key_makes_one_wms_order(
    wms: tuple[QimenWmsSandbox, str],
) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    order = make_order(platform="tmall", lines=[("SKU-1", 2), ("SKU-2", 1)])
    line_ids = [line.external_id for line in order.lines]

    first = await warehouse.create_delivery_order(order, line_ids, "DO-20261111-0001")
    second = await warehouse.create_delivery_order(order, line_ids, "DO-20261111-0001")

    assert first == second == "DO-20261111-0001"
    assert list(sandbox.orders) == ["DO-20261111-0001"]
    stored = sandbox.orders["DO-20261111-0001"]
    assert stored.source_platform == "TM"
    assert stored.receiver["detailAddress"] == "文一西路969号"
    assert [(item, qty) for _, item, qty in stored.lines] == [("SKU-1", 2), ("SKU-2", 1)]
    await warehouse.aclose()


async def test_a_lost_create_answer_is_retried_without_a_second_order(wms: tuple[QimenWmsSandbox, str]) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    order = make_order(lines=[("SKU-1", 1)])
    sandbox.inject_fault("lost_reply")  # the WMS stores the order, the answer never arrives

    code = await warehouse.create_delivery_order(order, [order.lines[0].external_id], "DO-LOST-1")

    assert code == "DO-LOST-1"
    assert list(sandbox.orders) == ["DO-LOST-1"]
    assert sandbox.calls == ["deliveryorder.create", "deliveryorder.create", "deliveryorder.query"]
    await warehouse.aclose()


async def test_an_unavailable_wms_is_a_retryable_error(wms: tuple[QimenWmsSandbox, str]) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    sandbox.inject_fault("unavailable", count=5)
    with pytest.raises(RetryableError):
        await warehouse.query_stock(["SKU-1"])
    await warehouse.aclose()


async def test_query_stock_reports_on_hand_and_locked(wms: tuple[QimenWmsSandbox, str]) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    order = make_order(lines=[("SKU-1", 3)])
    await warehouse.create_delivery_order(order, [order.lines[0].external_id], "DO-STOCK-1")

    levels = {level.merchant_sku: level for level in await warehouse.query_stock(["SKU-1", "SKU-2", "SKU-404"])}

    assert (levels["SKU-1"].on_hand, levels["SKU-1"].locked) == (7, 3)
    assert (levels["SKU-2"].on_hand, levels["SKU-2"].locked) == (4, 0)
    assert "SKU-404" not in levels  # the WMS said nothing about it
    assert levels["SKU-1"].warehouse == "wms-hz"
    await warehouse.aclose()


async def test_cancel_before_shipping_succeeds_twice_and_after_shipping_is_refused(
    wms: tuple[QimenWmsSandbox, str],
) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    order = make_order(lines=[("SKU-1", 1)])
    await warehouse.create_delivery_order(order, [order.lines[0].external_id], "DO-C-1")
    await warehouse.create_delivery_order(order, [order.lines[0].external_id], "DO-C-2")
    sandbox.ship("DO-C-2", "SF1400000000002")

    assert await warehouse.cancel_delivery_order("DO-C-1") is True
    assert await warehouse.cancel_delivery_order("DO-C-1") is True  # already cancelled: still cancelled
    assert await warehouse.cancel_delivery_order("DO-C-2") is False
    assert sandbox.orders["DO-C-1"].status == "CANCELED"
    assert sandbox.orders["DO-C-2"].status == "DELIVERED"
    await warehouse.aclose()


async def test_shipment_confirm_callback_parses_to_packages_with_tracking_numbers(
    wms: tuple[QimenWmsSandbox, str],
) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    webhook = Webhook(warehouse)
    order = make_order(lines=[("SKU-1", 2)])
    await warehouse.create_delivery_order(order, [order.lines[0].external_id], "DO-SHIP-1")
    with serve_in_thread(webhook.app) as hub_url:
        url = f"{hub_url}/webhooks/qimen/wms-hz"
        response = await sandbox.send_callback(url, sandbox.ship("DO-SHIP-1", "SF1400000000001", "SF"))
        stock_response = await sandbox.send_callback(url, sandbox.stock_change("SKU-2", -1))

    assert response.status_code == 200 and "<flag>success</flag>" in response.text
    assert stock_response.status_code == 200
    confirm, stock = webhook.received
    assert confirm.confirmation is not None
    assert confirm.confirmation.delivery_order_code == "DO-SHIP-1"
    assert confirm.confirmation.final and confirm.confirmation.status.value == "shipped"
    [parcel] = confirm.confirmation.parcels(order)
    assert (parcel.courier_code, parcel.tracking_number) == ("sf", "SF1400000000001")  # Qimen's SF, canonical
    assert [(i.merchant_sku, i.quantity) for i in parcel.items] == [("SKU-1", 2)]
    assert [(c.merchant_sku, c.delta) for c in stock.stock_changes] == [("SKU-2", -1)]
    await warehouse.aclose()


async def test_callback_with_a_bad_sign_is_rejected(wms: tuple[QimenWmsSandbox, str]) -> None:
    sandbox, base_url = wms
    warehouse = _warehouse(sandbox, base_url)
    webhook = Webhook(warehouse)
    with serve_in_thread(webhook.app) as hub_url:
        sandbox.inject_fault("bad_sign")
        response = await sandbox.send_callback(f"{hub_url}/webhooks/qimen/wms-hz", sandbox.stock_change("SKU-1", 5))

    assert response.status_code == 401 and "<flag>failure</flag>" in response.text
    assert webhook.rejected == 1 and webhook.received == []
    await warehouse.aclose()
