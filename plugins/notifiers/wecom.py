"""``wecom``: a WeCom (企业微信) group robot (群机器人), markdown message.

The robot's URL is ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``; the key is the only
credential (no signing). Body ``{"msgtype": "markdown", "markdown": {"content": …}}``; the answer
is ``{"errcode": 0, "errmsg": "ok"}``; errcode 45009 is the robot's rate limit (20 a minute) [U]
and is retried, any other non-zero errcode is a refusal.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, Field

from contracts.notifications import Notification
from plugins.notifiers.dingtalk import check_errcode, markdown_of
from plugins.notifiers.http import post_json

DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
#: WeCom robot markdown content is limited to 4096 bytes [U]: longer text is cut.
MAX_CONTENT_BYTES = 4096


class WeComSettings(BaseModel):
    key: str = Field(min_length=1)
    url: str = Field(default=DEFAULT_URL, pattern=r"^https?://")


class WeComNotifier:
    name: ClassVar[str] = "wecom"
    Settings: ClassVar[type[BaseModel]] = WeComSettings

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings: WeComSettings = settings
        self._transport = transport

    async def send(self, notification: Notification) -> None:
        content = markdown_of(notification).encode()[:MAX_CONTENT_BYTES].decode(errors="ignore")
        body = json.dumps({"msgtype": "markdown", "markdown": {"content": content}}, ensure_ascii=False).encode()
        response = await post_json(self.settings.url, body, params={"key": self.settings.key},
                                   transport=self._transport)
        check_errcode(response, "WeCom robot")
