"""The Douyin e-waybill connector against the Douyin sandbox over real HTTP (uvicorn on 127.0.0.1)
with real signatures: issuing, the same key giving the same number, a retry after a timeout that
came after the number was issued, cancelling, and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from contracts import Capability, WaybillItem, WaybillRequest
from hub.errors import BadInputError, PermanentError
from hub.testing.context import make_context
from hub.testing.waybill_requests import RECIPIENT, SENDER, waybill_request
from plugins.douyin.sandbox import DouyinSandbox, running
from plugins.douyin.waybill import DouyinWaybill
from plugins.douyin.waybill_mapping import pack_id

SHOP = "dy-flagship"
pytestmark = pytest.mark.e2e

@pytest.fixture
def sandbox() -> Iterator[tuple[DouyinSandbox, str]]:
    box = DouyinSandbox(auto_deliver=False, seed=11)
    with running(box) as base_url:
        yield box, base_url
        box.release_replies()


def _connector(box: DouyinSandbox, base_url: str, **overrides: Any) -> DouyinWaybill:
    settings = {**box.waybill_settings(SHOP, base_url), **overrides}
    return DouyinWaybill(make_context(DouyinWaybill, "dy-ebill", settings))


@pytest.fixture
async def connector(sandbox: tuple[DouyinSandbox, str]) -> AsyncIterator[DouyinWaybill]:
    account = _connector(*sandbox)
    yield account
    await account.aclose()


def _request(order_id: str, key: str, **changes: Any) -> WaybillRequest:
    return waybill_request(**{
        "key": key, "courier_code": "ZTO", "platform": "douyin", "shop": SHOP, "order_external_ids": [order_id],
        "items": [WaybillItem(name="T 恤 M", quantity=2)], **changes,
    })


async def test_waybill_is_issued_with_its_label_fields(sandbox: tuple[DouyinSandbox, str],
                                                       connector: DouyinWaybill) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 2)
    waybill = await connector.create_waybill(_request(order_id, "parcel-1"))
    assert Capability.CREATE_WAYBILL in DouyinWaybill.capabilities
    assert waybill.provider == "douyin_waybill" and waybill.courier_code == "zto" and waybill.key == "parcel-1"
    assert waybill.waybill_number.startswith("78")
    assert waybill.label.sort_code and waybill.label.package_center == "杭州转运中心"
    assert waybill.label.extra["short_address_name"] == "浙江杭州"
    assert waybill.print_data["track_no"] == waybill.waybill_number  # kept as the platform gave it
    assert waybill.print_data["order_id"] == order_id and waybill.print_data["pack_id"] == pack_id("parcel-1")
    assert box.waybill_status(SHOP, waybill.waybill_number) == "issued"
    assert box.calls.count("logistics.newCreateOrder") == 1


async def test_same_key_gets_the_same_number_and_another_parcel_a_new_one(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinWaybill) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 2)
    first = await connector.create_waybill(_request(order_id, "parcel-7"))
    again = await connector.create_waybill(_request(order_id, "parcel-7"))
    second_parcel = await connector.create_waybill(_request(order_id, "parcel-8"))
    assert again.waybill_number == first.waybill_number
    assert second_parcel.waybill_number != first.waybill_number
    assert box.issued_waybills(SHOP) == 2


async def test_timeout_after_the_number_was_issued_is_retried_and_returns_that_number(
        sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    account = _connector(box, base_url, timeout_s=1.0)
    order_id = box.create_order(SHOP, "MUG", 1)
    box.inject_fault("late_reply", seconds=30)  # issue, then hold the answer past the client's timeout
    waybill = await account.create_waybill(_request(order_id, "parcel-late"))
    box.release_replies()
    await account.aclose()
    assert box.calls.count("logistics.newCreateOrder") == 2  # the retry went through
    assert box.issued_waybills(SHOP) == 1  # and got the number the first call issued
    assert box.waybill_status(SHOP, waybill.waybill_number) == "issued"


async def test_gateway_timeout_answer_after_issuing_is_retried_to_the_same_number(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinWaybill) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "MUG", 1)
    box.inject_fault("lost_reply")  # 20001 after the work
    waybill = await connector.create_waybill(_request(order_id, "parcel-lost"))
    assert box.issued_waybills(SHOP) == 1
    assert (await connector.create_waybill(_request(order_id, "parcel-lost"))).waybill_number == waybill.waybill_number


async def test_cancel_then_cancel_again_then_collected_cannot_be(sandbox: tuple[DouyinSandbox, str],
                                                                 connector: DouyinWaybill) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    waybill = await connector.create_waybill(_request(order_id, "parcel-c1"))
    assert await connector.cancel_waybill("ZTO", waybill.waybill_number) is True
    assert box.waybill_status(SHOP, waybill.waybill_number) == "cancelled"
    assert await connector.cancel_waybill("zto", waybill.waybill_number) is True  # 10901 already cancelled

    collected = await connector.create_waybill(_request(order_id, "parcel-c2"))
    box.collect_waybill(SHOP, collected.waybill_number)
    assert await connector.cancel_waybill("ZTO", collected.waybill_number) is False  # 10802 collected
    with pytest.raises(PermanentError) as unknown:
        await connector.cancel_waybill("ZTO", "78999999999999")
    assert "10014" in str(unknown.value)


async def test_bad_input_is_refused_before_any_call_naming_the_field(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinWaybill) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    cases = [
        (_request(order_id, "b1", recipient=RECIPIENT.model_copy(update={"district": None})), "recipient.district"),
        (_request(order_id, "b2", sender=SENDER.model_copy(update={"name": ""})), "sender.name"),
        (_request(order_id, "b3", courier_code="DHL"), "courier_code"),
        (_request(order_id, "b4", platform="tmall"), "platform"),
        (_request(order_id, "b5", recipient=RECIPIENT.model_copy(update={"country": "US"})), "recipient.country"),
    ]
    for request, field in cases:
        with pytest.raises(BadInputError) as refused:
            await connector.create_waybill(request)
        assert refused.value.field == field, request.key
    assert box.calls.count("logistics.newCreateOrder") == 0


async def test_an_order_the_shop_does_not_have_is_refused_with_the_platform_code(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinWaybill) -> None:
    box, _ = sandbox
    with pytest.raises(PermanentError) as refused:
        await connector.create_waybill(_request("6918000000000999999", "parcel-x"))
    assert refused.value.code == "15002"
    other = box.create_order("dy-other", "TEE-M", 1)
    with pytest.raises(PermanentError) as foreign:
        await connector.create_waybill(_request(other, "parcel-y"))
    assert foreign.value.code == "15000"


async def test_orders_from_other_platforms_need_their_order_channel(sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    account = _connector(box, base_url, order_channels={"tmall": "1"})
    waybill = await account.create_waybill(_request("TM-2026-0001", "parcel-tm", platform="tmall"))
    assert waybill.print_data["order_channel"] == "1"
    with pytest.raises(BadInputError) as refused:
        await account.create_waybill(_request("TM_2026#1", "parcel-tm2", platform="tmall"))
    assert refused.value.field == "order_external_ids"
    await account.aclose()


async def test_platform_refusal_of_a_bad_signature_is_not_retried(sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    account = _connector(box, base_url, app_secret="not-the-secret")
    order_id = box.create_order(SHOP, "TEE-M", 1)
    with pytest.raises(PermanentError) as refused:
        await account.create_waybill(_request(order_id, "parcel-sig"))
    assert "isv.signature-invalid" in str(refused.value)
    assert box.issued_waybills(SHOP) == 0
    await account.aclose()
