"""A partner's HTTP push, verified, recorded, acknowledged: per shop and per platform app.

``POST /webhooks/{platform}/{shop}`` is one shop's push URL; ``POST /webhooks/{platform}`` is the
push URL of a platform app that pushes every authorising shop's messages to one place
(``Capability.RECEIVE_APP_PUSH``): the shops configured for the app the push names (``push_app_of``
/ ``push_app``) verify it, and each message goes to the shop whose platform id it names
(``hub.services.push_routing``). The raw body goes to a connector (``parse_push``), which checks the
signature on the exact bytes and parses the events; the messages are stored in the inbox, with their
``process_inbox_batch`` owed in the outbox, in one transaction shared with the pushes that arrived
meanwhile (``hub.services.intake.accept_messages``, group commit), before the platform hears
"success" in the body and status it expects. A push whose group could not be committed gets a 5xx
(nothing of it acknowledged), so the platform pushes it again. A message that names a shop it does
not belong to, or that cannot be stored (a message id over 200 characters, a NUL in an id), is not
stored, and listed (logged, and its id in the ``X-Rejected-Messages`` header) while the rest of the
batch is kept. Bodies are bounded before they reach here (``hub.api.body_limits``: 413, 408, and 400
for JSON nested too deep to parse safely). The queue is not on this path: a broker outage delays the
processing (the relay sends what committed once it is back), not the answer. While more messages
wait to be stored than the intake queues (``MAX_QUEUED_MESSAGES``), a push gets 503 with
Retry-After, and so does a push while the database is unreachable (``hub.api.errors``); a long
backlog of stored messages does not refuse pushes. Unknown shops, platforms that do
not push, bad signatures and malformed bodies get a 4xx, are counted by platform and reason, and are
logged without the body or any header value; an accepted push is logged at debug (its group's
``inbox.recorded`` line is info).

Pushes are answered by ``WebhookFastPath``, a plain ASGI layer inside the request-id and body-limit
middlewares, without FastAPI's routing, dependency solving and response classes (at thousands of
pushes a second those cost more than the push itself); the FastAPI routes below answer the same
way through the same functions, and carry the OpenAPI description. Not for parsing any platform's
format: that is the connector's job.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.connectors import Capability, declared
from contracts.events import InboundMessage, PushReceipt
from hub import metrics
from hub.api.deps import get_hub
from hub.api.models import WebhookRejected
from hub.api.params import MAX_TEXT, PathText
from hub.context import Hub
from hub.db.inbox import unstorable
from hub.errors import BadInputError, ConfigError, SignatureError
from hub.services import intake
from hub.services.push_routing import reject_foreign, route_by_account

log = structlog.get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

#: ``/webhooks/tracking/{courier}`` is a courier's tracking push, not a shop's: routed by the app.
TRACKING_PREFIX = "tracking"
#: At most this many rejected message ids are listed in the reply header (all are logged).
MAX_LISTED_REJECTIONS = 50
REJECTED_HEADER = "X-Rejected-Messages"
#: ``/webhooks/warehouse/{warehouse}`` is a WMS's callback URL, not a channel's push URL.
WAREHOUSE_PUSH_PREFIX = "warehouse"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Recorded; the body is what the platform expects (JSON or plain text). Messages not "
                         "stored because they name a shop they do not belong to are listed by id in "
                         "X-Rejected-Messages."},
    400: {"model": WebhookRejected, "description": "Malformed push (bad_input)."},
    401: {"model": WebhookRejected, "description": "Signature does not verify (bad_signature)."},
    404: {"model": WebhookRejected, "description": "Unknown shop or app, platform mismatch, or no push support."},
    413: {"model": WebhookRejected, "description": "Body larger than [limits] allows for the platform (too_large)."},
    503: {"model": WebhookRejected, "description": "More pushes are waiting to be stored than the hub queues, or "
                                                   "the database is unreachable: nothing of the push is stored; "
                                                   "the platform should push again after Retry-After."},
}


@dataclass(slots=True)
class Answer:
    """What a push is answered: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, media_type=self.media_type, headers=self.headers)

    async def send(self, send: Send) -> None:
        content_type = self.media_type + ("; charset=utf-8" if self.media_type.startswith("text/") else "")
        raw = [(b"content-length", str(len(self.body)).encode()), (b"content-type", content_type.encode())]
        raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def _json(content: Any) -> bytes:
    # As starlette's JSONResponse renders it: compact, UTF-8, no NaN.
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def _error(status: int, code: str, detail: str, *, field: str | None = None, request_id: str | None = None,
           headers: dict[str, str] | None = None) -> Answer:
    """The API's error body (``hub.api.errors.error_response``): the request id only on a 5xx."""
    body: dict[str, Any] = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    if request_id is not None and status >= 500:
        body["request_id"] = request_id
    return Answer(status, _json(body), headers=headers or {})


