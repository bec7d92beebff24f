"""A partner's HTTP push, verified, recorded, acknowledged: per shop and per platform app.

``POST /webhooks/{platform}/{shop}`` is one shop's push URL; ``POST /webhooks/{platform}`` is the
push URL of a platform app that pushes every authorising shop's messages to one place
(``Capability.RECEIVE_APP_PUSH``): the shops configured for the app the push names (``push_app_of``
/ ``push_app``) verify it, and each message goes to the shop whose platform id it names
(``hub.services.push_routing``). The raw body goes to a connector (``parse_push``), which checks
the signature on the exact bytes and parses the events; the messages are stored in the inbox and
enqueued (``hub.services.intake.accept_messages``) before the platform hears "success" in the body
and status it expects. A message that names a shop it does not belong to, or that cannot be stored
(a message id over 200 characters, a NUL in an id), is not stored, and listed (logged, and its id
in the ``X-Rejected-Messages`` header) while the rest of the batch is kept. Bodies are bounded
before they reach here (``hub.api.body_limits``: 413, 408, and 400 for JSON nested too deep to
parse safely); while the queue is unreachable the push gets 503 with Retry-After, and what
committed stays in the inbox (the inbox sweep enqueues it). Unknown shops, platforms that do not
push, bad signatures and malformed bodies get a 4xx, are counted by platform and reason, and are
logged without the body or any header value. Not for parsing any platform's format: that is the
connector's job.
"""

from __future__ import annotations

import inspect
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from contracts.connectors import Capability, declared
from contracts.events import InboundMessage, PushReceipt
from hub import metrics
from hub.api.deps import get_hub
from hub.api.errors import ApiError, error_response
from hub.api.models import WebhookRejected
from hub.api.params import PathText
from hub.context import Hub
from hub.db.inbox import unstorable
from hub.errors import BadInputError, ConfigError, SignatureError
from hub.services.push_routing import reject_foreign, route_by_account

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])

#: At most this many rejected message ids are listed in the reply header (all are logged).
MAX_LISTED_REJECTIONS = 50
REJECTED_HEADER = "X-Rejected-Messages"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Recorded; the body is what the platform expects (JSON or plain text). Messages not "
                         "stored because they name a shop they do not belong to are listed by id in "
                         "X-Rejected-Messages."},
    400: {"model": WebhookRejected, "description": "Malformed push (bad_input)."},
    401: {"model": WebhookRejected, "description": "Signature does not verify (bad_signature)."},
    404: {"model": WebhookRejected, "description": "Unknown shop or app, platform mismatch, or no push support."},
    413: {"model": WebhookRejected, "description": "Body larger than [limits] allows for the platform (too_large)."},
    503: {"model": WebhookRejected, "description": "The queue is unreachable; the platform should push again "
                                                   "after Retry-After (messages already stored are kept)."},
}


def _reject(platform_label: str, reason: str) -> None:
    metrics.PUSH_REJECTED.labels(platform_label, reason).inc()
    metrics.WEBHOOK_REQUESTS.labels(platform_label, "rejected").inc()


async def _body(request: Request) -> bytes:
    # Already read, within [limits], by BodyLimitMiddleware.
    return await request.body()


async def _parse(connector: Any, request: Request, body: bytes) -> PushReceipt:
    parsed = connector.parse_push(request.headers, body)
    return await parsed if inspect.isawaitable(parsed) else parsed


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
    cleaned = "".join(c if " " < c < "\x7f" and c != "," else "?" for c in message_id)
    return cleaned if len(cleaned) <= width else cleaned[: width - 3] + "..."


async def _store(hub: Hub, platform: str, by_shop: dict[str, list[InboundMessage]]) -> int:
    """Store each shop's messages (one inbox transaction per shop); returns how many were new."""
    from hub.services import intake

    new = 0
    try:
        for shop, messages in by_shop.items():
            new += len(await intake.accept_messages(hub, platform=platform, shop=shop, source="push",
                                                    messages=messages))
    except Exception:
        # Not acknowledged: the platform will push again, and the inbox drops any repeat.
        metrics.WEBHOOK_REQUESTS.labels(platform, "error").inc()
        raise
    metrics.WEBHOOK_REQUESTS.labels(platform, "accepted").inc()
    return new


def _reply(receipt: PushReceipt, rejected: list[tuple[str, str]]) -> Response:
    headers = {}
    if rejected:
        headers[REJECTED_HEADER] = ",".join(_printable(mid) for mid, _ in rejected[:MAX_LISTED_REJECTIONS])
    if isinstance(receipt.reply_body, str):
        return PlainTextResponse(receipt.reply_body, status_code=receipt.reply_status, headers=headers)
    return JSONResponse(receipt.reply_body, status_code=receipt.reply_status, headers=headers)


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


