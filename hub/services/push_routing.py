"""Which configured shop each pushed message belongs to, by the platform's shop id it names.

A platform app may push the messages of every shop that authorised it to one URL, and a message
names its shop (``InboundMessage.account_id``). ``route_by_account`` splits such a batch between
the configured shops; ``reject_foreign`` keeps a per-shop push to the messages that are that
shop's. Pure functions: the webhook route verifies, stores and answers. Messages that name no
shop are the receiving shop's on a per-shop URL (the URL says whose they are) and rejected on an
app-level one (nothing says whose they are). Pings are never stored, so they are never rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.events import InboundMessage, MessageKind


@dataclass
class Routed:
    """A push batch split by shop: ``by_shop`` (configured name → its messages, in batch order)
    and ``rejected`` (message id → why it was not stored)."""

    by_shop: dict[str, list[InboundMessage]] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def route_by_account(messages: list[InboundMessage], shops_by_account: dict[str, str]) -> Routed:
    """Hand each message to the shop whose platform id it names (``shops_by_account``: platform
    shop id → configured shop name); a message naming an unknown shop, or none, is rejected."""
    routed = Routed()
    for message in messages:
        if message.kind is MessageKind.PING:
            continue
        if message.account_id is None:
            routed.rejected.append((message.message_id, "names no shop"))
            continue
        shop = shops_by_account.get(message.account_id)
        if shop is None:
            reason = f"shop id {message.account_id} is not a configured shop of this app"
            routed.rejected.append((message.message_id, reason))
            continue
        routed.by_shop.setdefault(shop, []).append(message)
    return routed


def reject_foreign(
    messages: list[InboundMessage], account_id: str
) -> tuple[list[InboundMessage], list[tuple[str, str]]]:
    """The messages of the shop whose platform id is ``account_id`` (or naming none), and the
    rejected ones (message id, reason) that name another shop."""
    kept: list[InboundMessage] = []
    rejected: list[tuple[str, str]] = []
    for message in messages:
        if message.account_id is not None and message.account_id != account_id:
            rejected.append((message.message_id, f"names shop id {message.account_id}, not this shop's {account_id}"))
        else:
            kept.append(message)
    return kept, rejected
