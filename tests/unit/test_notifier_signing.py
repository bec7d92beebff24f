"""The signatures receivers check: DingTalk's 加签 (base64 HMAC-SHA256 of ``timestamp\\nsecret``,
URL-encoded once) and the hub's webhook header (``sha256=`` hex HMAC over ``timestamp.body``);
and the notifier plugin hook: classes collected by name, a name registered twice refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import quote_plus, unquote_plus

import pytest
from pydantic import BaseModel

from hub.errors import ConfigError
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from plugins.notifiers.signing import dingtalk_sign, dingtalk_sign_quoted, verify_webhook, webhook_signature


@pytest.mark.parametrize(("secret", "timestamp", "expected"), [
    ("SEC000example", "1577808000000", "dsdxUQENzowaJzB4GevwFv5/Gg+bFsHcHdCHfHCiUGo="),
    ("this is secret", "1700000000000", "sSFWELbV2YwjdDQhWZwTcWlX5BWUx5J6TPpsZmuPii0="),
])
def test_dingtalk_sign(secret: str, timestamp: str, expected: str) -> None:
    assert dingtalk_sign(secret, timestamp) == expected
    # The documented recipe, written out independently.
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert dingtalk_sign_quoted(secret, timestamp) == quote_plus(base64.b64encode(digest))
    assert unquote_plus(dingtalk_sign_quoted(secret, timestamp)) == expected


@pytest.mark.parametrize(("secret", "timestamp", "body", "expected"), [
    ("s3cret-key", "1700000000", b'{"a":1}', "sha256=8f205229f41e37cd3099c55f73d92a9a4d4c67bd7ae337b802d1723bd83a2a50"),
])
def test_webhook_signature(secret: str, timestamp: str, body: bytes, expected: str) -> None:
    assert webhook_signature(secret, timestamp, body) == expected
    assert verify_webhook(secret, timestamp, body, expected)
    assert not verify_webhook(secret, str(int(timestamp) + 1), body, expected)  # a replay with a new time
    assert not verify_webhook(secret, timestamp, body + b" ", expected)
    assert not verify_webhook(secret, timestamp, body, None)


class _Pager:
    name: ClassVar[str] = "pager"

    class Settings(BaseModel):
        number: str

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def send(self, notification: Any) -> None:
        return None


class _PagerPlugin:
    @hookimpl
    def register_notifiers(self) -> list[type[Any]]:
        return [_Pager]


def test_notifier_classes_are_collected_by_name_and_a_clash_is_refused() -> None:
    plugins = build_plugin_manager(load_entry_points=False, extra=[_PagerPlugin()])
    assert plugins.notifier_classes() == {"pager": _Pager}
    twice = build_plugin_manager(load_entry_points=False, extra=[_PagerPlugin(), _PagerPlugin()])
    with pytest.raises(ConfigError, match="registered twice"):
        twice.notifier_classes()
