"""A strict emulator of the receivers the built-in notifiers talk to, for tests and the demo.

One ASGI app answering a signed webhook (``POST /webhook``), a DingTalk robot
(``POST /robot/send``) and a WeCom robot (``POST /cgi-bin/webhook/send``). It checks what the real
ones check — the webhook's HMAC, DingTalk's access token, timestamp window and 加签 sign, WeCom's
key — and records every accepted message in ``received``. ``fail_next(n)`` makes the next ``n``
requests answer HTTP 503, to exercise retries. DingTalk's errcode for a bad sign (310000) and its
one-hour timestamp window are as widely reported, not confirmed from an official page [U].
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from plugins.notifiers.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, dingtalk_sign, verify_webhook

DINGTALK_BAD_SIGN = 310000  # [U]
DINGTALK_BAD_TOKEN = 300001  # [U]
WECOM_BAD_KEY = 93000  # [U]
DINGTALK_WINDOW_MS = 3_600_000  # [U]


@dataclass
class Received:
    """One accepted message: which receiver, the JSON body, and the headers/query it came with."""

    receiver: str
    body: dict[str, Any]
    headers: dict[str, str]
    query: dict[str, str]


@dataclass
class NotifierSandbox:
    webhook_secret: str = "sandbox-webhook-secret"
    dingtalk_token: str = "sandbox-dingtalk-token"
    dingtalk_secret: str = "SECsandbox-dingtalk-secret"
    wecom_key: str = "sandbox-wecom-key"
    received: list[Received] = field(default_factory=list)
    failures_left: int = 0
    clock: Any = time.time

    def fail_next(self, count: int) -> None:
        self.failures_left = count

    def _failing(self) -> bool:
        if self.failures_left > 0:
            self.failures_left -= 1
            return True
        return False

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        if self._failing():
            return Response("unavailable", status_code=503)
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not verify_webhook(self.webhook_secret, timestamp, body, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        self._record("webhook", request, body)
        return JSONResponse({"ok": True})

    async def dingtalk(self, request: Request) -> Response:
        body = await request.body()
        if self._failing():
            return Response("unavailable", status_code=503)
        query = request.query_params
        if query.get("access_token") != self.dingtalk_token:
            return JSONResponse({"errcode": DINGTALK_BAD_TOKEN, "errmsg": "token is not exist"})
        timestamp = query.get("timestamp", "")
        now_ms = int(self.clock() * 1000)
        if (not timestamp.isdigit() or abs(now_ms - int(timestamp)) > DINGTALK_WINDOW_MS
                or query.get("sign") != dingtalk_sign(self.dingtalk_secret, timestamp)):
            return JSONResponse({"errcode": DINGTALK_BAD_SIGN, "errmsg": "sign not match"})
        parsed = json.loads(body)
        if parsed.get("msgtype") != "markdown" or not parsed.get("markdown", {}).get("text"):
            return JSONResponse({"errcode": 40035, "errmsg": "missing markdown"})
        self._record("dingtalk", request, body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def wecom(self, request: Request) -> Response:
        body = await request.body()
        if self._failing():
            return Response("unavailable", status_code=503)
        if request.query_params.get("key") != self.wecom_key:
            return JSONResponse({"errcode": WECOM_BAD_KEY, "errmsg": "invalid webhook url"})
        parsed = json.loads(body)
        if parsed.get("msgtype") != "markdown" or not parsed.get("markdown", {}).get("content"):
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        self._record("wecom", request, body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    def _record(self, receiver: str, request: Request, body: bytes) -> None:
        self.received.append(Received(receiver, json.loads(body), dict(request.headers),
                                      dict(request.query_params)))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/webhook", self.webhook, methods=["POST"]),
            Route("/robot/send", self.dingtalk, methods=["POST"]),
            Route("/cgi-bin/webhook/send", self.wecom, methods=["POST"]),
        ])
