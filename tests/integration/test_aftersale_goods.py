"""What deciding a case does to goods, on SQLite and PostgreSQL: returned units go back on hand in
the warehouse the order shipped from and damaged ones to the defective location, through the
ledger, once per case; an exchange's replacement is one delivery order through fulfilment, and
when it ships the order is not shipped or confirmed again: the case's ``ship_exchange`` is written
back with the parcel; a reissue completes when its delivery ships; a replacement shipped outside
the hub is written back with the courier and number a person gives."""

from __future__ import annotations

from sqlalchemy import func, select

from contracts import AfterSaleStatus, AfterSaleType
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OutboxRow, ParcelRow, ShipmentRow
from hub.services.aftersales import decisions, replacements
from hub.services.aftersales.decisions import DecisionIn, LineQuality
from hub.services.fulfilment import own_warehouse
from hub.services.fulfilment.aftersale_deliveries import SHIPPED_ACTOR
from hub.services.fulfilment.shipments import CONFIRM_ACTOR
from hub.testing import fulfilment_factories as ff
from tests.integration.aftersales_decisions_support import (
    DEFECTIVE,
    MAIN,
    World,
    actions,
    case_row,
    events,
    ledger,
    on_hand,
    stock_in,
    world,
)


async def _outbox(w: World, actor: str) -> list[OutboxRow]:
    async with w.hub.database().session() as session:
        return list((await session.execute(select(OutboxRow).where(OutboxRow.actor == actor)
                                           .order_by(OutboxRow.id))).scalars())


async def _count(w: World, model: type, *where: object) -> int:
    async with w.hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_returned_goods_go_on_hand_and_damaged_ones_to_the_defective_location(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        await stock_in(w.hub, "CUP", 5)
        _, order = await w.order([("MUG", 2), ("CUP", 1)])
        case_id, _case = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND)
        agreed = await decisions.decide(w.hub, case_id, DecisionIn(action="agree_return"), actor="alice")
        assert agreed.status == "awaiting_return"
        assert w.platform(w.shop).decisions[0].return_address.address_id == "A-1"  # type: ignore[union-attr]
        quality = (LineQuality(position=1, good=1, damaged=1),)  # line 2 (CUP) came back whole and good
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return", quality=quality),
                                         actor="bob", key="recv-1")
        assert outcome.state == "done" and outcome.status == "refunding"
        assert sorted((m["sku"], m["warehouse"], m["quantity"], m["condition"]) for m in outcome.stock) == [
            ("CUP", MAIN, 1, "good"), ("MUG", DEFECTIVE, 1, "damaged"), ("MUG", MAIN, 1, "good")]
        assert (await on_hand(w.hub, "MUG", MAIN), await on_hand(w.hub, "MUG", DEFECTIVE)) == (6, 1)
        assert await on_hand(w.hub, "CUP", MAIN) == 6
        assert sorted(await ledger(w.hub, f"aftersale:{case_id}")) == [
            (DEFECTIVE, "MUG", 1, "return"), (MAIN, "CUP", 1, "return"), (MAIN, "MUG", 1, "return")]
        row = await case_row(w.hub, case_id)
        assert row.received and row.resolution == "restocked_partly_defective"
        assert "restocked" in [e.kind for e in await events(w.hub, case_id)]
        # The same key again: the first outcome, nothing moved again.
        again = await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return", quality=quality),
                                       actor="bob", key="recv-1")
        assert again.repeated and again.stock == outcome.stock
        assert await on_hand(w.hub, "MUG", MAIN) == 6


async def test_bad_quality_is_refused_and_moves_no_stock(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        _, order = await w.order([("MUG", 2)])
        case_id, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND,
                                  status=AfterSaleStatus.AWAITING_RETURN)
        for quality, field in (((LineQuality(position=1, good=2, damaged=1),), "quality[0].damaged"),
                               ((LineQuality(position=7, good=1),), "quality[0].position")):
            try:
                await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return", quality=quality),
                                       actor="a")
            except decisions.BadInputError as exc:
                assert exc.field == field
            else:
                raise AssertionError("accepted")
        assert await on_hand(w.hub, "MUG", MAIN) == 5 and await actions(w.hub, case_id) == []
        assert not (await case_row(w.hub, case_id)).received


