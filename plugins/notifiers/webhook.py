"""``webhook``: the notification as JSON, POSTed to the merchant's URL and signed with a shared secret.

Headers: ``X-Hub-Timestamp`` (Unix seconds) and ``X-Hub-Signature: sha256=<hex>``, the HMAC-SHA256
of ``timestamp + "." + body`` with ``secret`` (``plugins.notifiers.signing.webhook_signature``).
A receiver recomputes it over the raw body and rejects stale timestamps.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, Field

from contracts.notifications import Notification
from plugins.notifiers.http import post_json
from plugins.notifiers.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature


class WebhookSettings(BaseModel):
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=8)
    timeout_s: float = Field(default=10.0, gt=0, le=60)


def webhook_body(notification: Notification) -> bytes:
    """The JSON body a receiver gets: the notification's fields, keys sorted."""
    return json.dumps(notification.model_dump(mode="json"), ensure_ascii=False, sort_keys=True).encode()


class WebhookNotifier:
    name: ClassVar[str] = "webhook"
    Settings: ClassVar[type[BaseModel]] = WebhookSettings

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Any = time.time) -> None:
        self.settings: WebhookSettings = settings
        self._transport = transport
        self._clock = clock

    async def send(self, notification: Notification) -> None:
        body = webhook_body(notification)
        timestamp = str(int(self._clock()))
        headers = {TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: webhook_signature(self.settings.secret, timestamp, body)}
        await post_json(self.settings.url, body, headers=headers, transport=self._transport,
                        timeout_s=self.settings.timeout_s)
