"""Shared helpers for the API and CLI tests (no tests here): a fake push-capable channel plugin,
a hub on the test's database, an HTTP client on the test's loop, and API keys per role.

Imported by ``test_api_*.py`` and ``test_cli_*.py``; not a conftest (the lead owns those).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from contracts import Capability, InboundMessage, MessageKind, PushReceipt
from hub.config import HubConfig, HubSection, ShopConfig
from hub.context import Hub, build_hub
from hub.errors import BadInputError, SignatureError
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.testing.api import api_client, bearer, client_for, new_key  # noqa: F401 - re-exported

PUSH_SECRET = "fake-push-secret-0123456789"


class FakePushSettings(BaseModel):
    secret: str
    reply_text: bool = False


def sign(body: bytes, secret: str = PUSH_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakePushChannel:
    """A channel whose pushes are JSON ``{"events": [{"id", "order"}]}`` signed in ``X-Sign``."""

    platform: ClassVar[str] = "fakepush"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.RECEIVE_PUSH})
    Settings = FakePushSettings
    max_stock_batch: ClassVar[int] = 10

    def __init__(self, context: Any) -> None:
        self.settings: FakePushSettings = context.settings

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushReceipt:
        if not hmac.compare_digest(headers.get("x-sign", ""), sign(body, self.settings.secret)):
            raise SignatureError("X-Sign does not match the body")
        try:
            events = json.loads(body)["events"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInputError(f"not a fakepush envelope: {exc}", field="events") from exc
        messages = [
            InboundMessage(message_id=str(e["id"]), kind=MessageKind.ORDER, topic="order_paid",
                           external_id=str(e["order"]), payload=e)
            for e in events
        ]
        reply: dict[str, Any] | str = "success" if self.settings.reply_text else {"code": 0, "msg": "success"}
        return PushReceipt(messages=messages, reply_body=reply)

    async def aclose(self) -> None:
        return None


class FakePollChannel(FakePushChannel):
    """A channel that does not deliver HTTP pushes."""

    platform: ClassVar[str] = "fakepoll"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


class FakeChannelsPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [FakePushChannel, FakePollChannel]


def make_hub(database_url: str, **shops: ShopConfig) -> Hub:
    """A hub on ``database_url`` with the fake channels (and no installed plugins) loaded."""
    config = HubConfig(hub=HubSection(database_url=database_url), shops=dict(shops))
    plugins = build_plugin_manager(extra=[FakeChannelsPlugin()], load_entry_points=False)
    return build_hub(config, plugins=plugins)


def push_shop(*, enabled: bool = True, reply_text: bool = False) -> ShopConfig:
    return ShopConfig(platform="fakepush", enabled=enabled, settings={"secret": PUSH_SECRET, "reply_text": reply_text})


@asynccontextmanager
async def api(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(hub) as client:
        yield client