async def _exchange_received(w: World) -> tuple[int, str, int]:
    """An exchange agreed and its goods received (all good); (case id, external id, order id)."""
    await stock_in(w.hub, "MUG", 5)
    order_id, order = await w.order([("MUG", 1)])
    case_id, case = await w.case(order, type=AfterSaleType.EXCHANGE)
    await decisions.decide(w.hub, case_id, DecisionIn(action="agree_exchange"), actor="alice")
    received = await decisions.decide(w.hub, case_id, DecisionIn(action="receive_exchange"), actor="alice")
    assert received.status == "returned" and received.stock[0]["warehouse"] == MAIN
    return case_id, case.ref.external_id, order_id


async def test_an_exchange_replacement_ships_once_and_writes_ship_exchange_back_not_the_order(
        database_url: str) -> None:
    with world(database_url) as w:
        case_id, external_id, order_id = await _exchange_received(w)
        sent = await decisions.decide(w.hub, case_id, DecisionIn(action="ship_exchange"), actor="alice")
        assert sent.state == "recorded" and sent.delivery_order_id is not None and sent.status == "returned"
        again = await replacements.send_replacement(w.hub, case_id, actor="bob")
        assert again == sent.delivery_order_id  # once per case
        assert await _count(w, DeliveryOrderRow, DeliveryOrderRow.order_id == order_id) == 1
        async with w.hub.database().session() as session:
            delivery = await session.get(DeliveryOrderRow, sent.delivery_order_id)
            assert delivery is not None
            assert delivery.data["aftersale_id"] == case_id and delivery.data["purpose"] == "replacement"
            assert (delivery.warehouse, delivery.kind, delivery.status) == (MAIN, "own", "sent")
            parcel_id = (await session.execute(select(ParcelRow.id).where(
                ParcelRow.delivery_order_id == delivery.id))).scalar_one()
        # The own warehouse gets its waybill, picks, packs and ships it.
        await ff.issue_waybill(w.hub, parcel_id, "EMS123456789")
        await own_warehouse.pick(w.hub, [delivery.id], actor="packer")
        await own_warehouse.pack(w.hub, delivery.id, [own_warehouse.PackedParcel(weight_grams=400)], actor="packer")
        shipped = await own_warehouse.ship(w.hub, delivery.id, actor="packer")
        assert shipped.shipment_ids == []
        assert await _count(w, ShipmentRow, ShipmentRow.order_id == order_id) == 0  # the order is not shipped again
        assert await _outbox(w, CONFIRM_ACTOR) == []  # nor confirmed to the channel again
        [settle] = await _outbox(w, SHIPPED_ACTOR)
        assert settle.args == [case_id, delivery.id, [["ems", "EMS123456789"]], "packer"]
        assert await decisions.replacement_shipped(w.hub, case_id, delivery.id, [("ems", "EMS123456789")],
                                                   actor="packer")
        assert not await decisions.replacement_shipped(w.hub, case_id, delivery.id, [("ems", "EMS123456789")],
                                                       actor="packer")  # once per delivery order
        platform = w.platform(w.shop)
        assert platform.taken(external_id) == ["agree_exchange", "receive_exchange", "ship_exchange"]
        written = platform.decisions[-1]
        assert (written.courier_code, written.tracking_number) == ("ems", "EMS123456789")
        assert (await case_row(w.hub, case_id)).status == "replacement_shipped"
        assert await on_hand(w.hub, "MUG", MAIN) == 5  # 5 + 1 back − 1 sent again
        assert [r[2:] for r in await ledger(w.hub, f"aftersale:{case_id}")] == [(1, "return"), (-1, "order_shipped")]
        assert [a.action for a in await actions(w.hub, case_id)] == [
            "agree_exchange", "receive_exchange", "ship_exchange", "ship_exchange"]


async def test_a_replacement_shipped_outside_the_hub_is_written_back_with_its_parcel(database_url: str) -> None:
    with world(database_url) as w:
        case_id, _external_id, order_id = await _exchange_received(w)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(
            action="ship_exchange", courier_code="sf", tracking_number="SF100"), actor="alice")
        assert (outcome.state, outcome.status, outcome.delivery_order_id) == ("done", "replacement_shipped", None)
        assert w.platform(w.shop).decisions[-1].tracking_number == "SF100"
        assert await _count(w, DeliveryOrderRow, DeliveryOrderRow.order_id == order_id) == 0
        try:
            await decisions.decide(w.hub, case_id, DecisionIn(action="ship_exchange", courier_code="sf"), actor="a")
        except decisions.BadInputError as exc:
            assert exc.field == "action"  # shipped already: nothing more to ship


