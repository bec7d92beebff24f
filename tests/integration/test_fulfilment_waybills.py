"""Electronic waybills step by step against the fake provider (``hub.testing.waybill_provider``):
one waybill per parcel however often it is asked, even when the provider times out after
issuing; a final refusal fails the parcel and holds the order with the provider's message;
cancelling and the provider's "no"; labels print as real 100×150 mm PDFs. Both backends, no
workers racing the test."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts import OrderStatus
from contracts.orders import Address
from hub.config import HubConfig
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import OrderEventRow, OrderHoldRow, OrderRow, OutboxRow, ParcelRow
from hub.services import orders
from hub.services.fulfilment import labels, waybills
from hub.testing.factories import make_order
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub
from hub.testing.waybill_provider import (
    WAREHOUSE_ADDRESS,
    FakeWaybillProvider,
    WaybillProviderPlugin,
    make_parcels,
)

MEDIABOX = re.compile(rb"/MediaBox \[\s*0 0 283\.46\d* 425\.19\d*\s*\]")


@pytest.fixture(autouse=True)
def _reset() -> None:
    FakeWaybillProvider.reset()


def config(database_url: str, **fulfilment: Any) -> Any:
    courier = f"zto-{secrets.token_hex(3)}"  # breaker keys are per courier account
    return hub_config(database_url, warehouses={"main": {"platform": "manual", "address": WAREHOUSE_ADDRESS}},
                      couriers={courier: {"platform": "fakewaybill", "settings": {"courier_code": "zto"}}},
                      **({"fulfilment": fulfilment} if fulfilment else {}))


@contextmanager
def provider_hub(cfg: HubConfig) -> Iterator[Hub]:
    """A hub with the fake waybill provider registered, without workers or the outbox relay."""
    with running_hub(cfg, extra_plugins=[WaybillProviderPlugin()], load_entry_points=False, start_workers=False,
                     relay=False) as hub:
        yield hub


def courier_of(hub: Hub) -> str:
    return next(iter(hub.config.couriers))


async def paid_order(hub: Hub, **overrides: Any) -> int:
    order = make_order(status=OrderStatus.PAID, lines=[("SKU-1", 2), ("SKU-2", 1)], **overrides)
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="test")
    return result.order_id


async def parcel(hub: Hub, parcel_id: int) -> ParcelRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel_id))).scalar_one()


async def holds(hub: Hub, order_id: int) -> dict[str, str]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars()
        return {h.code: h.reason for h in rows}


async def events(hub: Hub, order_id: int) -> list[str]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderEventRow.kind).where(
            OrderEventRow.order_id == order_id).order_by(OrderEventRow.id))).scalars())


async def test_a_provider_that_times_out_after_issuing_gives_the_same_waybill_on_retry(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        FakeWaybillProvider.faults.append("timeout_after_issue")
        with pytest.raises(httpx.ReadTimeout):
            await waybills.issue_waybills(hub, [parcel_id])
        row = await parcel(hub, parcel_id)
        assert (row.status, row.waybill_number, row.attempts) == ("pending", None, 1)
        assert "did not answer" in (row.last_error or "")
        assert len(FakeWaybillProvider.issued) == 1  # the provider did issue one

        await waybills.issue_waybills(hub, [parcel_id])  # the queue's retry: same key, same number
        await waybills.issue_waybills(hub, [parcel_id, parcel_id])  # a repeated message: nothing asked
        row = await parcel(hub, parcel_id)
        first = FakeWaybillProvider.issued[row.key]
        assert (row.status, row.waybill_number, row.last_error) == ("issued", first.waybill_number, None)
        assert row.print_data["waybill_number"] == first.waybill_number and row.print_data["reused"] is True
        assert [r.key for r in FakeWaybillProvider.requests] == [row.key, row.key]
        assert len(FakeWaybillProvider.issued) == 1
        request = FakeWaybillProvider.requests[0]
        assert request.sender.province == "浙江省" and request.recipient.name == "张三"
        assert [(i.merchant_sku, i.quantity) for i in request.items] == [("SKU-1", 2), ("SKU-2", 1)]
        assert (await events(hub, order_id)).count("waybill_issued") == 1
        await hub.close_loop_resources()


async def test_a_duplicate_answer_and_a_late_one_change_nothing(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        first, second = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=2)
        await waybills.issue_waybills(hub, [first])
        number = (await parcel(hub, first)).waybill_number
        # A provider that wrongly answers the first parcel's number for another key: refused by the
        # unique (courier_code, waybill_number), the second parcel fails visibly instead of sharing it.
        FakeWaybillProvider.issued[(await parcel(hub, second)).key] = FakeWaybillProvider.issued[
            (await parcel(hub, first)).key].model_copy(update={"key": (await parcel(hub, second)).key})
        await waybills.issue_waybills(hub, [second])
        row = await parcel(hub, second)
        assert row.status == "failed" and row.waybill_number is None and "another parcel" in (row.last_error or "")
        assert (await parcel(hub, first)).waybill_number == number
        assert "waybill_failed" in await holds(hub, order_id)
        await hub.close_loop_resources()


async def test_a_refusal_fails_the_parcel_and_holds_the_order_until_a_retry_succeeds(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        FakeWaybillProvider.faults.append("refuse")
        await waybills.issue_waybills(hub, [parcel_id])  # recorded, not raised: nothing to retry
        row = await parcel(hub, parcel_id)
        assert row.status == "failed" and "余额不足" in (row.last_error or "")
        assert "余额不足" in (await holds(hub, order_id))["waybill_failed"]
        async with hub.database().session() as session:
            assert (await session.scalar(select(OrderRow.on_hold).where(OrderRow.id == order_id))) is True

        outcome = await waybills.issue_now(hub, parcel_id, actor="user:clerk")  # a person retries
        assert outcome.status == "issued" and outcome.waybill_number
        assert await holds(hub, order_id) == {}
        kinds = await events(hub, order_id)
        assert kinds.index("waybill_failed") < kinds.index("waybill_retried") < kinds.index("waybill_issued")
        await hub.close_loop_resources()


async def test_transient_faults_are_retried_then_given_up(database_url: str) -> None:
    with provider_hub(config(database_url, waybills={"max_attempts": 2})) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        FakeWaybillProvider.faults.extend([httpx.ConnectError("refused"), httpx.ConnectError("refused")])
        with pytest.raises(httpx.ConnectError):
            await waybills.issue_waybills(hub, [parcel_id])
        await waybills.issue_waybills(hub, [parcel_id])  # the last attempt: given up, visibly
        row = await parcel(hub, parcel_id)
        assert row.status == "failed" and "gave up after 2 attempts" in (row.last_error or "")
        assert "waybill_failed" in await holds(hub, order_id)
        await hub.close_loop_resources()


async def test_a_warehouse_without_an_address_fails_the_parcel_naming_the_setting(database_url: str) -> None:
    cfg = config(database_url)
    cfg = cfg.model_copy(update={"warehouses": {"main": cfg.warehouses["main"].model_copy(update={"address": {}})}})
    with provider_hub(cfg) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        await waybills.issue_waybills(hub, [parcel_id])
        row = await parcel(hub, parcel_id)
        assert row.status == "failed" and "[warehouses.main] address" in (row.last_error or "")
        assert FakeWaybillProvider.requests == []
        await hub.close_loop_resources()


async def test_an_encrypted_address_is_passed_through_to_the_provider(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        cipher = Address(name="~AgAAAA==~", phone="$$ENC$$", province="浙江省", city="杭州市", district="西湖区",
                         street="##CIPHER##", encrypted=True)
        order_id = await paid_order(hub, shipping_address=cipher)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        await waybills.issue_waybills(hub, [parcel_id])
        assert FakeWaybillProvider.requests[0].recipient == cipher
        await hub.close_loop_resources()


async def test_the_orders_recipient_oaid_goes_with_its_masked_address(database_url: str) -> None:
    """TOP masks Taobao/Tmall receivers and gives the trade's oaid (``Order.extra["oaid"]``): the
    waybill request carries it as ``recipient_oaid``; an order without one sends none."""
    with provider_hub(config(database_url)) as hub:
        masked = Address(name="闫**", phone="1573672****", province="河南省", city="郑州市", district="金水区",
                         street="**********")
        with_oaid = await paid_order(hub, shipping_address=masked, extra={"oaid": "OAID-42", "type": "fixed"})
        without = await paid_order(hub)
        parcel_ids = [p for order_id in (with_oaid, without)
                      for p in await make_parcels(hub, order_id, courier_account=courier_of(hub))]
        await waybills.issue_waybills(hub, parcel_ids)
        sent = {r.recipient.name: r.recipient_oaid for r in FakeWaybillProvider.requests}
        assert sent == {"闫**": "OAID-42", "张三": None}
        await hub.close_loop_resources()


async def test_cancel_issued_waybills_and_the_providers_no(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        a, b, c = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=3)
        await waybills.issue_waybills(hub, [a, b])  # c stays pending: no waybill to recycle
        collected = (await parcel(hub, b)).waybill_number
        FakeWaybillProvider.collected.add(collected or "")
        done = await waybills.cancel_waybills(hub, [a, b, c], actor="user:clerk")
        assert done == [a, c]
        assert FakeWaybillProvider.cancelled == [(await parcel(hub, a)).waybill_number]
        row_b = await parcel(hub, b)
        assert row_b.status == "issued" and "refused" in (row_b.last_error or "")
        assert (await parcel(hub, c)).status == "cancelled"
        # Asked again (a retried interception): still cancelled, and the provider is not asked twice.
        assert await waybills.cancel_waybills(hub, [a], actor="user:clerk") == [a]
        assert len(FakeWaybillProvider.cancelled) == 1
        await waybills.issue_waybills(hub, [c])  # a cancelled parcel is never issued
        assert (await parcel(hub, c)).waybill_number is None
        await hub.close_loop_resources()


async def test_labels_are_100_by_150_mm_pages_with_the_waybill_and_printing_marks_them(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        ids = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=2)
        await waybills.issue_waybills(hub, ids)
        numbers = [(await parcel(hub, i)).waybill_number or "" for i in ids]
        pdf = await labels.print_labels(hub, ids, actor="user:clerk", reveal=False)
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert len(MEDIABOX.findall(pdf)) == 2 and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2
        for number in numbers:
            assert f"({number}) Tj".encode() in pdf
        assert "13812345678" not in pdf.decode("latin-1")  # masked for a role without personal data
        rows = [await parcel(hub, i) for i in ids]
        assert {r.status for r in rows} == {"printed"} and all(r.printed_at for r in rows)
        first_print = rows[0].printed_at
        await labels.print_labels(hub, ids[:1], actor="user:clerk", reveal=True)  # a reprint
        assert (await parcel(hub, ids[0])).printed_at == first_print
        assert (await events(hub, order_id)).count("label_printed") == 3
        with pytest.raises(waybills.WaybillRefused, match="is pending and has no waybill"):
            await _print_pending(hub, order_id)
        await hub.close_loop_resources()


async def _print_pending(hub: Hub, order_id: int) -> bytes:
    [pending] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
    return await labels.print_labels(hub, [pending], actor="x", reveal=False)


async def test_issue_now_leaves_a_transient_fault_to_the_queue(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        FakeWaybillProvider.faults.append("unavailable")
        outcome = await waybills.issue_now(hub, parcel_id, actor="user:clerk")
        assert outcome.status == "pending" and "busy" in (outcome.error or "")
        async with hub.database().session() as session:
            queued = list((await session.execute(select(OutboxRow.args).where(
                OutboxRow.actor == waybills.ISSUE_ACTOR))).scalars())
        assert queued == [[[parcel_id]]]
        await hub.close_loop_resources()


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


async def test_the_actor_retries_a_timeout_into_one_waybill_with_real_workers(database_url: str,
                                                                              mode: str | None) -> None:
    cfg = config(database_url)
    cfg = cfg.model_copy(update={"hub": cfg.hub.model_copy(update={"redis_url": mode})})
    with running_hub(cfg, extra_plugins=[WaybillProviderPlugin()], load_entry_points=False,
                     queues=["fulfilment"]) as hub:
        order_id = await paid_order(hub)
        ids = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=2)
        FakeWaybillProvider.faults.append("timeout_after_issue")
        async with hub.database().transaction() as session:  # as the flow writes it
            outbox.add(session, waybills.ISSUE_ACTOR, ids)

        async def issued() -> bool:
            return [(await parcel(hub, i)).status for i in ids] == ["issued", "issued"]

        await eventually(issued, what="both parcels issued")
        rows = [await parcel(hub, i) for i in ids]
        assert len({r.waybill_number for r in rows}) == 2 and len(FakeWaybillProvider.issued) == 2
        assert rows[0].attempts == 2 and rows[1].attempts == 1  # the second was issued on the first pass
        await hub.close_loop_resources()


async def eventually(check: Any, *, timeout_s: float = 60.0, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(0.05)


async def test_two_workers_issuing_one_parcel_at_once_store_one_waybill(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        outcomes = await asyncio.gather(*(waybills.issue_parcel(hub, parcel_id) for _ in range(3)))
        row = await parcel(hub, parcel_id)
        assert row.status == "issued" and {o.waybill_number for o in outcomes} == {row.waybill_number}
        assert len(FakeWaybillProvider.issued) == 1
        assert (await events(hub, order_id)).count("waybill_issued") == 1
        await hub.close_loop_resources()