def _reject(platform_label: str, reason: str) -> None:
    metrics.PUSH_REJECTED.labels(platform_label, reason).inc()
    metrics.WEBHOOK_REQUESTS.labels(platform_label, "rejected").inc()


async def _parse(connector: Any, headers: Mapping[str, str], body: bytes) -> PushReceipt:
    """The connector's ``parse_push``; nesting too deep for its parser is malformed input (a 400),
    whatever encoding hid it from ``hub.api.body_limits``' bracket count."""
    try:
        parsed = connector.parse_push(headers, body)
        return await parsed if inspect.isawaitable(parsed) else parsed
    except RecursionError:
        raise BadInputError("the push nests too deep to parse", field="body") from None


def _log_unparsed(receipt: PushReceipt, platform: str, shop: str | None) -> None:
    for index, reason in receipt.rejected:
        metrics.PUSH_REJECTED.labels(platform, "message_rejected").inc()
        log.warning("push.message_rejected", shop=shop, platform=platform, index=index, reason=reason)


def _log_wrong_shop(rejected: list[tuple[str, str]], platform: str, shop: str | None) -> None:
    for message_id, reason in rejected:
        metrics.PUSH_REJECTED.labels(platform, "wrong_shop").inc()
        log.warning("push.message_rejected", shop=shop, platform=platform, message_id=message_id, reason=reason)


def _storable(messages: list[InboundMessage], platform: str, shop: str | None) -> tuple[
    list[InboundMessage], list[tuple[str, str]]
]:
    """The messages the inbox can hold, and (printable id, reason) for the others: refusing one
    alone keeps its batch, which the platform would otherwise redeliver forever."""
    kept: list[InboundMessage] = []
    refused: list[tuple[str, str]] = []
    for message in messages:
        reason = unstorable(message)
        if reason is None:
            kept.append(message)
            continue
        printable = _printable(message.message_id)
        refused.append((printable, reason))
        metrics.PUSH_REJECTED.labels(platform, "unstorable").inc()
        log.warning("push.message_rejected", shop=shop, platform=platform, message_id=printable, reason=reason)
    return kept, refused


def _printable(message_id: str, width: int = 64) -> str:
    """``message_id`` fit for a log line and a header: visible ASCII without commas, cut short."""
    if message_id.isascii() and message_id.isalnum() and len(message_id) <= width:
        return message_id  # the common case (numeric and hex ids), without a per-character scan
    cleaned = "".join(c if " " < c < "\x7f" and c != "," else "?" for c in message_id)
    return cleaned if len(cleaned) <= width else cleaned[: width - 3] + "..."


async def _store(hub: Hub, platform: str, by_shop: dict[str, list[InboundMessage]],
                 request_id: str | None) -> int | Answer:
    """Store each shop's messages (all in the same group commit); returns how many were new, or
    the answer when the intake is too busy to queue them.

    A long inbox backlog does not refuse pushes (unlike the message channels, which ``backlog``
    holds back): a platform retries a refused push only a few times, and the sandboxes not at all,
    so refusing would lose orders to the polling safety net at best. Storing a push is cheap."""
    try:
        if len(by_shop) == 1:
            [(shop, messages)] = by_shop.items()
            new = len(await intake.accept_messages(hub, platform=platform, shop=shop, source="push",
                                                   messages=messages))
        else:
            stored = await asyncio.gather(*(intake.accept_messages(hub, platform=platform, shop=shop, source="push",
                                                                    messages=messages)
                                            for shop, messages in by_shop.items()))
            new = sum(len(ids) for ids in stored)
    except intake.IntakeBusy as exc:
        _reject(platform, "busy")
        log.warning("push.rejected", reason="busy", platform=platform, error=str(exc))
        return _error(503, "unavailable", "too many pushes are waiting to be stored; push again later",
                      request_id=request_id, headers={"Retry-After": str(exc.retry_after_s)})
    except Exception:
        # Not acknowledged: the platform will push again, and the inbox drops any repeat.
        metrics.WEBHOOK_REQUESTS.labels(platform, "error").inc()
        raise
    metrics.WEBHOOK_REQUESTS.labels(platform, "accepted").inc()
    return new


