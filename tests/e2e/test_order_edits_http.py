"""Order edits, connector ↔ sandbox over real HTTP with real signatures: a Douyin remark, star and
receiver land on the order the next fetch shows; a TOP address change of a shipped trade is refused by the
platform."""

from __future__ import annotations

import pytest

from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditValues, SellerFlag
from contracts.orders import Address
from hub.errors import PermanentError
from hub.testing.context import make_context
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox, running
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.sandbox import TaobaoSandbox, serve_in_thread

pytestmark = pytest.mark.e2e
SHOP = "edits-e2e"


async def test_douyin_remark_and_star_show_on_the_next_fetch() -> None:
    box = DouyinSandbox(auto_deliver=False, seed=3)
    with running(box) as base_url:
        channel = DouyinChannel(make_context(DouyinChannel, SHOP, box.shop_settings(SHOP, base_url)))
        try:
            order_id = box.create_order(SHOP, "TEE-M", 1)
            order = await channel.get_order(order_id)
            note = await channel.edit_order(OrderEditRequest(order=order, kind=OrderEditKind.SELLER_NOTE,
                                                             values=OrderEditValues(note="加急"), key="k1"))
            assert note.written_back
            order = await channel.get_order(order_id)
            star = await channel.edit_order(OrderEditRequest(order=order, kind=OrderEditKind.FLAG,
                                                             values=OrderEditValues(flag=SellerFlag.ORANGE), key="k2"))
            assert star.written_back
            fetched = await channel.get_order(order_id)
            assert (fetched.seller_note, fetched.extra["seller_remark_stars"]) == ("加急", 4)
            address = await channel.edit_order(OrderEditRequest(
                order=fetched, kind=OrderEditKind.ADDRESS, key="k3",
                values=OrderEditValues(address=Address(name="李四", phone="13900001111", street="x"))))
            assert address.written_back  # within the order's region (order.addressModify)
            assert (await channel.get_order(order_id)).shipping_address.name != fetched.shipping_address.name
        finally:
            await channel.aclose()


async def test_top_refuses_a_new_address_once_the_trade_shipped() -> None:
    box = TaobaoSandbox()
    with serve_in_thread(box.app) as base_url:
        channel = TaobaoChannel(make_context(TaobaoChannel, SHOP, box.shop_settings(SHOP, base_url)))
        try:
            tid = box.create_order(SHOP, "TEE-M", 1)
            order = await channel.get_order(tid)
            box.advance_order(SHOP, tid)  # shipped at the platform; the hub's copy is older
            with pytest.raises(PermanentError, match="only before shipping"):
                await channel.edit_order(OrderEditRequest(
                    order=order, kind=OrderEditKind.ADDRESS, key="k",
                    values=OrderEditValues(address=Address(name="李四", phone="13900001111", province="浙江省",
                                                           city="杭州市", street="文三路90号"))))
            assert box.shop(SHOP).trades[tid]["receiver_name"] == "闫**"
        finally:
            await channel.aclose()
