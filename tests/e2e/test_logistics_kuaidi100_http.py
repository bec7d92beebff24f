"""Kuaidi100 end to end over real HTTP: the connector against the sandbox under uvicorn, and the
sandbox's signed callbacks delivered to a webhook that verifies them with the connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts import TrackingEvent, TrackingState
from hub.asgi_server import serve_in_thread
from hub.errors import SignatureError
from hub.testing.context import make_context
from plugins.logistics.kuaidi100.connector import Kuaidi100Courier
from plugins.logistics.kuaidi100.push import TRACKING_PUSH_CONTENT_TYPE, TRACKING_PUSH_REPLY, TRACKING_PUSH_REPLY_BODY
from plugins.logistics.sandbox import Kuaidi100Sandbox
from tests.e2e.kuaidi100_support import served_kuaidi100

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[tuple[Kuaidi100Sandbox, str]]:
    with served_kuaidi100() as served:
        yield served


class Webhook:
    """A stand-in for the hub's ``POST /webhooks/kuaidi100/{courier}``: verify, record, reply."""

    def __init__(self, courier: Kuaidi100Courier) -> None:
        self.courier = courier
        self.received: list[list[TrackingEvent]] = []
        self.rejected = 0
        self.app = Starlette(routes=[Route("/webhooks/kuaidi100/k100", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            events = self.courier.parse_tracking_push(dict(request.headers), body)
        except SignatureError:
            self.rejected += 1
            return Response("bad signature", status_code=401)
        self.received.append(events)
        return Response(TRACKING_PUSH_REPLY_BODY, media_type=TRACKING_PUSH_CONTENT_TYPE)


async def test_waybill_is_tracked_through_its_states(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", emulator.courier_settings(base_url)))
    emulator.create_waybill("zhongtong", "78000000000000000001")

    assert await courier.track("78000000000000000001", "ZTO") == []  # no scan yet: "no result" is not an error
    seen = []
    for _ in range(5):
        emulator.advance("zhongtong", "78000000000000000001")
        events = await courier.track("78000000000000000001", "ZTO")
        seen.append(events[-1].state)
    assert seen == [
        TrackingState.COLLECTED,
        TrackingState.IN_TRANSIT,
        TrackingState.IN_TRANSIT,
        TrackingState.OUT_FOR_DELIVERY,
        TrackingState.DELIVERED,
    ]
    assert len(events) == 5 and all(e.courier_code == "zto" for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    await courier.aclose()


async def test_busy_kuaidi100_is_retried_and_the_query_succeeds(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", emulator.courier_settings(base_url)))
    emulator.advance("shunfeng", "SF1400000000001")
    emulator.inject_fault("busy")
    events = await courier.track("SF1400000000001", "SF", phone="5678")
    assert [e.state for e in events] == [TrackingState.COLLECTED]
    await courier.aclose()


async def test_subscribed_waybill_pushes_a_signed_callback_the_hub_accepts(
    sandbox: tuple[Kuaidi100Sandbox, str],
) -> None:
    emulator, base_url = sandbox
    courier = Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", emulator.courier_settings(base_url)))
    webhook = Webhook(courier)
    with serve_in_thread(webhook.app) as hub_url:
        callback_url = f"{hub_url}/webhooks/kuaidi100/k100"
        assert await courier.subscribe("YT0000000000001", "YTO", callback_url) is True
        assert await courier.subscribe("YT0000000000001", "YTO", callback_url) is False  # already: still fine
        emulator.advance("yuantong", "YT0000000000001")
        emulator.advance("yuantong", "YT0000000000001")

        response = await emulator.send_callback("yuantong", "YT0000000000001")

    assert response.status_code == 200
    assert emulator.callback_replies == [TRACKING_PUSH_REPLY]
    [events] = webhook.received
    assert [(e.state, e.courier_code) for e in events] == [
        (TrackingState.COLLECTED, "yto"),
        (TrackingState.IN_TRANSIT, "yto"),
    ]
    await courier.aclose()


async def test_callback_with_a_bad_sign_is_rejected_and_not_recorded(sandbox: tuple[Kuaidi100Sandbox, str]) -> None:
    emulator, base_url = sandbox
    courier = Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", emulator.courier_settings(base_url)))
    webhook = Webhook(courier)
    with serve_in_thread(webhook.app) as hub_url:
        await courier.subscribe("YT0000000000002", "YTO", f"{hub_url}/webhooks/kuaidi100/k100")
        emulator.advance("yuantong", "YT0000000000002")
        emulator.inject_fault("bad_sign")
        response = await emulator.send_callback("yuantong", "YT0000000000002")

    assert response.status_code == 401
    assert webhook.rejected == 1 and webhook.received == []
    await courier.aclose()