async def test_a_reissue_sends_the_goods_again_and_completes_when_they_ship(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        _order_id, order = await w.order([("MUG", 2)])
        case_id, _ = await w.case(order, type=AfterSaleType.REISSUE)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="reissue"), actor="alice")
        assert outcome.state == "done" and outcome.delivery_order_id is not None and outcome.status == "approved"
        [action] = await actions(w.hub, case_id)
        assert action.result["delivery_order_id"] == outcome.delivery_order_id
        async with w.hub.database().session() as session:
            delivery = await session.get(DeliveryOrderRow, outcome.delivery_order_id)
            assert delivery is not None and delivery.data["purpose"] == "reissue"
        assert await decisions.replacement_shipped(w.hub, case_id, delivery.id, [("ems", "E1")], actor="packer")
        row = await case_row(w.hub, case_id)
        assert row.status == "completed" and row.resolution == "reissued"
        assert await on_hand(w.hub, "MUG", MAIN) == 3


async def test_a_replacement_a_wms_ships_is_sent_and_settled_without_a_shipment_of_the_order(
        database_url: str) -> None:
    from sqlalchemy import update

    from hub.db.tables import OrderRow
    from hub.services.fulfilment import delivery_orders, wms_callbacks
    from plugins.warehouse.mapping import (
        DeliveredPackage,
        DeliveryOrderConfirmation,
        PackageItem,
        WarehouseOrderStatus,
    )

    with world(database_url) as w:
        case_id, _, order_id = await _exchange_received(w)
        delivery_id = (await decisions.decide(w.hub, case_id, DecisionIn(action="ship_exchange"),
                                              actor="alice")).delivery_order_id
        assert delivery_id is not None
        async with w.hub.database().transaction() as session:
            # As if routed to a WMS, for an order whose own goods shipped long ago.
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == delivery_id).values(
                kind="wms", status="pending"))
            await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(fulfilment_status="shipped"))
            code = (await session.get(DeliveryOrderRow, delivery_id)).code  # type: ignore[union-attr]
        attempt = await delivery_orders._begin(w.hub, delivery_id)
        assert attempt is not None and attempt.lines  # sent although its order shipped: it is a replacement
        confirmation = DeliveryOrderConfirmation(
            delivery_order_code=code, delivery_order_id="W-1", warehouse_code="WH", order_type="JYCK",
            status=WarehouseOrderStatus.SHIPPED, raw_status="DELIVERED", out_biz_code="B-1", final=True,
            confirmed_at=None, packages=(DeliveredPackage("ZTO", "ZT9", None, (PackageItem("MUG", 1),)),))
        outcome = await wms_callbacks.apply_confirmation(w.hub, MAIN, confirmation)
        assert outcome.status == "shipped" and outcome.shipment_ids == []
        assert await _count(w, ShipmentRow, ShipmentRow.order_id == order_id) == 0
        assert await _outbox(w, CONFIRM_ACTOR) == []
        [settle] = await _outbox(w, SHIPPED_ACTOR)
        assert settle.args[:3] == [case_id, delivery_id, [["zto", "ZT9"]]]


async def test_damaged_returns_are_never_sellable(database_url: str) -> None:
    from hub.services.stock import levels

    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 1)
        _, order = await w.order([("MUG", 1)])
        case_id, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND, status=AfterSaleStatus.AWAITING_RETURN)
        await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return", quality=(
            LineQuality(position=1, damaged=1),)), actor="a")
        assert await on_hand(w.hub, "MUG", DEFECTIVE) == 1
        async with w.hub.database().session() as session:
            assert (await levels.stock_of(session, ["MUG"]))["MUG"].available == 1