def _reply(receipt: PushReceipt, rejected: list[tuple[str, str]]) -> Answer:
    headers = {}
    if rejected:
        headers[REJECTED_HEADER] = ",".join(_printable(mid) for mid, _ in rejected[:MAX_LISTED_REJECTIONS])
    if isinstance(receipt.reply_body, str):
        return Answer(receipt.reply_status, receipt.reply_body.encode(), "text/plain", headers)
    return Answer(receipt.reply_status, _json(receipt.reply_body), "application/json", headers)


def _channels(hub: Hub, platform: str) -> list[tuple[str, Any]]:
    """The enabled shops of ``platform`` with their connectors; a shop whose connector cannot be
    built (missing credentials) is skipped and logged, so it does not refuse its siblings' pushes."""
    found = []
    for name, account in hub.config.shops.items():
        if not account.enabled or account.platform != platform:
            continue
        try:
            found.append((name, hub.accounts().channel(name)))
        except ConfigError as exc:
            log.warning("push.shop_unavailable", shop=name, platform=platform, error=str(exc))
    return found


def _own_account(connector: Any) -> str | None:
    account_id = getattr(connector, "account_id", None)
    return account_id() if callable(account_id) else None


def _config_error(exc: ConfigError, path: str, request_id: str | None) -> Answer:
    # As hub.api.errors renders a ConfigError: the problems may name settings, so only the log has them.
    log.error("request.config_error", path=path, error=str(exc), problems=exc.problems)
    return _error(500, "config_error",
                  "the hub is misconfigured for this request; an operator should run `hub check-config`",
                  request_id=request_id)


async def shop_push(hub: Hub, platform: str, shop: str, headers: Mapping[str, str], body: bytes,
                    request_id: str | None = None) -> Answer:
    """Verify, store and answer one shop's push (``POST /webhooks/{platform}/{shop}``)."""
    account = hub.config.shops.get(shop)
    cls = hub.plugins.channel_class(platform)
    # Labels come from the URL only once they are known to be ours: no unbounded label values.
    if account is None or not account.enabled or account.platform != platform or cls is None:
        _reject("unknown", "unknown_shop")
        log.info("push.rejected", reason="unknown_shop", shop=shop[:100], platform=platform[:50])
        return _error(404, "not_found", f"no enabled {platform!r} shop named {shop!r} receives pushes here")
    if not declared(cls, Capability.RECEIVE_PUSH):
        _reject(platform, "push_unsupported")
        log.info("push.rejected", reason="push_unsupported", shop=shop, platform=platform)
        return _error(404, "not_found", f"platform {platform!r} does not deliver HTTP pushes")

    try:
        connector = hub.accounts().channel(shop)
    except ConfigError as exc:
        return _config_error(exc, f"/webhooks/{platform}/{shop}", request_id)
    try:
        receipt = await _parse(connector, headers, body)
    except SignatureError as exc:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", shop=shop, platform=platform, size=len(body),
                    code=exc.code)
        return _error(401, "bad_signature", f"the push for shop {shop!r} failed verification")
    except BadInputError as exc:
        _reject(platform, "malformed")
        log.warning("push.rejected", reason="malformed", shop=shop, platform=platform, size=len(body),
                    field=exc.field, error=str(exc))
        return _error(400, "bad_input", str(exc), field=exc.field)

    if receipt.rejected:
        _log_unparsed(receipt, platform, shop)
    messages, refused = _storable(receipt.messages, platform, shop)
    wrong_shop: list[tuple[str, str]] = []
    own = _own_account(connector)
    if own is not None:
        # One app signs every shop's pushes: a valid signature does not make a message this shop's.
        messages, wrong_shop = reject_foreign(messages, own)
        if wrong_shop:
            _log_wrong_shop(wrong_shop, platform, shop)
    new = await _store(hub, platform, {shop: messages}, request_id)
    if isinstance(new, Answer):
        return new
    if _stdlib_log.isEnabledFor(logging.DEBUG):
        log.debug("push.accepted", shop=shop, platform=platform, messages=len(messages), new=new,
                  rejected=len(receipt.rejected) + len(refused) + len(wrong_shop))
    return _reply(receipt, refused + wrong_shop)


