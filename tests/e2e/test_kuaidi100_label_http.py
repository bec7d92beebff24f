"""Kuaidi100's electronic waybill API end to end over real HTTP: the ``Kuaidi100LabelCourier``
against ``Kuaidi100Sandbox`` under uvicorn, with real signatures — issuing, the same key giving the
same number, a retry after a timeout that came after the number was issued, cancelling, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts import WaybillItem, WaybillRequest
from hub.errors import AuthorizationError, BadInputError, PermanentError
from hub.testing.context import make_context
from hub.testing.waybill_requests import RECIPIENT, SENDER, waybill_request
from plugins.logistics.kuaidi100.label import Kuaidi100LabelCourier
from plugins.logistics.sandbox import Kuaidi100Sandbox
from tests.e2e.kuaidi100_support import served_kuaidi100

pytestmark = pytest.mark.e2e

@pytest.fixture
def sandbox() -> Iterator[tuple[Kuaidi100Sandbox, str]]:
    with served_kuaidi100() as (emulator, base_url):
        yield emulator, base_url
        emulator.label.release_replies()


def _courier(emulator: Kuaidi100Sandbox, base_url: str, **values: Any) -> Kuaidi100LabelCourier:
    return Kuaidi100LabelCourier(make_context(Kuaidi100LabelCourier, "k100-zto",
                                              emulator.label_settings(base_url, **values)))


def _request(key: str, **changes: Any) -> WaybillRequest:
    return waybill_request(**{
        "key": key, "courier_code": "zto", "platform": "tmall", "shop": "tm-1", "order_external_ids": ["3800001"],
        "items": [WaybillItem(name="T 恤 M", quantity=1)], "weight_grams": 450, **changes,
    })


async def test_waybill_is_issued_with_label_fields_and_print_data_as_given(
        sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url, print_type="HTML")
    waybill = await courier.create_waybill(_request("parcel-1"))
    await courier.aclose()
    assert waybill.provider == "kuaidi100_label" and waybill.courier_code == "zto"
    assert waybill.waybill_number.startswith("78")
    assert (waybill.label.sort_code, waybill.label.package_center, waybill.label.route_code) == \
        ("300-W01 00", "杭州转运中心", "A12")
    assert waybill.print_data["kuaidinum"] == waybill.waybill_number
    assert waybill.label.extra["label"].endswith(waybill.waybill_number)  # the HTML short link
    assert emulator.label.status(waybill.waybill_number) == "issued"


async def test_same_key_gets_the_same_number(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url)
    first = await courier.create_waybill(_request("parcel-7"))
    again = await courier.create_waybill(_request("parcel-7"))
    other = await courier.create_waybill(_request("parcel-8"))
    await courier.aclose()
    assert again.waybill_number == first.waybill_number and other.waybill_number != first.waybill_number
    assert emulator.label.issued() == 2


async def test_timeout_after_the_number_was_issued_is_retried_and_returns_that_number(
        sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url, timeout_s=1.0)
    emulator.label.inject_fault("late_reply", seconds=30)
    waybill = await courier.create_waybill(_request("parcel-late"))
    emulator.label.release_replies()
    await courier.aclose()
    assert emulator.label.calls.count("order") == 2  # the retry went through
    assert emulator.label.issued() == 1  # and got the first call's number
    assert emulator.label.status(waybill.waybill_number) == "issued"


async def test_server_error_is_retried(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url)
    emulator.label.inject_fault("server_error")
    waybill = await courier.create_waybill(_request("parcel-busy"))
    await courier.aclose()
    assert emulator.label.calls.count("order") == 2 and waybill.waybill_number


async def test_cancel_and_a_collected_waybill(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url)
    waybill = await courier.create_waybill(_request("parcel-c1"))
    assert await courier.cancel_waybill("ZTO", waybill.waybill_number) is True
    assert emulator.label.status(waybill.waybill_number) == "cancelled"
    collected = await courier.create_waybill(_request("parcel-c2"))
    emulator.label.collect(collected.waybill_number)
    with pytest.raises(PermanentError) as refused:
        await courier.cancel_waybill("ZTO", collected.waybill_number)
    assert "已揽收" in str(refused.value)
    await courier.aclose()


async def test_bad_input_is_refused_before_any_call_naming_the_field(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = _courier(emulator, base_url, couriers=["ZTO", "YTO"])
    cases = [
        (_request("b1", recipient=RECIPIENT.model_copy(update={"name": None})), "recipient.name"),
        (_request("b2", sender=SENDER.model_copy(update={"street": " "})), "sender.street"),
        (_request("b3", recipient=RECIPIENT.model_copy(update={"encrypted": True})), "recipient"),
        (_request("b4", courier_code="SF"), "courier_code"),  # not this account's courier
        (_request("b5", courier_code="DHL"), "courier_code"),
    ]
    for request, field in cases:
        with pytest.raises(BadInputError) as refused:
            await courier.create_waybill(request)
        assert refused.value.field == field, request.key
    await courier.aclose()
    assert emulator.label.calls == []


async def test_wrong_secret_and_wrong_key_are_refused_by_the_platform(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    wrong_secret = _courier(emulator, base_url, secret="not-it")
    with pytest.raises(PermanentError) as bad_sign:
        await wrong_secret.create_waybill(_request("parcel-s"))
    assert bad_sign.value.code == "30002"
    wrong_key = _courier(emulator, base_url, key="not-it")
    with pytest.raises(AuthorizationError):
        await wrong_key.create_waybill(_request("parcel-k"))
    await wrong_secret.aclose()
    await wrong_key.aclose()
    assert emulator.label.issued() == 0


async def test_a_repeat_after_the_48_hour_window_issues_a_second_number(
        sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    """The residual risk the README names: Kuaidi100's repeat window is 48 hours."""
    emulator, base_url = sandbox
    now = [1_800_000_000.0]
    emulator.label.clock = lambda: now[0]
    courier = _courier(emulator, base_url)
    first = await courier.create_waybill(_request("parcel-old"))
    now[0] += 47 * 3600
    assert (await courier.create_waybill(_request("parcel-old"))).waybill_number == first.waybill_number
    now[0] += 2 * 3600
    assert (await courier.create_waybill(_request("parcel-old"))).waybill_number != first.waybill_number
    await courier.aclose()
