"""``POST /webhooks/{platform}/{shop}``: a partner's HTTP push, verified, recorded, acknowledged.

The raw body goes to the shop's connector (``parse_push``), which checks the signature on the
exact bytes and parses the events; the messages are stored in the inbox and enqueued
(``hub.services.ingest.accept_messages``) before the platform hears "success" in the body and
status it expects. Unknown shops, platforms that do not push, bad signatures and malformed bodies
get a 4xx, are counted by platform and reason, and are logged without the body or any header
value. Not for parsing any platform's format: that is the connector's job.
"""

from __future__ import annotations

import inspect

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from contracts.connectors import Capability
from contracts.events import PushReceipt
from hub import metrics
from hub.api.deps import get_hub
from hub.api.errors import ApiError, error_response
from hub.api.models import WebhookRejected
from hub.errors import BadInputError, SignatureError

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])

#: Pushes are small (Douyin batches a few events); anything far larger is not a partner's push.
MAX_BODY_BYTES = 2 * 1024 * 1024


def _reject(platform_label: str, reason: str) -> None:
    metrics.PUSH_REJECTED.labels(platform_label, reason).inc()
    metrics.WEBHOOK_REQUESTS.labels(platform_label, "rejected").inc()


@router.post(
    "/webhooks/{platform}/{shop}",
    summary="Receive a platform push for one shop",
    response_class=Response,
    responses={
        200: {"description": "Recorded; the body is what the platform expects (JSON or plain text)."},
        400: {"model": WebhookRejected, "description": "Malformed push (bad_input)."},
        401: {"model": WebhookRejected, "description": "Signature does not verify (bad_signature)."},
        404: {"model": WebhookRejected, "description": "Unknown shop, platform mismatch, or no push support."},
    },
)
async def receive_push(request: Request, platform: str, shop: str) -> Response:
    hub = get_hub(request)
    account = hub.config.shops.get(shop)
    cls = hub.plugins.channel_class(platform)
    # Labels come from the URL only once they are known to be ours: no unbounded label values.
    if account is None or not account.enabled or account.platform != platform or cls is None:
        _reject("unknown", "unknown_shop")
        log.info("push.rejected", reason="unknown_shop", shop=shop[:100], platform=platform[:50])
        raise ApiError(404, "not_found", f"no enabled {platform!r} shop named {shop!r} receives pushes here")
    if Capability.RECEIVE_PUSH not in getattr(cls, "capabilities", frozenset()):
        _reject(platform, "push_unsupported")
        log.info("push.rejected", reason="push_unsupported", shop=shop, platform=platform)
        raise ApiError(404, "not_found", f"platform {platform!r} does not deliver HTTP pushes")

    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        _reject(platform, "too_large")
        log.info("push.rejected", reason="too_large", shop=shop, platform=platform, size=len(body))
        raise ApiError(413, "too_large", f"a push may be at most {MAX_BODY_BYTES} bytes")

    connector = hub.accounts().channel(shop)
    try:
        parsed = connector.parse_push(request.headers, body)
        receipt: PushReceipt = await parsed if inspect.isawaitable(parsed) else parsed
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

    for index, reason in receipt.rejected:
        metrics.PUSH_REJECTED.labels(platform, "message_rejected").inc()
        log.warning("push.message_rejected", shop=shop, platform=platform, index=index, reason=reason)

    from hub.services import ingest

    try:
        ids = await ingest.accept_messages(
            hub, platform=platform, shop=shop, source="push", messages=list(receipt.messages)
        )
    except Exception:
        # Not acknowledged: the platform will push again, and the inbox drops any repeat.
        metrics.WEBHOOK_REQUESTS.labels(platform, "error").inc()
        raise
    metrics.WEBHOOK_REQUESTS.labels(platform, "accepted").inc()
    log.info("push.accepted", shop=shop, platform=platform, messages=len(receipt.messages), new=len(ids),
             rejected=len(receipt.rejected))
    if isinstance(receipt.reply_body, str):
        return PlainTextResponse(receipt.reply_body, status_code=receipt.reply_status)
    return JSONResponse(receipt.reply_body, status_code=receipt.reply_status)
