"""A shop's message channel is opened before it is consumed, retried with backoff when opening
fails, opened again after a resume or an authorisation with a code, and what the operator is
shown says which of these is true."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from contracts import Capability, ShopAuthorization
from hub.config import ShopConfig
from hub.context import Hub
from hub.errors import AuthorizationError, RetryableError
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services import message_channel
from hub.services.shop_authorization import authorize_shop
from hub.services.shop_health import PollRecord, shop_condition
from hub.testing.hub import hub_config

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Channel:
    """A connector whose opening fails as told, counting the attempts."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.opened = 0

    async def open_message_channel(self) -> list[str]:
        self.opened += 1
        if self.failures:
            raise self.failures.pop(0)
        return ["taobao_trade_TradeBuyerPay"]


def _hub(database_url: str) -> Hub:
    return Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))


async def test_a_failed_opening_waits_out_its_backoff_and_is_shown(database, database_url) -> None:  # type: ignore[no-untyped-def]
    hub, shop = _hub(database_url), f"tb-{database.dialect}-backoff"
    channel = Channel(RetryableError("isp.top-remote-service-unavailable (TOP code 15)"))
    assert await message_channel.ensure_open(hub, shop, channel, now=T0) is None
    state = await message_channel.read(hub, shop)
    assert not state.is_open and "isp.top-remote" in (state.last_error or "")
    assert state.retry_at == (T0 + timedelta(seconds=message_channel.backoff_s(1))).isoformat(timespec="microseconds")
    assert await message_channel.ensure_open(hub, shop, channel, now=T0 + timedelta(seconds=1)) is None
    assert channel.opened == 1, "no new attempt before the backoff ran out"
    opened = await message_channel.ensure_open(hub, shop, channel, now=T0 + timedelta(seconds=3))
    assert opened is not None and opened.is_open and opened.topics == ["taobao_trade_TradeBuyerPay"]
    assert await message_channel.ensure_open(hub, shop, channel, now=T0 + timedelta(seconds=4)) is not None
    assert channel.opened == 2, "an open channel is not opened again by the same process"


async def test_a_resume_reopens_the_channel_and_a_lost_session_closes_it(database, database_url) -> None:  # type: ignore[no-untyped-def]
    hub, shop = _hub(database_url), f"tb-{database.dialect}-resume"
    channel = Channel()
    assert await message_channel.ensure_open(hub, shop, channel, now=T0) is not None
    await message_channel.request_reopen(hub, shop, now=T0 + timedelta(seconds=5))
    assert not (await message_channel.read(hub, shop)).is_open
    assert await message_channel.ensure_open(hub, shop, channel, now=T0 + timedelta(seconds=6)) is not None
    assert channel.opened == 2 and (await message_channel.read(hub, shop)).is_open
    await message_channel.record_intake_failure(hub, shop, AuthorizationError("session invalid (TOP code 27)"))
    state = await message_channel.read(hub, shop)
    assert not state.is_open and "27" in (state.last_error or "")


def _condition(**changes: Any) -> tuple[str, str | None]:
    values: dict[str, Any] = {"enabled": True, "installed": True, "paused": False, "paused_reason": None,
                              "known": True, "needs_channel": True,
                              "channel": message_channel.ChannelState(open=True, opened_at=T0.isoformat()),
                              "poll": PollRecord(last_ok_at=T0)}
    values.update(changes)
    found = shop_condition(**values)
    return found.status, found.reason


FAILED_POLL = PollRecord(last_ok_at=T0, last_error="RetryableError: TOP code 15", last_error_at=T0 + timedelta(1))


@pytest.mark.parametrize(("changes", "status", "reason"), [
    ({}, "active", None),
    ({"poll": None}, "active", None),  # no poll yet is not a failure
    ({"poll": PollRecord(last_ok_at=T0 + timedelta(2), last_error="x", last_error_at=T0)}, "active", None),
    ({"enabled": False}, "disabled", "disabled in the configuration"),
    ({"installed": False}, "unknown", "no connector installed for this platform"),
    ({"paused": True, "paused_reason": "session invalid (TOP code 27)"}, "paused", "session invalid (TOP code 27)"),
    ({"known": False, "channel": None, "poll": None}, "unknown", "no poll, intake or pause recorded yet"),
    ({"channel": None}, "degraded", "message channel not open yet"),
    ({"channel": message_channel.ChannelState(open=False, last_error="PermanentError: isv.topic-not-subscribed")},
     "degraded", "message channel not open: PermanentError: isv.topic-not-subscribed"),
    ({"channel": message_channel.ChannelState(open=True, opened_at=T0.isoformat(),
                                              reopen_at=(T0 + timedelta(1)).isoformat())},
     "degraded", "message channel not open yet"),
    ({"needs_channel": False, "channel": None}, "active", None),
    ({"poll": FAILED_POLL}, "degraded", "last poll failed: RetryableError: TOP code 15"),
])
def test_a_shop_is_active_only_when_everything_it_needs_works(changes: dict[str, Any], status: str,
                                                              reason: str | None) -> None:
    assert _condition(**changes) == (status, reason)


class _NoSettings(BaseModel):
    pass


class _CodeAndChannel:
    """A connector authorised with a code that also has a message channel (no installed plugin is
    both: TOP shops keep their session in the configuration, Douyin pushes over HTTP)."""

    platform: ClassVar[str] = "codechannel"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AUTHORIZE, Capability.MESSAGE_CHANNEL})
    Settings: ClassVar[type[BaseModel]] = _NoSettings
    def __init__(self, context: Any) -> None:
        self.shop = context.name
        self.opened = 0

    async def authorize(self, code: str) -> ShopAuthorization:
        return ShopAuthorization(shop=self.shop, account_id="seller-1")

    async def open_message_channel(self) -> list[str]:
        self.opened += 1
        return []

    async def consume_messages(self, limit: int) -> list[Any]:
        return []

    async def confirm_messages(self, message_ids: list[str]) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _CodeAndChannelPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [_CodeAndChannel]


async def test_authorising_a_shop_with_a_code_opens_its_channel_again(database, database_url) -> None:  # type: ignore[no-untyped-def]
    shop = f"cc-{database.dialect}"
    config = hub_config(database_url, shops={shop: ShopConfig(platform="codechannel", settings={})})
    hub = Hub(config, build_plugin_manager(extra=[_CodeAndChannelPlugin()], load_entry_points=False))
    connector = hub.accounts().channel(shop)
    assert await message_channel.ensure_open(hub, shop, connector) is not None
    assert await message_channel.ensure_open(hub, shop, connector) is not None and connector.opened == 1
    await authorize_shop(hub, shop, "new-code", actor="test")
    assert not (await message_channel.read(hub, shop)).is_open, "the new token's channel is not open yet"
    assert await message_channel.ensure_open(hub, shop, connector) is not None
    assert connector.opened == 2, "opened again for the new authorisation"
    await hub.close_loop_resources()
