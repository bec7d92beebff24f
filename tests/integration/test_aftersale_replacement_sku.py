"""Which SKU an exchange's replacement sends, on SQLite and PostgreSQL: a merchant code the
catalogue knows, else the shop's listing binding of the platform's SKU id, else the original line's
SKU with a history note saying why; the delivery lines carry it and the stock taken when it ships
is its. And a reissue's parcel: written back (``reissue`` with courier and number) where the
shop's connector takes reissues, recorded only where it does not."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from contracts import AfterSaleStatus, AfterSaleType
from hub.db.tables import DeliveryLineRow, ParcelRow
from hub.services.aftersales import decisions, queries, replacements
from hub.services.aftersales.decisions import DecisionIn
from hub.services.fulfilment import own_warehouse
from hub.services.stock.channel_listings import add_listing
from hub.testing import fulfilment_factories as ff
from tests.integration.aftersales_decisions_support import (
    MAIN,
    World,
    case_row,
    events,
    ledger,
    on_hand,
    stock_in,
    world,
)

#: (what the platform reports for the wanted SKU, the SKU sent, how it was found, words in the note)
CASES: list[tuple[str, dict[str, Any], str, str, str | None]] = [
    ("the merchant code wins over the binding",
     {"exchange_sku": "MUG-L", "extra": {"exchange_sku_code": "MUG-L", "exchange_sku_id": "9001"}},
     "MUG-L", replacements.BY_CODE, None),
    ("an unknown code falls back to the listing binding of the SKU id",
     {"exchange_sku": "NOPE", "extra": {"exchange_sku_code": "NOPE", "exchange_sku_id": "9001"}},
     "MUG-XL", replacements.BY_LISTING, None),
    ("an unbound SKU id sends the line's own SKU, noted",
     {"exchange_sku": "杯子 大号", "extra": {"exchange_sku_id": "9002"}},
     "MUG", replacements.SAME_SKU, "no listing of shop"),
    ("words without an id (Tmall) send the line's own SKU, noted",
     {"exchange_sku": "颜色:黑色", "extra": {}},
     "MUG", replacements.SAME_SKU, "gives no SKU id"),
    ("no other SKU named: the line's own", {}, "MUG", replacements.SAME_SKU, "names no other SKU"),
]


async def _catalogue(w: World) -> None:
    for sku in ("MUG", "MUG-L", "MUG-XL"):
        await stock_in(w.hub, sku, 5)
    async with w.hub.database().transaction() as session:
        await add_listing(session, w.shop, "MUG-XL", "600000000001", "9001")


async def _sent(w: World, delivery_id: int) -> list[tuple[str | None, int]]:
    async with w.hub.database().session() as session:
        return [(line.merchant_sku, line.quantity) for line in (await session.execute(
            select(DeliveryLineRow).where(DeliveryLineRow.delivery_order_id == delivery_id))).scalars()]


async def _ship(w: World, delivery_id: int, number: str) -> None:
    async with w.hub.database().session() as session:
        parcel_id = (await session.execute(select(ParcelRow.id).where(
            ParcelRow.delivery_order_id == delivery_id))).scalar_one()
    await ff.issue_waybill(w.hub, parcel_id, number)
    await own_warehouse.pick(w.hub, [delivery_id], actor="packer")
    await own_warehouse.pack(w.hub, delivery_id, [own_warehouse.PackedParcel(weight_grams=400)], actor="packer")
    await own_warehouse.ship(w.hub, delivery_id, actor="packer")


@pytest.mark.parametrize(("title", "reported", "sent", "source", "note"), CASES, ids=[c[0] for c in CASES])
async def test_the_replacement_sends_the_sku_found_in_order(database_url: str, title: str, reported: dict[str, Any],
                                                            sent: str, source: str, note: str | None) -> None:
    with world(database_url) as w:
        await _catalogue(w)
        _, order = await w.order([("MUG", 1)])
        case_id, _ = await w.case(order, type=AfterSaleType.EXCHANGE, status=AfterSaleStatus.RETURNED, **reported)
        delivery_id = await replacements.send_replacement(w.hub, case_id, actor="alice")
        assert await _sent(w, delivery_id) == [(sent, 1)]
        [made] = [e for e in await events(w.hub, case_id) if e.kind == "replacement"]
        assert made.detail["sku_source"] == source and made.detail["lines"][0]["sku"] == sent
        if note is None:
            assert made.detail["note"] is None
        else:
            assert note in made.detail["note"] and "line's own" in made.detail["note"]


async def test_the_stock_taken_when_it_ships_is_the_replacement_skus(database_url: str) -> None:
    with world(database_url) as w:
        await _catalogue(w)
        _, order = await w.order([("MUG", 1)])
        case_id, _ = await w.case(order, type=AfterSaleType.EXCHANGE, status=AfterSaleStatus.RETURNED,
                                  exchange_sku="杯子 加大", extra={"exchange_sku_id": "9001"})
        delivery_id = await replacements.send_replacement(w.hub, case_id, actor="alice")
        await _ship(w, delivery_id, "EMS555")
        assert await decisions.replacement_shipped(w.hub, case_id, delivery_id, [("ems", "EMS555")], actor="packer")
        assert (await on_hand(w.hub, "MUG-XL", MAIN), await on_hand(w.hub, "MUG", MAIN)) == (4, 5)
        async with w.hub.database().session() as session:  # the case detail (API, console) shows it
            shown = await queries.case_detail(session, case_id)
        [made] = [e for e in shown.history if e.kind == "replacement"]
        assert (made.detail["lines"][0]["sku"], made.detail["sku_source"]) == ("MUG-XL", replacements.BY_LISTING)
        assert [(sku, delta) for _, sku, delta, _ in await ledger(w.hub, f"aftersale:{case_id}")] == [("MUG-XL", -1)]


async def test_a_reissue_parcel_is_written_back_where_the_platform_takes_reissues(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        _, order = await w.order([("MUG", 1)])
        case_id, case = await w.case(order, type=AfterSaleType.REISSUE)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="reissue"), actor="alice")
        assert outcome.delivery_order_id is not None and outcome.status == "approved"
        await _ship(w, outcome.delivery_order_id, "EMS777")
        assert await decisions.replacement_shipped(w.hub, case_id, outcome.delivery_order_id, [("ems", "EMS777")],
                                                   actor="packer")
        platform = w.platform(w.shop)
        assert platform.taken(case.ref.external_id) == ["reissue", "reissue"]
        told = platform.decisions[-1]
        assert (told.courier_code, told.tracking_number) == ("ems", "EMS777")
        assert told.key.endswith(f"reissue:do{outcome.delivery_order_id}")
        row = await case_row(w.hub, case_id)
        # The fake platform reports the case still approved: the goods left, so the hub completes it.
        assert (row.status, row.resolution) == ("completed", "reissued")
        assert await on_hand(w.hub, "MUG", MAIN) == 4


async def test_a_reissue_stays_recorded_only_where_the_platform_takes_no_reissue(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        _, order = await w.order([("MUG", 1)], shop=w.partial_shop)
        case_id, case = await w.case(order, type=AfterSaleType.REISSUE)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="reissue"), actor="alice")
        assert outcome.state == "recorded" and outcome.delivery_order_id is not None
        await _ship(w, outcome.delivery_order_id, "EMS888")
        assert await decisions.replacement_shipped(w.hub, case_id, outcome.delivery_order_id, [("ems", "EMS888")],
                                                   actor="packer")
        assert w.platform(w.partial_shop).taken(case.ref.external_id) == []
        assert (await case_row(w.hub, case_id)).status == "completed"
        assert "writeback_failed" not in [e.kind for e in await events(w.hub, case_id)]
