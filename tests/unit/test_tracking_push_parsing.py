"""How tracking reads a courier's push: Kuaidi100's callback keeps its subscription status (abort
→ resubscribe), a connector with only ``parse_tracking_push`` gives events alone, a push without
events from such a connector is bad input; and where the courier is told to push."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from contracts.shipments import TrackingEvent, TrackingState
from hub.errors import BadInputError, SignatureError
from hub.services.fulfilment import tracking
from hub.services.fulfilment.settings import TrackingSettings
from hub.testing.context import make_context
from hub.testing.tracking import signed_callback
from plugins.logistics.kuaidi100.connector import Kuaidi100Courier

LAST = {"nu": "YT1", "com": "yuantong", "state": "1", "status": "200",
        "data": [{"time": "2026-11-11 10:00:00", "ftime": "2026-11-11 10:00:00", "context": "已揽收"}]}


def _courier() -> Kuaidi100Courier:
    return Kuaidi100Courier(make_context(Kuaidi100Courier, "k100", {"customer": "C", "key": "k", "salt": "s"}))


def test_a_kuaidi100_abort_asks_for_a_new_subscription() -> None:
    push = tracking.parse_push(_courier(), {}, signed_callback({"status": "abort", "lastResult": LAST}, "s"))
    assert (push.tracking_number, push.courier_code, push.needs_resubscribe) == ("YT1", "yto", True)
    assert [e.state for e in push.events] == [TrackingState.COLLECTED]
    polling = tracking.parse_push(_courier(), {}, signed_callback({"status": "polling", "lastResult": LAST}, "s"))
    assert not polling.needs_resubscribe
    with pytest.raises(SignatureError):
        tracking.parse_push(_courier(), {}, signed_callback({"status": "polling", "lastResult": LAST}, "other"))


class EventsOnly:
    def __init__(self, events: list[TrackingEvent]) -> None:
        self.events = events

    def parse_tracking_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        return self.events


def test_a_connector_with_events_only() -> None:
    event = TrackingEvent(tracking_number="SF1", courier_code="SF", state=TrackingState.IN_TRANSIT,
                          occurred_at=datetime(2026, 11, 11, tzinfo=UTC))
    push = tracking.parse_push(EventsOnly([event]), {}, b"")
    assert (push.tracking_number, push.courier_code, push.status, push.needs_resubscribe) == ("SF1", "sf", "", False)
    with pytest.raises(BadInputError):
        tracking.parse_push(EventsOnly([]), {}, b"")


def test_the_callback_address() -> None:
    assert tracking.callback_url(TrackingSettings()) is None
    assert tracking.callback_url(TrackingSettings(courier="k100")) is None
    settings = TrackingSettings(courier="k100", callback_base_url="https://hub.example.com/")
    assert tracking.callback_url(settings) == "https://hub.example.com/webhooks/tracking/k100"
    with pytest.raises(ValueError):
        TrackingSettings(callback_base_url="hub.example.com")
