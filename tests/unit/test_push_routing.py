"""Routing a pushed batch by the shop each message names: the app-level URL hands each message to
its shop and rejects the ones no configured shop owns; the per-shop URL rejects other shops'."""

from __future__ import annotations

import pytest

from contracts import InboundMessage, MessageKind
from hub.services.push_routing import reject_foreign, route_by_account


def _message(message_id: str, account_id: str | None, kind: MessageKind = MessageKind.ORDER) -> InboundMessage:
    return InboundMessage(message_id=message_id, kind=kind, topic="100", external_id="1", account_id=account_id)


SHOPS = {"111": "dy-north", "222": "dy-south"}


def test_each_message_goes_to_the_shop_it_names_in_batch_order() -> None:
    routed = route_by_account([_message("a", "111"), _message("b", "222"), _message("c", "111")], SHOPS)
    assert {shop: [m.message_id for m in ms] for shop, ms in routed.by_shop.items()} == {
        "dy-north": ["a", "c"], "dy-south": ["b"]}
    assert routed.rejected == []


@pytest.mark.parametrize(
    ("account_id", "reason"),
    [("333", "shop id 333 is not a configured shop of this app"), (None, "names no shop")],
)
def test_a_message_no_configured_shop_owns_is_rejected_and_the_rest_kept(account_id: str | None,
                                                                         reason: str) -> None:
    routed = route_by_account([_message("a", "111"), _message("x", account_id)], SHOPS)
    assert list(routed.by_shop) == ["dy-north"]
    assert routed.rejected == [("x", reason)]


def test_pings_are_neither_routed_nor_rejected() -> None:
    routed = route_by_account([_message("p", None, MessageKind.PING)], SHOPS)
    assert routed.by_shop == {} and routed.rejected == []


def test_a_per_shop_push_keeps_its_own_and_unnamed_messages_and_rejects_another_shops() -> None:
    kept, rejected = reject_foreign([_message("a", "111"), _message("b", "222"), _message("c", None)], "111")
    assert [m.message_id for m in kept] == ["a", "c"]
    assert rejected == [("b", "names shop id 222, not this shop's 111")]
