"""TMC (淘宝消息服务) over HTTP pull: consume, confirm and permit, for any TOP-based plugin.

Stable interface (the AliExpress plugin reuses it; keep it backwards compatible):

- ``TmcConsumer(client: TopClient, group_name="default")``
- ``await consumer.consume(quantity) -> list[TmcMessage]`` — ``taobao.tmc.messages.consume``,
  ``quantity`` 10–200 (the API's own bounds; other values raise ``BadInputError``). Messages
  stay unconfirmed: TMC redelivers them until confirmed.
- ``await consumer.confirm(ids)`` — ``taobao.tmc.messages.confirm`` with ``s_message_ids``
  (comma list, chunks of at most 200).
- ``await consumer.permit(topics=None)`` — ``taobao.tmc.user.permit`` for the client's session
  (no ``topics`` or ``[]``: every topic the app subscribes to, as the doc recommends).
- ``TmcMessage``: ``id`` (string), ``topic``, ``content`` (the JSON content parsed with big
  numbers kept exact, see ``client.loads_exact``), ``raw_content``, ``pub_time``, ``pub_app_key``,
  ``user_id``, ``user_nick``.

Facts: §6 of ``docs/platforms/taobao-tmall.md``. TMC delivers a seller's messages only once
``permit`` was called with that seller's session: the connectors' ``open_message_channel`` does
it, and the hub calls that before consuming. Not for mapping topics to hub
messages: that is each plugin's ``push.py``. Not the WebSocket channel (not implemented).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api import BadInputError
from plugins.taobao.client import TopClient, loads_exact, unwrap_list

CONSUME_MIN = 10
CONSUME_MAX = 200
CONFIRM_MAX = 200


@dataclass(frozen=True)
class TmcMessage:
    """One TMC message as consumed (ids as strings; ``content`` parsed)."""

    id: str
    topic: str
    content: dict[str, Any] = field(default_factory=dict)
    raw_content: str = ""
    pub_time: str | None = None
    pub_app_key: str | None = None
    user_id: str | None = None
    user_nick: str | None = None


def parse_content(raw: Any) -> dict[str, Any]:
    """TMC ``content`` is a JSON string (occasionally already an object); big ids stay exact.
    Content that is not a JSON object is kept under ``"raw"`` rather than dropped."""
    if isinstance(raw, dict):
        return dict(raw)
    if not raw:
        return {}
    try:
        parsed = loads_exact(str(raw))
    except ValueError:
        return {"raw": str(raw)}
    return parsed if isinstance(parsed, dict) else {"raw": parsed}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_message(item: dict[str, Any]) -> TmcMessage:
    """One element of ``messages`` in a consume answer."""
    if item.get("id") in (None, "") or not item.get("topic"):
        raise BadInputError(f"TMC message without id or topic: keys {sorted(item)}", field="id")
    raw = item.get("content")
    return TmcMessage(
        id=str(item["id"]),
        topic=str(item["topic"]),
        content=parse_content(raw),
        raw_content=raw if isinstance(raw, str) else ("" if raw is None else str(raw)),
        pub_time=_text(item.get("pub_time")),
        pub_app_key=_text(item.get("pub_app_key")),
        user_id=_text(item.get("user_id")),
        user_nick=_text(item.get("user_nick")),
    )


def parse_consume_response(body: dict[str, Any]) -> list[TmcMessage]:
    """The messages of a ``tmc_messages_consume_response``: ``messages.tmc_message[]`` (TOP's list
    wrapping) or a bare ``messages[]``."""
    return [parse_message(dict(item)) for item in unwrap_list(body.get("messages"))]


class TmcConsumer:
    """Pull, confirm and permit TMC messages for one app group through a ``TopClient``."""

    def __init__(self, client: TopClient, group_name: str = "default") -> None:
        self.client = client
        self.group_name = group_name

    async def consume(self, quantity: int) -> list[TmcMessage]:
        if not CONSUME_MIN <= quantity <= CONSUME_MAX:
            raise BadInputError(f"TMC consume quantity must be {CONSUME_MIN}–{CONSUME_MAX}, got {quantity}",
                                field="quantity")
        body = await self.client.call("taobao.tmc.messages.consume",
                                      {"group_name": self.group_name, "quantity": quantity})
        return parse_consume_response(body)

    async def confirm(self, ids: list[str]) -> None:
        """Confirm processed messages; confirming twice is harmless (TMC ignores known ids)."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), CONFIRM_MAX):
            chunk = unique[start:start + CONFIRM_MAX]
            await self.client.call("taobao.tmc.messages.confirm",
                                   {"group_name": self.group_name, "s_message_ids": ",".join(chunk)})

    async def permit(self, topics: list[str] | None = None) -> bool:
        """Open TMC for the client's seller session; True when TOP says ``is_success``."""
        params: dict[str, Any] = {"topics": ",".join(topics)} if topics else {}
        body = await self.client.call("taobao.tmc.user.permit", params)
        return bool(body.get("is_success"))
