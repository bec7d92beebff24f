"""Courier codes have one canonical form, and every channel, courier and warehouse lookup finds a
courier however it is spelt: ``SF`` (the API docs' example), ``sf`` and `` Sf `` are one courier,
whichever spelling the shop's configuration uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import Parcel, TrackingEvent, TrackingState, canonical_courier_code, canonical_courier_map
from hub.testing.context import make_context
from plugins.aliexpress.connector import AliExpressChannel
from plugins.douyin.connector import DouyinChannel
from plugins.logistics.kuaidi100.mapping import company_code as kuaidi100_company
from plugins.logistics.kuaidi100.mapping import courier_table, hub_courier_code
from plugins.taobao import mapping as taobao_mapping
from plugins.taobao.connector import TaobaoChannel
from plugins.tmall.connector import TmallChannel
from plugins.warehouse.mapping import logistics_code

SPELLINGS = ["SF", "sf", " Sf ", "sF\t"]
TOP = {"app_key": "k", "app_secret": "s", "session": "t"}
AE = {**TOP, "iop_url": "http://127.0.0.1:9"}
DOUYIN = {"app_key": "k", "app_secret": "s", "shop_id": "1", "access_token": "t", "gateway_url": "http://127.0.0.1:9"}


@pytest.mark.parametrize("written,canonical", [("SF", "sf"), ("sf", "sf"), (" Sf ", "sf"), ("ZTO\n", "zto"),
                                               ("JTSD", "jtsd")])
def test_courier_codes_have_one_canonical_form(written: str, canonical: str) -> None:
    assert canonical_courier_code(written) == canonical
    assert Parcel(courier_code=written, tracking_number="1").courier_code == canonical


def test_a_blank_courier_code_is_refused() -> None:
    with pytest.raises(ValueError, match="blank"):
        canonical_courier_code("  ")
    with pytest.raises(ValidationError):
        Parcel(courier_code=" ", tracking_number="1")


def test_tracking_events_carry_canonical_courier_codes() -> None:
    event = TrackingEvent(tracking_number="1", courier_code="ZTO", state=TrackingState.IN_TRANSIT,
                          occurred_at="2026-01-01T00:00:00+08:00")
    assert event.courier_code == "zto"


def test_a_courier_map_naming_one_courier_twice_with_different_codes_is_refused() -> None:
    assert canonical_courier_map({"SF": "A", " sf": "A", "Zto": "B"}) == {"sf": "A", "zto": "B"}
    with pytest.raises(ValueError, match="'SF' and 'sf' are the same courier"):
        canonical_courier_map({"SF": "A", "sf": "B"})


@pytest.mark.parametrize("configured", ["sf", "SF", " Sf"])
@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_every_channel_maps_any_spelling_of_a_configured_courier(configured: str, spelling: str) -> None:
    taobao = TaobaoChannel(make_context(TaobaoChannel, "tb", {**TOP, "carrier_codes": {configured: "SF"}}))
    tmall = TmallChannel(make_context(TmallChannel, "tm", {**TOP, "carrier_codes": {configured: "SF"}}))
    ae = AliExpressChannel(make_context(AliExpressChannel, "ae",
                                        {**AE, "courier_services": {configured: "SF_EXPRESS"}}))
    douyin = DouyinChannel(make_context(DouyinChannel, "dy", {**DOUYIN, "courier_codes": {configured: "shunfeng"}}))
    try:
        assert taobao_mapping.company_code(spelling, taobao.carriers) == "SF"
        assert taobao_mapping.company_code(spelling, tmall.carriers) == "SF"
        assert ae._service_for(spelling) == "SF_EXPRESS"
        assert await douyin.company_code(spelling) == "shunfeng"
        assert [c.courier_known(spelling) for c in (taobao, tmall, ae, douyin)] == [True] * 4
    finally:
        for connector in (taobao, tmall, ae, douyin):
            await connector.aclose()


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_built_in_courier_tables_find_any_spelling(spelling: str) -> None:
    douyin = DouyinChannel(make_context(DouyinChannel, "dy", DOUYIN))
    try:
        assert taobao_mapping.company_code(spelling, taobao_mapping.carrier_table()) == "SF"
        assert await douyin.company_code(spelling) == "shunfeng"
        assert kuaidi100_company(spelling, courier_table()) == "shunfeng"
        assert kuaidi100_company(spelling, courier_table({"Sf": "shunfengkuaiyun"})) == "shunfengkuaiyun"
        assert logistics_code(spelling) == "SF"
    finally:
        await douyin.aclose()


def test_couriers_reported_by_partners_come_back_as_hub_codes() -> None:
    assert hub_courier_code("shunfeng", courier_table()) == "sf"
    assert hub_courier_code("KFW", courier_table()) == "kfw"


async def test_a_courier_a_shop_cannot_name_is_known_to_be_unknown() -> None:
    taobao = TaobaoChannel(make_context(TaobaoChannel, "tb", TOP))
    ae = AliExpressChannel(make_context(AliExpressChannel, "ae", {**AE, "courier_services": {"sf": "SF_EXPRESS"}}))
    ae_default = AliExpressChannel(make_context(AliExpressChannel, "ae2", {**AE, "default_service": "OTHER"}))
    douyin = DouyinChannel(make_context(DouyinChannel, "dy", DOUYIN))
    try:
        assert taobao.courier_known("DHL") is False and ae.courier_known("DHL") is False
        assert ae_default.courier_known("DHL") is True
        # Douyin's company list (read when shipping) may still name it: the hub cannot tell.
        assert douyin.courier_known("DHL") is None
    finally:
        for connector in (taobao, ae, ae_default, douyin):
            await connector.aclose()


def test_a_shop_config_naming_one_courier_twice_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="courier_services"):
        AliExpressChannel.Settings.model_validate({**AE, "courier_services": {"SF": "A", "sf": "B"}})
