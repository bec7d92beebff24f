"""Tmall service work cards (服务工单) end to end: the Tmall connector against its sandbox over real HTTP
and real TOP signatures — a new card arrives over TMC as a trigger and reads linked to its trade and
line; a creation window finds it, one over 15 minutes is refused; each step moves the card and a
step sent twice is applied once; FAIL is not written; a refusal of the session names itself; an
SLA alert arrives whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts import (
    InboundMessage,
    MessageKind,
    ServiceAlertLevel,
    ServiceOrderAction,
    ServiceOrderStatus,
    ServiceOrderStep,
    ServiceOrderType,
    TechnicianRef,
)
from hub.errors import NotFoundError, PermanentError
from hub.testing.context import make_context
from plugins.taobao.mapping import format_top_time
from plugins.taobao.sandbox import serve_in_thread
from plugins.taobao.top_gateway import TopApiError, TopCall
from plugins.tmall.connector import TmallChannel
from plugins.tmall.sandbox import TmallSandbox

pytestmark = pytest.mark.e2e
SHOP = "tm-workcards"
QUERY = "tmall.servicecenter.workcard.querybyseller"
TECH = TechnicianRef(code="T-07", name="李师傅", mobile="13800000007")


@pytest.fixture
def served() -> Iterator[tuple[TmallSandbox, str]]:
    box = TmallSandbox()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


async def connect(box: TmallSandbox, base_url: str, **settings: object) -> TmallChannel:
    connector = TmallChannel(make_context(TmallChannel, SHOP, {**box.shop_settings(SHOP, base_url), **settings}))
    await connector.open_message_channel()
    return connector


@pytest.fixture
async def channel(served: tuple[TmallSandbox, str]) -> AsyncIterator[TmallChannel]:
    connector = await connect(*served)
    yield connector
    await connector.aclose()


async def drain(channel: TmallChannel) -> list[InboundMessage]:
    """The messages waiting, confirmed (so none comes back in a later read)."""
    messages = await channel.consume_messages(200)
    await channel.confirm_messages([m.message_id for m in messages])
    return messages


def new_card(box: TmallSandbox, **fields: object) -> tuple[str, str, str]:
    """A paid trade with a card for its goods: (trade id, line id, card id)."""
    tid = box.create_order(SHOP, "AC-1", 1)
    oid = str(box.shop(SHOP).trades[tid]["orders"]["order"][0]["oid"])
    return tid, oid, box.create_workcard(order_external_id=tid, **fields)  # type: ignore[arg-type]


def step(action: ServiceOrderAction, key: str, **fields: object) -> ServiceOrderStep:
    return ServiceOrderStep(action=action, key=key, **fields)


async def test_a_new_card_is_a_trigger_read_linked_to_its_trade_and_line_and_found_by_its_window(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    expect = datetime(2030, 5, 3, 9, tzinfo=UTC)
    tid, oid, card_id = new_card(box, expect_date=expect)
    triggers = [m for m in await drain(channel) if m.kind is MessageKind.SERVICE_ORDER]
    assert {m.topic for m in triggers} == {"tmall_servicecenter_TaskUpdate", "tmall_fuwu_WorkcardStatusUpdate"}
    assert {m.external_id for m in triggers} == {card_id} and all(m.service_order is None for m in triggers)
    task_update = next(m for m in triggers if m.topic == "tmall_servicecenter_TaskUpdate")
    assert task_update.payload["change_type"] == "CREATE"
    assert not {"buyer_name", "buyer_phone", "buyer_address"} & set(task_update.payload)

    order = await channel.get_service_order(card_id)
    assert order.order_ref is not None and order.order_ref.external_id == tid
    assert (order.line_external_id, order.merchant_sku, order.quantity) == (oid, "AC-1", 1)
    assert (order.status, order.type, order.service_code) == (
        ServiceOrderStatus.NEW, ServiceOrderType.INSTALLATION, "TMALL_INSTALL")
    assert order.region is not None and order.region.names() == ("浙江省", "杭州市", "西湖区")
    assert order.expected_at == expect and order.extra["sequence"]
    with pytest.raises(NotFoundError):
        await channel.get_service_order("123")

    # Creation windows: an older card is found by a longer window (asked in 15-minute slices).
    _, _, older_id = new_card(box, created_at=datetime.now(UTC) - timedelta(minutes=35))
    now = datetime.now(UTC)
    recent = await channel.fetch_service_orders(now - timedelta(minutes=10), now + timedelta(minutes=1))
    assert [o.ref.external_id for o in recent] == [card_id]
    box.gateway.calls.clear()
    found = await channel.fetch_service_orders(now - timedelta(minutes=40), now + timedelta(minutes=1))
    assert {o.ref.external_id for o in found} == {card_id, older_id}
    assert box.gateway.calls.count(QUERY) == 3
    with pytest.raises(PermanentError, match=r"isv\.invalid-parameter:gmt_create_end"):
        await channel.client.call(QUERY, {"gmt_create_start": format_top_time(now - timedelta(minutes=16)),
                                          "gmt_create_end": format_top_time(now)})


async def test_each_step_moves_the_card_once_even_when_sent_twice(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, _ = served
    _, _, card_id = new_card(box)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    steps = [
        (step(ServiceOrderAction.ASSIGN, "a-1", technician=TECH), ServiceOrderStatus.ASSIGNED),
        (step(ServiceOrderAction.BOOK, "b-1", appointment_start=start, appointment_end=start + timedelta(hours=2),
              note="带梯子"), ServiceOrderStatus.BOOKED),
        (step(ServiceOrderAction.CHECK_IN, "c-1"), ServiceOrderStatus.ON_SITE),
        (step(ServiceOrderAction.COMPLETE, "d-1"), ServiceOrderStatus.COMPLETED),
    ]
    await drain(channel)
    order = await channel.get_service_order(card_id)
    for taken, status in steps:
        box.gateway.calls.clear()
        first = await channel.write_service_order(order, taken)
        assert first.written_back and first.service_order is not None and first.service_order.status is status
        again = await channel.write_service_order(order, taken)
        assert again.written_back and again.note and "already" in again.note
        writes = [c for c in box.gateway.calls if c != QUERY]
        assert len(writes) == 1, writes  # one write call for the two attempts
        order = first.service_order
    assert order.assignee == "李师傅" and order.appointment_start == start
    raw = box.workcard_raw(card_id)
    assert raw["service_provider"]["worker_id"] == "T-07" and raw["used_service_count"] == 1
    assert raw["gmt_reserve_end"] == format_top_time(start + timedelta(hours=2))
    actions = [m.payload.get("action") for m in await drain(channel) if m.topic == "tmall_fuwu_WorkcardStatusUpdate"]
    assert actions == ["consign", "complete"]

    _, _, other_id = new_card(box)
    other = await channel.get_service_order(other_id)
    box.gateway.calls.clear()
    failed = await channel.write_service_order(other, step(ServiceOrderAction.FAIL, "f-1", reason="买家不在家"))
    assert not failed.written_back and failed.note and "fail_code" in failed.note and not box.gateway.calls
    cancelled = await channel.write_service_order(other, step(ServiceOrderAction.CANCEL, "x-1", reason="买家取消"))
    assert cancelled.service_order is not None and cancelled.service_order.status is ServiceOrderStatus.CANCELLED
    assert box.workcard_raw(other_id)["gmt_cancel"]


async def test_platform_moves_alerts_a_refused_session_and_writes_turned_off(
        served: tuple[TmallSandbox, str], channel: TmallChannel) -> None:
    box, base_url = served
    _, _, card_id = new_card(box)
    await drain(channel)
    box.tp_moves_workcard(card_id, "assign")  # the service provider's own dispatch
    assert {m.external_id for m in await drain(channel) if m.kind is MessageKind.SERVICE_ORDER} == {card_id}
    moved = await channel.get_service_order(card_id)
    assert (moved.status, moved.assignee) == (ServiceOrderStatus.ASSIGNED, "服务商师傅")

    alert_id = box.raise_service_alert(card_id, level=3)
    (message,) = [m for m in await drain(channel) if m.kind is MessageKind.SERVICE_ALERT]
    assert message.external_id == card_id and message.service_alert is not None
    assert (message.service_alert.alert_id, message.service_alert.level) == (alert_id, ServiceAlertLevel.CRITICAL)
    assert message.service_alert.content == "师傅未在6小时内上报"

    def refuse(call: TopCall) -> dict[str, object]:
        raise TopApiError(11, "Insufficient isv permissions", "isv.permission-api-package-limit",
                          "scope ism.servicecenter not granted")

    box.gateway.register("tmall.servicecenter.workcard.signin", refuse)
    box.tp_moves_workcard(card_id, "reserve")
    with pytest.raises(PermanentError, match=r"isv\.permission-api-package-limit"):
        await channel.write_service_order(moved, step(ServiceOrderAction.CHECK_IN, "c-9"))

    off = await connect(box, base_url, workcard_writes=False)
    try:
        box.gateway.calls.clear()
        result = await off.write_service_order(moved, step(ServiceOrderAction.CHECK_IN, "c-10"))
        assert not result.written_back and result.note and "workcard_writes" in result.note
        assert not [c for c in box.gateway.calls if c.startswith("tmall.servicecenter")]
    finally:
        await off.aclose()