@router.post("/webhooks/{platform}/{shop}", summary="Receive a platform push for one shop",
             response_class=Response, responses=_RESPONSES)
async def receive_push(request: Request, platform: PathText, shop: PathText) -> Response:
    hub = get_hub(request)
    account = hub.config.shops.get(shop)
    cls = hub.plugins.channel_class(platform)
    # Labels come from the URL only once they are known to be ours: no unbounded label values.
    if account is None or not account.enabled or account.platform != platform or cls is None:
        _reject("unknown", "unknown_shop")
        log.info("push.rejected", reason="unknown_shop", shop=shop[:100], platform=platform[:50])
        raise ApiError(404, "not_found", f"no enabled {platform!r} shop named {shop!r} receives pushes here")
    if not declared(cls, Capability.RECEIVE_PUSH):
        _reject(platform, "push_unsupported")
        log.info("push.rejected", reason="push_unsupported", shop=shop, platform=platform)
        raise ApiError(404, "not_found", f"platform {platform!r} does not deliver HTTP pushes")

    body = await _body(request)
    connector = hub.accounts().channel(shop)
    try:
        receipt = await _parse(connector, request, body)
    except SignatureError as exc:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", shop=shop, platform=platform, size=len(body),
                    code=exc.code)
        return error_response(401, "bad_signature", f"the push for shop {shop!r} failed verification",
                              request=request)
    except BadInputError as exc:
        _reject(platform, "malformed")
        log.warning("push.rejected", reason="malformed", shop=shop, platform=platform, size=len(body),
                    field=exc.field, error=str(exc))
        return error_response(400, "bad_input", str(exc), field=exc.field, request=request)

    _log_unparsed(receipt, platform, shop)
    messages, refused = _storable(list(receipt.messages), platform, shop)
    wrong_shop: list[tuple[str, str]] = []
    own = _own_account(connector)
    if own is not None:
        # One app signs every shop's pushes: a valid signature does not make a message this shop's.
        messages, wrong_shop = reject_foreign(messages, own)
        _log_wrong_shop(wrong_shop, platform, shop)
    new = await _store(hub, platform, {shop: messages})
    log.info("push.accepted", shop=shop, platform=platform, messages=len(messages), new=new,
             rejected=len(receipt.rejected) + len(refused) + len(wrong_shop))
    return _reply(receipt, refused + wrong_shop)


@router.post("/webhooks/{platform}", summary="Receive a platform app's push for all the shops it serves",
             response_class=Response, responses=_RESPONSES)
async def receive_app_push(request: Request, platform: PathText) -> Response:
    hub = get_hub(request)
    cls = hub.plugins.channel_class(platform)
    if cls is None or not declared(cls, Capability.RECEIVE_APP_PUSH):
        _reject("unknown" if cls is None else platform, "app_push_unsupported")
        log.info("push.rejected", reason="app_push_unsupported", platform=platform[:50])
        raise ApiError(404, "not_found", f"platform {platform!r} has no app-level push URL; use "
                                         f"/webhooks/{platform}/<shop>")
    body = await _body(request)
    app = cls.push_app_of(request.headers)
    if app is None:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", platform=platform, size=len(body))
        return error_response(401, "bad_signature", f"the {platform} push names no app", request=request)
    shops = [(name, connector) for name, connector in _channels(hub, platform) if connector.push_app() == app]
    if not shops:
        _reject(platform, "unknown_app")
        log.info("push.rejected", reason="unknown_app", platform=platform, app=app[:100])
        raise ApiError(404, "not_found", f"no enabled {platform!r} shop is configured for app {app[:100]!r}")

    receipt = None
    for _name, connector in shops:
        # The shops of one app share its secret; trying each keeps one stale copy from refusing all.
        try:
            receipt = await _parse(connector, request, body)
            break
        except SignatureError:
            continue
        except BadInputError as exc:
            _reject(platform, "malformed")
            log.warning("push.rejected", reason="malformed", platform=platform, size=len(body),
                        field=exc.field, error=str(exc))
            return error_response(400, "bad_input", str(exc), field=exc.field, request=request)
    if receipt is None:
        _reject(platform, "bad_signature")
        log.warning("push.rejected", reason="bad_signature", platform=platform, size=len(body))
        return error_response(401, "bad_signature", f"the {platform} push failed verification", request=request)

    _log_unparsed(receipt, platform, None)
    messages, refused = _storable(list(receipt.messages), platform, None)
    routed = route_by_account(messages, {connector.account_id(): name for name, connector in shops})
    _log_wrong_shop(routed.rejected, platform, None)
    new = await _store(hub, platform, routed.by_shop)
    log.info("push.accepted", platform=platform, shops=sorted(routed.by_shop),
             messages=sum(len(m) for m in routed.by_shop.values()), new=new,
             rejected=len(receipt.rejected) + len(refused) + len(routed.rejected))
    return _reply(receipt, refused + routed.rejected)