async def app_push(hub: Hub, platform: str, headers: Mapping[str, str], body: bytes,
                   request_id: str | None = None) -> Answer:
    """Verify, route, store and answer a platform app's push (``POST /webhooks/{platform}``)."""
    cls = hub.plugins.channel_class(platform)
    if cls is None or not declared(cls, Capability.RECEIVE_APP_PUSH):
        _reject("unknown" if cls is None else platform, "app_push_unsupported")
        log.info("push.rejected", reason="app_push_unsupported", platform=platform[:50])
        return _error(404, "not_found", f"platform {platform!r} has no app-level push URL; use "
                                        f"/webhooks/{platform}/<shop>")
    app = cls.push_app_of(headers)
    if app is None:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", platform=platform, size=len(body))
        return _error(401, "bad_signature", f"the {platform} push names no app")
    shops = [(name, connector) for name, connector in _channels(hub, platform) if connector.push_app() == app]
    if not shops:
        _reject(platform, "unknown_app")
        log.info("push.rejected", reason="unknown_app", platform=platform, app=app[:100])
        return _error(404, "not_found", f"no enabled {platform!r} shop is configured for app {app[:100]!r}")

    receipt = None
    for _name, connector in shops:
        # The shops of one app share its secret; trying each keeps one stale copy from refusing all.
        try:
            receipt = await _parse(connector, headers, body)
            break
        except SignatureError:
            continue
        except BadInputError as exc:
            _reject(platform, "malformed")
            log.warning("push.rejected", reason="malformed", platform=platform, size=len(body),
                        field=exc.field, error=str(exc))
            return _error(400, "bad_input", str(exc), field=exc.field)
    if receipt is None:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", platform=platform, size=len(body))
        return _error(401, "bad_signature", f"the {platform} push failed verification")

    if receipt.rejected:
        _log_unparsed(receipt, platform, None)
    messages, refused = _storable(receipt.messages, platform, None)
    routed = route_by_account(messages, {connector.account_id(): name for name, connector in shops})
    if routed.rejected:
        _log_wrong_shop(routed.rejected, platform, None)
    new = await _store(hub, platform, routed.by_shop, request_id) if routed.by_shop else 0
    if isinstance(new, Answer):
        return new
    if not routed.by_shop:
        metrics.WEBHOOK_REQUESTS.labels(platform, "accepted").inc()
    if _stdlib_log.isEnabledFor(logging.DEBUG):
        log.debug("push.accepted", platform=platform, shops=sorted(routed.by_shop),
                  messages=sum(len(m) for m in routed.by_shop.values()), new=new,
                  rejected=len(receipt.rejected) + len(refused) + len(routed.rejected))
    return _reply(receipt, refused + routed.rejected)


# --------------------------------------------------------------------------- FastAPI routes


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.post("/webhooks/{platform}/{shop}", summary="Receive a platform push for one shop",
             response_class=Response, responses=_RESPONSES)
async def receive_push(request: Request, platform: PathText, shop: PathText) -> Response:
    # Already read, within [limits], by BodyLimitMiddleware.
    body = await request.body()
    answer = await shop_push(get_hub(request), platform, shop, request.headers, body, _request_id(request))
    return answer.response()


@router.post("/webhooks/{platform}", summary="Receive a platform app's push for all the shops it serves",
             response_class=Response, responses=_RESPONSES)
async def receive_app_push(request: Request, platform: PathText) -> Response:
    body = await request.body()
    answer = await app_push(get_hub(request), platform, request.headers, body, _request_id(request))
    return answer.response()


# --------------------------------------------------------------------------- the fast path


def _push_target(path: str) -> tuple[str, ...] | None:
    """(platform,) or (platform, shop) when ``path`` is a push URL the routes above would take
    with valid parameters; None for anything else (FastAPI answers it: 404, 405, 422, redirect)."""
    parts = path[len("/webhooks/"):].split("/")
    if parts[0] == WAREHOUSE_PUSH_PREFIX:
        return None  # a WMS callback: hub.api.routes.fulfilment_warehouse answers it
    if parts[0] == TRACKING_PREFIX:  # couriers' tracking pushes: hub.api.routes.fulfilment_tracking
        return None
    if len(parts) > 2 or not all(0 < len(part) <= MAX_TEXT for part in parts):
        return None
    return tuple(parts)


class WebhookFastPath:
    """Answers ``POST /webhooks/{platform}[/{shop}]`` as the routes above do, without FastAPI's
    per-request routing, validation and response objects; every other request goes on to the app.

    Installed inside ``RequestContextMiddleware`` (request id, 500 on an unexpected error) and
    ``BodyLimitMiddleware`` (size, time and nesting limits), so pushes keep both.
    """

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        target = None
        if scope["type"] == "http" and scope.get("method") == "POST" and path.startswith("/webhooks/"):
            target = _push_target(path)
        if target is None:
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:
            return
        request_id = (scope.get("state") or {}).get("request_id")
        headers = Headers(scope=scope)
        if len(target) == 2:
            answer = await shop_push(self.hub, target[0], target[1], headers, body, request_id)
        else:
            answer = await app_push(self.hub, target[0], headers, body, request_id)
        await answer.send(send)


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
