"""Kuaidi100 subscription callbacks: verify the form body, parse it into tracking events, and the
reply Kuaidi100 requires.

The callback is a form POST with ``param`` (JSON) and ``sign`` = uppercase MD5(param + salt), the
sign present only when a salt was given at subscription (§7 ✅ [K Subscribe.java,
SubscribePushParamResp.java]). Kuaidi100 retries a callback 3 times ~35 min apart unless the reply
is exactly ``TRACKING_PUSH_REPLY``. Not for the query answer (``connector.track``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from contracts import TrackingEvent
from hub.plugin_api import BadInputError, SignatureError, constant_time_equals
from plugins.logistics.kuaidi100.client import callback_sign, loads_exact
from plugins.logistics.kuaidi100.mapping import hub_courier_code, tracking_events

#: What the hub's webhook must answer to a callback it accepted (§7 ✅).
TRACKING_PUSH_REPLY: dict[str, object] = {"result": True, "returnCode": "200", "message": "成功"}
TRACKING_PUSH_REPLY_BODY: bytes = json.dumps(TRACKING_PUSH_REPLY, ensure_ascii=False).encode("utf-8")
TRACKING_PUSH_CONTENT_TYPE = "application/json;charset=UTF-8"

#: Callback ``status`` values (§7 ✅): polling (still tracking), shutdown (finished: signed),
#: abort (stopped: 3 days without info or 60 days without change; resubscribe after 30 min),
#: updateall (a full re-push).
STATUS_ABORT = "abort"
STATUS_SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class TrackingPush:
    """One parsed callback: the subscription's status and the waybill's events (oldest first)."""

    status: str
    tracking_number: str
    courier_code: str
    events: list[TrackingEvent] = field(default_factory=list)
    message: str = ""

    @property
    def needs_resubscribe(self) -> bool:
        """Kuaidi100 stopped tracking (``abort``): subscribe again after 30 minutes."""
        return self.status == STATUS_ABORT


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError("Kuaidi100 callback body is not UTF-8 form data") from exc
    fields = parse_qs(text, keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def parse_callback(body: bytes, salt: str | None, courier_codes: Mapping[str, str]) -> TrackingPush:
    """Verify and parse a callback form body.

    :param salt: the salt given at subscription; None when subscriptions are made without one,
        in which case Kuaidi100 sends no sign and nothing can be verified.
    :raises SignatureError: the sign is missing or does not match.
    :raises BadInputError: the body is not a Kuaidi100 callback.
    """
    form = _form(body)
    param = form.get("param")
    if not param:
        raise BadInputError("Kuaidi100 callback has no 'param' field", field="param")
    if salt is not None:
        expected = callback_sign(param, salt)
        if not constant_time_equals(expected, form.get("sign")):
            raise SignatureError("Kuaidi100 callback sign does not match the configured salt; rejected", field="sign")
    try:
        payload = loads_exact(param)
    except ValueError as exc:
        raise BadInputError("Kuaidi100 callback 'param' is not JSON", field="param") from exc
    if not isinstance(payload, dict):
        raise BadInputError("Kuaidi100 callback 'param' is not a JSON object", field="param")
    last = payload.get("lastResult") or {}
    if not isinstance(last, dict):
        raise BadInputError("Kuaidi100 callback 'lastResult' is not an object", field="lastResult")
    company = str(last.get("com") or payload.get("comNew") or "")
    number = str(last.get("nu") or "")
    if not number:
        raise BadInputError("Kuaidi100 callback carries no waybill number (lastResult.nu)", field="lastResult.nu")
    courier = hub_courier_code(company, courier_codes)
    return TrackingPush(
        status=str(payload.get("status") or ""),
        tracking_number=number,
        courier_code=courier,
        events=tracking_events(last, courier),
        message=str(payload.get("message") or ""),
    )
