"""``dingtalk``: a DingTalk group's custom robot (自定义机器人), markdown message, signed (加签).

The robot's URL is ``https://oapi.dingtalk.com/robot/send?access_token=…``; with the 加签 security
setting each request adds ``timestamp`` (milliseconds) and ``sign`` query parameters
(``plugins.notifiers.signing.dingtalk_sign``). The answer is JSON ``{"errcode": 0, "errmsg": "ok"}``;
any other errcode is a refusal (a bad sign or a blocked keyword will not improve on retry), except
the robot's rate limit, which is retried.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, Field

from contracts.notifications import Notification
from hub.plugin_api import PermanentError, RetryableError
from plugins.notifiers.http import post_json
from plugins.notifiers.signing import dingtalk_sign

DEFAULT_URL = "https://oapi.dingtalk.com/robot/send"
#: errcodes worth trying again later: the robot's send-rate limit (20 messages a minute) [U].
RETRYABLE_ERRCODES = frozenset({130101, -1})


class DingTalkSettings(BaseModel):
    access_token: str = Field(min_length=1)
    #: The 加签 secret (``SEC…``); empty when the robot uses keywords or an IP allow-list instead.
    secret: str = ""
    url: str = Field(default=DEFAULT_URL, pattern=r"^https?://")


def markdown_of(notification: Notification) -> str:
    """Title, text, and the link if any, as robot markdown."""
    lines = [f"### {notification.subject}", "", notification.text]
    if notification.link:
        lines += ["", f"[{notification.link}]({notification.link})"]
    return "\n".join(line for line in lines if line is not None)


class DingTalkNotifier:
    name: ClassVar[str] = "dingtalk"
    Settings: ClassVar[type[BaseModel]] = DingTalkSettings

    def __init__(self, settings: Any, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Any = time.time) -> None:
        self.settings: DingTalkSettings = settings
        self._transport = transport
        self._clock = clock

    async def send(self, notification: Notification) -> None:
        params = {"access_token": self.settings.access_token}
        if self.settings.secret:
            timestamp = str(int(self._clock() * 1000))
            params |= {"timestamp": timestamp, "sign": dingtalk_sign(self.settings.secret, timestamp)}
        body = json.dumps({"msgtype": "markdown",
                           "markdown": {"title": notification.subject, "text": markdown_of(notification)}},
                          ensure_ascii=False).encode()
        response = await post_json(self.settings.url, body, params=params, transport=self._transport)
        check_errcode(response, "DingTalk robot")


def check_errcode(response: httpx.Response, who: str) -> None:
    """Raise unless the robot answered ``errcode`` 0 (shared with WeCom, whose answers look alike)."""
    try:
        answer = response.json()
        code = int(answer.get("errcode", -1))
    except (ValueError, TypeError, AttributeError) as exc:
        raise RetryableError(f"{who} answered something other than JSON") from exc
    if code == 0:
        return
    message = f"{who} refused the message: errcode {code} ({str(answer.get('errmsg', ''))[:100]})"
    if code in RETRYABLE_ERRCODES or code == 45009:
        raise RetryableError(message, code=str(code))
    raise PermanentError(message, code=str(code))