async def test_through_the_queue_a_shipped_replacement_reaches_the_platform(database_url: str) -> None:
    from tests.integration.test_fulfilment_flow import until

    with world(database_url, workers=True) as w:
        case_id, external_id, _ = await _exchange_received(w)
        delivery_id = (await decisions.decide(w.hub, case_id, DecisionIn(action="ship_exchange"),
                                              actor="alice")).delivery_order_id
        assert delivery_id is not None
        async with w.hub.database().session() as session:
            parcel_id = (await session.execute(select(ParcelRow.id).where(
                ParcelRow.delivery_order_id == delivery_id))).scalar_one()
        await ff.issue_waybill(w.hub, parcel_id, "EMS987")
        await own_warehouse.pick(w.hub, [delivery_id], actor="packer")
        await own_warehouse.pack(w.hub, delivery_id, [own_warehouse.PackedParcel(weight_grams=400)], actor="packer")
        await own_warehouse.ship(w.hub, delivery_id, actor="packer")
        platform = w.platform(w.shop)

        async def written_back() -> bool:
            return "ship_exchange" in platform.taken(external_id)

        await until(written_back, limit_s=30, what="ship_exchange written back")
        assert platform.decisions[-1].tracking_number == "EMS987"
        w.hub.runtime.join(30_000)  # type: ignore[union-attr]
        row = await case_row(w.hub, case_id)
        assert row.status == "replacement_shipped"


async def test_a_returned_bundle_restocks_its_components_and_an_unknown_sku_is_noted(database_url: str) -> None:
    from hub.services.stock import skus

    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 0)
        async with w.hub.database().transaction() as session:
            await skus.define_sku(session, "SET", name="two mugs", components={"MUG": 2})
        _, order = await w.order([("SET", 1), ("GHOST", 1)])
        case_id, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND, status=AfterSaleStatus.AWAITING_RETURN)
        outcome = await decisions.decide(w.hub, case_id, DecisionIn(action="confirm_return"), actor="a")
        assert [(m["sku"], m["warehouse"], m["quantity"]) for m in outcome.stock] == [("MUG", MAIN, 2)]
        assert await on_hand(w.hub, "MUG", MAIN) == 2 and await on_hand(w.hub, "SET", MAIN) == 0
        [restocked] = [e for e in await events(w.hub, case_id) if e.kind == "restocked"]
        assert restocked.detail["lines_without_known_sku"] == [2]


async def test_shipping_the_rest_of_the_order_by_hand_leaves_the_replacement_open(database_url: str) -> None:
    from contracts.aftersales import AfterSaleLine
    from contracts.shipments import Parcel, ParcelItem
    from hub.services.fulfilment import hand_shipments, shipments

    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 5)
        await stock_in(w.hub, "CUP", 5)
        order_id, order = await w.order([("MUG", 1), ("CUP", 1)])
        mug, cup = order.lines
        await shipments.record_shipment(w.hub, order_id, [Parcel(courier_code="sf", tracking_number="SF1", items=[
            ParcelItem(line_external_id=mug.external_id, quantity=1)])], actor="a")
        case_id, _ = await w.case(order, type=AfterSaleType.EXCHANGE, status=AfterSaleStatus.AWAITING_RETURN,
                                  lines=[AfterSaleLine(line_external_id=mug.external_id, merchant_sku="MUG")])
        await decisions.decide(w.hub, case_id, DecisionIn(action="receive_exchange"), actor="a")
        delivery_id = (await decisions.decide(w.hub, case_id, DecisionIn(action="ship_exchange"),
                                              actor="a")).delivery_order_id
        rest = await shipments.record_shipment(w.hub, order_id, [Parcel(courier_code="sf", tracking_number="SF2",
                                                                        items=[ParcelItem(
                                                                            line_external_id=cup.external_id,
                                                                            quantity=1)])], actor="a")
        closed = await hand_shipments.close_delivery(w.hub, order_id, rest.shipment.id)
        assert delivery_id not in closed.cancelled
        async with w.hub.database().session() as session:
            delivery = await session.get(DeliveryOrderRow, delivery_id)
            assert delivery is not None and delivery.status == "sent"
            lines = [(line.line_external_id, line.quantity) for line in (await session.execute(
                select(DeliveryLineRow).where(DeliveryLineRow.delivery_order_id == delivery_id))).scalars()]
        assert lines == [(mug.external_id, 1)]  # only the case's line is sent again
