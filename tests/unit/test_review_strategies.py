"""The review (审单) strategies of ``[fulfilment.review]``: each holds with its own code and names
why; an order passing them all is held by none; the settings refuse bad values naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.orders import Address, Buyer, Order
from hub.config import HubConfig
from hub.services.fulfilment.review import strategy_holds
from hub.services.fulfilment.settings import ReviewSettings
from hub.testing.factories import make_order

DOUYIN_CIPHER = "#MzZkNjQ0#aGVsbG8=#"  # an encrypt_post_* value as the Douyin plugin stores it


def _order(**changes: Any) -> Order:
    base = make_order(lines=[("TEE", 1), ("CAP", 2)], unit_price="100.00")
    return base.model_copy(update=changes)


CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # (case, settings, order changes, code, words in the reason)
    ("amount above", {"amount_above": Decimal("250")}, {}, "review_amount", "300.00 CNY is above 250"),
    ("buyer remark", {"hold_on_buyer_remark": True}, {"buyer_note": "please send before Friday"},
     "review_remark", "buyer remark"),
    ("seller remark", {"hold_on_seller_remark": True}, {"seller_note": "VIP"}, "review_remark", "seller remark"),
    ("province", {"provinces": ["新疆"]}, {"shipping_address": Address(
        name="a", phone="1", province="新疆维吾尔自治区", city="乌鲁木齐市", street="x")},
     "review_region", "province 新疆维吾尔自治区 (新疆 is listed"),
    ("city", {"cities": ["杭州"]}, {}, "review_region", "city 杭州市"),
    ("blacklisted nick", {"blacklisted_buyers": ["buyer_nick_1"]}, {}, "review_blacklist", "blacklisted_buyers"),
    ("blacklisted buyer id", {"blacklisted_buyers": ["open-9"]},
     {"buyer": Buyer(platform_buyer_id="open-9")}, "review_blacklist", "blacklisted_buyers"),
    ("sku combination", {"sku_combinations": [["TEE", "CAP"]]}, {}, "review_sku_combo", "TEE + CAP"),
    ("no address", {}, {"shipping_address": None}, "review_address", "no shipping address"),
    ("address without phone and street", {}, {"shipping_address": Address(
        name="张三", province="浙江省", city="杭州市")}, "review_address", "has no phone, street"),
    ("risk tag", {"risk_tags": ["in_issue"]}, {"tags": ["in_issue"]}, "review_risk", "tag in_issue"),
    ("risk extra (default: AliExpress frozen funds)", {}, {"extra": {"frozen_status": "IN_FROZEN"}},
     "review_risk", "frozen_status=IN_FROZEN"),
    ("risk extra, any value", {"risk_extra": {"is_risk": []}}, {"extra": {"is_risk": 1}}, "review_risk",
     "is_risk=1"),
]


@pytest.mark.parametrize(("settings", "changes", "code", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_strategy_holds_with_its_code_and_says_why(settings: dict[str, Any], changes: dict[str, Any],
                                                        code: str, words: str) -> None:
    holds = strategy_holds(ReviewSettings(**settings), _order(**changes))
    assert [h.code for h in holds] == [code]
    assert words in holds[0].reason


def test_an_order_failing_several_strategies_is_held_with_every_reason() -> None:
    settings = ReviewSettings(amount_above=Decimal("1"), hold_on_buyer_remark=True, cities=["杭州"],
                              sku_combinations=[["TEE"], ["CAP", "NONE"]], risk_tags=["x"])
    holds = strategy_holds(settings, _order(buyer_note="hi", tags=["x"]))
    assert [h.code for h in holds] == ["review_amount", "review_remark", "review_region", "review_sku_combo",
                                       "review_risk"]
    assert "TEE" in holds[3].reason and "NONE" not in holds[3].reason


def test_passing_orders_and_what_counts_as_present() -> None:
    settings = ReviewSettings(amount_above=Decimal("300"), provinces=["新疆"], cities=["杭州"],
                              sku_combinations=[["TEE", "MUG"]], blacklisted_buyers=["someone"],
                              risk_extra={"frozen_status": ["IN_FROZEN"]})
    assert strategy_holds(settings, _order(shipping_address=Address(
        name="a", phone="1", province="浙江省", city="宁波市", street="x"))) == []
    # Remarks hold only when asked to; a blank remark is no remark.
    assert strategy_holds(ReviewSettings(hold_on_buyer_remark=True), _order(buyer_note="  ")) == []
    assert strategy_holds(ReviewSettings(), _order(buyer_note="hi", seller_note="hi")) == []
    # Ciphertext (Douyin encrypt_post_*) and the platform's masked values are present values.
    encrypted = Address(name=DOUYIN_CIPHER, phone=DOUYIN_CIPHER, street=DOUYIN_CIPHER, province="浙江省",
                        city="杭州市", encrypted=True)
    masked = Address(name="闫**", phone="1573672****", street="**********", province="河南省", city="郑州市")
    assert strategy_holds(ReviewSettings(), _order(shipping_address=encrypted)) == []
    assert strategy_holds(ReviewSettings(), _order(shipping_address=masked)) == []
    # Only the fields asked for; the strategy can be turned off.
    assert strategy_holds(ReviewSettings(address_fields=["province", "city"]),
                          _order(shipping_address=Address(province="浙江省", city="杭州市"))) == []
    assert strategy_holds(ReviewSettings(hold_on_incomplete_address=False), _order(shipping_address=None)) == []
    assert strategy_holds(ReviewSettings(), _order(extra={"frozen_status": "NO_FROZEN"})) == []


def test_the_address_check_left_unset_holds_only_where_the_hub_routes_orders_itself() -> None:
    """A hub where a person ships (no WMS, no courier account) holds nobody for the address: the
    merchant reads it on the platform, and a hold would refuse the shipment they record."""
    no_address = _order(shipping_address=None)
    assert [h.code for h in strategy_holds(ReviewSettings(), no_address, routed_by_hub=True)] == ["review_address"]
    assert strategy_holds(ReviewSettings(), no_address, routed_by_hub=False) == []
    on = ReviewSettings(hold_on_incomplete_address=True)
    assert [h.code for h in strategy_holds(on, no_address, routed_by_hub=False)] == ["review_address"]


def test_reasons_name_no_personal_data() -> None:
    settings = ReviewSettings(hold_on_buyer_remark=True, blacklisted_buyers=["buyer_nick_1"])
    text = " ".join(h.reason for h in strategy_holds(settings, _order(buyer_note="call 13812345678")))
    assert "13812345678" not in text and "buyer_nick_1" not in text


@pytest.mark.parametrize(("review", "field"), [
    ({"amount_above": 0}, "fulfilment.review.amount_above"),
    ({"provinces": ["新疆", " "]}, "fulfilment.review.provinces"),
    ({"cities": ["杭州", "杭州"]}, "fulfilment.review.cities"),
    ({"sku_combinations": [["A"], []]}, "fulfilment.review.sku_combinations"),
    ({"address_fields": ["name", "email"]}, "fulfilment.review.address_fields.1"),
    ({"risk_extra": {"frozen_status": [""]}}, "fulfilment.review.risk_extra"),
    ({"amount": 5}, "fulfilment.review.amount"),
])
def test_bad_settings_are_refused_naming_the_field(review: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HubConfig(fulfilment={"review": review})
    assert field in {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}, caught.value.errors()
