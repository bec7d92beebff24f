"""Douyin message pushes (消息推送): verify ``app-id``/``event-sign`` on the raw bytes and turn
the JSON array into ``contracts.InboundMessage`` values.

A push is a trigger: the hub then fetches the order (``order.orderDetail``) or after-sale. Not for
fetching anything, and not for SPI calls (platform → merchant synchronous calls, §6), which this
plugin does not serve. Facts: §6 of ``docs/platforms/douyin.md`` ([Z]
message/*.go, [MB] core.py, [BB] message/model.go).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts import InboundMessage, MessageKind, PushReceipt
from hub.plugin_api import BadInputError, SignatureError, constant_time_equals, md5_hex
from plugins.douyin.client import loads_exact
from plugins.douyin.mapping import from_unix

#: What the platform expects back (HTTP 200) ✅[Z; BB; MB].
REPLY_BODY: dict[str, Any] = {"code": 0, "msg": "success"}
PING_TAG = "0"  # ⚠️ [MB examples.py]: the console's verification ping
#: Trade tags 100–113 and 126 (ship-by time changed) ✅[Z message/*.go].
ORDER_TAGS = frozenset({str(tag) for tag in range(100, 114)} | {"126"})
#: After-sale tags 200–227 ✅[Z; BB].
AFTERSALE_TAGS = frozenset(str(tag) for tag in range(200, 228))


def event_sign(app_key: str, body: bytes, app_secret: str) -> str:
    """lowercase hex MD5(app_key + raw body + app_secret) ✅ (three implementations agree, §6)."""
    return md5_hex(app_key.encode("utf-8") + body + app_secret.encode("utf-8"))


def verify(headers: Mapping[str, str], body: bytes, app_key: str, app_secret: str) -> None:
    """Raise ``SignatureError`` unless ``app-id`` is our app and ``event-sign`` matches the bytes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    app_id = lowered.get("app-id")
    if app_id is None or not constant_time_equals(app_key, app_id.strip(), case_insensitive=False):
        raise SignatureError("Douyin push: app-id header missing or not this app's app_key", field="app-id")
    if not constant_time_equals(event_sign(app_key, body, app_secret), lowered.get("event-sign")):
        raise SignatureError("Douyin push: event-sign does not match the body", field="event-sign")


def _message(item: Any) -> InboundMessage:
    """One array element → one message; ``ValueError`` says why it is skipped."""
    if not isinstance(item, dict):
        raise ValueError("not an object")
    tag = str(item.get("tag", "")).strip()
    msg_id = str(item.get("msg_id") or "").strip()
    if not msg_id:
        raise ValueError(f"tag {tag!r} without msg_id")
    raw = item.get("data")
    if tag == PING_TAG:
        return InboundMessage(message_id=msg_id, kind=MessageKind.PING, topic=tag)
    if tag not in ORDER_TAGS and tag not in AFTERSALE_TAGS:
        raise ValueError(f"unknown tag {tag!r}")
    try:
        # ``data`` is JSON *text* (a second parse); ids inside are 19-digit numbers, kept exact.
        payload = loads_exact(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ValueError(f"tag {tag} msg_id {msg_id}: data is not JSON") from exc
    if not isinstance(payload, dict):
        raise ValueError(f"tag {tag} msg_id {msg_id}: data is not a JSON object")
    occurred = occurred_at(tag, payload)
    account = shop_id_of(payload)
    if tag in ORDER_TAGS:
        if payload.get("p_id") in (None, ""):
            raise ValueError(f"trade tag {tag} msg_id {msg_id} without p_id")
        return InboundMessage(message_id=msg_id, kind=MessageKind.ORDER, topic=tag, account_id=account,
                              external_id=str(payload["p_id"]), occurred_at=occurred, payload=payload)
    if payload.get("aftersale_id") in (None, ""):
        raise ValueError(f"after-sale tag {tag} msg_id {msg_id} without aftersale_id")
    return InboundMessage(message_id=msg_id, kind=MessageKind.AFTERSALE, topic=tag, account_id=account,
                          external_id=str(payload["aftersale_id"]), occurred_at=occurred, payload=payload)


def shop_id_of(payload: Mapping[str, Any]) -> str | None:
    """The ``shop_id`` a message's ``data`` names, as text; ``None`` when absent. Trade and
    after-sale messages both carry it ✅ (``ShopId`` in zsmhub/doudian-sdk ``message/*.go``,
    ``shop_id`` in bububa/jinritemai-go ``message/refund``)."""
    value = payload.get("shop_id")
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    return text or None


def app_of(headers: Mapping[str, str]) -> str | None:
    """The ``app-id`` header (the app_key the push claims), unverified; ``None`` when absent."""
    for name, value in headers.items():
        if name.lower() == "app-id":
            return value.strip() or None
    return None


#: The time each trade or after-sale message's ``data`` gives for the change it reports, Unix
#: seconds ✅ (int64 fields of the official Go SDK's message structs, zsmhub/doudian-sdk
#: ``message/*.go``): ``update_time`` where the message has one, else the event's own time —
#: 100 created (``create_time``), 101 paid (``pay_time``), 103 completed (``complete_time``), 106
#: cancelled (``cancel_time``), 109 amount changed (``modify_time``), 111 address-change request
#: (``apply_time``), 224 special-rights after-sale (``apply_time``), 225 its refund
#: (``success_time``). 110 (paid, pending) and 126 (its ``exp_delivery_time`` is the new ship-by
#: deadline, not when it changed) name none, nor do the arbitration tags 212–218 and 209.
EVENT_TIME_FIELDS: dict[str, str] = {"100": "create_time", "101": "pay_time", "103": "complete_time",
                                     "106": "cancel_time", "109": "modify_time", "111": "apply_time",
                                     "224": "apply_time", "225": "success_time"}


def occurred_at(tag: str, payload: Mapping[str, Any]) -> datetime | None:
    """When the change a message reports happened (see ``EVENT_TIME_FIELDS``); the hub builds the
    window of ``get_orders`` from it. ``None`` when the message names no time or not as Unix seconds
    (the order is then fetched alone)."""
    for name in ("update_time", EVENT_TIME_FIELDS.get(tag)):
        text = str(payload.get(name) or "").strip() if name else ""
        if text.isdigit() and text != "0":
            try:
                return from_unix(text)
            except (BadInputError, OverflowError, OSError):
                return None  # not Unix seconds after all (e.g. milliseconds): no window from it
    return None


def parse(body: bytes) -> PushReceipt:
    """Parse a verified push body (a JSON array). ``BadInputError`` when it is not an array;
    per-message problems (unknown tag, non-JSON ``data``) go to ``rejected`` and the rest is kept."""
    try:
        items = loads_exact(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError("Douyin push: body is not JSON", field="body") from exc
    if not isinstance(items, list):
        raise BadInputError("Douyin push: body is not a JSON array", field="body")
    messages: list[InboundMessage] = []
    rejected: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        try:
            messages.append(_message(item))
        except ValueError as exc:
            rejected.append((index, str(exc)))
    return PushReceipt(messages=messages, reply_body=dict(REPLY_BODY), reply_status=200, rejected=rejected)


def parse_push(headers: Mapping[str, str], body: bytes, app_key: str, app_secret: str) -> PushReceipt:
    """Verify, then parse (the connector's ``parse_push``)."""
    verify(headers, body, app_key, app_secret)
    return parse(body)


def encode_messages(messages: list[dict[str, Any]]) -> bytes:
    """A push body as the platform sends it (used by the sandbox's push sender)."""
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
